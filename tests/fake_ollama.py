"""A fake Ollama host for gateway tests: a separate process speaking Ollama's protocol.

The model name picks the behaviour: `fast` answers at once, `slow` spaces its chunks out,
`endless` streams until the client leaves, `hang` never answers, `drop` breaks the connection
mid-stream, `error` fails with a body holding a credential. `GET /_stats` tells what happened.
Run: python -m tests.fake_ollama PORT
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

MODELS = ["fast", "slow", "endless", "hang", "drop", "error"]
STATS: dict[str, Any] = {"disconnects": 0, "last_chunk_sent_at": 0.0, "requests": 0}


def _piece(model: str, text: str) -> bytes:
    message = {"role": "assistant", "content": text}
    return json.dumps({"model": model, "message": message, "done": False}).encode() + b"\n"


def _final(model: str, count: int) -> dict[str, Any]:
    return {
        "model": model, "message": {"role": "assistant", "content": ""}, "done": True,
        "done_reason": "stop", "prompt_eval_count": 7, "eval_count": count,
        "load_duration": 1_000_000, "prompt_eval_duration": 2_000_000,
        "eval_duration": 3_000_000, "total_duration": 6_000_000,
    }  # fmt: skip


async def chat(request: Request) -> Response:
    STATS["requests"] += 1
    body = await request.json()
    model, stream = body.get("model"), body.get("stream", True)
    count = int((body.get("options") or {}).get("num_predict", 5))
    if model == "hang":
        await asyncio.sleep(3600)
    if model == "error":
        return JSONResponse({"error": "backend exploded, api_key=sk-abcdefghijklmnopqrstuvwx"}, 500)
    if not stream:
        final = _final(model, count)
        final["message"]["content"] = "x" * count
        return JSONResponse(final)

    async def pieces() -> AsyncIterator[bytes]:
        sent = 0
        try:
            while model == "endless" or sent < count:
                if model in {"slow", "endless"}:
                    await asyncio.sleep(0.3 if model == "slow" else 0.05)
                if model == "drop" and sent == 2:
                    raise ConnectionError("dropping the connection on purpose")
                yield _piece(model, "x")
                sent += 1
            STATS["last_chunk_sent_at"] = time.time()
            yield json.dumps(_final(model, count)).encode() + b"\n"
        except (asyncio.CancelledError, GeneratorExit):
            STATS["disconnects"] += 1
            raise

    return StreamingResponse(pieces(), media_type="application/x-ndjson")


async def openai_chat(request: Request) -> Response:
    STATS["requests"] += 1
    body = await request.json()
    usage = {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}
    if not body.get("stream"):
        choice = {"index": 0, "message": {"role": "assistant", "content": "abc"},
                  "finish_reason": "stop"}  # fmt: skip
        return JSONResponse({"id": "c1", "object": "chat.completion", "model": body["model"],
                             "choices": [choice], "usage": usage})  # fmt: skip

    async def events() -> AsyncIterator[bytes]:
        for text in "abc":
            chunk = {"choices": [{"index": 0, "delta": {"content": text}}]}
            yield b"data: " + json.dumps(chunk).encode() + b"\n\n"
        yield b"data: " + json.dumps({"choices": [], "usage": usage}).encode() + b"\n\n"
        yield b"data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


async def tags(_: Request) -> Response:
    return JSONResponse({"models": [{"name": m, "model": m} for m in MODELS]})


async def ps(_: Request) -> Response:
    return JSONResponse({"models": [{"name": "fast", "model": "fast"}]})


async def stats(_: Request) -> Response:
    return JSONResponse(STATS)


app = Starlette(
    routes=[
        Route("/api/chat", chat, methods=["POST"]),
        Route("/api/generate", chat, methods=["POST"]),
        Route("/v1/chat/completions", openai_chat, methods=["POST"]),
        Route("/api/tags", tags),
        Route("/api/ps", ps),
        Route("/_stats", stats),
    ]
)

if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        timeout_graceful_shutdown=1,
    )
