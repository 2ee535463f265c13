"""The OpenAI chat API of the embedded server: request checks, SSE, and whole responses."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Any

from wfhub.errors import InvalidInput
from wfhub.llm import tool_calls
from wfhub.llm.ollama_api import Reply
from wfhub.llm.registry import LocalModel
from wfhub.llm.runtime import Chunk

# Fields that would pin a llama.cpp slot or swap adapters for everyone, or name an upstream.
_REFUSED_FIELDS = frozenset({"id_slot", "lora", "api_base", "base_url"})


def parse_chat(raw: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(raw)
    except ValueError as exc:
        raise InvalidInput(f"request body is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise InvalidInput("request body must be a JSON object")
    if not isinstance(payload.get("model"), str) or not payload["model"]:
        raise InvalidInput("`model` must be a non-empty string")
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidInput("`messages` must be a non-empty list")
    refused = _REFUSED_FIELDS & payload.keys()
    if refused:
        raise InvalidInput(f"fields not accepted here: {', '.join(sorted(refused))}")
    return payload


def runtime_body(payload: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in payload.items() if k not in {"model", "stream"}}
    body["stream_options"] = {"include_usage": True}
    return body


def _event(obj: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


async def sse(
    chunks: AsyncIterator[tuple[Chunk, float]], payload: dict[str, Any]
) -> AsyncIterator[bytes]:
    """Server-sent events; a tool call the model wrote as text (when llama.cpp did not parse
    it) is held back from `content` and sent as `tool_calls` in the last chunk."""
    model = payload["model"]
    held = tool_calls.StreamFilter(_tool_names(payload))
    async for chunk, _ in chunks:
        choices = chunk.get("choices") or []
        if not choices:  # the usage chunk
            yield _event({**chunk, "model": model})
            continue
        choice = choices[0]
        delta = dict(choice.get("delta") or {})
        if delta.get("content"):
            delta["content"] = held.feed(delta["content"])
        finish = choice.get("finish_reason")
        if finish:
            rest, calls = held.finish()
            if rest:
                delta["content"] = (delta.get("content") or "") + rest
            if calls and not delta.get("tool_calls"):
                delta["tool_calls"] = [
                    {"index": n, **call} for n, call in enumerate(_openai_calls(calls))
                ]
                finish = "tool_calls"
        changed = {**choice, "delta": delta, "finish_reason": finish}
        yield _event({**chunk, "model": model, "choices": [changed]})
    yield b"data: [DONE]\n\n"


def _openai_calls(calls: list[tool_calls.ToolCall]) -> list[dict[str, Any]]:
    return [
        {
            "id": f"call_{uuid.uuid4().hex[:24]}",
            "type": "function",
            "function": {
                "name": call["function"]["name"],
                "arguments": json.dumps(call["function"]["arguments"]),
            },
        }
        for call in calls
    ]


def _tool_names(payload: dict[str, Any]) -> set[str]:
    names = set()
    for tool in payload.get("tools") or []:
        if isinstance(tool, dict) and isinstance(tool.get("function"), dict):
            names.add(str(tool["function"].get("name")))
    return names


def completion(collected: list[tuple[Chunk, float]], payload: dict[str, Any]) -> dict[str, Any]:
    """The `chat.completion` object for a non-streamed request."""
    reply = Reply()
    for chunk, _ in collected:
        reply.absorb(chunk)
    calls = reply.native_tool_calls()
    content = reply.text
    if not calls:
        content, calls = tool_calls.extract(reply.text, _tool_names(payload))
    message: dict[str, Any] = {"role": "assistant", "content": content or None}
    finish = reply.done_reason
    if calls:
        message["tool_calls"] = _openai_calls(calls)
        finish = "tool_calls"
    usage = reply.usage or {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": payload["model"],
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": usage,
    }


def model_list(models: Iterable[LocalModel]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {
                "id": m.name,
                "object": "model",
                "created": int(m.path.stat().st_mtime),
                "owned_by": "wfhub",
            }
            for m in models
        ],
    }
