"""CPU per request of the HTTP clients gymbox could use on its hops: aiohttp, and gymbox's own keep-alive pool.

    python benchmarks/bench_http_client.py [--requests 20000] [--concurrency 64] [--repeats 3] [--new-connections]

Serves a small JSON echo (a raw ASGI app under uvicorn, so the server costs little and the same for both)
in a subprocess on 127.0.0.1, then sends `--requests` POSTs of a tool-call-sized JSON body at
`--concurrency` in flight from this process, on uvloop as gymbox's processes run, once per client per
repeat (interleaved, since the VM is noisy). Prints this process's CPU time (user + system) per request,
and the rate. The body is parsed on both sides, as the hops do. `--new-connections` opens and closes a
connection for every request: what a first wave of rollouts pays, when each one in flight needs its own.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable

import aiohttp
import uvloop

from gymbox import json_codec
from gymbox.http1 import ConnectionPool

SERVER = """
import sys, uvicorn
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body or b"{}"})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""
PAYLOAD = {"city": "San Francisco", "units": "metric", "days": 3, "note": "x" * 200}
Send = Callable[[], Awaitable[None]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str) -> None:
    for _ in range(100):
        try:
            urllib.request.urlopen(urllib.request.Request(url, data=b"{}"), timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the echo server at {url} never answered")


async def measure(send: Send, requests: int, concurrency: int) -> tuple[float, float]:
    """CPU µs per request and requests/s."""
    left = requests

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await send()

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall, used = time.perf_counter() - started, time.process_time() - cpu
    return used / requests * 1e6, requests / wall


async def run(url: str, args: argparse.Namespace) -> None:
    headers = {"Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=0, force_close=args.new_connections)
    session = aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())
    pool = ConnectionPool(connect_timeout_s=10)

    async def with_aiohttp() -> None:
        async with session.post(url, data=json_codec.dumps(PAYLOAD), headers=headers) as answer:
            json_codec.loads(await answer.read())

    async def with_pool() -> None:
        fresh = ConnectionPool(connect_timeout_s=10) if args.new_connections else pool
        answer = await fresh.request("POST", url, json_codec.dumps(PAYLOAD), headers, timeout_s=60)
        json_codec.loads(answer.body)
        if fresh is not pool:
            await fresh.close()

    clients = {"aiohttp": with_aiohttp, "gymbox.http1": with_pool}
    try:
        for send in clients.values():  # warm up: connections opened, code paths taken
            await measure(send, 2 * args.concurrency, args.concurrency)
        for repeat in range(1, args.repeats + 1):
            for name, send in clients.items():
                cpu_us, rate = await measure(send, args.requests, args.concurrency)
                print(f"repeat {repeat}  {name:13} {cpu_us:6.0f} µs CPU/request  {rate:7.0f} requests/s", flush=True)
    finally:
        await session.close()
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--new-connections", action="store_true", help="a new connection for every request")
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)])
    url = f"http://127.0.0.1:{port}/echo"
    try:
        wait_ready(url)
        uvloop.run(run(url, args))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
