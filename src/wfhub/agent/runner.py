"""One run from start to end: its worktree, its tools, the graph, and what it leaves behind.

The run works in a git worktree of the project on its own branch `wfhub/run-<id>` (under
`$WFHUB_HOME/worktrees/`), so parallel runs of one project never share files; a workspace
that is not a git repository (or `options.worktree: false`) is worked on in place. The run
records the commit it started from; the agent may commit along the way, and on success
what is left is committed, the summary listing every file changed since the start and the
last commit. Every step is an event. Cancellation (the executor cancels the task) and the
wall-clock limit end the run as `cancelled` or `failed` with the reason, never `running`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from wfhub.agent import aider_engine as aider
from wfhub.agent import commits, graph
from wfhub.agent.checkpoints import Checkpoints, thread_of
from wfhub.agent.model import GatewayModel, ModelError
from wfhub.agent.prompts import TaskBrief, files_in_play, system_prompt, task_prompt
from wfhub.agent.tools import RunActions, Toolbox
from wfhub.config import Settings
from wfhub.db import Database
from wfhub.errors import WfhubError
from wfhub.models import Project, RunStatus, Task, TaskNode
from wfhub.runs import service as runs
from wfhub.runs.live import RunEventsHub
from wfhub.sandbox.policy import Sandbox
from wfhub.sandbox.process import Limits, run
from wfhub.tasks import details
from wfhub.tasks import service as tasks
from wfhub.tasks.schemas import SubtaskCreate
from wfhub.workspace import git_changes
from wfhub.workspace.git import Git
from wfhub.workspace.service import author, root_of

log = logging.getLogger(__name__)
MAX_SUBTASK_DEPTH = 3  # agents create subtasks only under tasks shallower than this
MAX_SUBTASKS_PER_RUN = 5  # circuit breaker against runaway delegation


@dataclass
class RunnerDeps:
    settings: Settings
    database: Database
    sandbox: Sandbox
    hub: RunEventsHub
    client: httpx.AsyncClient
    cancel_requested: set[int]  # runs a user cancelled (others stopped by a shutdown)
    checkpoints: Checkpoints


@dataclass(frozen=True)
class Prepared:
    run: dict[str, Any]
    brief: TaskBrief
    role: str | None
    node_iterations: int | None
    project_id: int
    task_depth: int
    workspace: Path
    resuming: bool


class Runner:
    def __init__(self, deps: RunnerDeps) -> None:
        self.deps = deps

    async def emit(self, run_id: int, type_: str, payload: dict[str, Any]) -> None:
        await runs.append_event(self.deps.database, run_id, type_, payload)  # type: ignore[arg-type]
        self.deps.hub.notify(run_id)

    async def _finish(self, run_id: int, status: RunStatus, **fields: Any) -> None:
        async with self.deps.database.unit_of_work() as session:
            row = await runs.get(session, run_id)
            for name, value in fields.items():
                setattr(row, name, value)
            await runs.set_status(session, row, status, error=fields.get("error"))
        shown = {k: v for k, v in fields.items() if k in {"error", "summary", "commit_sha"}}
        await self.emit(run_id, "status", {"status": status.value, **shown})

    async def __call__(self, run_id: int) -> None:
        """Execute the run; every way out leaves it finished with its reason."""
        try:
            prepared = await self._prepare(run_id)
            if not prepared.resuming:
                await self.emit(run_id, "status", {"status": "running"})
            outcome = await asyncio.wait_for(
                self._execute(run_id, prepared),
                prepared.run["options"].get("timeout_seconds")
                or self.deps.settings.agent_timeout_seconds,
            )
            await self._finish(run_id, outcome.pop("status"), **outcome)
        except asyncio.CancelledError:
            if run_id in self.deps.cancel_requested:
                self.deps.cancel_requested.discard(run_id)
                ending = self._finish(run_id, RunStatus.cancelled, error="cancelled by a user")
            else:
                reason = "wfhub stopped while the run was running"
                ending = self._finish(run_id, RunStatus.interrupted, error=reason)
            await asyncio.shield(ending)
            raise
        except TimeoutError:
            await self._finish(run_id, RunStatus.failed, error="the run hit its wall-clock limit")
        except (ModelError, WfhubError, OSError) as exc:
            detail = exc.detail if isinstance(exc, WfhubError) else str(exc)
            await self.emit(run_id, "error", {"message": detail})
            await self._finish(run_id, RunStatus.failed, error=detail)
        except Exception as exc:  # a bug of ours: the run must still end, never stay running
            log.exception("run %s failed unexpectedly", run_id)
            detail = f"internal error: {type(exc).__name__}: {exc}"[:1000]
            await self.emit(run_id, "error", {"message": detail})
            await self._finish(run_id, RunStatus.failed, error=detail)

    async def _prepare(self, run_id: int) -> Prepared:
        settings = self.deps.settings
        async with self.deps.database.unit_of_work() as session:
            row = await runs.get(session, run_id)
            task = await tasks.get(session, row.task_id)
            node = await session.get(TaskNode, row.node_id) if row.node_id else None
            project_path = await self._project_path(session, task)
            criteria = [c.description for c in await details.list_criteria(session, task.id)]
            comments = [c.body for c in await details.list_comments(session, task.id)]
            resuming = row.status is RunStatus.running  # left running by a crash
            if not resuming:
                await runs.set_status(session, row, RunStatus.running)
            columns = ("id", "task_id", "engine", "model", "options", "base_sha")
            snapshot = {c: getattr(row, c) for c in columns}
        workspace = root_of(settings, project_path)
        if not workspace.is_dir():
            raise WfhubError(f"the project's workspace folder {project_path!r} does not exist")
        return Prepared(
            run=snapshot,
            brief=TaskBrief(task.title, task.description, criteria, comments),
            role=node.agent_prompt if node is not None else None,
            node_iterations=node.max_iterations if node is not None else None,
            project_id=task.project_id,
            task_depth=task.depth,
            workspace=workspace,
            resuming=resuming,
        )

    async def _project_path(self, session: AsyncSession, task: Task) -> str:
        path = await session.scalar(
            select(Project.workspace_path).where(Project.id == task.project_id)
        )
        return str(path)

    async def _worktree(self, run_id: int, prepared: Prepared) -> tuple[Path, str | None]:
        workspace = prepared.workspace
        if (
            not prepared.run["options"].get("worktree", True)
            or await commits.head(workspace) is None
        ):
            return workspace, None  # not a repository, or one without a commit to branch from
        git = Git(workspace, author=author(self.deps.settings))
        branch = f"wfhub/run-{run_id}"
        target = (
            self.deps.settings.worktrees_dir / f"project-{prepared.project_id}" / f"run-{run_id}"
        )
        if not target.is_dir():  # a resumed run keeps the worktree it had
            await git_changes.add_worktree(git, target, branch, None)
            await self.emit(run_id, "log", {"worktree": str(target), "branch": branch})
        return target, branch

    async def _execute(self, run_id: int, prepared: Prepared) -> dict[str, Any]:
        settings = self.deps.settings
        root, branch = await self._worktree(run_id, prepared)
        # A resumed run keeps the base it had (the agent may have committed since).
        base = prepared.run["base_sha"] or await commits.head(root)
        async with self.deps.database.unit_of_work() as session:
            row = await runs.get(session, run_id)
            row.branch, row.base_sha = branch, base
        limits = Limits(
            timeout_seconds=settings.agent_command_seconds,
            memory_bytes=settings.sandbox_memory_mb * 1024 * 1024,
        )

        async def check(command: str) -> tuple[bool, str]:
            done = await run(self.deps.sandbox, ["bash", "-c", command], root, limits)
            return done.exit_code == 0, done.output

        async def emit(type_: str, payload: dict[str, Any]) -> None:
            await self.emit(run_id, type_, payload)

        if prepared.run["engine"] == "aider":
            state = await self._aider(run_id, prepared, root, emit, check)
        else:
            state = await self._native(run_id, prepared, root, limits, emit, check)
        tokens = {
            "prompt_tokens": state.get("prompt_tokens", 0),
            "completion_tokens": state.get("completion_tokens", 0),
        }
        if state.get("outcome") != "succeeded":
            return {"status": RunStatus.failed, "error": state.get("reason", "failed"), **tokens}
        commit, changed = await self._result(run_id, root, prepared, base)
        return {
            "status": RunStatus.succeeded,
            "summary": state.get("summary", ""),
            "commit_sha": commit,
            "changed_files": changed,
            **tokens,
        }

    def _ids(self, run_id: int, prepared: Prepared) -> dict[str, int]:
        return {"project": prepared.project_id, "task": prepared.run["task_id"], "run": run_id}

    async def _aider(
        self, run_id: int, prepared: Prepared, root: Path, emit: aider.Emit, check: aider.Check
    ) -> dict[str, Any]:
        """Aider's rounds; its tokens come from the ledger (it has no count of its own)."""
        job = aider.AiderRun(
            run_id=run_id,
            ids=self._ids(run_id, prepared),
            model=str(prepared.run["model"]),
            options=prepared.run["options"],
            worktree=root,
            prompt=task_prompt(prepared.brief, root),
            files=tuple(
                prepared.run["options"].get("files") or files_in_play(root, prepared.brief)
            ),
        )
        deps = self.deps
        state = await aider.drive(deps.settings, deps.database, deps.sandbox, job, emit, check)
        return {**state, **await aider.ledger_tokens(deps.database, run_id)}

    async def _native(
        self,
        run_id: int,
        prepared: Prepared,
        root: Path,
        limits: Limits,
        emit: aider.Emit,
        check: aider.Check,
    ) -> dict[str, Any]:
        """The LangGraph agent, from its last checkpoint when the run is resumed."""
        settings = self.deps.settings

        async def commit(message: str) -> str:
            return await self._commit(run_id, root, message)

        actions = RunActions(make_subtask=self._subtasks(run_id, prepared), commit=commit)
        toolbox = Toolbox(root, self.deps.sandbox, limits, actions, settings.search_engine)
        token = (await asyncio.to_thread(settings.token_file.read_text)).strip()
        model = GatewayModel(
            self.deps.client,
            settings.hub_base_url,
            token,
            str(prepared.run["model"]),
            self._ids(run_id, prepared),
        )
        options = prepared.run["options"]
        agent_limits = graph.Limits(
            max_iterations=options.get("max_iterations")
            or prepared.node_iterations
            or settings.agent_max_iterations,
            max_tokens=options.get("max_tokens") or settings.agent_max_tokens,
            check_command=options.get("check_command"),
            constrained=settings.agent_constrained_calls
            if options.get("constrained_calls") is None
            else bool(options["constrained_calls"]),
        )

        saver = await self.deps.checkpoints.saver()
        compiled = graph.AgentGraph(model, toolbox, agent_limits, emit, check).compile(saver)
        messages = [
            {"role": "system", "content": system_prompt(prepared.role)},
            {"role": "user", "content": task_prompt(prepared.brief, root)},
        ]
        resume = prepared.resuming and await self.deps.checkpoints.exists(run_id)
        config = {**thread_of(run_id), "recursion_limit": agent_limits.max_iterations * 3 + 10}
        state: dict[str, Any] = await compiled.ainvoke(
            None if resume else {"messages": messages}, config
        )
        return state

    async def _commit(self, run_id: int, root: Path, message: str) -> str:
        """The `git_commit` tool, and the commit at the end of a successful run."""
        sha, files = await commits.commit_all(self.deps.settings, root, message)
        if sha is None:
            return "nothing to commit"
        await self.emit(run_id, "log", {"commit": sha, "files": files})
        return f"committed {sha[:12]}: {', '.join(files)}"

    async def _result(
        self, run_id: int, root: Path, prepared: Prepared, base: str | None
    ) -> tuple[str | None, list[str]]:
        """Commit what is left; the run's last commit and every file it changed since its
        base, over however many commits (the agent's own `git_commit` calls included)."""
        if not commits.is_repository(root):
            return None, []
        branch = f" on wfhub/run-{run_id}" if root != prepared.workspace else ""
        await self._commit(run_id, root, f"{prepared.brief.title}\n\nwfhub run {run_id}{branch}")
        last = await commits.head(root)
        if last is None or last == base:
            return None, []
        return last, await commits.changed_since(root, base)

    def _subtasks(self, run_id: int, prepared: Prepared) -> Callable[[str, str], Awaitable[str]]:
        made: list[int] = []

        async def make(title: str, description: str) -> str:
            if len(made) >= MAX_SUBTASKS_PER_RUN:
                return f"error: this run already created {MAX_SUBTASKS_PER_RUN} subtasks; no more"
            if prepared.task_depth >= MAX_SUBTASK_DEPTH:
                return (
                    f"error: this task is at depth {prepared.task_depth}; agents may create "
                    f"subtasks only down to depth {MAX_SUBTASK_DEPTH}"
                )
            async with self.deps.database.unit_of_work() as session:
                parent = await tasks.get(session, int(prepared.run["task_id"]))
                child = await tasks.create_subtask(
                    session, parent.id, SubtaskCreate(title=title[:500], description=description)
                )
                child_id = child.id
            made.append(child_id)
            await self.emit(run_id, "log", {"subtask": child_id, "title": title})
            return f"created subtask {child_id}: {title}"

        return make
