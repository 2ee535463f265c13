"""Ollama requests to llama.cpp's OpenAI-shaped requests, and its chunks back to Ollama's.

Durations are nanoseconds as Ollama reports them: `load_duration` is this request's share of
loading the model (0 when it was resident), `prompt_eval_duration` and `eval_duration` are
llama.cpp's own timings, `total_duration` is the wall time from arrival to the last chunk.
`prompt_eval_count` is the whole prompt's length in tokens, even when llama.cpp reused part of
it from its prompt cache (then `prompt_eval_duration` covers only the new part).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from wfhub.errors import InvalidInput
from wfhub.llm import tool_calls
from wfhub.llm.ollama_schemas import ChatRequest, Format, GenerateRequest, Message, Options
from wfhub.llm.runtime import Chunk, Kind

FIM_TEMPLATE = "<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>"
_SAMPLING = {
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "min_p": "min_p",
    "typical_p": "typical_p",
    "seed": "seed",
    "repeat_penalty": "repeat_penalty",
    "repeat_last_n": "repeat_last_n",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
    "num_keep": "n_keep",
}


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def with_defaults(options: Options | None, defaults: tuple[tuple[str, float], ...]) -> Options:
    """The request's options over the model's recommended sampling."""
    given = options.model_dump(exclude_none=True) if options is not None else {}
    return Options.model_validate({**dict(defaults), **given})


def sampling(options: Options | None, fmt: Format) -> dict[str, Any]:
    """The llama.cpp request fields for Ollama's `options` and `format`."""
    body: dict[str, Any] = {"stream_options": {"include_usage": True}}
    if options is not None:
        for ours, theirs in _SAMPLING.items():
            value = getattr(options, ours)
            if value is not None:
                body[theirs] = value
        if options.num_predict is not None and options.num_predict >= 0:
            body["max_tokens"] = options.num_predict
        if options.stop:
            body["stop"] = [options.stop] if isinstance(options.stop, str) else options.stop
    if fmt == "json":
        body["response_format"] = {"type": "json_object"}
    elif isinstance(fmt, dict):
        body["json_schema"] = fmt
    return body


def _openai_message(message: Message) -> dict[str, Any]:
    if message.images:
        raise InvalidInput("this model reads text only; images are not supported")
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        out["tool_calls"] = [
            {
                "id": f"call_{i}",
                "type": "function",
                "function": {
                    "name": call.function.name,
                    "arguments": json.dumps(call.function.arguments),
                },
            }
            for i, call in enumerate(message.tool_calls)
        ]
    if message.role == "tool" and message.tool_name:
        out["name"] = message.tool_name
    return out


def chat_body(request: ChatRequest) -> dict[str, Any]:
    body = sampling(request.options, request.format)
    body["messages"] = [_openai_message(m) for m in request.messages]
    if request.tools:
        body["tools"] = request.tools
    return body


def generate_body(request: GenerateRequest, supports_fim: bool) -> tuple[Kind, dict[str, Any]]:
    """(`chat` or `completion`, body) for /api/generate."""
    if request.images:
        raise InvalidInput("this model reads text only; images are not supported")
    if request.template:
        raise InvalidInput("template overrides are not supported; send `raw: true` instead")
    body = sampling(request.options, request.format)
    if request.suffix is not None:
        if not supports_fim:
            raise InvalidInput("this model does not support insert (`suffix`)")
        body["prompt"] = FIM_TEMPLATE.format(prefix=request.prompt, suffix=request.suffix)
        return "completion", body
    if request.raw:
        body["prompt"] = request.prompt
        return "completion", body
    messages = [{"role": "system", "content": request.system}] if request.system else []
    body["messages"] = [*messages, {"role": "user", "content": request.prompt}]
    return "chat", body


@dataclass
class Reply:
    """What a generation produced, gathered chunk by chunk."""

    text: str = ""
    done_reason: str = "stop"
    usage: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, Any] = field(default_factory=dict)
    native_calls: dict[int, dict[str, Any]] = field(default_factory=dict)

    def absorb(self, chunk: Chunk) -> str:
        """Record `chunk`; return its new text."""
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        if chunk.get("timings"):
            self.timings = chunk["timings"]
        piece = ""
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            piece += delta.get("content") or choice.get("text") or ""
            for call in delta.get("tool_calls") or []:
                slot = self.native_calls.setdefault(call.get("index", 0), {"name": "", "args": ""})
                function = call.get("function") or {}
                slot["name"] += function.get("name") or ""
                slot["args"] += function.get("arguments") or ""
            if choice.get("finish_reason"):
                self.done_reason = "length" if choice["finish_reason"] == "length" else "stop"
        self.text += piece
        return piece

    def native_tool_calls(self) -> list[tool_calls.ToolCall]:
        calls = []
        for slot in self.native_calls.values():
            try:
                arguments = json.loads(slot["args"]) if slot["args"].strip() else {}
            except ValueError:
                arguments = {"_raw": slot["args"]}
            calls.append({"function": {"name": slot["name"], "arguments": arguments}})
        return calls

    def final_fields(self, started: float, load_seconds: float) -> dict[str, Any]:
        return {
            "done": True,
            "done_reason": self.done_reason,
            "total_duration": int((time.perf_counter() - started) * 1e9),
            "load_duration": int(load_seconds * 1e9),
            "prompt_eval_count": int(self.usage.get("prompt_tokens", 0)),
            "prompt_eval_duration": int(float(self.timings.get("prompt_ms", 0)) * 1e6),
            "eval_count": int(self.usage.get("completion_tokens", 0)),
            "eval_duration": int(float(self.timings.get("predicted_ms", 0)) * 1e6),
        }


async def ollama_chunks(
    chunks: AsyncIterator[tuple[Chunk, float]],
    *,
    model: str,
    field_name: str,
    tool_names: set[str],
    started: float,
) -> AsyncIterator[dict[str, Any]]:
    """Ollama's streamed objects: text pieces, then tool calls, then the final statistics.

    `field_name` is "message" for /api/chat and "response" for /api/generate.
    """
    reply = Reply()
    held = tool_calls.StreamFilter(tool_names)
    load_seconds = 0.0

    def piece_object(text: str, calls: list[tool_calls.ToolCall] | None = None) -> dict[str, Any]:
        head: dict[str, Any] = {"model": model, "created_at": now_rfc3339()}
        if field_name == "message":
            message: dict[str, Any] = {"role": "assistant", "content": text}
            if calls:
                message["tool_calls"] = calls
            return {**head, "message": message, "done": False}
        return {**head, "response": text, "done": False}

    async for chunk, loading in chunks:
        load_seconds = loading
        shown = held.feed(reply.absorb(chunk))
        if shown:
            yield piece_object(shown)
    rest, calls = held.finish()
    native = reply.native_tool_calls()
    if native:  # llama.cpp parsed the calls itself; what was held back is their raw text
        rest, calls = "", native
    if rest or calls:
        yield piece_object(rest, calls)
    final = piece_object("")
    final.update(reply.final_fields(started, load_seconds))
    yield final


def merge(objects: list[dict[str, Any]], field_name: str) -> dict[str, Any]:
    """One non-streamed response from the streamed objects."""
    final = dict(objects[-1])
    if field_name == "message":
        content = "".join(o["message"]["content"] for o in objects)
        calls = [c for o in objects for c in o["message"].get("tool_calls", [])]
        final["message"] = {"role": "assistant", "content": content}
        if calls:
            final["message"]["tool_calls"] = calls
    else:
        final["response"] = "".join(o["response"] for o in objects)
    return final
