"""The host side of a sandbox's one way out: a unix socket that leads to one address.

A sandboxed engine (Aider) must reach wfhub's LLM gateway and nothing else. Its sandbox
has no network at all; `relay.py` inside it turns a loopback port into connections to a
unix socket bound in from the host, and `unix_bridge` here serves that socket, relaying
each connection to the gateway's host and port. What the engine can reach is therefore
decided by the host, one address, whatever the engine tries.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from wfhub.sandbox import relay

RELAY_SCRIPT = Path(relay.__file__)
CHUNK = 65536


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()


@asynccontextmanager
async def unix_bridge(path: Path, host: str, port: int) -> AsyncIterator[Path]:
    """Serve `path` (mode 0600; in a fresh private folder) while the block runs; each
    connection is relayed to host:port. The socket file is removed afterwards."""
    connections: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(host, port)
        except OSError:
            writer.close()
            return
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            for side in (writer, up_writer):
                side.close()
                with contextlib.suppress(ConnectionError, OSError):
                    await side.wait_closed()

    def track(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(handle(reader, writer))
        connections.add(task)
        task.add_done_callback(connections.discard)

    server = await asyncio.start_unix_server(track, path=str(path))
    await asyncio.to_thread(path.chmod, 0o600)
    try:
        yield path
    finally:
        server.close()
        for task in list(connections):
            task.cancel()
        await asyncio.gather(*connections, return_exceptions=True)
        await server.wait_closed()
        await asyncio.to_thread(path.unlink, missing_ok=True)
