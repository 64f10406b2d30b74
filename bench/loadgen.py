"""A minimal HTTP/1.1 keep-alive load generator: N connections on raw asyncio streams
(uvloop when installed), each sending one request and reading its whole answer before the
next (a closed loop, like N clients in a row). It parses only what it needs: the status
line, Content-Length (or chunked framing) and the body's bytes.

Run it as its own process, so that it never shares an interpreter with the server:

    python bench/loadgen.py CONFIG.json      # prints one JSON object on stdout

CONFIG: {"port", "requests": [raw request, ...] (as text, sent in turn by each connection),
"connections", "warmup_s", "duration_s", "ok": [statuses that count as success]}.
The result: requests, errors by status, throughput (successes per second of the measured
window), latency percentiles (ms), and the generator's own CPU use (share of one core) so
that a saturated generator shows.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from typing import Any


async def read_response(reader: asyncio.StreamReader) -> int:
    """Read one whole response; returns its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    at = lower.find(b"\r\ncontent-length:")
    if at >= 0:
        end = lower.index(b"\r\n", at + 2)
        await reader.readexactly(int(lower[at + 17 : end]))
    elif b"\r\ntransfer-encoding: chunked" in lower:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


class Stats:
    def __init__(self, ok: set[int]) -> None:
        self.ok = ok
        self.recording = False
        self.latencies: list[int] = []  # ns, successes only
        self.statuses: dict[int, int] = {}


async def client(
    port: int, requests: list[bytes], offset: int, stats: Stats, stop: asyncio.Event
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = offset
    n = len(requests)
    clock = time.perf_counter_ns
    while not stop.is_set():
        request = requests[i % n]
        i += 1
        start = clock()
        writer.write(request)
        status = await read_response(reader)
        took = clock() - start
        if stats.recording:
            stats.statuses[status] = stats.statuses.get(status, 0) + 1
            if status in stats.ok:
                stats.latencies.append(took)
    writer.close()


def percentile(sorted_ns: list[int], q: float) -> float:
    if not sorted_ns:
        return float("nan")
    return sorted_ns[min(len(sorted_ns) - 1, int(q * len(sorted_ns)))] / 1e6


async def run(config: dict[str, Any]) -> dict[str, Any]:
    requests = [r.encode() for r in config["requests"]]
    stats = Stats(set(config.get("ok", [200])))
    stop = asyncio.Event()
    n = int(config["connections"])
    tasks = [
        asyncio.create_task(client(config["port"], requests, k * 7919, stats, stop))
        for k in range(n)
    ]
    await asyncio.sleep(config["warmup_s"])
    stats.recording = True
    cpu0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    await asyncio.sleep(config["duration_s"])
    stats.recording = False
    cpu1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    stop.set()
    await asyncio.gather(*tasks)
    window = t1 - t0
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    lat = sorted(stats.latencies)
    return {
        "connections": n,
        "window_s": round(window, 3),
        "ok": len(lat),
        "statuses": {str(k): v for k, v in sorted(stats.statuses.items())},
        "rps": len(lat) / window,
        "p50_ms": percentile(lat, 0.50),
        "p90_ms": percentile(lat, 0.90),
        "p99_ms": percentile(lat, 0.99),
        "max_ms": lat[-1] / 1e6 if lat else float("nan"),
        "client_cpu": cpu / window,
    }


def main() -> None:
    with open(sys.argv[1]) as f:
        config = json.load(f)
    try:
        import uvloop
    except ImportError:
        print(json.dumps(asyncio.run(run(config))))
    else:
        print(json.dumps(uvloop.run(run(config))))


if __name__ == "__main__":
    main()
