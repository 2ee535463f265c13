"""The agent's model: Ollama's `/api/chat` through wfhub's own gateway.

Going through the gateway (not straight to a backend) puts every call in the ledger with the
run's project, task and run ids, and gives the agent the gateway's routing and fallback.
Replies whose tool calls are written as text (small models do that) are parsed here too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from wfhub.llm.tool_calls import extract

CALL_SECONDS = 600.0
REPLY_TOKENS = 1024  # one reply; a tool call or a summary needs far less
THOUGHT_CHARS = 300  # the reasoning a constrained reply may write before its action


class ModelError(Exception):
    """The gateway or the model failed; the message says how."""


@dataclass(frozen=True)
class Reply:
    content: str
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0


def _closed(schema: dict[str, Any]) -> dict[str, Any]:
    """An object schema that admits no other properties (the grammar then cannot wander)."""
    return {**schema, "additionalProperties": False}


def action_schema(tools: list[dict[str, Any]]) -> dict[str, Any]:
    """One action: a short thought, then exactly one of the tools with arguments that fit
    its parameters. As Ollama's `format`, llama.cpp turns it into a grammar, so a small
    model's reply is always a well-formed call (or the `finish` tool) and never prose, a
    made-up tool output, or a call with a missing argument."""
    variants = [
        _closed(
            {
                "type": "object",
                "properties": {
                    "thought": {"type": "string", "maxLength": THOUGHT_CHARS},
                    "name": {"const": tool["function"]["name"]},
                    "arguments": _closed(tool["function"]["parameters"]),
                },
                "required": ["thought", "name", "arguments"],
            }
        )
        for tool in tools
    ]
    return {"oneOf": variants}


class GatewayModel:
    def __init__(
        self, client: httpx.AsyncClient, base_url: str, token: str, model: str, ids: dict[str, int]
    ) -> None:
        self.client = client
        self.url = base_url.rstrip("/") + "/ollama/api/chat"
        self.model = model
        self.headers = {
            "Authorization": f"Bearer {token}",
            **{f"X-Wfhub-{name.capitalize()}": str(value) for name, value in ids.items()},
        }

    async def chat(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        *,
        shape: dict[str, Any] | None = None,
        reply_tokens: int = REPLY_TOKENS,
    ) -> Reply:
        """One reply; `shape`, a JSON schema, constrains it (Ollama's `format`)."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "stream": False,
            # The model's own sampling: greedy decoding made Qwen2.5-Coder-1.5B describe the
            # fix in prose instead of calling a tool, run after run.
            "options": {"num_predict": reply_tokens},
        }
        if tools:
            body["tools"] = tools
        if shape is not None:
            body["format"] = shape
        started = time.monotonic()
        try:
            response = await self.client.post(
                self.url, json=body, headers=self.headers, timeout=CALL_SECONDS
            )
        except httpx.HTTPError as exc:
            raise ModelError(f"the gateway did not answer: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 400:
            raise ModelError(f"the model answered {response.status_code}: {response.text[:500]}")
        try:
            data = response.json()
            message = data.get("message") or {}
        except (ValueError, AttributeError) as exc:
            raise ModelError(f"the model's answer is not JSON: {response.text[:200]}") from exc
        content = str(message.get("content") or "")
        calls = [c for c in message.get("tool_calls") or [] if isinstance(c, dict)]
        if not calls and tools:
            names = {t["function"]["name"] for t in tools}
            content, calls = extract(content, names)
        return Reply(
            content=content,
            tool_calls=calls,
            prompt_tokens=int(data.get("prompt_eval_count") or 0),
            completion_tokens=int(data.get("eval_count") or 0),
            seconds=time.monotonic() - started,
        )
