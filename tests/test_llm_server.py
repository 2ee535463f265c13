"""The embedded model server, run for real (`wfhub llm serve`) with the 0.5B test model, and
driven by the official `ollama` and `openai` clients and langchain-ollama's ChatOllama."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import ollama
import openai
import pytest
from langchain_ollama import ChatOllama

from tests.llm_helpers import model_server
from wfhub.llm.catalog import TEST_MODEL

pytestmark = pytest.mark.slow
GREEDY = {"temperature": 0, "seed": 1}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@pytest.fixture(scope="module")
def llm_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # One slot, so a generation that kept running after its client left would block the next.
    with model_server(tmp_path_factory.mktemp("llm") / "home", llm_parallel="1") as url:
        yield url


@pytest.fixture
def client(llm_url: str) -> Iterator[ollama.Client]:
    with ollama.Client(host=llm_url) as api:
        yield api


def test_chat_fills_ollama_statistics(client: ollama.Client) -> None:
    reply = client.chat(
        model=TEST_MODEL,
        messages=[{"role": "user", "content": "Say hello."}],
        options={**GREEDY, "num_predict": 8},
    )
    assert reply.done
    assert reply.message.role == "assistant"
    assert reply.message.content
    assert reply.done_reason in {"stop", "length"}
    assert reply.prompt_eval_count
    assert reply.prompt_eval_count > 5
    assert reply.eval_count
    assert 0 < reply.eval_count <= 8
    assert reply.eval_duration
    assert reply.prompt_eval_duration
    assert reply.total_duration
    assert reply.total_duration >= reply.eval_duration


def test_num_predict_and_stop_are_honoured(client: ollama.Client) -> None:
    capped = client.generate(
        model=TEST_MODEL, prompt="Write a long essay about rivers.", options={"num_predict": 3}
    )
    assert capped.eval_count == 3
    assert capped.done_reason == "length"
    stopped = client.generate(
        model=TEST_MODEL,
        prompt="Count from 1 to 10, separated by commas.",
        options={**GREEDY, "stop": ["5"], "num_predict": 60},
    )
    text = stopped.response or ""
    assert "4" in text
    assert "6" not in text


def test_chat_streams_pieces_then_statistics(client: ollama.Client) -> None:
    parts = list(
        client.chat(
            model=TEST_MODEL,
            messages=[{"role": "user", "content": "Count from 1 to 5."}],
            stream=True,
            options={**GREEDY, "num_predict": 20},
        )
    )
    assert len(parts) > 3
    assert all(not p.done for p in parts[:-1])
    assert parts[-1].done
    assert parts[-1].eval_count
    assert parts[-1].eval_count >= len(parts) - 2
    assert "".join(p.message.content or "" for p in parts).strip()


def test_generate_streams_and_inserts(client: ollama.Client) -> None:
    pieces = list(
        client.generate(model=TEST_MODEL, prompt="Name a colour.", stream=True, options=GREEDY)
    )
    assert pieces[-1].done
    assert "".join(p.response or "" for p in pieces).strip()
    filled = client.generate(
        model=TEST_MODEL,
        prompt="def add(a, b):\n    ",
        suffix="\n\nprint(add(1, 2))\n",
        options={**GREEDY, "num_predict": 12},
    )
    assert "a + b" in (filled.response or "")


def test_json_schema_format_is_enforced(client: ollama.Client) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
    }
    reply = client.chat(
        model=TEST_MODEL,
        messages=[{"role": "user", "content": "Invent a person."}],
        format=schema,
        options={**GREEDY, "num_predict": 60},
    )
    person = json.loads(reply.message.content or "")
    assert isinstance(person["name"], str)
    assert isinstance(person["age"], int)
    plain = client.generate(
        model=TEST_MODEL, prompt="List two fruits.", format="json", options=GREEDY
    )
    assert isinstance(json.loads(plain.response or ""), dict | list)


def test_tool_call_comes_back_as_tool_calls(client: ollama.Client) -> None:
    reply = client.chat(
        model=TEST_MODEL,
        messages=[{"role": "user", "content": "What is the weather in Paris? Use the tool."}],
        tools=[WEATHER_TOOL],
        options=GREEDY,
    )
    calls = reply.message.tool_calls or []
    assert [c.function.name for c in calls] == ["get_weather"]
    assert calls[0].function.arguments == {"city": "Paris"}
    followed = client.chat(
        model=TEST_MODEL,
        messages=[
            {"role": "user", "content": "What is the weather in Paris? Use the tool."},
            reply.message,
            {"role": "tool", "content": "sunny, 21 C", "tool_name": "get_weather"},
        ],
        tools=[WEATHER_TOOL],
        options={**GREEDY, "num_predict": 30},
    )
    # The history (assistant tool call, tool result) is accepted; a 0.5B model may well call
    # the tool again, but a call never also leaks into the text as raw JSON.
    assert followed.done
    assert followed.message.content or followed.message.tool_calls


def test_listing_show_ps_and_keep_alive(client: ollama.Client, llm_url: str) -> None:
    assert httpx.get(f"{llm_url}/api/version").json()["version"]
    (listed,) = client.list().models
    assert listed.model == TEST_MODEL
    assert listed.size == 491_400_064
    assert listed.details
    assert listed.details.quantization_level == "Q4_K_M"
    shown = client.show(TEST_MODEL)
    assert shown.capabilities
    assert "tools" in shown.capabilities
    # The model's recommended sampling, as Ollama shows a Modelfile's parameters.
    assert shown.parameters is not None
    assert "temperature 0.7\ntop_p 0.8\ntop_k 20\nrepeat_penalty 1.05" in shown.parameters
    assert shown.modelfile is not None
    assert "PARAMETER top_k 20" in shown.modelfile
    client.generate(model=TEST_MODEL, prompt="", keep_alive=0)  # unload
    assert client.ps().models == []
    loaded = client.generate(model=TEST_MODEL, prompt="", keep_alive="10m")
    assert loaded.done_reason == "load"
    (running,) = client.ps().models
    assert running.model == TEST_MODEL
    assert running.expires_at is not None


def test_refusals_are_clear(client: ollama.Client, llm_url: str) -> None:
    with pytest.raises(ollama.ResponseError) as missing:
        client.chat(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    assert missing.value.status_code == 404
    long_prompt = "word " * 700
    response = httpx.post(
        f"{llm_url}/api/chat",
        json={
            "model": TEST_MODEL,
            "messages": [{"role": "user", "content": long_prompt}],
            "options": {"num_ctx": 512},
        },
        timeout=60,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "context_length_exceeded"
    for body in (
        {"model": TEST_MODEL, "messages": "hi"},
        {"model": TEST_MODEL, "messages": [{"role": "user", "content": "x"}], "keep_alive": "x"},
        {"model": TEST_MODEL, "messages": [{"role": "user", "images": ["AA=="]}]},
        {"model": TEST_MODEL, "messages": [], "options": {"temperature": "hot"}},
    ):
        bad = httpx.post(f"{llm_url}/api/chat", json=body, timeout=30)
        assert bad.status_code == 422, body
        assert set(bad.json()) == {"error", "detail"}
    assert httpx.post(f"{llm_url}/api/chat", content=b"{not json").status_code == 422
    rebinding = httpx.get(f"{llm_url}/api/tags", headers={"Host": "attacker.example"})
    assert rebinding.status_code == 400


def test_client_disconnect_frees_the_slot(llm_url: str) -> None:
    body = {
        "model": TEST_MODEL,
        "messages": [{"role": "user", "content": "Write a very long story."}],
        "options": {"num_predict": 100_000, "num_ctx": 8192},
    }
    with httpx.stream("POST", f"{llm_url}/api/chat", json=body, timeout=60) as stream:
        lines = stream.iter_lines()
        assert json.loads(next(lines))["done"] is False
        assert json.loads(next(lines))["done"] is False
    # With one slot, this waits for the abandoned story unless the disconnect stopped it
    # (filling 8,192 tokens would take minutes).
    quick = httpx.post(
        f"{llm_url}/api/generate",
        json={"model": TEST_MODEL, "prompt": "Hi", "stream": False, "options": {"num_predict": 2}},
        timeout=60,
    )
    assert quick.status_code == 200
    assert quick.json()["done"]


def test_concurrent_requests_share_one_slot(client: ollama.Client) -> None:
    results: list[int] = []

    def ask() -> None:
        reply = client.generate(model=TEST_MODEL, prompt="Say yes.", options={"num_predict": 4})
        results.append(reply.eval_count or 0)

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(results) == 3
    assert all(results)


def test_openai_client(llm_url: str) -> None:
    with openai.OpenAI(base_url=f"{llm_url}/v1", api_key="unused") as api:
        _exercise_openai(api)


def _exercise_openai(api: openai.OpenAI) -> None:
    assert [m.id for m in api.models.list()] == [TEST_MODEL]
    reply = api.chat.completions.create(
        model=TEST_MODEL, messages=[{"role": "user", "content": "Say hi."}], max_tokens=6
    )
    assert reply.choices[0].message.content
    assert reply.usage
    assert reply.usage.completion_tokens
    pieces = api.chat.completions.create(
        model=TEST_MODEL,
        messages=[{"role": "user", "content": "Say hi."}],
        max_tokens=6,
        stream=True,
    )
    text = "".join(c.choices[0].delta.content or "" for c in pieces if c.choices)
    assert text.strip()
    tooled = api.chat.completions.create(
        model=TEST_MODEL,
        messages=[{"role": "user", "content": "What is the weather in Oslo? Use the tool."}],
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        temperature=0,
        max_tokens=60,
    )
    (call,) = tooled.choices[0].message.tool_calls or []
    assert isinstance(call, openai.types.chat.ChatCompletionMessageFunctionToolCall)
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Oslo"}


def test_langchain_chat_ollama(llm_url: str) -> None:
    chat = ChatOllama(model=TEST_MODEL, base_url=llm_url, temperature=0, num_predict=8)
    tooled = ChatOllama(model=TEST_MODEL, base_url=llm_url, temperature=0)
    try:
        answer = chat.invoke("Say hello.")
        assert isinstance(answer.content, str)
        assert answer.content
        assert answer.usage_metadata
        assert answer.usage_metadata["output_tokens"] > 0
        called = tooled.bind_tools([WEATHER_TOOL]).invoke(
            "What is the weather in Paris? Use the tool."
        )
        assert [c["name"] for c in getattr(called, "tool_calls", [])] == ["get_weather"]
    finally:
        for model in (chat, tooled):
            model._client.close()  # type: ignore[no-untyped-call]  # else its socket leaks


def test_serve_refuses_a_public_bind(tmp_path: Path) -> None:
    from tests.live_server import run_wfhub, server_env

    env = server_env(tmp_path, "sqlite:///unused.db", 1)
    result = run_wfhub(env, "llm", "serve", "--host", "0.0.0.0")  # noqa: S104
    assert result.returncode == 2
    assert "no authentication" in result.stdout + result.stderr
