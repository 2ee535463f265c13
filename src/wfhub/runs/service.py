"""Runs and their events: the rows, the state machine, and what the ledger says of a run.

Status moves queued -> running -> succeeded | failed | cancelled | interrupted, and only
forward: a finished run is never reopened. The task follows (in_progress while a run runs,
completed or failed after), unless the user moved it meanwhile. Events are numbered per run
from 1 with no gaps; one run has one writer (its executor), and `(run_id, seq)` is unique, so
a second writer would fail rather than interleave.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from wfhub.db import Database
from wfhub.errors import Conflict, NotFound
from wfhub.models import LlmRequest, RunEvent, RunStatus, Task, TaskRun, TaskStatus
from wfhub.models.base import utcnow
from wfhub.runs.leases import Orphan
from wfhub.runs.schemas import EventType, RunCreate, RunSummary
from wfhub.tasks import service as tasks

FINISHED = frozenset(
    {RunStatus.succeeded, RunStatus.failed, RunStatus.cancelled, RunStatus.interrupted}
)
MAX_RESUMES = 2  # a run that keeps crashing the server is not resumed forever
TASK_AFTER = {RunStatus.succeeded: TaskStatus.completed, RunStatus.failed: TaskStatus.failed}


async def create(
    session: AsyncSession, task_id: int, data: RunCreate, default_model: str, owner: str
) -> TaskRun:
    """A queued run of the task, leased to `owner` (the executor the caller hands it to
    after the commit)."""
    task = await tasks.get(session, task_id)
    active = await session.scalar(
        select(func.count())
        .select_from(TaskRun)
        .where(
            TaskRun.task_id == task_id, TaskRun.status.in_([RunStatus.queued, RunStatus.running])
        )
    )
    if active:
        raise Conflict(f"task {task_id} already has a run in progress; cancel it first")
    run = TaskRun(
        task_id=task.id,
        node_id=data.node_id if data.node_id is not None else task.node_id,
        engine=data.engine,
        model=data.model or default_model,
        options=data.options.model_dump(exclude_none=True),
        status=RunStatus.queued,
        owner=owner,
        heartbeat_at=utcnow(),
    )
    session.add(run)
    await session.flush()
    await session.refresh(run)
    return run


async def get(session: AsyncSession, run_id: int) -> TaskRun:
    run = await session.get(TaskRun, run_id)
    if run is None:
        raise NotFound(f"run {run_id} does not exist")
    return run


async def list_for_task(session: AsyncSession, task_id: int) -> list[TaskRun]:
    await tasks.get(session, task_id)
    rows = await session.scalars(
        select(TaskRun).where(TaskRun.task_id == task_id).order_by(TaskRun.id.desc())
    )
    return list(rows)


async def ledger_tokens(session: AsyncSession, run_id: int) -> tuple[int, int]:
    """Prompt and completion tokens the gateway recorded for the run's model calls."""
    sums = (
        await session.execute(
            select(
                func.coalesce(func.sum(LlmRequest.prompt_tokens), 0),
                func.coalesce(func.sum(LlmRequest.completion_tokens), 0),
            ).where(LlmRequest.run_id == run_id)
        )
    ).one()
    return int(sums[0] or 0), int(sums[1] or 0)


async def summary(session: AsyncSession, run_id: int) -> RunSummary:
    """The run with its event count and what the ledger recorded of its model calls."""
    run = await get(session, run_id)
    ledger = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(LlmRequest.total_ms), 0.0)).where(
                LlmRequest.run_id == run_id
            )
        )
    ).one()
    events = await session.scalar(
        select(func.count()).select_from(RunEvent).where(RunEvent.run_id == run_id)
    )
    return RunSummary.model_validate(
        {
            **{c: getattr(run, c) for c in RunSummary.model_fields if hasattr(run, c)},
            "llm_requests": ledger[0],
            "llm_seconds": round(float(ledger[1]) / 1000, 3),
            "events": events or 0,
        }
    )


async def append_event(
    database: Database, run_id: int, type_: EventType, payload: dict[str, Any]
) -> int:
    """Store one event in its own transaction (so it is visible at once); its number."""
    async with database.unit_of_work() as session:
        last = await session.scalar(select(func.max(RunEvent.seq)).where(RunEvent.run_id == run_id))
        seq = (last or 0) + 1
        session.add(RunEvent(run_id=run_id, seq=seq, type=type_, payload=payload))
    return seq


async def events_after(
    session: AsyncSession, run_id: int, after: int, limit: int = 500
) -> list[RunEvent]:
    rows = await session.scalars(
        select(RunEvent)
        .where(RunEvent.run_id == run_id, RunEvent.seq > after)
        .order_by(RunEvent.seq)
        .limit(limit)
    )
    return list(rows)


async def set_status(
    session: AsyncSession, run: TaskRun, status: RunStatus, *, error: str | None = None
) -> None:
    """Move the run (and its task) forward; a finished run stays as it is."""
    if run.status in FINISHED:
        return
    now = utcnow()
    if status is RunStatus.running:
        run.started_at = now
        await _move_task(session, run.task_id, TaskStatus.in_progress, None)
    if status in FINISHED:
        run.finished_at = now
        if status in TASK_AFTER:
            await _move_task(session, run.task_id, TASK_AFTER[status], TaskStatus.in_progress)
    if error is not None:
        run.error = error
    run.status = status
    await session.flush()


async def _move_task(
    session: AsyncSession, task_id: int, status: TaskStatus, only_from: TaskStatus | None
) -> None:
    statement = update(Task).where(Task.id == task_id).values(status=status)
    if only_from is not None:
        statement = statement.where(Task.status == only_from)  # a user's change wins
    await session.execute(statement)


async def recover(database: Database, orphans: list[Orphan], *, resume: bool) -> list[int]:
    """The runs a dead process left, once adopted: queued ones are queued again; running ones
    resume from their checkpoint (`resume`, at most `MAX_RESUMES` times a run) or become
    `interrupted` with the reason, never left `running`. The ids to hand to the executor."""
    again: list[int] = []
    async with database.unit_of_work(write=False) as session:
        resumed = {o.run_id: await _resumes(session, o.run_id) for o in orphans}
    for orphan in orphans:
        run_id = orphan.run_id
        if orphan.status is RunStatus.queued:
            again.append(run_id)
        elif resume and resumed[run_id] < MAX_RESUMES:
            await append_event(
                database,
                run_id,
                "status",
                {
                    "status": "running",
                    "resumed": True,
                    "reason": "the wfhub process running it stopped; resuming from the last "
                    "checkpoint",
                },
            )
            again.append(run_id)
        else:
            reason = (
                f"wfhub stopped during the run {resumed[run_id] + 1} times; not resumed again"
                if resume
                else "wfhub stopped while the run was running"
            )
            async with database.unit_of_work() as session:
                await set_status(
                    session, await get(session, run_id), RunStatus.interrupted, error=reason
                )
            await append_event(
                database, run_id, "status", {"status": "interrupted", "error": reason}
            )
    return again


async def _resumes(session: AsyncSession, run_id: int) -> int:
    statuses = await session.scalars(
        select(RunEvent.payload).where(RunEvent.run_id == run_id, RunEvent.type == "status")
    )
    return sum(1 for payload in statuses if payload.get("resumed"))


async def has_ended(session: AsyncSession, run_id: int) -> bool:
    """True once the run is finished and its final status event is stored (a stream that
    stopped between the two would miss that event)."""
    run = await get(session, run_id)
    if run.status not in FINISHED:
        return False
    last = await session.scalar(
        select(RunEvent).where(RunEvent.run_id == run_id).order_by(RunEvent.seq.desc()).limit(1)
    )
    return last is not None and last.type == "status" and last.payload.get("status") in FINISHED
