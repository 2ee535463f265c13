"""A minimal keep-alive HTTP/1.1 server answering Ollama's /api/chat at once, for
`bench/gateway.py`: as little work as possible, so what the bench measures is the gateway.
A streamed request with `"gap_ms": G, "chunks": N` in its body is answered like a model
generating: N chunks, G milliseconds apart.

Run: python -m bench.fast_upstream PORT
"""

from __future__ import annotations

import asyncio
import json
import sys

ONE = (
    b'{"model":"m","created_at":"2026-01-01T00:00:00Z","message":{"role":"assistant",'
    b'"content":"hi"},"done":true,"prompt_eval_count":3,"eval_count":1}'
)
PIECE = b'{"model":"m","message":{"role":"assistant","content":"tok"},"done":false}\n'
TAGS = b'{"models":[{"name":"m","model":"m"}]}'
CHUNKED_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\ntransfer-encoding: chunked\r\n\r\n"
)


def _json(body: bytes) -> bytes:
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
    return head % len(body) + body


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            body = await reader.readexactly(length) if length else b""
            if b'"stream": true' in body or b'"stream":true' in body:
                pace = json.loads(body) if b'"gap_ms"' in body else {}
                gap = pace.get("gap_ms", 0) / 1000
                writer.write(CHUNKED_HEAD)
                for _ in range(pace.get("chunks", 20)):
                    writer.write(b"%x\r\n%s\r\n" % (len(PIECE), PIECE))
                    await writer.drain()
                    if gap:
                        await asyncio.sleep(gap)
                writer.write(b"%x\r\n%s\n\r\n0\r\n\r\n" % (len(ONE) + 1, ONE))
            elif b"/api/tags" in head:
                writer.write(_json(TAGS))
            else:
                writer.write(_json(ONE))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
