"""Tool calls small models write as text, turned into Ollama `message.tool_calls`.

Qwen models are trained to answer `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`,
but small ones also answer a fenced JSON block or the bare JSON object. All three are accepted,
and only for tools the request declared, so JSON that merely appears in an answer about code
is left alone. Streaming text is passed through until something that may start a call appears;
from there it is held back and parsed when the reply ends.
"""

from __future__ import annotations

import json
import re
from typing import Any

ToolCall = dict[str, Any]

_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_FENCED = re.compile(r"```[a-zA-Z_]*\s*\n?(.*?)```", re.DOTALL)
_FUNCTION_TAG = re.compile(
    r"<function\s+name=[\"'](?P<name>[\w.-]+)[\"']\s+arguments=(?P<q>['\"])(?P<args>.*?)(?P=q)\s*/?>"
    r"|<function=(?P<bare>[\w.-]+)>\s*(?P<body>\{.*?\})\s*(?:</function>|$)",
    re.DOTALL,
)
_MARKERS = ("<tool_call>", "```")


def _as_call(value: object, tool_names: set[str]) -> ToolCall | None:
    if not isinstance(value, dict):
        return None
    name = value.get("name")
    arguments = value.get("arguments", value.get("parameters", {}))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except ValueError:
            return None
    if not isinstance(name, str) or name not in tool_names or not isinstance(arguments, dict):
        return None
    return {"function": {"name": name, "arguments": arguments}}


def _calls_in(blob: str, tool_names: set[str]) -> list[ToolCall] | None:
    """The calls `blob` (one JSON value) holds, or None when it is not made of calls."""
    try:
        value = json.loads(blob)
    except ValueError:
        return None
    items = value if isinstance(value, list) else [value]
    calls = [_as_call(item, tool_names) for item in items]
    if not calls or any(call is None for call in calls):
        return None
    return [call for call in calls if call is not None]


def _attribute_calls(text: str, tool_names: set[str]) -> tuple[str, list[ToolCall]]:
    """Calls written as XML-style tags, which small models also produce:
    `<function name="read_file" arguments='{"path": "x"}'>` or `<function=read_file>{...}`."""
    calls: list[ToolCall] = []
    rest = text
    for match in _FUNCTION_TAG.finditer(text):
        name = match.group("name") or match.group("bare")
        blob = match.group("args") if match.group("args") is not None else match.group("body")
        call = _as_call({"name": name, "arguments": blob or "{}"}, tool_names)
        if call is not None:
            calls.append(call)
            rest = rest.replace(match.group(0), "", 1)
    return rest.strip(), calls


def extract(text: str, tool_names: set[str]) -> tuple[str, list[ToolCall]]:
    """Split a finished reply into its remaining prose and the tool calls it made."""
    if not tool_names:
        return text, []
    rest, tagged = _attribute_calls(text, tool_names)
    if tagged:
        return rest, tagged
    for pattern in (_TAGGED, _FENCED):
        calls: list[ToolCall] = []
        rest = text
        for match in pattern.finditer(text):
            found = _calls_in(match.group(1), tool_names)
            if found is not None:
                calls.extend(found)
                rest = rest.replace(match.group(0), "", 1)
        if calls:
            return rest.strip(), calls
    return _leading_calls(text, tool_names)


def _leading_calls(text: str, tool_names: set[str]) -> tuple[str, list[ToolCall]]:
    """Bare JSON calls opening the reply (one after another), possibly followed by prose."""
    rest = text.strip()
    calls: list[ToolCall] = []
    decoder = json.JSONDecoder()
    while rest[:1] in ("{", "["):
        try:
            value, end = decoder.raw_decode(rest)
        except ValueError:
            break
        found = _calls_in(json.dumps(value), tool_names)
        if found is None:
            break
        calls.extend(found)
        rest = rest[end:].strip()
    return (rest, calls) if calls else (text, [])


class StreamFilter:
    """Passes streamed text on until a possible tool call starts; holds the rest for `finish`."""

    def __init__(self, tool_names: set[str]) -> None:
        self._names = tool_names
        self._held = ""
        self._seen_text = False
        self._holding = False

    def feed(self, piece: str) -> str:
        """The part of `piece` that can be shown now."""
        if not self._names:
            return piece
        if self._holding:
            self._held += piece
            return ""
        text = self._held + piece
        self._held = ""
        if not self._seen_text and text.strip():
            self._seen_text = True
            if text.lstrip()[:1] in "{[":  # a bare JSON call can only be the whole reply
                self._holding = True
                self._held = text
                return ""
        cut = _possible_marker_start(text)
        if cut is None:
            return text
        emit, rest = text[:cut], text[cut:]
        if any(rest.startswith(marker) for marker in _MARKERS):
            self._holding = True
        self._held = rest
        return emit

    def finish(self) -> tuple[str, list[ToolCall]]:
        """Prose still held back, and the tool calls found in it."""
        held, self._held = self._held, ""
        return extract(held, self._names) if held else ("", [])


def _possible_marker_start(text: str) -> int | None:
    """Where a marker starts in `text`, or where a trailing partial marker might."""
    positions = [text.find(marker) for marker in _MARKERS if marker in text]
    if positions:
        return min(positions)
    for size in range(min(len(text), max(map(len, _MARKERS)) - 1), 0, -1):
        tail = text[-size:]
        if any(marker.startswith(tail) for marker in _MARKERS):
            return len(text) - size
    return None
