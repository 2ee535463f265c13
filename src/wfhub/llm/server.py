"""The embedded Ollama-compatible model server (`wfhub llm serve`, port 11435 by default).

It speaks Ollama's API (`/api/chat`, `/api/generate`, `/api/tags`, `/api/show`, `/api/ps`,
`/api/version`) and the OpenAI chat API (`/v1/chat/completions`, `/v1/models`) over llama.cpp.
Like Ollama it takes no token, so it must stay on loopback; Host and Origin are checked so a web
page cannot reach it through DNS rebinding. Errors use wfhub's `{"error", "detail"}` body.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ValidationError

from wfhub import __version__
from wfhub.config import Settings
from wfhub.errors import InvalidInput, WfhubError, install_error_handlers
from wfhub.llm import ollama_api, openai_api
from wfhub.llm.durations import parse_duration
from wfhub.llm.model_info import ps_entry, show_entry, tag_entry
from wfhub.llm.ollama_schemas import ChatRequest, Common, GenerateRequest, Options, ShowRequest
from wfhub.llm.registry import LocalModel, local_models, resolve
from wfhub.llm.runtime import Chunk, Kind, LoadSpec, ModelHost, RuntimeFactory, XllamacppRuntime
from wfhub.security.guard import GuardMiddleware, HostPolicy

OLLAMA_API_VERSION = "0.13.0"
NDJSON = "application/x-ndjson"
T = TypeVar("T")


M = TypeVar("M", bound=BaseModel)


async def parse_body(request: Request, schema: type[M]) -> M:
    """The body as `schema`, whatever its content type (Ollama clients do not always set one)."""
    try:
        return schema.model_validate_json(await request.body())
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidInput(problems) from exc


def _ndjson(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


async def until_disconnect(request: Request, work: AsyncIterator[T]) -> list[T]:
    """Collect `work`, abandoning it (which stops generation) if the client goes away.

    An error from `work` is re-raised as itself, not wrapped in the task group's
    ExceptionGroup, so the error handlers still turn it into its 4xx/5xx response."""
    items: list[T] = []
    failure: WfhubError | None = None
    async with anyio.create_task_group() as group:

        async def collect() -> None:
            nonlocal failure
            try:
                async for item in work:
                    items.append(item)
            except WfhubError as exc:
                failure = exc
            group.cancel_scope.cancel()

        async def watch() -> None:
            while (await request.receive())["type"] != "http.disconnect":
                pass
            group.cancel_scope.cancel()

        group.start_soon(collect)
        group.start_soon(watch)
    if failure is not None:
        raise failure
    return items


class EmbeddedServer:
    """Request handling shared by the Ollama and OpenAI routes."""

    def __init__(self, settings: Settings, host: ModelHost) -> None:
        self.settings = settings
        self.host = host

    def model(self, name: str) -> LocalModel:
        return resolve(self.settings, name)

    def spec(self, model: LocalModel, num_ctx: int | None) -> LoadSpec:
        context = num_ctx or self.settings.llm_context
        if model.catalog is not None:
            context = min(context, model.catalog.context_length)
        return self.host.spec_for(model, context)

    def keep_alive(self, value: str | float | None) -> float:
        try:
            return parse_duration(self.settings.llm_keep_alive if value is None else value)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from exc

    async def started(
        self, spec: LoadSpec, kind: Kind, body: dict[str, Any], keep_alive: float
    ) -> AsyncIterator[tuple[Chunk, float]]:
        """The generation with its first chunk already produced, so that a refusal (unknown
        model, over-long prompt) becomes an HTTP error instead of a broken stream."""
        chunks = self.host.generate(spec, kind, body, keep_alive)
        first = await anext(chunks, None)

        async def chained() -> AsyncIterator[tuple[Chunk, float]]:
            try:
                if first is not None:
                    yield first
                async for item in chunks:
                    yield item
            finally:
                await chunks.aclose()

        return chained()


def _model_defaults(server: EmbeddedServer, payload: ChatRequest | GenerateRequest) -> Options:
    """The request's options over its catalogue model's recommended sampling (none for a
    GGUF of the user's: llama.cpp's own defaults then)."""
    catalog = server.model(payload.model).catalog
    return ollama_api.with_defaults(payload.options, catalog.sampling if catalog else ())


def _stream(objects: AsyncIterator[dict[str, Any]]) -> Response:
    async def body() -> AsyncIterator[bytes]:
        try:
            async for obj in objects:
                yield _ndjson(obj)
        except WfhubError as exc:  # after the first byte, an error can only be a last line
            yield _ndjson({"error": exc.code, "detail": exc.detail})

    return StreamingResponse(body(), media_type=NDJSON)


async def _ollama_reply(
    server: EmbeddedServer,
    request: Request,
    payload: Common,
    kind: Kind,
    body: dict[str, Any],
    field_name: str,
    tool_names: set[str],
) -> Response:
    started = time.perf_counter()
    model = server.model(payload.model)
    options = payload.options
    spec = server.spec(model, options.num_ctx if options else None)
    keep_alive = server.keep_alive(payload.keep_alive)
    chunks = await server.started(spec, kind, body, keep_alive)
    objects = ollama_api.ollama_chunks(
        chunks, model=payload.model, field_name=field_name, tool_names=tool_names, started=started
    )
    if payload.stream:
        return _stream(objects)
    collected = await until_disconnect(request, objects)
    if not collected:
        return Response(status_code=499)
    return JSONResponse(ollama_api.merge(collected, field_name))


async def _load_or_unload(
    server: EmbeddedServer, payload: Common, field_name: str
) -> dict[str, Any]:
    """Ollama's empty request: load the model (or unload it with `keep_alive: 0`)."""
    model = server.model(payload.model)
    keep_alive = server.keep_alive(payload.keep_alive)
    head = {"model": payload.model, "created_at": ollama_api.now_rfc3339()}
    empty = {"role": "assistant", "content": ""} if field_name == "message" else ""
    if keep_alive == 0:
        await server.host.unload(model)
        return {**head, field_name: empty, "done": True, "done_reason": "unload"}
    options = payload.options
    seconds = await server.host.preload(
        server.spec(model, options.num_ctx if options else None), keep_alive
    )
    return {
        **head,
        field_name: empty,
        "done": True,
        "done_reason": "load",
        "load_duration": int(seconds * 1e9),
    }


def create_llm_app(settings: Settings, factory: RuntimeFactory = XllamacppRuntime) -> FastAPI:
    host = ModelHost(parallel=settings.llm_parallel, threads=settings.llm_threads, factory=factory)
    server = EmbeddedServer(settings, host)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await host.close()

    app = FastAPI(title="wfhub model server", version=__version__, lifespan=lifespan)
    app.state.model_host = host
    install_error_handlers(app)

    @app.get("/", include_in_schema=False)
    async def root() -> Response:
        return Response("Ollama is running", media_type="text/plain")

    @app.get("/api/version")
    async def version() -> dict[str, str]:
        return {"version": OLLAMA_API_VERSION}

    @app.post("/api/chat")
    async def chat(request: Request) -> Response:
        payload = await parse_body(request, ChatRequest)
        if not payload.messages:
            return JSONResponse(await _load_or_unload(server, payload, "message"))
        names = {str(t.get("function", {}).get("name")) for t in payload.tools or []}
        payload.options = _model_defaults(server, payload)
        body = ollama_api.chat_body(payload)
        return await _ollama_reply(server, request, payload, "chat", body, "message", names)

    @app.post("/api/generate")
    async def generate(request: Request) -> Response:
        payload = await parse_body(request, GenerateRequest)
        if not payload.prompt and payload.suffix is None:
            return JSONResponse(await _load_or_unload(server, payload, "response"))
        model = server.model(payload.model)
        fim = model.catalog is not None and model.catalog.family == "qwen2"
        payload.options = _model_defaults(server, payload)
        kind, body = ollama_api.generate_body(payload, supports_fim=fim)
        return await _ollama_reply(server, request, payload, kind, body, "response", set())

    @app.get("/api/tags")
    async def tags() -> dict[str, Any]:
        return {"models": [tag_entry(m) for m in local_models(settings).values()]}

    @app.post("/api/show")
    async def show(request: Request) -> dict[str, Any]:
        payload = await parse_body(request, ShowRequest)
        if not payload.wanted:
            raise InvalidInput("give the model's name in `model`")
        return show_entry(server.model(payload.wanted), settings.llm_context)

    @app.get("/api/ps")
    async def ps() -> dict[str, Any]:
        loaded = host.loaded
        return {"models": [] if loaded is None else [ps_entry(loaded)]}

    @app.get("/v1/models")
    async def openai_models() -> dict[str, Any]:
        return openai_api.model_list(local_models(settings).values())

    @app.post("/v1/chat/completions")
    async def openai_chat(request: Request) -> Response:
        payload = openai_api.parse_chat(await request.body())
        model = server.model(payload["model"])
        spec = server.spec(model, None)
        chunks = await server.started(
            spec, "chat", openai_api.runtime_body(payload), server.keep_alive(None)
        )
        if payload.get("stream"):
            return StreamingResponse(
                openai_api.sse(chunks, payload), media_type="text/event-stream"
            )
        collected = await until_disconnect(request, chunks)
        return JSONResponse(openai_api.completion(collected, payload))

    policy = HostPolicy.from_settings(settings)
    capped = settings.model_copy(update={"max_body_bytes": settings.gateway_max_body_bytes})
    app.add_middleware(GuardMiddleware, policy=policy, settings=capped)
    return app
