"""Every way out of a workspace is refused: traversal, absolute paths, NUL, encoded dots,
sibling prefixes, symlinks and hard links (also swapped in mid-read), hostile git config,
option-like refs."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import httpx
import pytest

from tests.workspace_helpers import Repo, make_repo
from wfhub.config import Settings

pytestmark = pytest.mark.filesystem
SECRET = "top secret outside the workspace"


@pytest.fixture
async def repo(client: httpx.AsyncClient, settings: Settings) -> Repo:
    repo = await make_repo(client, settings, "Safe")
    (repo.root.parent / "safe-evil").mkdir()
    (repo.root.parent / "safe-evil" / "secret.txt").write_text(SECRET)
    (repo.root.parent / "secret.txt").write_text(SECRET)
    repo.write("inside.txt", "inside")
    return repo


def _outside(repo: Repo) -> Path:
    return repo.root.parent / "secret.txt"


@pytest.mark.parametrize(
    "path",
    ["../secret.txt", "a/../../secret.txt", "/etc/passwd", "..", "../safe-evil/secret.txt"],
)
async def test_traversal_and_absolute_paths_are_refused(repo: Repo, path: str) -> None:
    for method, url, body in (
        ("GET", "/file", None),
        ("GET", "/files", None),
        ("PUT", "/file", b"x"),
        ("DELETE", "/file", None),
    ):
        response = await repo.client.request(
            method, f"{repo.base}{url}", params={"path": path}, content=body
        )
        assert response.status_code == 403, (method, url, response.text)
        assert response.json()["error"] == "path_outside_workspace"
    moved = await repo.client.post(f"{repo.base}/move", json={"from": "inside.txt", "to": path})
    assert moved.status_code in (400, 403)
    assert _outside(repo).read_text() == SECRET


async def test_nul_and_percent_encoded_traversal(repo: Repo) -> None:
    nul = await repo.client.get(f"{repo.base}/file?path=inside.txt%00.png")
    assert nul.status_code == 400
    assert nul.json()["error"] == "invalid_path"
    encoded = await repo.client.get(f"{repo.base}/file?path=%2e%2e%2fsecret.txt")
    assert encoded.status_code == 403
    double = await repo.client.get(f"{repo.base}/file?path=%252e%252e%252fsecret.txt")
    assert double.status_code == 404  # a literal name "%2e%2e%2fsecret.txt", which is absent


async def test_symlinks_leading_outside_are_refused(repo: Repo) -> None:
    os.symlink(_outside(repo), repo.root / "abs-link")
    os.symlink("../secret.txt", repo.root / "rel-link")
    os.symlink("../safe-evil", repo.root / "dir-link")
    os.symlink("inside.txt", repo.root / "good-link")
    for path in ("abs-link", "rel-link", "dir-link/secret.txt"):
        read = await repo.client.get(f"{repo.base}/file", params={"path": path})
        assert read.status_code == 403, read.text
        write = await repo.client.put(f"{repo.base}/file", params={"path": path}, content=b"pwned")
        assert write.status_code == 403, write.text
    listing = await repo.client.get(f"{repo.base}/files", params={"path": "dir-link"})
    assert listing.status_code == 403
    assert _outside(repo).read_text() == SECRET
    assert (repo.root.parent / "safe-evil" / "secret.txt").read_text() == SECRET

    # a link that stays inside is followed
    good = await repo.client.get(f"{repo.base}/file", params={"path": "good-link"})
    assert good.json()["content"] == "inside"
    # deleting or renaming a link acts on the link, never on its target
    assert (
        await repo.client.delete(f"{repo.base}/file", params={"path": "abs-link"})
    ).status_code == 204
    renamed = await repo.client.post(
        f"{repo.base}/move", json={"from": "rel-link", "to": "moved-link"}
    )
    assert renamed.status_code == 200
    assert _outside(repo).read_text() == SECRET
    tree = await repo.client.delete(
        f"{repo.base}/file", params={"path": "dir-link", "recursive": True}
    )
    assert tree.status_code == 204
    assert (repo.root.parent / "safe-evil" / "secret.txt").exists()


async def test_hard_links_are_refused(repo: Repo) -> None:
    os.link(_outside(repo), repo.root / "hard.txt")
    read = await repo.client.get(f"{repo.base}/file", params={"path": "hard.txt"})
    assert read.status_code == 403
    write = await repo.client.put(
        f"{repo.base}/file", params={"path": "hard.txt"}, content=b"pwned"
    )
    assert write.status_code == 403
    assert _outside(repo).read_text() == SECRET


async def test_symlink_swapped_in_during_reads(repo: Repo) -> None:
    """A directory replaced by a link to the outside between and during requests never leaks."""
    (repo.root / "box").mkdir()
    (repo.root / "box" / "secret.txt").write_text("harmless")
    stop = threading.Event()

    def swap() -> None:
        while not stop.is_set():
            os.rename(repo.root / "box", repo.root / "box.real")
            os.symlink(repo.root.parent, repo.root / "box")
            os.unlink(repo.root / "box")
            os.rename(repo.root / "box.real", repo.root / "box")

    swapper = threading.Thread(target=swap)
    swapper.start()
    try:
        statuses = set()
        for _ in range(300):
            response = await repo.client.get(f"{repo.base}/file", params={"path": "box/secret.txt"})
            statuses.add(response.status_code)
            if response.status_code == 200:
                assert response.json()["content"] == "harmless"
            await asyncio.sleep(0)
    finally:
        stop.set()
        swapper.join()
    assert statuses <= {200, 403, 404}


async def test_hostile_git_config_runs_nothing(repo: Repo, tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    script = tmp_path / "evil.sh"
    script.write_text(f"#!/bin/sh\ntouch {canary}\n")
    script.chmod(0o755)
    repo.git("config", "core.fsmonitor", str(script))
    repo.git("config", "core.hooksPath", str(tmp_path))
    (tmp_path / "post-commit").symlink_to(script)  # --no-verify does not skip this one
    repo.git("config", "diff.external", str(script))
    repo.git("config", "core.pager", str(script))
    for path in ("/git/status", "/git/diff", "/files?fresh=true"):
        assert (await repo.client.get(f"{repo.base}{path}")).status_code == 200
    committed = await repo.client.post(
        f"{repo.base}/git/commit", json={"message": "m", "all": True}
    )
    assert committed.status_code == 201, committed.text
    assert not canary.exists()


@pytest.mark.parametrize("name", ["--output=x", "-D", "a..b", "bad name", "x.lock"])
async def test_option_like_refs_are_refused(repo: Repo, name: str) -> None:
    repo.git("add", "-A")
    repo.git("commit", "-qm", "init")
    created = await repo.client.post(f"{repo.base}/git/branches", json={"name": name})
    assert created.status_code == 422, created.text
    assert created.json()["error"] == "invalid_ref"
    log = await repo.client.get(f"{repo.base}/git/log", params={"ref": name})
    assert log.status_code == 422
    assert not (repo.root / "x").exists()


async def test_pathspec_magic_is_literal(repo: Repo) -> None:
    repo.git("add", "-A")
    repo.git("commit", "-qm", "init")
    repo.write("inside.txt", "changed")
    diff = await repo.client.get(f"{repo.base}/git/diff", params={"path": ":(top)inside.txt"})
    assert diff.json()["files"] == []  # no file is literally named ":(top)inside.txt"
