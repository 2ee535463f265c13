"""Gateway overhead: the same fast upstream called directly and through `wfhub serve`.

Run: `python -m bench.gateway [--requests N]` (part of `make bench`).
The upstream is a minimal keep-alive HTTP server in its own process that answers an Ollama
`/api/chat` at once (non-streaming) or as 20 NDJSON chunks (streaming). Direct and gateway
calls are interleaved in rounds from one keep-alive connection each, so both see the same
machine state. Reported: added p50/p99 latency (non-streaming), added time to first byte
(streaming), and throughput of 50 concurrent streams through the gateway as a ratio to direct:
streams of 20 chunks sent at once (the relay's raw capacity, upstream, gateway and clients all
on the same cores) and streams paced like a fast model (100 chunks, 10 ms apart).
Targets (issue 3): added p50 <= 1 ms, p99 <= 3 ms, streaming throughput >= 95 % of direct.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from tests.conftest import free_port
from tests.live_server import live_server

BODY = json.dumps(
    {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": False}
).encode()
STREAM_BODY = json.dumps({"model": "m", "messages": [], "stream": True}).encode()
PACE = {"chunks": 100, "gap_ms": 10}  # 100 tokens/s per stream, a fast GPU's pace
PACED_BODY = json.dumps({"model": "m", "messages": [], "stream": True, **PACE}).encode()


def timed_calls(
    port: int, path: str, headers: dict[str, str], n: int, *, streamed: bool = False
) -> list[float]:
    """Seconds per request on one keep-alive connection: until the whole answer, or (for
    `streamed`) until its first byte."""
    connection = http.client.HTTPConnection("127.0.0.1", port)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        connection.request("POST", path, body=STREAM_BODY if streamed else BODY, headers=headers)
        response = connection.getresponse()
        if streamed:
            response.read1(1)
        times.append(time.perf_counter() - start)
        response.read()
    connection.close()
    return times


async def stream_throughput(
    url: str, headers: dict[str, str], streams: int, each: int, body: bytes
) -> float:
    """Streamed responses per second: `streams` concurrent clients each read `each` whole
    responses; the clock stops when the last one ends."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def client() -> None:
            for _ in range(each):
                async with session.post(url, data=body, headers=headers) as response:
                    async for _ in response.content.iter_any():
                        pass

        start = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(streams)))
        return streams * each / (time.perf_counter() - start)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    up_port = free_port()
    upstream = subprocess.Popen([sys.executable, "-m", "bench.fast_upstream", str(up_port)])
    try:
        with tempfile.TemporaryDirectory() as folder:
            home = Path(folder) / "home"
            database = f"sqlite:///{Path(folder) / 'bench.db'}"
            with live_server(home, database, ollama_urls=f"http://127.0.0.1:{up_port}") as hub:
                run(hub.url, hub.token, up_port, args.requests, args.rounds)
    finally:
        upstream.terminate()
        upstream.wait()


def run(hub_url: str, token: str, up_port: int, n: int, rounds: int) -> None:
    hub_port = int(hub_url.rsplit(":", 1)[1])
    plain = {"content-type": "application/json"}
    auth = {**plain, "authorization": f"Bearer {token}"}
    timed_calls(up_port, "/api/chat", plain, 200)  # warm both paths
    timed_calls(hub_port, "/ollama/api/chat", auth, 200)
    direct: list[float] = []
    through: list[float] = []
    ttfb_direct: list[float] = []
    ttfb_through: list[float] = []
    for _ in range(rounds):
        direct += timed_calls(up_port, "/api/chat", plain, n // rounds)
        through += timed_calls(hub_port, "/ollama/api/chat", auth, n // rounds)
        ttfb_direct += timed_calls(up_port, "/api/chat", plain, n // (rounds * 4), streamed=True)
        ttfb_through += timed_calls(
            hub_port, "/ollama/api/chat", auth, n // (rounds * 4), streamed=True
        )
    rates: dict[tuple[bytes, str], list[float]] = {}
    for _ in range(3):
        for body, each in ((STREAM_BODY, 60), (PACED_BODY, 3)):
            for url, headers in (
                (f"http://127.0.0.1:{up_port}/api/chat", plain),
                (f"{hub_url}/ollama/api/chat", auth),
            ):
                rate = asyncio.run(stream_throughput(url, headers, 50, each, body))
                rates.setdefault((body, url), []).append(rate)
    print(f"non-streaming, {len(direct)} requests each, interleaved:")
    print(f"  direct  p50 {pct(direct, 0.5):.3f} ms  p99 {pct(direct, 0.99):.3f} ms")
    print(f"  gateway p50 {pct(through, 0.5):.3f} ms  p99 {pct(through, 0.99):.3f} ms")
    print(
        f"  added   p50 {pct(through, 0.5) - pct(direct, 0.5):.3f} ms  "
        f"p99 {pct(through, 0.99) - pct(direct, 0.99):.3f} ms"
    )
    added_ttfb = statistics.median(ttfb_through) - statistics.median(ttfb_direct)
    print(f"streaming: added time to first byte (median) {added_ttfb * 1000:.3f} ms")
    paced = f"{PACE['chunks']} chunks {PACE['gap_ms']} ms apart"
    for body, label in ((STREAM_BODY, "20 instant chunks"), (PACED_BODY, paced)):
        direct_rate, gateway_rate = (
            statistics.median(found) for (sent, _), found in rates.items() if sent == body
        )
        print(
            f"50 concurrent streams, {label}: direct {direct_rate:.2f}/s, gateway "
            f"{gateway_rate:.2f}/s, ratio {gateway_rate / direct_rate:.3f}"
        )


if __name__ == "__main__":
    main()
