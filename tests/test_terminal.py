"""The web terminal against a real `wfhub serve`: a sandboxed shell on a PTY over a
WebSocket, its refusals, resizing, binary I/O and clean-up."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.live_server import LiveServer, live_server, websocket_refusal

pytestmark = pytest.mark.filesystem
MAX_OPEN = 3


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("terminal") / "home"
    url = f"sqlite:///{home.parent / 'wfhub.db'}"
    with live_server(
        home, url, terminal_max_open=str(MAX_OPEN), terminal_idle_seconds="5"
    ) as running:
        yield running


@pytest.fixture(scope="module")
def project_id(server: LiveServer) -> int:
    headers = {"Authorization": f"Bearer {server.token}"}
    body = {"name": "term", "workspace": "init"}
    response = httpx.post(f"{server.url}/projects", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def ws_url(server: LiveServer, path: str) -> str:
    return server.url.replace("http://", "ws://") + path


@pytest.fixture
async def shell(server: LiveServer, project_id: int) -> AsyncIterator[ClientConnection]:
    async with open_terminal(server, project_id) as ws:
        yield ws


def open_terminal(server: LiveServer, project_id: int, query: str = "") -> connect:
    return connect(
        ws_url(server, f"/terminal/{project_id}{query}"),
        additional_headers={"Authorization": f"Bearer {server.token}"},
    )


async def read_until(ws: ClientConnection, needle: bytes, seconds: float = 15) -> bytes:
    """Terminal output up to and including `needle` (control frames are returned too)."""
    seen = b""
    async with asyncio.timeout(seconds):
        while needle not in seen:
            frame = await ws.recv()
            seen += frame if isinstance(frame, bytes) else frame.encode()
    return seen


def processes_matching(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text.encode() in (entry / "cmdline").read_bytes().replace(b"\0", b" "):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def eventually(check: Callable[[], bool], seconds: float = 10) -> bool:
    """Poll `check` (the server is another process, so blocking here is fine)."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def open_ptys() -> int:
    return int(Path("/proc/sys/kernel/pty/nr").read_text())


async def test_echo_round_trip_and_binary_bytes(shell: ClientConnection) -> None:
    await shell.send(b"echo $((6 * 7))\n")
    assert b"42" in await read_until(shell, b"42\r\n")
    # Bytes that are not UTF-8 come through untouched, both ways.
    await shell.send(b"printf 'A\\377\\376B\\n'\n")
    assert b"A\xff\xfeB" in await read_until(shell, b"A\xff\xfeB")
    await shell.send(b"sleep 1000\n")
    await asyncio.sleep(0.3)
    await shell.send(b"\x03")  # Ctrl-C reaches the foreground job through the PTY
    await shell.send(b"echo back-$((1 + 1))\n")
    await read_until(shell, b"back-2")


async def test_the_shell_is_sandboxed_in_the_workspace(
    shell: ClientConnection, server: LiveServer
) -> None:
    token_file = Path(server.env["WFHUB_HOME"]) / "token"
    # Markers are computed by the shell, so the echoed command line never matches them.
    await shell.send(f"pwd; cat {token_file} || echo missing-$((40 + 2))\n".encode())
    output = await read_until(shell, b"missing-42")
    assert b"/workspaces/term\r\n" in output
    assert server.token.encode() not in output
    await shell.send(b"env | grep -c WFHUB_ || echo clean-$((1 + 1))\n")
    assert b"0\r\nclean-2" in await read_until(shell, b"clean-2")


async def test_resize(server: LiveServer, project_id: int) -> None:
    async with open_terminal(server, project_id, "?cols=100&rows=30") as ws:
        await ws.send(b"stty size\n")
        await read_until(ws, b"30 100")
        await ws.send(json.dumps({"type": "resize", "cols": 123, "rows": 45}))
        await ws.send(json.dumps({"type": "resize", "cols": "wide"}))  # ignored
        await ws.send(b"stty size\n")
        await read_until(ws, b"45 123")


async def test_exit_reports_the_code(shell: ClientConnection) -> None:
    await shell.send(b"exit 3\n")
    output = await read_until(shell, b'"type": "exit"')
    assert b'"code"' in output
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(shell.recv(), 10)


async def test_closing_kills_every_process_it_started(server: LiveServer, project_id: int) -> None:
    async with open_terminal(server, project_id) as ws:
        await ws.send(b"sleep 4242 & setsid sleep 4243 & nohup sleep 4244 >/dev/null 2>&1 &\n")
        await ws.send(b"echo started-$((1 + 1))\n")
        await read_until(ws, b"started-2")
        await asyncio.sleep(0.5)
        assert all(processes_matching(f"sleep {n}") for n in (4242, 4243, 4244))
    assert eventually(lambda: not any(processes_matching(f"sleep {n}") for n in (4242, 4243, 4244)))


async def test_refusals_come_before_any_process(server: LiveServer, project_id: int) -> None:
    auth = {"Authorization": f"Bearer {server.token}"}
    before = open_ptys()
    path = f"/terminal/{project_id}"
    status, body = await websocket_refusal(server, path)
    assert (status, body["error"]) == (401, "unauthorized")
    status, body = await websocket_refusal(server, path, Authorization="Bearer wfh_wrong")
    assert (status, body["error"]) == (401, "unauthorized")
    assert (await websocket_refusal(server, path, Origin="https://evil.example", **auth))[0] == 403
    assert (await websocket_refusal(server, path, host="attacker.example", **auth))[0] == 403
    status, body = await websocket_refusal(server, "/terminal/999999", **auth)
    assert (status, body["error"]) == (404, "not_found")
    status, body = await websocket_refusal(server, f"{path}?cols=0", **auth)
    assert (status, body["error"]) == (422, "invalid_input")
    assert open_ptys() <= before  # none allocated (one from an earlier test may close meanwhile)


async def test_per_user_cap(server: LiveServer, project_id: int) -> None:
    opened = [await open_terminal(server, project_id) for _ in range(MAX_OPEN)]
    try:
        auth = {"Authorization": f"Bearer {server.token}"}
        status, body = await websocket_refusal(server, f"/terminal/{project_id}", **auth)
        assert (status, body["error"]) == (429, "too_many_terminals")
        await opened.pop().close()
        await asyncio.sleep(0.5)
        async with open_terminal(server, project_id) as ws:
            await ws.send(b"echo again-$((1 + 1))\n")
            await read_until(ws, b"again-2")
    finally:
        for ws in opened:
            await ws.close()


@pytest.mark.slow
async def test_idle_terminal_is_closed(shell: ClientConnection) -> None:
    output = await read_until(shell, b'"type": "closed"', seconds=20)
    assert b"no input for 5 s" in output


@pytest.mark.slow
async def test_hundred_cycles_leak_no_pty(server: LiveServer, project_id: int) -> None:
    await asyncio.sleep(1)  # terminals of earlier tests finish closing
    before = open_ptys()
    for i in range(100):
        # The server frees a slot once the shell is reaped, a moment after the close
        # handshake; a client reopening at once may see 429 and retries.
        for _ in range(50):
            try:
                ws = await open_terminal(server, project_id)
                break
            except InvalidStatus as refused:
                status = refused.response.status_code
                await asyncio.sleep(0.05)
                assert status == 429
        async with ws:
            if i % 10 == 0:
                await ws.send(b"echo cycle-$((1 + 1))\n")
                await read_until(ws, b"cycle-2")
    assert eventually(lambda: open_ptys() <= before)
    assert not zombies()


def zombies() -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if proc.name.isdigit() and state == "Z":
            found.append(proc.name)
    return found
