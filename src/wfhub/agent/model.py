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


class ModelError(Exception):
    """The gateway or the model failed; the message says how."""


@dataclass(frozen=True)
class Reply:
    content: str
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0


def tool_call_schema(names: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "name": {"type": "string", "enum": names},
            "arguments": {"type": "object"},
        },
        "required": ["name", "arguments"],
    }


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
        force_tool: bool = False,
    ) -> Reply:
        """One reply. `force_tool` constrains the reply to one tool call (Ollama's `format`
        with a JSON schema: a grammar in llama.cpp), for a model that keeps answering in
        prose."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "stream": False,
            # The model's own sampling: greedy decoding made Qwen2.5-Coder-1.5B describe the
            # fix in prose instead of calling a tool, run after run.
            "options": {"num_predict": REPLY_TOKENS},
        }
        if tools:
            body["tools"] = tools
        if tools and force_tool:
            body["format"] = tool_call_schema([t["function"]["name"] for t in tools])
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
