"""The llama.cpp runtime behind the embedded server, and the host that loads models on demand.

`Runtime` is the backend interface (xllamacpp today; llama-cpp-python could implement it).
`ModelHost` owns at most one loaded model: it loads on the first request that names one,
unloads after `keep_alive` of idleness, swaps models once in-flight requests finish, and lets
`parallel` requests generate at once while the rest wait their turn in arrival order.
Generation runs on worker threads (llama.cpp releases the GIL); chunks cross to the event loop
through a queue, and a consumer that stops reading (a client gone) stops generation at the
next token.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from wfhub.errors import ContextOverflow, InvalidInput, ModelUnavailable
from wfhub.llm.durations import FOREVER
from wfhub.llm.install import ModelFileError
from wfhub.llm.registry import LocalModel

Kind = Literal["chat", "completion"]
Chunk = dict[str, Any]
OnChunk = Callable[[Chunk], bool]
"""Receives each streamed chunk; returning True stops generation."""


class Runtime(ABC):
    """One loaded model able to serve OpenAI-shaped chat and completion requests."""

    @abstractmethod
    def generate(self, kind: Kind, body: dict[str, Any], on_chunk: OnChunk) -> Chunk | None:
        """Stream `body` (OpenAI shape, `stream` set) into `on_chunk`; blocking.

        Returns an error object when the runtime refused the request, else None."""

    @abstractmethod
    def close(self) -> None:
        """Free the model's memory."""


@dataclass(frozen=True)
class LoadSpec:
    model: LocalModel
    context: int  # tokens per slot
    parallel: int
    threads: int


class XllamacppRuntime(Runtime):
    def __init__(self, spec: LoadSpec) -> None:
        import xllamacpp as xlc

        params = xlc.CommonParams()
        params.model.path = str(spec.model.path)
        params.n_parallel = spec.parallel
        params.n_ctx = spec.context * spec.parallel  # llama.cpp splits n_ctx across slots
        threads = spec.threads or os.cpu_count() or 1
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.ctx_shift = False  # refuse over-long requests instead of dropping context
        params.use_jinja = True  # the model's own chat template, tools included
        params.verbosity = -1
        params.hostnames = ["127.0.0.1"]
        # llama.cpp also starts its own HTTP listener; lock it with a key nobody knows.
        params.api_keys = [secrets.token_hex(32)]
        self._server = xlc.Server(params)

    def generate(self, kind: Kind, body: dict[str, Any], on_chunk: OnChunk) -> Chunk | None:
        handler = (
            self._server.handle_chat_completions
            if kind == "chat"
            else self._server.handle_completions
        )
        errors: list[Chunk] = []

        def relay(chunk: Chunk) -> bool:
            if isinstance(chunk.get("error"), dict):  # a refusal arrives as a chunk when streaming
                errors.append(chunk["error"])
                return True
            return on_chunk(chunk)

        try:
            result = handler(body, relay)
        except ValueError as exc:
            return {"code": 400, "message": str(exc), "type": "invalid_request_error"}
        if isinstance(result, dict) and isinstance(result.get("error"), dict):
            return dict(result["error"])
        return errors[0] if errors else None

    def close(self) -> None:
        del self._server


RuntimeFactory = Callable[[LoadSpec], Runtime]


@dataclass
class Loaded:
    spec: LoadSpec
    runtime: Runtime
    load_seconds: float
    active: int = 0
    expires_at: float | None = None  # wall-clock time, None = never
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)


class ModelHost:
    """Loads models on demand and runs generations on worker threads.

    Cancellation-safe by construction: a model's use count and its slot are given back when
    the worker thread finishes (not when the awaiting request is cancelled), so a model is
    never unloaded under a running generation; a load runs as its own task, so a request
    cancelled mid-load still leaves the loaded model accounted for.
    """

    def __init__(
        self, *, parallel: int, threads: int, factory: RuntimeFactory = XllamacppRuntime
    ) -> None:
        self.parallel = parallel
        self.threads = threads
        self._factory = factory
        self._loaded: Loaded | None = None
        self._loading: asyncio.Task[Loaded] | None = None
        self._transition = asyncio.Lock()
        self._idle = asyncio.Event()
        self._slots = asyncio.Semaphore(parallel)
        self._pool = ThreadPoolExecutor(max_workers=parallel + 1, thread_name_prefix="llm")
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def loaded(self) -> Loaded | None:
        return self._loaded

    def spec_for(self, model: LocalModel, context: int) -> LoadSpec:
        return LoadSpec(model, context, self.parallel, self.threads)

    async def _wait_idle(self) -> None:
        while self._loaded is not None and self._loaded.active:
            self._idle.clear()
            await self._idle.wait()

    async def _unload_locked(self) -> None:
        loaded, self._loaded = self._loaded, None
        if loaded is None:
            return
        if loaded.timer is not None:
            loaded.timer.cancel()
        await asyncio.get_running_loop().run_in_executor(self._pool, loaded.runtime.close)

    async def _load(self, spec: LoadSpec) -> Loaded:
        try:
            spec.model.check()
        except ModelFileError as exc:
            raise ModelUnavailable(str(exc)) from exc
        start = time.perf_counter()
        try:
            runtime = await asyncio.get_running_loop().run_in_executor(
                self._pool, self._factory, spec
            )
        except Exception as exc:  # llama.cpp reports a bad file as a generic error
            raise ModelUnavailable(f"cannot load {spec.model.path}: {exc}") from exc
        self._loaded = Loaded(spec, runtime, time.perf_counter() - start)
        return self._loaded

    async def _acquire(self, spec: LoadSpec) -> tuple[Loaded, float]:
        async with self._transition:
            if self._loading is not None:  # a load whose requester was cancelled
                await asyncio.wait([self._loading])
                self._loading = None
            current = self._loaded
            if current is None or current.spec != spec:
                await self._wait_idle()  # another model is busy: let its requests finish
                await self._unload_locked()
                self._loading = asyncio.get_running_loop().create_task(self._load(spec))
                try:
                    current = await asyncio.shield(self._loading)
                finally:
                    if self._loading.done():
                        self._loading = None
                seconds = current.load_seconds
            else:
                seconds = 0.0
            current.active += 1
            if current.timer is not None:
                current.timer.cancel()
            current.expires_at = None
            return current, seconds

    def _release(self, loaded: Loaded, keep_alive: float) -> None:
        loaded.active -= 1
        if loaded.active:
            return
        self._idle.set()
        if self._loaded is not loaded:
            return
        if keep_alive == FOREVER:
            loaded.expires_at = None
            return
        loaded.expires_at = time.time() + keep_alive
        loop = asyncio.get_running_loop()
        loaded.timer = loop.call_later(keep_alive, self._spawn_expiry, loaded)

    def _spawn_expiry(self, loaded: Loaded) -> None:
        task = asyncio.get_running_loop().create_task(self._expire(loaded))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _expire(self, loaded: Loaded) -> None:
        async with self._transition:
            if self._loaded is loaded and not loaded.active:
                await self._unload_locked()

    async def preload(self, spec: LoadSpec, keep_alive: float) -> float:
        """Load without generating (Ollama's empty prompt); returns the load seconds."""
        loaded, seconds = await self._acquire(spec)
        self._release(loaded, keep_alive)
        return seconds

    async def unload(self, model: LocalModel) -> bool:
        """Unload `model` once its requests finish (Ollama's `keep_alive: 0`, no prompt)."""
        async with self._transition:
            if self._loaded is None or self._loaded.spec.model != model:
                return False
            await self._wait_idle()
            await self._unload_locked()
            return True

    async def generate(
        self, spec: LoadSpec, kind: Kind, body: dict[str, Any], keep_alive: float
    ) -> AsyncGenerator[tuple[Chunk, float]]:
        """Yield `(chunk, load_seconds)`; closing the iterator stops generation."""
        loaded, load_seconds = await self._acquire(spec)
        try:
            await self._slots.acquire()
        except BaseException:
            self._release(loaded, keep_alive)
            raise
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Chunk | BaseException | None] = asyncio.Queue()
        stop = threading.Event()

        def on_chunk(chunk: Chunk) -> bool:
            loop.call_soon_threadsafe(queue.put_nowait, chunk)
            return stop.is_set()

        def work() -> None:
            try:
                error = loaded.runtime.generate(kind, {**body, "stream": True}, on_chunk)
                outcome: BaseException | None = None if error is None else _runtime_error(error)
            except Exception as exc:  # handed to the awaiting request below
                outcome = exc
            loop.call_soon_threadsafe(queue.put_nowait, outcome)

        def finished(_future: object) -> None:
            self._slots.release()
            self._release(loaded, keep_alive)

        loop.run_in_executor(self._pool, work).add_done_callback(finished)
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item, load_seconds
        finally:
            stop.set()

    async def close(self) -> None:
        async with self._transition:
            await self._wait_idle()
            await self._unload_locked()
        self._pool.shutdown(wait=True)


def _runtime_error(error: Chunk) -> Exception:
    message = str(error.get("message", error))
    if error.get("type") == "exceed_context_size_error":
        return ContextOverflow(message)
    if error.get("code") == 400:
        return InvalidInput(message)
    return ModelUnavailable(message)
