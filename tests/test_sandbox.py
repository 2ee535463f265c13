"""Sandboxed commands (bubblewrap): confined to the workspace, no secrets, no network,
killed with everything they started when their time is up."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from tests.test_terminal import eventually, processes_matching
from wfhub.config import Settings
from wfhub.errors import SandboxUnavailable
from wfhub.sandbox.bridge import RELAY_SCRIPT, unix_bridge
from wfhub.sandbox.policy import Mounts, Sandbox, SandboxMode
from wfhub.sandbox.process import Limits, run

pytestmark = pytest.mark.filesystem


@pytest.fixture
def sandbox() -> Sandbox:
    found = Sandbox.from_settings(Settings(_env_file=None))
    assert found.mode is SandboxMode.bwrap, "bubblewrap is installed by `make setup`"
    return found


async def sh(sandbox: Sandbox, workspace: Path, *commands: str) -> str:
    done = await run(sandbox, ["sh", "-c", "; ".join(commands)], workspace, Limits())
    return done.output


async def test_writes_stay_in_the_workspace(sandbox: Sandbox, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    outside = tmp_path / "outside.txt"
    output = await sh(
        sandbox, workspace, f"echo in > in.txt; echo out > {outside}; echo x > /etc/x"
    )
    assert (workspace / "in.txt").read_text() == "in\n"
    assert not outside.exists()
    assert "Read-only file system" in output or "No such file" in output


async def test_no_data_dir_token_or_wfhub_environment(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    workspace = home / "workspaces" / "p"  # the default layout: workspaces inside the data dir
    workspace.mkdir(parents=True)
    (home / "token").write_text("wfh_secret")
    monkeypatch.setenv("WFHUB_SECRET_PROBE", "wfh_secret")
    output = await sh(
        sandbox, workspace, f"cat {home / 'token'}; env; cat /etc/shadow; ls /etc/ssh"
    )
    assert "wfh_secret" not in output
    assert "No such file" in output


async def test_no_network_not_even_loopback(sandbox: Sandbox, tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        script = f"python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}))'"
        done = await run(sandbox, ["sh", "-c", script], tmp_path, Limits(timeout_seconds=10))
    assert done.exit_code != 0
    assert "ConnectionRefusedError" in done.output


async def test_timeout_kills_everything_and_output_is_capped(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    done = await run(
        sandbox,
        ["sh", "-c", "setsid sleep 4245 & yes | head -c 100000; sleep 60"],
        tmp_path,
        Limits(timeout_seconds=1, output_bytes=1000),
    )
    assert (done.timed_out, done.exit_code, done.truncated) == (True, None, True)
    assert len(done.output) == 1000
    assert eventually(lambda: not processes_matching("sleep 4245"))


async def test_refuses_without_bubblewrap_unless_allowed(tmp_path: Path) -> None:
    missing = Sandbox(SandboxMode.unavailable)
    with pytest.raises(SandboxUnavailable):
        await run(missing, ["true"], tmp_path, Limits())
    allowed = Sandbox(SandboxMode.unsandboxed)
    assert (await run(allowed, ["pwd"], tmp_path, Limits())).output.strip() == str(tmp_path)


async def test_a_bridge_opens_one_address_and_nothing_else(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """The way a sandboxed engine reaches the gateway: through the relay's loopback port to
    the bridged server only; the same server and any other stay unreachable directly."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hello from " + await reader.readline())
        await writer.drain()
        writer.close()

    target = await asyncio.start_server(answer, "127.0.0.1", 0)
    other = await asyncio.start_server(answer, "127.0.0.1", 0)
    target_port = target.sockets[0].getsockname()[1]
    other_port = other.sockets[0].getsockname()[1]
    probe = (
        "import socket, sys\n"
        "for port in map(int, sys.argv[1:]):\n"
        "    try:\n"
        "        c = socket.create_connection(('127.0.0.1', port), timeout=5)\n"
        "        c.sendall(f'port {port}\\n'.encode())\n"
        "        print(port, c.makefile().readline().strip())\n"
        "    except OSError as exc:\n"
        "        print(port, 'refused', type(exc).__name__)\n"
    )
    (tmp_path / "probe.py").write_text(probe)
    socket_path = tmp_path / "bridge" / "gateway.sock"
    socket_path.parent.mkdir()
    async with target, other, unix_bridge(socket_path, "127.0.0.1", target_port):
        assert oct(socket_path.stat().st_mode & 0o777) == "0o600"
        argv = ["python3", str(RELAY_SCRIPT), "7000", str(socket_path), "--"]
        mounts = Mounts(read_only=(str(RELAY_SCRIPT), str(socket_path)))
        done = await run(
            sandbox,
            [*argv, "python3", "probe.py", "7000", str(target_port), str(other_port)],
            tmp_path,
            Limits(timeout_seconds=30),
            mounts=mounts,
        )
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert lines[0] == "7000 hello from port 7000"  # relayed to the bridged server
    assert lines[1] == f"{target_port} refused ConnectionRefusedError"
    assert lines[2] == f"{other_port} refused ConnectionRefusedError"
    assert not socket_path.exists()  # the bridge cleans up


async def test_python_is_there_under_the_name_people_type(sandbox: Sandbox, tmp_path: Path) -> None:
    output = await sh(sandbox, tmp_path, "python -c 'import sys; print(sys.version_info[0])'")
    assert output.strip() == "3"
