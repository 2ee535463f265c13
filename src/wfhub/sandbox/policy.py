"""What a sandboxed process sees: the bubblewrap command line and a clean environment.

Allowlist, not blocklist: the process gets the system directories read-only, the one
workspace read-write, a private /tmp and home, and nothing else of the host; the data dir
(token, database, secret key), other workspaces and home directories are simply absent.
It shares no namespace with the host (no network, own PIDs, IPC, hostname; `bridge.py` is
the one way out an engine gets) and, when wfhub runs as root, has every capability dropped.
/etc is needed for users, libraries and certificates, so its secrets (shadow files, SSH
host keys, TLS private keys, sudoers) are masked.
"""

from __future__ import annotations

import enum
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from wfhub.config import Settings
from wfhub.errors import SandboxUnavailable

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt")
MASKED = (
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/ssh",
    "/etc/sudoers",
    "/etc/sudoers.d",
    "/etc/ssl/private",
)
SANDBOX_HOME = "/home/sandbox"
SANDBOX_TMP = "/tmp"  # noqa: S108 -- a private tmpfs mounted inside the sandbox
# Last on PATH: commands a system lacks under the name agents (and people) type, such as
# `python` where Debian has only `python3`, as its package python-is-python3 would add.
SANDBOX_BIN = "/run/sandbox-bin"
ALIASES = {"python": "python3", "pip": "pip3"}
PATH = f"/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin:{SANDBOX_BIN}"


@dataclass(frozen=True)
class Mounts:
    """Host paths one sandboxed process sees beyond the system and its workspace (an
    engine's virtualenv, its own home). `writable` is bound after `read_only`, so it can
    open a hole in a read-only tree (a repository's objects under its read-only .git)."""

    home: Path | None = None  # bound read-write as the sandbox's home directory
    read_only: tuple[str, ...] = ()
    writable: tuple[str, ...] = ()


NO_MOUNTS = Mounts()


class SandboxMode(enum.StrEnum):
    bwrap = "bwrap"
    unsandboxed = "unsandboxed"  # bubblewrap missing and the operator allowed it
    unavailable = "unavailable"  # bubblewrap missing: sandboxed work refuses to start


@dataclass(frozen=True)
class Sandbox:
    mode: SandboxMode
    bwrap: str | None = None
    read_only: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> Sandbox:
        bwrap = shutil.which("bwrap")
        extra = tuple(str(Path(p).expanduser().resolve()) for p in settings.sandbox_read_only)
        if bwrap is not None:
            return cls(SandboxMode.bwrap, bwrap, extra)
        if settings.allow_unsandboxed:
            return cls(SandboxMode.unsandboxed, None, extra)
        return cls(SandboxMode.unavailable, None, extra)

    def describe(self) -> str:
        """One line for `wfhub doctor` and status endpoints."""
        if self.mode is SandboxMode.bwrap:
            return f"bubblewrap ({self.bwrap})"
        if self.mode is SandboxMode.unsandboxed:
            return "OFF: bubblewrap missing; WFHUB_ALLOW_UNSANDBOXED lets commands run unconfined"
        return "unavailable: install bubblewrap (apt-get install bubblewrap)"

    def command(
        self,
        argv: Sequence[str],
        workspace: Path,
        *,
        new_session: bool = True,
        mounts: Mounts = NO_MOUNTS,
    ) -> list[str]:
        """The command line that runs `argv` in `workspace` inside the sandbox.

        `new_session=False` keeps the caller's terminal as the controlling one (the web
        terminal's own PTY); otherwise the process cannot push input into a terminal."""
        if self.mode is SandboxMode.unavailable:
            raise SandboxUnavailable(self.describe())
        if self.mode is SandboxMode.unsandboxed:
            return list(argv)
        assert self.bwrap is not None
        args = [self.bwrap, "--die-with-parent", "--unshare-all"]
        if os.geteuid() == 0:
            args += ["--cap-drop", "ALL"]
        if new_session:
            args.append("--new-session")
        args += self._system()
        args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", SANDBOX_TMP, "--tmpfs", "/home"]
        args += _aliases()
        if mounts.home is not None:
            args += ["--bind", str(mounts.home), SANDBOX_HOME]
        else:
            args += ["--dir", SANDBOX_HOME]
        # After the tmpfs mounts, so a path under /tmp or /home is not hidden by them.
        for path in (*self.read_only, *mounts.read_only):
            args += ["--ro-bind-try", path, path]
        for path in mounts.writable:
            args += ["--bind", path, path]
        home = str(workspace)
        args += ["--hostname", "sandbox", "--bind", home, home, "--chdir", home, "--", *argv]
        return args

    def _system(self) -> list[str]:
        """The system directories read-only, their secrets masked."""
        args: list[str] = []
        for directory in SYSTEM_DIRS:
            args += _mirror(directory)
        for path in MASKED:
            if os.path.isdir(path):
                args += ["--tmpfs", path]
            elif os.path.lexists(path):
                args += ["--ro-bind", "/dev/null", path]
        return args

    def home_directory(self, mounts: Mounts) -> str:
        """HOME as the process sees it: the sandbox's, or the host folder when unconfined."""
        if self.mode is SandboxMode.unsandboxed and mounts.home is not None:
            return str(mounts.home)
        return SANDBOX_HOME


def _aliases() -> list[str]:
    args = ["--dir", SANDBOX_BIN]
    for name, target in ALIASES.items():
        found = shutil.which(target, path=PATH)
        if shutil.which(name, path=PATH) is None and found is not None:
            args += ["--symlink", found, f"{SANDBOX_BIN}/{name}"]
    return args


def _mirror(path: str) -> list[str]:
    """Bind a system directory read-only; merged-/usr symlinks (/bin -> usr/bin) stay links."""
    if os.path.islink(path):
        return ["--symlink", os.readlink(path), path]
    if os.path.isdir(path):
        return ["--ro-bind", path, path]
    return []


def environment(*, term: str | None = None) -> dict[str, str]:
    """A fresh environment: nothing of wfhub's own (tokens, database URL, keys) leaks in."""
    env = {
        "PATH": PATH,
        "HOME": SANDBOX_HOME,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "USER": "sandbox",
        "SHELL": "/bin/sh",
        "TMPDIR": SANDBOX_TMP,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    if term is not None:
        env["TERM"] = term
    return env
