"""Content search and glob: ripgrep and the Python engine give the same answers."""

from __future__ import annotations

import os

import httpx
import pytest

from tests.workspace_helpers import Repo, make_repo
from wfhub.config import Settings
from wfhub.workspace.search import MAX_LINE_CHARS, rg_available

pytestmark = [
    pytest.mark.filesystem,
    pytest.mark.skipif(not rg_available(), reason="ripgrep is installed by `make setup` as root"),
]


@pytest.fixture
async def repo(client: httpx.AsyncClient, settings: Settings) -> Repo:
    repo = await make_repo(client, settings, "Search")
    repo.write(".gitignore", "ignored/\n*.log\n")
    repo.write("src/app.py", "import os\n\ndef Handler():\n    return os.getcwd()  # TODO fix\n")
    repo.write("src/util.py", "todo = 1\nTODO: write docs\n")
    repo.write("docs/readme.md", "before\nSee the TODO list\nafter\n")
    repo.write(".hidden/conf.txt", "TODO hidden but searched\n")
    repo.write("ignored/x.py", "TODO never\n")
    repo.write("debug.log", "TODO never\n")
    (repo.root / "bin.dat").write_bytes(b"TODO\x00binary")
    repo.write("dist/app.min.js", "x" * 5000 + "TODO" + "y" * 5000 + "\n")
    os.symlink("/etc", repo.root / "etc-link")
    return repo


QUERIES: list[dict[str, str | int | bool]] = [
    {"q": "TODO"},
    {"q": "todo"},
    {"q": "todo", "case": "sensitive"},
    {"q": "TODO", "case": "insensitive", "context": 1},
    {"q": r"def \w+\(", "regex": True},
    {"q": "os.", "regex": False},
    {"q": "TODO", "glob": "*.py"},
    {"q": "TODO", "glob": "!src/**"},
    {"q": "TODO", "path": "docs", "context": 2},
]


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: "-".join(f"{k}={v}" for k, v in q.items()))
async def test_engines_agree(repo: Repo, query: dict[str, str | int | bool]) -> None:
    answers = {}
    for engine in ("rg", "python"):
        response = await repo.client.get(f"{repo.base}/search", params={**query, "engine": engine})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["engine"] == engine
        answers[engine] = (body["matches"], body["truncated"])
    assert answers["rg"] == answers["python"]
    assert answers["rg"][0] or query.get("case") == "sensitive"


async def test_search_results_are_precise(repo: Repo) -> None:
    body = (await repo.client.get(f"{repo.base}/search", params={"q": "TODO", "context": 1})).json()
    paths = sorted({m["path"] for m in body["matches"]})
    assert paths == [
        ".hidden/conf.txt",
        "dist/app.min.js",
        "docs/readme.md",
        "src/app.py",
        "src/util.py",
    ]
    minified = next(m for m in body["matches"] if m["path"] == "dist/app.min.js")
    assert minified["column"] == 5001
    assert len(minified["text"]) == MAX_LINE_CHARS + 1  # cut, with an ellipsis
    readme = next(m for m in body["matches"] if m["path"] == "docs/readme.md")
    assert (readme["line"], readme["column"], readme["text"]) == (2, 9, "See the TODO list")
    assert (readme["before"], readme["after"]) == (["before"], ["after"])
    capped = (
        await repo.client.get(f"{repo.base}/search", params={"q": "TODO", "max_results": 1})
    ).json()
    assert (len(capped["matches"]), capped["truncated"]) == (1, True)


async def test_truncated_answers_are_subsets(repo: Repo) -> None:
    """Past the cap ripgrep's parallel walk decides which matches come first: both engines
    return `max_results` of the full answer, sorted, and say they were cut."""
    full = (await repo.client.get(f"{repo.base}/search", params={"q": "TODO"})).json()["matches"]
    for engine in ("rg", "python"):
        params: dict[str, str | int] = {"q": "TODO", "max_results": 2, "engine": engine}
        body = (await repo.client.get(f"{repo.base}/search", params=params)).json()
        assert body["truncated"] is True
        assert len(body["matches"]) == 2
        assert all(m in full for m in body["matches"])
        assert body["matches"] == sorted(body["matches"], key=lambda m: (m["path"], m["line"]))


async def test_bad_search_input(repo: Repo) -> None:
    bad = await repo.client.get(
        f"{repo.base}/search", params={"q": "(", "regex": True, "engine": "python"}
    )
    assert bad.status_code == 422
    bad_rg = await repo.client.get(
        f"{repo.base}/search", params={"q": "(", "regex": True, "engine": "rg"}
    )
    assert bad_rg.status_code == 422
    escape = await repo.client.get(f"{repo.base}/search", params={"q": "x", "path": "../"})
    assert escape.status_code == 403


async def test_glob(repo: Repo) -> None:
    py = (await repo.client.get(f"{repo.base}/glob", params={"pattern": "*.py"})).json()
    assert py == {"files": ["src/app.py", "src/util.py"], "truncated": False}
    deep = (await repo.client.get(f"{repo.base}/glob", params={"pattern": "docs/**/*.md"})).json()
    assert deep["files"] == ["docs/readme.md"]
    limited = (
        await repo.client.get(f"{repo.base}/glob", params={"pattern": "*", "limit": 2})
    ).json()
    assert limited["truncated"] is True
