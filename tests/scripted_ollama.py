"""A scripted Ollama host for agent tests: a separate process speaking `/api/chat`, whose
answers are given in advance, per model name, so a run is deterministic.

`POST /_script {"model": M, "replies": [...]}` loads the replies for model M; each
`/api/chat` for M answers with the next one: `{"content": ..., "tool_calls": [...]}`, or
`{"hang": true}` (never answers, for cancel and kill tests). Past the end of the script it
answers "done". `GET /_requests?model=M` returns the message lists it was sent, and
`GET /_formats?model=M` the `format` of each request (the constraint on the reply). `/api/show`
answers as Ollama does for a small qwen2 model (Aider asks it for the context length).
Run: python -m tests.scripted_ollama PORT
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SCRIPTS: dict[str, list[dict[str, Any]]] = {}
SEEN: dict[str, list[list[dict[str, Any]]]] = {}
FORMATS: dict[str, list[Any]] = {}


async def script(request: Request) -> Response:
    body = await request.json()
    SCRIPTS[body["model"]] = list(body["replies"])
    SEEN[body["model"]] = []
    FORMATS[body["model"]] = []
    return JSONResponse({"loaded": len(body["replies"])})


async def chat(request: Request) -> Response:
    body = await request.json()
    model = body["model"]
    SEEN.setdefault(model, []).append(body["messages"])
    FORMATS.setdefault(model, []).append(body.get("format"))
    replies = SCRIPTS.get(model, [])
    reply = replies.pop(0) if replies else {"content": "done"}
    if reply.get("hang"):
        await asyncio.sleep(3600)
    message = {"role": "assistant", "content": reply.get("content", "")}
    if reply.get("tool_calls"):
        message["tool_calls"] = reply["tool_calls"]
    return JSONResponse(
        {
            "model": model,
            "message": message,
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": 50,
            "eval_count": 10,
            "total_duration": 1_000_000,
        }
    )


async def tags(_: Request) -> Response:
    return JSONResponse({"models": [{"name": m, "model": m} for m in SCRIPTS]})


async def ps(_: Request) -> Response:
    return JSONResponse({"models": []})


async def show(request: Request) -> Response:
    body = await request.json()
    name = body.get("model") or body.get("name")
    if name not in SCRIPTS:
        return JSONResponse({"error": f"model '{name}' not found"}, status_code=404)
    return JSONResponse(
        {
            "modelfile": "",
            "parameters": "",
            "template": "{{ .Prompt }}",
            "details": {"format": "gguf", "family": "qwen2", "parameter_size": "1.5B"},
            "model_info": {"general.architecture": "qwen2", "qwen2.context_length": 32768},
            "capabilities": ["completion", "tools"],
        }
    )


async def requests(request: Request) -> Response:
    return JSONResponse(SEEN.get(request.query_params["model"], []))


async def formats(request: Request) -> Response:
    return JSONResponse(FORMATS.get(request.query_params["model"], []))


app = Starlette(
    routes=[
        Route("/_script", script, methods=["POST"]),
        Route("/_requests", requests),
        Route("/_formats", formats),
        Route("/api/chat", chat, methods=["POST"]),
        Route("/api/show", show, methods=["POST"]),
        Route("/api/tags", tags),
        Route("/api/ps", ps),
    ]
)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
