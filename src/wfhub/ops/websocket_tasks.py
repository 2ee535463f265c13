"""Ending the tasks that serve one WebSocket (its sender and its receiver) together."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from starlette.websockets import WebSocketDisconnect


async def stop_all(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel every task and wait for each, swallowing what a closed socket raises."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
            await task
