"""A run with `engine: aider`: Aider edits, wfhub checks, and a failed check goes back.

Each round runs Aider once on a message (first the task prompt, then the check's failure);
after a round that ends well the run's `check_command`, if any, runs in wfhub's own
sandbox, and the run succeeds when it passes. `AIDER_ROUNDS` rounds at most; the run's
token budget is checked against the ledger between rounds. Aider holds a gateway token
minted for the run and revoked when it ends, whatever way it ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wfhub.config import Settings
from wfhub.db import Database
from wfhub.engines.aider import AiderJob, run_aider
from wfhub.engines.install import require, venv_of
from wfhub.llm.ledger import FLUSH_SECONDS
from wfhub.runs import service as runs
from wfhub.sandbox.policy import Sandbox
from wfhub.sandbox.process import Limits
from wfhub.security import tokens
from wfhub.workspace.service import author

AIDER_ROUNDS = 3
FAILURE_CHARS = 4000  # of a failed check's output, sent back to Aider
Check = Callable[[str], Awaitable[tuple[bool, str]]]
Emit = Callable[[str, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class AiderRun:
    run_id: int
    ids: dict[str, int]
    model: str
    options: dict[str, Any]
    worktree: Path
    prompt: str
    files: tuple[str, ...]  # in Aider's chat: the ones it may edit


@asynccontextmanager
async def gateway_token(database: Database, run_id: int, seconds: float) -> AsyncIterator[str]:
    async with database.unit_of_work() as session:
        secret = await tokens.create_gateway_token(session, f"run {run_id}", seconds + 60)
    try:
        yield secret
    finally:
        async with database.unit_of_work() as session:
            await tokens.revoke_gateway_token(session, secret)


async def ledger_tokens(database: Database, run_id: int) -> dict[str, int]:
    """The run's tokens as the gateway recorded them, once its last rows are written."""
    await asyncio.sleep(FLUSH_SECONDS * 2)
    async with database.session(write=False) as session:
        prompt, completion = await runs.ledger_tokens(session, run_id)
    return {"prompt_tokens": prompt, "completion_tokens": completion}


async def drive(
    settings: Settings,
    database: Database,
    sandbox: Sandbox,
    job: AiderRun,
    emit: Emit,
    check: Check,
) -> dict[str, Any]:
    """Run the rounds; `{"outcome": "succeeded" | "failed", "reason"?, "summary"?}`."""
    engine = require(settings, "aider")
    timeout = job.options.get("timeout_seconds") or settings.agent_timeout_seconds
    limits = Limits(timeout_seconds=timeout, memory_bytes=settings.sandbox_memory_mb * 1024 * 1024)
    home = settings.engines_dir / "runs" / f"run-{job.run_id}"
    check_command: str | None = job.options.get("check_command")
    budget = job.options.get("max_tokens") or settings.agent_max_tokens

    async def output(text: str) -> None:
        await emit("log", {"engine": "aider", "output": text})

    async with gateway_token(database, job.run_id, timeout) as secret:
        aider = AiderJob(
            venv=venv_of(settings, engine),
            home=home,
            worktree=job.worktree,
            gateway_url=f"{settings.hub_base_url}/ollama",
            token=secret,
            model=job.model,
            ids=job.ids,
            files=job.files,
            author=author(settings),
        )
        message = job.prompt
        for round_number in range(1, AIDER_ROUNDS + 1):
            await emit("status", {"status": "running", "engine": "aider", "round": round_number})
            done, tail = await run_aider(sandbox, aider, message, limits, output)
            if done.exit_code != 0:
                return {
                    "outcome": "failed",
                    "reason": f"aider exited with status {done.exit_code}: {tail[-1000:]}",
                }
            if check_command is None:
                return {"outcome": "succeeded", "summary": tail[-2000:].strip()}
            passed, result = await check(check_command)
            await emit("tool_result", {"tool": "check", "ok": passed, "output": result})
            if passed:
                return {"outcome": "succeeded", "summary": tail[-2000:].strip()}
            used = await ledger_tokens(database, job.run_id)
            if sum(used.values()) >= budget:
                return {"outcome": "failed", "reason": f"the run used its {budget} tokens"}
            message = (
                f"The check `{check_command}` fails:\n\n{result[-FAILURE_CHARS:]}\n\n"
                "Fix the code so that it passes."
            )
    return {
        "outcome": "failed",
        "reason": f"the check `{check_command}` still fails after {AIDER_ROUNDS} aider rounds",
    }
