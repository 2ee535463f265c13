"""Embedded model server speed: `/api/chat` against the llama.cpp runtime called directly.

Run: `python -m bench.llm [--model NAME] [--rounds N]` (part of `make bench`; needs the model
installed, `wfhub llm install NAME`). One `wfhub llm serve` process and one in-process
`XllamacppRuntime` load the same GGUF with the same context, slots and threads. Each round
sends the same request to both, one after the other (alternating which goes first) so they
never share the cores: the server through a streaming `/api/chat` (measured by the client:
HTTP, JSON and all), the runtime through the very body the server would build. A fresh number
at the start of each round's prompt keeps llama.cpp's prompt cache from answering for either
side.

Reported: prompt tokens/s (prompt tokens / time to first token) and generation tokens/s
(tokens after the first / time from first to last), medians, and the median of the rounds'
ratios server/direct.
Target (issue 3): >= 0.95 for both.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from tests.conftest import free_port
from tests.live_server import server_env, wfhub_process

from wfhub.config import Settings
from wfhub.llm.catalog import DEFAULT_MODEL
from wfhub.llm.ollama_api import chat_body
from wfhub.llm.ollama_schemas import ChatRequest
from wfhub.llm.registry import resolve
from wfhub.llm.runtime import LoadSpec, XllamacppRuntime

TASK = (
    "Here is a module to review.\n\n"
    + "\n".join(
        f"def step_{i}(values):\n    return [v * {i} + {i} for v in values if v % {i + 2}]\n"
        for i in range(24)
    )
    + "\nWrite a detailed review of every function above, one paragraph each."
)


@dataclass
class Sample:
    prompt_tokens: int
    completion_tokens: int
    to_first: float  # seconds from request to first generated text
    generating: float  # seconds from first to last generated text

    @property
    def prompt_rate(self) -> float:
        return self.prompt_tokens / self.to_first

    @property
    def generation_rate(self) -> float:
        return (self.completion_tokens - 1) / self.generating


def request(model: str, nonce: int, tokens: int) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": f"Review number {nonce}. {TASK}"}],
        "options": {"temperature": 0, "seed": 7, "num_predict": tokens},
        "keep_alive": -1,
        "stream": True,
    }


def through_server(client: httpx.Client, url: str, payload: dict[str, Any]) -> Sample:
    start = time.perf_counter()
    first = last = 0.0
    final: dict[str, Any] = {}
    with client.stream("POST", f"{url}/api/chat", json=payload) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            chunk = json.loads(line)
            if chunk["message"]["content"]:
                last = time.perf_counter()
                first = first or last
            if chunk["done"]:
                final = chunk
    return Sample(final["prompt_eval_count"], final["eval_count"], first - start, last - first)


def direct(runtime: XllamacppRuntime, payload: dict[str, Any]) -> Sample:
    body = {**chat_body(ChatRequest.model_validate(payload)), "stream": True}
    start = time.perf_counter()
    marks: list[float] = []
    usage: dict[str, Any] = {}
    lock = threading.Lock()

    def on_chunk(chunk: dict[str, Any]) -> bool:
        with lock:
            if chunk.get("usage"):
                usage.update(chunk["usage"])
            if any((c.get("delta") or {}).get("content") for c in chunk.get("choices") or []):
                marks.append(time.perf_counter())
        return False

    error = runtime.generate("chat", body, on_chunk)
    if error is not None:
        raise RuntimeError(f"runtime refused the request: {error}")
    return Sample(
        usage["prompt_tokens"], usage["completion_tokens"], marks[0] - start, marks[-1] - marks[0]
    )


def report(label: str, server: list[float], runtime: list[float]) -> None:
    """Medians, and the median of each round's ratio (rounds pair requests run back to back,
    so a slow moment of the machine hits both sides of one ratio)."""
    ratio = statistics.median(s / d for s, d in zip(server, runtime, strict=True))
    print(
        f"{label}: /api/chat {statistics.median(server):.1f} tok/s, runtime "
        f"{statistics.median(runtime):.1f} tok/s, ratio {ratio:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--tokens", type=int, default=160)
    args = parser.parse_args()
    settings = Settings(_env_file=None)
    model = resolve(settings, args.model)
    spec = LoadSpec(model, settings.llm_context, settings.llm_parallel, settings.llm_threads)
    print(f"{args.model}: context {spec.context} x {spec.parallel} slots, threads {spec.threads}")
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "home"
        port = free_port()
        env = server_env(home, f"sqlite:///{Path(folder) / 'unused.db'}", free_port())
        env.update(WFHUB_LLM_PORT=str(port), WFHUB_HOME=str(settings.home))
        url = f"http://127.0.0.1:{port}"
        log = Path(folder) / "llm.log"
        with (
            wfhub_process(["llm", "serve"], env, log, f"{url}/api/version"),
            httpx.Client(timeout=600) as client,
        ):
            runtime = XllamacppRuntime(spec)
            try:
                through_server(client, url, request(args.model, -1, 8))  # load and warm both
                direct(runtime, request(args.model, -1, 8))
                served: list[Sample] = []
                ran: list[Sample] = []
                for n in range(args.rounds):
                    payload = request(args.model, n, args.tokens)
                    if n % 2:  # alternate which side goes first
                        ran.append(direct(runtime, payload))
                    served.append(through_server(client, url, payload))
                    if not n % 2:
                        ran.append(direct(runtime, payload))
                    print(
                        f"  round {n}: {served[-1].prompt_tokens} prompt + "
                        f"{served[-1].completion_tokens} generated tokens; tok/s server vs "
                        f"runtime: prompt {served[-1].prompt_rate:.1f} vs {ran[-1].prompt_rate:.1f}"
                        f", generation {served[-1].generation_rate:.1f} vs "
                        f"{ran[-1].generation_rate:.1f}"
                    )
            finally:
                runtime.close()
    report("prompt    ", [s.prompt_rate for s in served], [s.prompt_rate for s in ran])
    report("generation", [s.generation_rate for s in served], [s.generation_rate for s in ran])


if __name__ == "__main__":
    main()
