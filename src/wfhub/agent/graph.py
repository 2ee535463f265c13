"""The agent's LangGraph: plan -> act (tools) -> check -> finish.

- plan: one model call without tools for a short plan (recorded as a message event).
- act: one model call with the tools; every tool call is run and its observation goes back.
  A reply without a tool call means the model thinks it is done: on to check. A reply that
  tried to call a tool but could not be parsed gets an error message back, not a crash.
- check: the run's `check_command` (if any) in the sandbox; a failure goes back to act with
  its output, a pass (or no command) goes to finish.
- Limits end the run as failed with the reason: iterations (model calls), tokens, the stuck
  detector. The wall-clock limit is the runner's (it cancels the graph).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Literal, TypedDict

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph

from wfhub.agent.edits import clip
from wfhub.agent.model import REPLY_TOKENS, GatewayModel, Reply, action_schema
from wfhub.agent.prompts import PLAN
from wfhub.agent.stuck import StuckDetector
from wfhub.agent.tools import Toolbox

Emit = Callable[[str, dict[str, Any]], Awaitable[None]]
CheckRunner = Callable[[str], Awaitable[tuple[bool, str]]]
UNPARSED_MARKERS = ("<tool_call>", "<function", '"name"', "```json")
PLAN_TOKENS = 300  # a plan of at most six short steps
PLAN_SCHEMA = {
    "type": "object",
    "properties": {"plan": {"type": "string"}},
    "required": ["plan"],
    "additionalProperties": False,
}
FINISH = {
    "type": "function",
    "function": {
        "name": "finish",
        "description": "Call when the task is done and checked.",
        "parameters": {
            "type": "object",
            "properties": {"summary": {"type": "string", "description": "What you changed"}},
            "required": ["summary"],
        },
    },
}
NO_CHANGES = (
    "You finished without changing any file. Code in a reply is not applied: call "
    "edit_file (or write_file) to change the file, then run_command to test."
)
UNPARSED = (
    "error: your tool call could not be parsed. Reply with a JSON object "
    '{"name": "<tool>", "arguments": {...}} inside <tool_call></tool_call>.'
)


def plan_text(content: str) -> str:
    """The plan out of a `PLAN_SCHEMA` reply; the reply itself when it is not one (a model
    that ignores `format`, or a plan cut off by the token cap)."""
    try:
        value = json.loads(content)
    except ValueError:
        return content
    return str(value["plan"]) if isinstance(value, dict) and "plan" in value else content


class AgentState(TypedDict, total=False):
    messages: list[dict[str, Any]]
    iterations: int
    prompt_tokens: int
    completion_tokens: int
    outcome: Literal["succeeded", "failed"]
    reason: str
    summary: str
    checked: bool
    nudged: bool
    force_tool: bool  # the next reply is constrained to a tool call


@dataclass(frozen=True)
class Limits:
    max_iterations: int
    max_tokens: int
    check_command: str | None
    constrained: bool = True  # every act reply is one tool call (`model.action_schema`)


class AgentGraph:
    """The nodes of the graph over one run's model, tools and limits."""

    def __init__(
        self, model: GatewayModel, tools: Toolbox, limits: Limits, emit: Emit, check: CheckRunner
    ) -> None:
        self.model, self.tools, self.limits = model, tools, limits
        self.emit, self.check = emit, check
        self.stuck = StuckDetector()

    def compile(self, checkpointer: BaseCheckpointSaver[Any] | None = None) -> Any:
        graph = StateGraph(AgentState)
        graph.add_node("plan", self.plan)
        graph.add_node("act", self.act)
        graph.add_node("check", self.run_check)
        graph.add_node("finish", self.finish)
        graph.add_edge(START, "plan")
        graph.add_edge("plan", "act")
        graph.add_conditional_edges("act", self.after_act, ["act", "check", "finish"])
        graph.add_conditional_edges("check", self.after_check, ["act", "finish"])
        graph.add_edge("finish", END)
        return graph.compile(checkpointer=checkpointer)

    async def ask(
        self, state: AgentState, messages: list[dict[str, Any]], *, acting: bool
    ) -> tuple[Reply, AgentState]:
        """One model call. With constrained calls the plan request carries the tools too
        (answering in the `PLAN_SCHEMA` shape, so no call is made): the tools are part of
        the system prompt, so the act requests then share the plan's whole prefix and the
        model server reuses its cache instead of reading the task again (~20 s of a 1.5B
        run on two cores). A model replying freely plans without tools, as it would."""
        tools = [*self.tools.schemas(), FINISH]
        if acting:
            constrained = self.limits.constrained or state.get("force_tool", False)
            shape = action_schema(tools) if constrained else None
        else:
            shape = PLAN_SCHEMA if self.limits.constrained else None
            tools = tools if self.limits.constrained else []
        tokens = REPLY_TOKENS if acting else PLAN_TOKENS
        reply = await self.model.chat(messages, tools, shape=shape, reply_tokens=tokens)
        if not acting:
            reply = replace(reply, content=plan_text(reply.content))
        used: AgentState = {
            "force_tool": False,
            "iterations": state.get("iterations", 0) + 1,
            "prompt_tokens": state.get("prompt_tokens", 0) + reply.prompt_tokens,
            "completion_tokens": state.get("completion_tokens", 0) + reply.completion_tokens,
        }
        await self.emit(
            "message",
            {
                "role": "assistant",
                "content": reply.content,
                "tool_calls": reply.tool_calls,
                "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": reply.completion_tokens,
                "seconds": round(reply.seconds, 3),
            },
        )
        return reply, used

    def over_limits(self, state: AgentState) -> str | None:
        if state.get("iterations", 0) >= self.limits.max_iterations:
            return f"reached the limit of {self.limits.max_iterations} model calls"
        tokens = state.get("prompt_tokens", 0) + state.get("completion_tokens", 0)
        if tokens >= self.limits.max_tokens:
            return f"used {tokens} tokens, over the limit of {self.limits.max_tokens}"
        return None

    async def plan(self, state: AgentState) -> AgentState:
        asking = [*state["messages"], {"role": "user", "content": PLAN}]
        reply, used = await self.ask(state, asking, acting=False)
        messages = [
            *asking,
            {"role": "assistant", "content": reply.content},
            {"role": "user", "content": "Now carry out the plan with your tools."},
        ]
        return {**used, "messages": messages}

    async def act(self, state: AgentState) -> AgentState:
        reason = self.over_limits(state)
        if reason is not None:
            return {"outcome": "failed", "reason": reason}
        history = state["messages"]
        if history and history[-1]["role"] == "assistant" and not history[-1].get("tool_calls"):
            # Chat templates refuse two assistant turns in a row (llama.cpp answers 422).
            history = [*history, {"role": "user", "content": "Continue, using your tools."}]
        reply, used = await self.ask(state, history, acting=True)
        said = {"role": "assistant", "content": reply.content, "tool_calls": reply.tool_calls}
        messages = [*history, said]
        if not reply.tool_calls and any(m in reply.content for m in UNPARSED_MARKERS):
            return await self.unparsed(used, messages)
        for index, call in enumerate(reply.tool_calls):
            function = call.get("function") or {}
            name, arguments = str(function.get("name", "")), function.get("arguments", {})
            if name == "finish":
                summary = arguments.get("summary") if isinstance(arguments, dict) else None
                messages.append({"role": "tool", "content": "finishing", "tool_name": name})
                return await self.done(state, used, messages, str(summary or reply.content))
            await self.emit("tool_call", {"name": name, "arguments": arguments})
            observation, ok = await self.tools.call(name, arguments)
            await self.emit("tool_result", {"name": name, "ok": ok, "output": observation})
            messages.append({"role": "tool", "content": observation, "tool_name": name})
            stop = self.stuck.observe(f"{name} {arguments}", observation, ok)
            if stop is not None:
                return {**used, "messages": messages, "outcome": "failed", "reason": stop}
            if not ok and index + 1 < len(reply.tool_calls):
                # The later calls were planned without this result; running them anyway
                # (a write after a failed edit) does more harm than good.
                skipped = ", ".join(
                    str((c.get("function") or {}).get("name"))
                    for c in reply.tool_calls[index + 1 :]
                )
                note = f"not run, because {name} failed: {skipped}. Look at the error first."
                messages.append({"role": "user", "content": note})
                break
        if not reply.tool_calls:
            return await self.done(state, used, messages, reply.content)
        return {**used, "messages": messages}

    async def done(
        self, state: AgentState, used: AgentState, messages: list[dict[str, Any]], summary: str
    ) -> AgentState:
        """The model says it is done (`finish`, or a reply without a call): on to the check,
        unless nothing has changed yet; small models often write the fix into their reply
        instead of calling a tool, and are told so once."""
        if not state.get("nudged") and not await self.tools.has_changes():
            await self.emit("log", {"nudge": NO_CHANGES})
            nudge = {"role": "user", "content": NO_CHANGES}
            return {**used, "messages": [*messages, nudge], "nudged": True, "force_tool": True}
        text = summary.strip() or "(the model finished without a summary)"
        return {**used, "messages": messages, "summary": text, "checked": False}

    async def unparsed(self, used: AgentState, messages: list[dict[str, Any]]) -> AgentState:
        """A reply that meant to call a tool but could not be read: say so to the model."""
        await self.emit("error", {"message": UNPARSED})
        stop = self.stuck.observe("unparsed tool call", UNPARSED, ok=False)
        if stop is not None:
            return {**used, "messages": messages, "outcome": "failed", "reason": stop}
        retry = [*messages, {"role": "user", "content": UNPARSED}]
        return {**used, "messages": retry, "force_tool": True}

    async def run_check(self, state: AgentState) -> AgentState:
        command = self.limits.check_command
        if command is None:
            return {"checked": True}
        passed, output = await self.check(command)
        await self.emit("log", {"check": command, "passed": passed, "output": clip(output, 4000)})
        if passed:
            return {"checked": True}
        stop = self.stuck.observe(f"check {command}", output, ok=False)
        if stop is not None:
            return {"outcome": "failed", "reason": stop, "checked": True}
        feedback = (
            f"The check `{command}` failed:\n{clip(output, 6000)}\n"
            f"Your changes so far:\n{await self.tools.changes()}\nFix the problem by calling "
            "edit_file or write_file; code written in a reply is not applied."
        )
        messages = [*state["messages"], {"role": "user", "content": feedback}]
        return {"checked": False, "summary": "", "messages": messages, "force_tool": True}

    async def finish(self, state: AgentState) -> AgentState:
        """A run stopped by a limit or the stuck detector still succeeds when its check
        passes: small models often repeat a step after the work is done."""
        if state.get("outcome") != "failed":
            return {"outcome": "succeeded"}
        command, reason = self.limits.check_command, state.get("reason", "")
        if command is None or not reason.startswith(("stuck", "reached the limit")):
            return {}
        passed, output = await self.check(command)
        await self.emit("log", {"check": command, "passed": passed, "output": clip(output, 4000)})
        if not passed:
            return {}
        summary = f"The check `{command}` passes. (The agent was stopped: {reason[:300]})"
        return {"outcome": "succeeded", "summary": summary}

    def after_act(self, state: AgentState) -> str:
        if state.get("outcome") == "failed":
            return "finish"
        return "check" if state.get("summary") else "act"

    def after_check(self, state: AgentState) -> str:
        return "finish" if state.get("checked") or state.get("outcome") == "failed" else "act"
