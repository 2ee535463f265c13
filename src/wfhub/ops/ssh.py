"""Restarting the model server over SSH (asyncssh), with wfhub's own key and pinned host keys.

wfhub generates an ed25519 key pair into `$WFHUB_HOME/ssh/` (private key 0600) the first time
it needs one; `wfhub ssh-key` prints the public half for the host's `authorized_keys`. Host
keys are trusted on first use and pinned in `$WFHUB_HOME/ssh/known_hosts` (OpenSSH format,
`[host]:port key`); a different key later is refused until the operator removes the line.
Neither `~/.ssh/config`, an SSH agent nor passwords are used: what runs is what is configured.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import asyncssh

from wfhub.config import Settings
from wfhub.ops.restart import RestartFailed, RestartMethod

OUTPUT_CHARS = 500


def key_paths(settings: Settings) -> tuple[Path, Path]:
    return settings.ssh_dir / "id_ed25519", settings.ssh_dir / "id_ed25519.pub"


def ensure_key(settings: Settings) -> tuple[Path, str]:
    """wfhub's private key file (made on first use) and its public key line."""
    private, public = key_paths(settings)
    if not private.exists():
        settings.ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = asyncssh.generate_private_key("ssh-ed25519", comment="wfhub")
        descriptor = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(key.export_private_key())
        public.write_bytes(key.export_public_key())
    return private, public.read_text().strip()


def _host_entry(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


class PinnedHosts:
    """Host keys trusted on first use, kept in one known_hosts file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def pinned(self, host: str, port: int) -> asyncssh.SSHKey | None:
        if not self.path.exists():
            return None
        entry = _host_entry(host, port)
        for line in self.path.read_text().splitlines():
            name, _, key = line.partition(" ")
            if name == entry and key:
                return asyncssh.import_public_key(key)
        return None

    def pin(self, host: str, port: int, key: asyncssh.SSHKey) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        line = f"{_host_entry(host, port)} {key.export_public_key().decode().strip()}\n"
        with self.path.open("a") as handle:
            handle.write(line)


class _PinningClient(asyncssh.SSHClient):
    def __init__(self, pins: PinnedHosts, host: str, port: int) -> None:
        self.pins, self.host, self.port = pins, host, port
        self.offered: asyncssh.SSHKey | None = None
        self.mismatch: str | None = None

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        self.offered = key
        pinned = self.pins.pinned(self.host, self.port)
        if pinned is None:
            return True  # first use: pinned once the connection is up
        if pinned.export_public_key() == key.export_public_key():
            return True
        self.mismatch = (
            f"the host key of {_host_entry(self.host, self.port)} changed: pinned "
            f"{pinned.get_fingerprint()}, offered {key.get_fingerprint()}. If the host was "
            f"reinstalled, remove its line from {self.pins.path}"
        )
        return False


class SshRestart(RestartMethod):
    """Runs `WFHUB_SSH_RESTART_COMMAND` on `WFHUB_SSH_HOST` (see deploy/model-host/)."""

    name = "ssh"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pins = PinnedHosts(settings.ssh_dir / "known_hosts")

    def unavailable(self) -> str | None:
        return None if self.settings.ssh_host else "WFHUB_SSH_HOST is not set"

    async def restart(self) -> str:
        settings = self.settings
        host, port = str(settings.ssh_host), settings.ssh_port
        target = f"{settings.ssh_user}@{_host_entry(host, port)}"
        private, _ = await asyncio.to_thread(ensure_key, settings)
        client = _PinningClient(self.pins, host, port)
        try:
            async with asyncio.timeout(settings.ssh_timeout_seconds):
                async with asyncssh.connect(
                    host,
                    port=port,
                    username=settings.ssh_user,
                    client_factory=lambda: client,
                    client_keys=[str(private)],
                    known_hosts=([], [], []),
                    config=None,
                    agent_path=None,
                    password_auth=False,
                    kbdint_auth=False,
                ) as connection:
                    if self.pins.pinned(host, port) is None and client.offered is not None:
                        self.pins.pin(host, port, client.offered)
                    result = await connection.run(settings.ssh_restart_command, check=False)
        except asyncssh.PermissionDenied as exc:
            raise RestartFailed(
                f"{target} refused wfhub's key ({exc.reason}); add the line `wfhub ssh-key` "
                "prints to the host's authorized_keys"
            ) from exc
        except asyncssh.HostKeyNotVerifiable as exc:
            raise RestartFailed(client.mismatch or f"{target}: {exc.reason}") from exc
        except TimeoutError as exc:
            raise RestartFailed(
                f"{target} did not finish within {settings.ssh_timeout_seconds:g} s"
            ) from exc
        except (OSError, asyncssh.Error) as exc:
            raise RestartFailed(f"cannot reach {target}: {exc}") from exc
        if result.exit_status != 0:
            output = str(result.stderr or result.stdout or "").strip()[-OUTPUT_CHARS:]
            raise RestartFailed(
                f"`{settings.ssh_restart_command}` on {target} exited with "
                f"{result.exit_status}: {output or 'no output'}"
            )
        return f"ran `{settings.ssh_restart_command}` on {target}"
