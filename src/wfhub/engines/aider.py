"""Drive Aider for one run: its own virtualenv, its own process, inside the sandbox.

Aider is never imported; `aider --message-file` runs as a subprocess in bubblewrap with the
run's worktree read-write, its virtualenv and Python read-only, and a per-run home
(`$WFHUB_HOME/engines/runs/run-<id>`, bound as the sandbox's home) for its settings and
history. It talks to wfhub's gateway as `ollama_chat/<model>` with the run's ids in headers
(so every call is in the ledger) and a gateway-only token that expires with the run: the
API token never enters the sandbox.

The sandbox has no network. Its one way out is the gateway: `sandbox/relay.py` listens on
127.0.0.1:11434 inside the sandbox (where Aider expects Ollama) and relays to a unix socket
that `sandbox/bridge.py` serves on the host and forwards to the hub. A prompt-injected
Aider can reach the models and nothing else: not the hub's other routes (the token opens
only the gateway), not PostgreSQL or any other loopback service, not the internet. Aider's
own habits of going online are switched off too, so it does not stall on them: no update
check, analytics, release notes, URL scraping or shell suggestions; litellm's local price
map; a fresh model-metadata cache of the one model so it does not fetch litellm's.

Aider works without committing (`--no-auto-commits`); the runner commits the result on the
run's branch like a native run. In a worktree Aider's git sees the project's `.git`
read-only, except its object store and this worktree's own admin folder, which `git add`
writes: hooks, config and refs stay out of reach.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from wfhub.engines.install import interpreter_prefix
from wfhub.errors import WfhubError
from wfhub.sandbox.bridge import RELAY_SCRIPT, unix_bridge
from wfhub.sandbox.policy import PATH, Mounts, Sandbox, SandboxMode
from wfhub.sandbox.process import Completed, Limits, run
from wfhub.workspace.git import Author

OLLAMA_PORT = 11434  # inside the sandbox's own network namespace, where Aider looks
FLUSH_SECONDS = 0.25  # output is sent as `log` events at most this often
EVENT_CHARS = 8000  # and in pieces no bigger than this
# Aider re-downloads litellm's model metadata unless this cache is younger than a day.
METADATA_CACHE = Path(".aider/caches/model_prices_and_context_window.json")
FLAGS = (
    "--yes-always",
    "--no-auto-commits",
    "--no-dirty-commits",
    "--no-check-update",
    "--no-show-release-notes",
    "--analytics-disable",
    "--no-detect-urls",
    "--no-gitignore",
    "--no-pretty",
    "--no-fancy-input",
    "--no-suggest-shell-commands",
    "--no-auto-lint",
    "--no-show-model-warnings",
)


@dataclass(frozen=True)
class AiderJob:
    venv: Path
    home: Path  # on the host; the sandbox's home
    worktree: Path
    gateway_url: str  # the hub's `/ollama`
    token: str  # the run's gateway token
    model: str
    ids: dict[str, int]
    files: tuple[str, ...]
    author: Author


Emit = Callable[[str], Awaitable[None]]


def model_settings(job: AiderJob) -> list[dict[str, object]]:
    """Aider's model settings (JSON is YAML): the run's ids ride on every request. The edit
    format stays Aider's own choice for the model (`whole` for a model it does not know):
    with `diff`, the 1.5B model answered "Ok, I'll fix it" and no edit, run after run."""
    headers = {f"X-Wfhub-{name.capitalize()}": str(value) for name, value in job.ids.items()}
    return [
        {
            "name": f"ollama_chat/{job.model}",
            "extra_params": {"extra_headers": headers},
        }
    ]


def command(job: AiderJob, home: str, *, git: bool, socket: Path | None) -> list[str]:
    """Aider's command line; behind the relay to `socket` when there is one."""
    relay = [str(job.venv / "bin" / "python"), str(RELAY_SCRIPT), str(OLLAMA_PORT)]
    prefix = [*relay, str(socket), "--"] if socket is not None else []
    argv = [
        *prefix,
        str(job.venv / "bin" / "aider"),
        "--model",
        f"ollama_chat/{job.model}",
        "--model-settings-file",
        f"{home}/model-settings.yml",
        "--message-file",
        f"{home}/message.md",
        "--chat-history-file",
        f"{home}/chat-history.md",
        "--input-history-file",
        f"{home}/input-history.txt",
        *FLAGS,
    ]
    if not git:
        argv.append("--no-git")
    return [*argv, "--", *job.files]


def environment(job: AiderJob, *, relayed: bool) -> dict[str, str]:
    relay = f"http://127.0.0.1:{OLLAMA_PORT}{urlsplit(job.gateway_url).path}"
    gateway = relay if relayed else job.gateway_url
    return {
        "PATH": f"{job.venv / 'bin'}:{PATH}",
        "OLLAMA_API_BASE": gateway,
        "OLLAMA_API_KEY": job.token,  # litellm sends it as `Authorization: Bearer`
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        # The identity as config (Aider writes one into the read-only .git if it finds none).
        "GIT_CONFIG_COUNT": "2",
        "GIT_CONFIG_KEY_0": "user.name",
        "GIT_CONFIG_VALUE_0": job.author.name,
        "GIT_CONFIG_KEY_1": "user.email",
        "GIT_CONFIG_VALUE_1": job.author.email,
        "TERM": "dumb",
        "NO_COLOR": "1",
        "PYTHONUNBUFFERED": "1",  # output arrives as Aider writes it
    }


def git_mounts(worktree: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(read-only, writable) paths a worktree's git needs: it points into the project's
    `.git`, which the sandbox otherwise does not show."""
    link = worktree / ".git"
    if not link.is_file():
        return (), ()
    admin = Path(link.read_text().removeprefix("gitdir:").strip())
    common = (admin / (admin / "commondir").read_text().strip()).resolve()
    return (str(common),), (str(common / "objects"), str(admin))


def mounts(job: AiderJob, socket: Path | None) -> Mounts:
    read_only, writable = git_mounts(job.worktree)
    runtime = (str(job.venv), str(interpreter_prefix(job.venv)))
    relay = (str(RELAY_SCRIPT), str(socket)) if socket is not None else ()
    return Mounts(home=job.home, read_only=(*runtime, *relay, *read_only), writable=writable)


def gateway_address(url: str) -> tuple[str, int]:
    """Host and port the bridge forwards to: the hub's, over plain HTTP (the relay speaks
    HTTP to it as if it were the hub)."""
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname is None:
        raise WfhubError(
            f"the Aider engine reaches the hub's gateway over plain http, not {url!r}: "
            "set WFHUB_HUB_URL to the hub's http:// address"
        )
    return parts.hostname, parts.port or 80


def prepare_home(job: AiderJob, message: str) -> None:
    """The run's home: settings, the message, and a fresh metadata cache naming only the
    run's model (an empty one counts as missing and is fetched again)."""
    cache = job.home / METADATA_CACHE
    cache.parent.mkdir(parents=True, exist_ok=True)
    free = {"input_cost_per_token": 0.0, "output_cost_per_token": 0.0}
    entry = {"litellm_provider": "ollama_chat", "mode": "chat", **free}
    cache.write_text(json.dumps({f"ollama_chat/{job.model}": entry}))
    os.utime(cache)
    (job.home / "model-settings.yml").write_text(json.dumps(model_settings(job), indent=1))
    (job.home / "message.md").write_text(message)


class OutputPump:
    """Gathers Aider's output and sends it on as events, a few per second, whole lines
    when it can, so a chatty engine does not write a row per token."""

    def __init__(self, emit: Emit) -> None:
        self.emit = emit
        self.pending = bytearray()
        self.tail = ""

    async def feed(self, chunk: bytes) -> None:
        self.pending.extend(chunk)

    async def flush(self, *, final: bool = False) -> None:
        cut = len(self.pending) if final else self.pending.rfind(b"\n") + 1
        if cut <= 0:
            return
        text = bytes(self.pending[:cut]).decode("utf-8", errors="replace")
        del self.pending[:cut]
        self.tail = (self.tail + text)[-EVENT_CHARS:]
        for start in range(0, len(text), EVENT_CHARS):
            await self.emit(text[start : start + EVENT_CHARS])

    async def pump(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            await self.flush()


async def run_aider(
    sandbox: Sandbox, job: AiderJob, message: str, limits: Limits, emit: Emit
) -> tuple[Completed, str]:
    """One Aider invocation; its result and the last of its output. Cancelling this kills
    Aider's whole process tree (the sandbox's PID namespace goes with it). Unsandboxed (the
    operator allowed it) there is no namespace to bridge into: Aider calls the hub itself."""
    await asyncio.to_thread(prepare_home, job, message)
    async with contextlib.AsyncExitStack() as stack:
        socket = None
        if sandbox.mode is SandboxMode.bwrap:
            host, port = gateway_address(job.gateway_url)
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="wfhub-")))
            socket = await stack.enter_async_context(
                unix_bridge(folder / "gateway.sock", host, port)
            )
        chosen = mounts(job, socket)
        git = (job.worktree / ".git").exists()
        argv = command(job, sandbox.home_directory(chosen), git=git, socket=socket)
        output = OutputPump(emit)
        pumping = asyncio.create_task(output.pump())
        try:
            done = await run(
                sandbox,
                argv,
                job.worktree,
                limits,
                mounts=chosen,
                env=environment(job, relayed=socket is not None),
                on_output=output.feed,
            )
        finally:
            pumping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pumping
    await output.flush(final=True)
    return done, output.tail
