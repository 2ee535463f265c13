"""Run leases on a real database (SQLite and PostgreSQL): which unfinished runs count as
orphaned, that adoption is a compare-and-set two processes cannot both win, and that a cancel
of a run another live process holds is flagged for that process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta

from wfhub.db import Database
from wfhub.models import Project, RunStatus, Task, TaskRun
from wfhub.models.base import utcnow
from wfhub.runs.leases import Leases, gone_here, owner_id

LEASE = 30.0


def dead_local_owner() -> str:
    script = "import os; print(os.getpid())"
    child = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    return f"{socket.gethostname()}:{child.stdout.decode().strip()}:dead"


async def runs_with_owners(
    database: Database, owners: dict[str, tuple[str | None, float]]
) -> dict[str, int]:
    """One running run per name, with the owner and the heartbeat age (seconds) given."""
    ids: dict[str, int] = {}
    async with database.unit_of_work() as session:
        project = Project(name="leases", workspace_path="leases")
        session.add(project)
        await session.flush()
        for name, (owner, age) in owners.items():
            task = Task(project_id=project.id, title=name)
            session.add(task)
            await session.flush()
            run = TaskRun(
                task_id=task.id,
                status=RunStatus.running,
                owner=owner,
                heartbeat_at=utcnow() - timedelta(seconds=age),
            )
            session.add(run)
            await session.flush()
            ids[name] = run.id
    return ids


def test_owner_ids_name_this_process() -> None:
    mine = owner_id()
    assert mine.startswith(f"{socket.gethostname()}:{os.getpid()}:")
    assert mine != owner_id()  # a restarted process with a reused pid is someone else
    assert not gone_here(mine)
    assert gone_here(dead_local_owner())
    assert not gone_here("another-machine:1:abcd")  # only its own lease can tell


async def test_orphans_are_stale_dead_or_ownerless_runs(database: Database) -> None:
    me = Leases(database, owner_id(), LEASE)
    ids = await runs_with_owners(
        database,
        {
            "fresh elsewhere": ("another-machine:7:aa", 1),
            "stale elsewhere": ("another-machine:8:bb", LEASE + 5),
            "dead here": (dead_local_owner(), 1),
            "nobody": (None, 1),
            "mine": (me.owner, LEASE + 5),  # never an orphan to itself
        },
    )
    found = {o.run_id for o in await me.orphans()}
    assert found == {ids["stale elsewhere"], ids["dead here"], ids["nobody"]}


async def test_only_one_process_adopts_an_orphan(database: Database) -> None:
    ids = await runs_with_owners(database, {"orphan": ("another-machine:9:cc", LEASE * 2)})
    first, second = Leases(database, owner_id(), LEASE), Leases(database, owner_id(), LEASE)
    [seen_by_first] = await first.orphans()
    [seen_by_second] = await second.orphans()
    assert await first.adopt(seen_by_first)
    assert not await second.adopt(seen_by_second)  # the owner it saw has changed
    async with database.unit_of_work(write=False) as session:
        run = await session.get(TaskRun, ids["orphan"])
        assert run is not None
        assert run.owner == first.owner
    assert await second.orphans() == []  # first's fresh lease now protects it


async def test_renewing_keeps_a_lease_and_a_cancel_is_flagged_for_its_owner(
    database: Database,
) -> None:
    owner = Leases(database, owner_id(), LEASE)
    other = Leases(database, owner_id(), LEASE)
    ids = await runs_with_owners(database, {"held": (owner.owner, LEASE + 5)})
    assert [o.run_id for o in await other.orphans()] == [ids["held"]]  # it looks dead
    await owner.renew()
    assert await other.orphans() == []
    assert await owner.cancel_requests() == []
    assert await other.held_elsewhere(ids["held"])
    assert await owner.cancel_requests() == [ids["held"]]
    assert not await owner.held_elsewhere(ids["held"])  # its own run: it cancels it itself
