"""Workspace files through the API: lifecycle, listing, reading, writing, moving, deleting."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from tests.workspace_helpers import Repo, make_repo
from wfhub.config import Settings

pytestmark = pytest.mark.filesystem


@pytest.fixture
async def repo(client: httpx.AsyncClient, settings: Settings) -> Repo:
    return await make_repo(client, settings, "Files")


async def test_setup_and_info(client: httpx.AsyncClient, settings: Settings) -> None:
    plain = await make_repo(client, settings, "Plain", git=False)
    info = (await client.get(f"{plain.base}/info")).json()
    assert info == {"exists": True, "git": False, "files": 0, "size": 0, "counted_partially": False}
    plain.write("a.txt", "hello")
    again = await client.post(f"{plain.base}/setup", json={"action": "init"})
    assert again.status_code == 409
    assert again.json()["error"] == "workspace_exists"

    repo = await make_repo(client, settings, "Git")
    repo.write("src/x.py", "print(1)\n")
    info = (await client.get(f"{repo.base}/info")).json()
    assert info["git"] is True
    assert info["branch"] == "main"
    assert info["head"] is None
    assert (info["files"], info["size"]) == (1, 9)


async def test_listing_sorts_pages_and_badges(repo: Repo) -> None:
    repo.write(".gitignore", "build/\n*.log\n")
    repo.write("tracked.txt", "v1\n")
    repo.git("add", "-A")
    repo.git("commit", "-qm", "init")
    repo.write("tracked.txt", "v2\n")
    repo.write("new.txt", "n\n")
    repo.write("debug.log", "x\n")
    repo.write("build/out.o", "o\n")
    repo.write("src/deep/mod.py", "m\n")

    listing = (await repo.client.get(f"{repo.base}/files", params={"fresh": True})).json()
    rows = {item["name"]: item for item in listing["items"]}
    names = [item["name"] for item in listing["items"]]
    assert names == [".git", "build", "src", ".gitignore", "debug.log", "new.txt", "tracked.txt"]
    assert rows["tracked.txt"]["git"] == "modified"
    assert rows["new.txt"]["git"] == "untracked"
    assert rows["src"]["git"] == "untracked"
    assert rows["debug.log"]["ignored"] is True
    assert rows["build"]["ignored"] is True
    assert rows[".gitignore"]["git"] is None
    assert rows["tracked.txt"]["size"] == 3

    hidden = (await repo.client.get(f"{repo.base}/files", params={"hide_ignored": True})).json()
    assert [i["name"] for i in hidden["items"]] == ["src", ".gitignore", "new.txt", "tracked.txt"]

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (await repo.client.get(f"{repo.base}/files", params=params)).json()
        seen += [i["name"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == names

    sub = (await repo.client.get(f"{repo.base}/files", params={"path": "src/deep"})).json()
    assert sub["items"][0]["path"] == "src/deep/mod.py"
    bad = await repo.client.get(f"{repo.base}/files", params={"cursor": "!!!"})
    assert bad.status_code == 422


async def test_tree_is_bounded(repo: Repo) -> None:
    repo.write("a/b/c/d.txt", "d")
    tree = (await repo.client.get(f"{repo.base}/tree", params={"depth": 2})).json()
    a = next(n for n in tree["children"] if n["name"] == "a")
    assert a["children"][0]["name"] == "b"
    assert "children" not in a["children"][0]
    assert all(n["name"] != ".git" for n in tree["children"])


async def test_read_text_encoding_language_and_ranges(repo: Repo) -> None:
    (repo.root / "latin.txt").write_bytes("café crème\n".encode("latin-1") * 20)
    repo.write("app.py", "print('héllo')\n")
    (repo.root / "script").write_text("#!/usr/bin/env python3\nprint(1)\n")

    latin = (await repo.client.get(f"{repo.base}/file", params={"path": "latin.txt"})).json()
    assert latin["kind"] == "text"
    assert latin["encoding"] not in ("utf-8", None)
    assert latin["content"].startswith("café cr")  # the exact 8-bit code page is a guess

    code = (await repo.client.get(f"{repo.base}/file", params={"path": "app.py"})).json()
    assert (code["language"], code["encoding"]) == ("python", "utf-8")
    assert code["version"] == hashlib.sha256("print('héllo')\n".encode()).hexdigest()
    script = (await repo.client.get(f"{repo.base}/file", params={"path": "script"})).json()
    assert script["language"] == "python"

    part = await repo.client.get(
        f"{repo.base}/file", params={"path": "app.py", "offset": 6, "length": 5}
    )
    assert part.json()["content"] == "'hél"
    assert part.json()["length"] == 5


async def test_large_binary_and_image_files(repo: Repo, settings: Settings) -> None:
    big = "x" * (settings.read_max_bytes + 1)
    repo.write("big.txt", big)
    body = (await repo.client.get(f"{repo.base}/file", params={"path": "big.txt"})).json()
    assert body["too_large"] is True
    assert body["content"] is None
    assert "offset" in body["detail"]
    ranged = await repo.client.get(
        f"{repo.base}/file", params={"path": "big.txt", "offset": 10, "length": 100}
    )
    assert ranged.json()["content"] == "x" * 100

    (repo.root / "blob.bin").write_bytes(b"\x00\x01\x02" * 100)
    binary = (await repo.client.get(f"{repo.base}/file", params={"path": "blob.bin"})).json()
    assert (binary["kind"], binary["content"]) == ("binary", None)
    download = await repo.client.get(f"{repo.base}/file", params={"path": "blob.bin", "raw": True})
    assert download.content == b"\x00\x01\x02" * 100
    assert download.headers["content-disposition"].startswith("attachment")

    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    (repo.root / "logo.png").write_bytes(png)
    image = (await repo.client.get(f"{repo.base}/file", params={"path": "logo.png"})).json()
    assert (image["kind"], image["media_type"]) == ("image", "image/png")
    raw = await repo.client.get(
        f"{repo.base}/file", params={"path": "logo.png", "raw": True, "offset": 1, "length": 3}
    )
    assert raw.headers["content-type"] == "image/png"
    assert raw.content == b"PNG"


async def test_writes_are_optimistic_and_atomic(repo: Repo) -> None:
    url = f"{repo.base}/file"
    created = await repo.client.put(url, params={"path": "notes/a.md"}, json={"content": "one"})
    assert created.status_code == 404  # parent folder missing: nothing created
    assert (
        await repo.client.post(f"{repo.base}/mkdir", params={"path": "notes"})
    ).status_code == 201
    created = await repo.client.put(url, params={"path": "notes/a.md"}, json={"content": "one"})
    assert created.json()["created"] is True
    v1 = created.json()["version"]

    second = await repo.client.put(
        url, params={"path": "notes/a.md"}, json={"content": "two", "version": v1}
    )
    assert second.status_code == 200
    stale = await repo.client.put(
        url, params={"path": "notes/a.md"}, json={"content": "three", "version": v1}
    )
    assert stale.status_code == 409
    assert stale.json()["error"] == "stale_version"
    assert (repo.root / "notes/a.md").read_text() == "two"

    stale_header = await repo.client.put(
        url, params={"path": "notes/a.md"}, content=b"raw", headers={"If-Match": f'"{v1}"'}
    )
    assert stale_header.status_code == 409
    raw = await repo.client.put(
        url,
        params={"path": "notes/a.md"},
        content=b"\x00raw",
        headers={"Content-Type": "application/octet-stream"},
    )
    assert raw.status_code == 200
    assert (repo.root / "notes/a.md").read_bytes() == b"\x00raw"

    exists = await repo.client.put(url, params={"path": "notes/a.md", "create": True}, content=b"x")
    assert exists.status_code == 409
    assert [p.name for p in (repo.root / "notes").iterdir()] == ["a.md"]  # no temp files left

    bad_json = await repo.client.put(
        url, params={"path": "n.md"}, content=b"{", headers={"Content-Type": "application/json"}
    )
    assert bad_json.status_code == 422


async def test_move_delete_and_upload(repo: Repo) -> None:
    repo.write("dir/one.txt", "1")
    repo.write("two.txt", "2")
    moved = await repo.client.post(
        f"{repo.base}/move", json={"from": "two.txt", "to": "dir/two.txt"}
    )
    assert moved.json() == {"path": "dir/two.txt", "from": "two.txt"}
    clash = await repo.client.post(
        f"{repo.base}/move", json={"from": "dir/two.txt", "to": "dir/one.txt"}
    )
    assert clash.status_code == 409
    into_itself = await repo.client.post(f"{repo.base}/move", json={"from": "dir", "to": "dir/sub"})
    assert into_itself.status_code == 422

    not_empty = await repo.client.delete(f"{repo.base}/file", params={"path": "dir"})
    assert not_empty.status_code == 409
    assert (repo.root / "dir/one.txt").exists()
    gone = await repo.client.delete(f"{repo.base}/file", params={"path": "dir", "recursive": True})
    assert gone.status_code == 204
    assert not (repo.root / "dir").exists()
    missing = await repo.client.delete(f"{repo.base}/file", params={"path": "dir"})
    assert missing.status_code == 404

    (repo.root / "up").mkdir()
    uploaded = await repo.client.post(
        f"{repo.base}/upload",
        params={"path": "up"},
        files=[
            ("uploads", ("a.bin", b"\x00a", "application/octet-stream")),
            ("uploads", ("b.txt", b"b", "text/plain")),
        ],
    )
    assert uploaded.status_code == 201, uploaded.text
    assert (repo.root / "up/a.bin").read_bytes() == b"\x00a"
    assert (repo.root / "up/b.txt").read_bytes() == b"b"


async def test_unknown_project_and_missing_folder(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    assert (await client.get("/workspace/999999/files")).status_code == 404
    response = await client.post("/projects", json={"name": "NoFolder"})
    base = f"/workspace/{response.json()['id']}"
    assert (await client.get(f"{base}/info")).json() == {"exists": False, "git": False}
    listing = await client.get(f"{base}/files")
    assert listing.status_code == 404
    assert listing.json()["error"] == "not_found"


async def test_listing_badges_follow_changes_made_through_the_api(repo: Repo) -> None:
    repo.write("pkg/mod.py", "v1\n")
    repo.git("add", "-A")
    repo.git("commit", "-qm", "init")
    first = (await repo.client.get(f"{repo.base}/files")).json()
    assert {i["name"]: i["git"] for i in first["items"]}["pkg"] is None
    await repo.client.put(f"{repo.base}/file", params={"path": "pkg/mod.py"}, content=b"v2\n")
    await repo.client.put(f"{repo.base}/file", params={"path": "pkg/new.py"}, content=b"n\n")
    # no `fresh`: the write itself dropped the snapshot
    after = (await repo.client.get(f"{repo.base}/files")).json()
    assert {i["name"]: i["git"] for i in after["items"]}["pkg"] == "modified"
    inner = (await repo.client.get(f"{repo.base}/files", params={"path": "pkg"})).json()
    assert {i["name"]: i["git"] for i in inner["items"]} == {
        "mod.py": "modified",
        "new.py": "untracked",
    }


async def test_writes_keep_the_file_mode(repo: Repo) -> None:
    script = repo.root / "run.sh"
    script.write_text("#!/bin/sh\necho 1\n")
    script.chmod(0o755)
    written = await repo.client.put(
        f"{repo.base}/file", params={"path": "run.sh"}, content=b"#!/bin/sh\necho 2\n"
    )
    assert written.status_code == 200
    assert script.stat().st_mode & 0o777 == 0o755


async def test_bad_input_is_refused_and_nothing_is_half_done(repo: Repo) -> None:
    (repo.root / "up").mkdir()
    mixed = await repo.client.post(
        f"{repo.base}/upload",
        params={"path": "up"},
        files=[
            ("uploads", ("good.txt", b"g", "text/plain")),
            ("uploads", ("..", b"x", "text/plain")),
        ],
    )
    assert mixed.status_code == 422
    assert list((repo.root / "up").iterdir()) == []  # the good file was not written either

    repo.write("a/inner.txt", "1")
    repo.write("b/inner.txt", "2")
    onto = await repo.client.post(
        f"{repo.base}/move", json={"from": "a", "to": "b", "overwrite": True}
    )
    assert onto.status_code == 409
    assert (repo.root / "a/inner.txt").read_text() == "1"

    repo.write("small.txt", "abc")
    for params in ({"offset": 2**70}, {"length": -1}, {"offset": "x"}):
        bad = await repo.client.get(f"{repo.base}/file", params={"path": "small.txt", **params})
        assert bad.status_code == 422, params
    past_end = await repo.client.get(
        f"{repo.base}/file", params={"path": "small.txt", "offset": 10, "raw": True}
    )
    assert (past_end.status_code, past_end.content) == (200, b"")


async def test_project_creation_can_make_the_workspace(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    made = await client.post("/projects", json={"name": "Born ready", "workspace": "init"})
    assert made.status_code == 201, made.text
    info = (await client.get(f"/workspace/{made.json()['id']}/info")).json()
    assert (info["exists"], info["git"], info["branch"]) == (True, True, "main")

    occupied = settings.workspaces_dir / "occupied"
    occupied.mkdir(parents=True)
    (occupied / "keep.txt").write_text("mine")
    refused = await client.post(
        "/projects", json={"name": "Occupied", "workspace_path": "occupied", "workspace": "create"}
    )
    assert refused.status_code == 409
    assert refused.json()["error"] == "workspace_exists"
    names = [p["name"] for p in (await client.get("/projects")).json()["items"]]
    assert "Occupied" not in names  # no project without its folder
    assert (occupied / "keep.txt").read_text() == "mine"
    bad = await client.post("/projects", json={"name": "X", "workspace": "clone"})
    assert bad.status_code == 422
