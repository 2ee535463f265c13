"""Which process executes a run: a lease on the row, so several processes can share a database.

`wfhub serve` and `wfhub agent-api` (and later `wfhub worker`) each execute runs. The process
that creates a run owns it (`owner`, `heartbeat_at`) and renews the lease of every run it has
while it lives. A run whose owner stopped renewing for `WFHUB_RUN_LEASE_SECONDS`, or whose
owner was a process on this machine that no longer exists, is adopted by the next process
that looks: it resumes it from its checkpoint or marks it interrupted (`service.recover`).
Adoption is a compare-and-set on the owner it saw, so two processes never both take a run,
and a process starting up never takes the runs of another that is alive.

A user's cancel of a run another live process owns sets `cancel_requested`; the owner sees it
on its next look (every `CANCEL_POLL_SECONDS`) and cancels the run itself.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update

from wfhub.db import Database
from wfhub.models import RunStatus, TaskRun
from wfhub.models.base import utcnow

ACTIVE = (RunStatus.queued, RunStatus.running)
CANCEL_POLL_SECONDS = 1.0


def owner_id() -> str:
    """This process: its machine, its pid, and a random part (a pid is reused in time)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def gone_here(owner: str) -> bool:
    """True when `owner` was a process on this machine that is no longer running."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


@dataclass(frozen=True)
class Orphan:
    run_id: int
    status: RunStatus
    owner: str | None


@dataclass(frozen=True)
class Leases:
    database: Database
    owner: str
    seconds: float

    async def renew(self) -> None:
        """Tell the others this process still executes its runs."""
        async with self.database.unit_of_work() as session:
            await session.execute(
                update(TaskRun)
                .where(TaskRun.owner == self.owner, TaskRun.status.in_(ACTIVE))
                .values(heartbeat_at=utcnow())
            )

    async def cancel_requests(self) -> list[int]:
        """This process's runs a user asked (through another process) to cancel."""
        async with self.database.unit_of_work(write=False) as session:
            rows = await session.scalars(
                select(TaskRun.id).where(
                    TaskRun.owner == self.owner,
                    TaskRun.cancel_requested.is_(True),
                    TaskRun.status.in_(ACTIVE),
                )
            )
            return list(rows)

    async def orphans(self) -> list[Orphan]:
        """Unfinished runs nobody alive executes."""
        cutoff = utcnow() - timedelta(seconds=self.seconds)
        async with self.database.unit_of_work(write=False) as session:
            rows = (
                await session.execute(
                    select(TaskRun.id, TaskRun.status, TaskRun.owner, TaskRun.heartbeat_at)
                    .where(TaskRun.status.in_(ACTIVE))
                    .where((TaskRun.owner.is_(None)) | (TaskRun.owner != self.owner))
                    .order_by(TaskRun.id)
                )
            ).all()
        return [
            Orphan(run_id, status, owner)
            for run_id, status, owner, beat in rows
            if owner is None or beat is None or beat < cutoff or gone_here(owner)
        ]

    async def adopt(self, orphan: Orphan) -> bool:
        """Take the run if it still has the owner it had when it was found orphaned."""
        async with self.database.unit_of_work() as session:
            same_owner = (
                TaskRun.owner.is_(None) if orphan.owner is None else TaskRun.owner == orphan.owner
            )
            taken = await session.execute(
                update(TaskRun)
                .where(TaskRun.id == orphan.run_id, TaskRun.status.in_(ACTIVE), same_owner)
                .values(owner=self.owner, heartbeat_at=utcnow(), cancel_requested=False)
            )
            return bool(getattr(taken, "rowcount", 0) == 1)

    async def held_elsewhere(self, run_id: int) -> bool:
        """Flag the run for cancelling when another live process owns it; True if so."""
        cutoff = utcnow() - timedelta(seconds=self.seconds)
        async with self.database.unit_of_work() as session:
            run = await session.get(TaskRun, run_id)
            if run is None or run.owner in (None, self.owner) or run.status not in ACTIVE:
                return False
            if run.heartbeat_at is None or run.heartbeat_at < cutoff or gone_here(run.owner):
                return False
            run.cancel_requested = True
            return True
