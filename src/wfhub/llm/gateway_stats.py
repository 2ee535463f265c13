"""Token counts and durations read from the bytes an upstream sent, for the ledger.

Ollama puts its statistics in the last NDJSON object (or the one JSON body); OpenAI-style
servers put `usage` in the last SSE event (or the JSON body). Only a bounded tail of a stream
is kept, so a long generation costs no memory here.
"""

from __future__ import annotations

import json
from typing import Any

TAIL_BYTES = 64 * 1024
WHOLE_BODY_BYTES = 4 * 1024 * 1024
NS_PER_MS = 1_000_000


class ResponseTail:
    """The last bytes of a response (or all of it, while small)."""

    def __init__(self, keep_whole: bool) -> None:
        self._limit = WHOLE_BODY_BYTES if keep_whole else TAIL_BYTES
        self._data = bytearray()
        self.truncated = False

    def feed(self, chunk: bytes) -> None:
        self._data += chunk
        if len(self._data) > self._limit * 2:
            del self._data[: len(self._data) - self._limit]
            self.truncated = True

    def text(self) -> str:
        return self._data.decode("utf-8", errors="replace")


def _last_json(lines: list[str]) -> dict[str, Any] | None:
    for line in reversed(lines):
        candidate = line.strip().removeprefix("data:").strip()
        if not candidate.startswith("{"):
            continue
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def _ms(value: object) -> float | None:
    return round(float(value) / NS_PER_MS, 3) if isinstance(value, int | float) else None


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def extract(tail: ResponseTail) -> dict[str, Any]:
    """Ledger fields found in the response: tokens and upstream durations (ms)."""
    text = tail.text()
    try:
        whole = json.loads(text)  # one JSON body (a non-streamed answer)
    except ValueError:
        whole = None
    last = whole if isinstance(whole, dict) else _last_json(text.splitlines())
    if last is None:
        return {}
    if "usage" not in last:  # Ollama's final object
        return {
            "prompt_tokens": _int(last.get("prompt_eval_count")),
            "completion_tokens": _int(last.get("eval_count")),
            "load_ms": _ms(last.get("load_duration")),
            "prompt_ms": _ms(last.get("prompt_eval_duration")),
            "eval_ms": _ms(last.get("eval_duration")),
            "upstream_error": last.get("error") if isinstance(last.get("error"), str) else None,
        }
    usage = last.get("usage") or {}
    return {
        "prompt_tokens": _int(usage.get("prompt_tokens")),
        "completion_tokens": _int(usage.get("completion_tokens")),
    }
