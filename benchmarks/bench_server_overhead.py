"""Server CPU per request of one gymbox server: the cost of the web framework around a tool call.

    python benchmarks/bench_server_overhead.py [--requests 20000] [--concurrency 64] [--repeats 3]
                                               [--source DIR]

Serves the example_single_tool_call environment (`gymbox serve`, uvicorn with uvloop and httptools) on
127.0.0.1 and plays about `--requests` requests as episodes, `--concurrency` at a time, from an aiohttp
client in this process: `POST /seed_session`, `--tool-calls` `POST /get_weather` with the episode's cookie,
then `POST /verify` (which ends the episode, so no state piles up across repeats). For each repeat it prints
the server process's CPU time (user + system, from /proc) per request and the rate. The handlers take a
few microseconds, so the figure is mostly uvicorn, the ASGI stack, gymbox's middleware and routing.
`--in-process` calls the app's ASGI entry directly instead (no uvicorn, no sockets, no client): the
framework's and gymbox's share alone, steadier; under `valgrind --tool=callgrind` its instruction counts
are steadier still (run it at two `--requests` and difference them to drop start-up).
`--source DIR` serves the gymbox package of another checkout (put first on PYTHONPATH) to compare two
versions on one machine; alternate the runs, as this machine's noise is large.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_rollout_cpu import CONFIG, ENV, ROOT, cpu_seconds, healthy, stop

PORT = 18_101
WARMUP = 2_000


def start_server(source: Path | None) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source.resolve()), env.get("PYTHONPATH")]))
        env["PYTHONSAFEPATH"] = "1"  # else `-m` puts the working directory, this checkout, first
    path = f"{ENV}.resources_servers.{ENV}"
    command = [
        sys.executable, "-m", "gymbox.cli", "serve", "-c", str(CONFIG), "-n", ENV, "-m", "scripted",
        "--env-file", "/dev/null", "--log-level", "warning",
        "--set", f"{path}.host=127.0.0.1", "--set", f"{path}.port={PORT}",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while not healthy(PORT):
        if time.monotonic() > deadline or server.poll() is not None:
            stop([server])
            sys.exit("the server did not come up within 60 s")
        time.sleep(0.3)
    return server


async def drive(episodes: int, concurrency: int, tool_calls: int) -> int:
    """`episodes` episodes, `concurrency` at a time: seed, `tool_calls` calls, verify. Returns the requests."""
    base = f"http://127.0.0.1:{PORT}"
    row = json.loads((ROOT / "environments" / ENV / "data" / "example.jsonl").read_text().splitlines()[0])
    verify = json.dumps({**row, "response": {"output": []}}).encode()
    seed, call = json.dumps(row).encode(), b'{"city": "Paris"}'
    left = episodes
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar()) as client:

        async def post(path: str, body: bytes, cookie: str = "") -> aiohttp.ClientResponse:
            headers = {"content-type": "application/json", "cookie": cookie}
            async with client.post(f"{base}{path}", data=body, headers=headers) as answer:
                await answer.read()
                assert answer.status == 200, (path, answer.status)
                return answer

        async def slot() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                seeded = await post("/seed_session", seed)
                cookie = f"gymbox_session={seeded.cookies['gymbox_session'].value}"
                for _ in range(tool_calls):
                    await post("/get_weather", call, cookie)
                await post("/verify", verify, cookie)

        await asyncio.gather(*(slot() for _ in range(concurrency)))
    return episodes * (tool_calls + 2)


async def drive_asgi(app: Any, episodes: int, tool_calls: int) -> int:
    """`drive`'s episodes, one at a time, through the app's ASGI callable."""
    row = (ROOT / "environments" / ENV / "data" / "example.jsonl").read_text().splitlines()[0].encode()
    verify = json.dumps({**json.loads(row), "response": {"output": []}}).encode()

    async def post(path: str, body: bytes, cookie: bytes = b"") -> list[tuple[bytes, bytes]]:
        headers = [(b"host", b"bench"), (b"content-type", b"application/json"), (b"cookie", cookie)]
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
            "client": ("127.0.0.1", 1), "server": ("127.0.0.1", PORT), "state": {},
        }  # fmt: skip
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        answer: dict[str, Any] = {}

        async def receive() -> dict[str, Any]:
            return messages.pop() if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer.update(message)

        await app(scope, receive, send)
        assert answer["status"] == 200, (path, answer["status"])
        return list(answer["headers"])

    for _ in range(episodes):
        headers = await post("/seed_session", row)
        cookie = next(value for name, value in headers if name == b"set-cookie").split(b";")[0]
        for _ in range(tool_calls):
            await post("/get_weather", b'{"city": "Paris"}', cookie)
        await post("/verify", verify, cookie)
    return episodes * (tool_calls + 2)


def in_process(args: argparse.Namespace, episodes: int) -> None:
    if args.source is not None:
        sys.path.insert(0, str(args.source.resolve()))
    from gymbox.config import load_config
    from gymbox.registry import build_app

    stack = load_config([CONFIG], model="scripted", env_file=Path("/dev/null"))
    app = build_app(stack, ENV, ROOT / "environments")
    asyncio.run(drive_asgi(app, WARMUP // (args.tool_calls + 2), args.tool_calls))
    for _ in range(args.repeats):
        started = time.process_time()
        requests = asyncio.run(drive_asgi(app, episodes, args.tool_calls))
        print(f"in-process cpu {(time.process_time() - started) * 1e6 / requests:6.1f} us/request", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20_000, help="about this many, in whole episodes")
    parser.add_argument("--tool-calls", type=int, default=4, help="per episode, between its seed and verify")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--in-process", action="store_true", help="call the ASGI app, no uvicorn or client")
    parser.add_argument("--source", type=Path, default=None, help="serve the gymbox package under DIR")
    args = parser.parse_args()
    episodes = max(1, args.requests // (args.tool_calls + 2))
    if args.in_process:
        in_process(args, episodes)
        return
    server = start_server(args.source)
    try:
        asyncio.run(drive(WARMUP // (args.tool_calls + 2), args.concurrency, args.tool_calls))
        for _ in range(args.repeats):
            before = cpu_seconds(server.pid)
            started = time.monotonic()
            requests = asyncio.run(drive(episodes, args.concurrency, args.tool_calls))
            wall = time.monotonic() - started
            per_request = (cpu_seconds(server.pid) - before) * 1e6 / requests
            print(
                f"server cpu {per_request:6.1f} us/request  {requests / wall:7.0f} requests/s  "
                f"load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    finally:
        stop([server])
    summary = {"requests": args.requests, "tool_calls": args.tool_calls, "concurrency": args.concurrency}
    print(json.dumps({**summary, "source": str(args.source or ROOT)}))


if __name__ == "__main__":
    main()
