"""CPU time per request of the `openai_model` proxy process, in front of the scripted model.

    python benchmarks/bench_model_proxy.py [--requests 2000] [--concurrency 8] [--profile FILE]

Starts the scripted model (the upstream) and the proxy as two processes on 127.0.0.1, then sends an
agent-like `POST /v1/responses` (a user prompt, four earlier tool-call turns and their outputs, two tools)
through the proxy in each mode:
- `api: responses`, non-streaming: the pass-through the agent uses against a Responses upstream;
- `api: chat`: the request converted to Chat Completions and the completion back;
- `api: responses` with `stream: true`: the upstream's events relayed;
- `/v1/chat/completions`, non-streaming: the chat pass-through.
For each it prints the CPU time (user + system, from /proc) the proxy process spent per request, and the
scripted model's for the same requests: the proxy's figure is what one extra hop costs. No Docker needed.
`--profile FILE` runs the proxy under cProfile and writes its stats to FILE (slower; for finding costs).
`--proxy-source DIR` runs the proxy from another copy of the code, to compare with an older commit:
`git archive COMMIT gymbox | tar -x -C DIR`; a mode that copy cannot serve is reported as such.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")

# One server process: argv = kind, JSON config, port[, profile file].
SERVE = """
import json, sys, uvicorn
from gymbox.model_servers.openai_model import OpenAIModelConfig, OpenAIModelServer
from gymbox.model_servers.scripted_model import ScriptedModelConfig, ScriptedModelServer
kind, config, port = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
if kind == "scripted":
    app = ScriptedModelServer(ScriptedModelConfig.model_validate(config)).build_app()
else:
    app = OpenAIModelServer(OpenAIModelConfig.model_validate(config), name="proxy").build_app()
server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                                       timeout_keep_alive=75))
if len(sys.argv) > 4:
    import cProfile, signal
    profiler = cProfile.Profile()
    signal.signal(signal.SIGTERM, lambda *_: setattr(server, "should_exit", True))
    profiler.runcall(server.run)
    profiler.dump_stats(sys.argv[4])
else:
    server.run()
"""

TURNS = 8
RULES = [
    {
        "match": "forecast",
        "script": [
            {
                "think": "I should look up the next city before answering; the user asked for several.",
                "calls": [{"name": "get_weather", "arguments": {"city": f"City {i}", "days": 3}}],
            }
            for i in range(TURNS)
        ],
    }
]
TOOLS = [
    {
        "type": "function",
        "name": name,
        "description": f"{name} for a city, with a multi-day forecast.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    }
    for name in ("get_weather", "get_air_quality")
]


def request_body() -> dict[str, Any]:
    prompt = "Give me the forecast for these cities and compare them. " + "Details matter here. " * 60
    items: list[dict[str, Any]] = [{"type": "message", "role": "user", "content": prompt}]
    for turn in range(4):
        call_id = f"call_{turn}"
        items += [
            {"type": "reasoning", "id": f"rs_{turn}", "summary": [{"type": "summary_text", "text": "Next city." * 8}]},
            {
                "type": "function_call",
                "id": f"fc_{turn}",
                "call_id": call_id,
                "name": "get_weather",
                "arguments": json.dumps({"city": f"City {turn}", "days": 3}),
                "status": "completed",
            },
            {
                "type": "function_call_output",
                "call_id": call_id,
                "output": json.dumps(
                    {"city": f"City {turn}", "days": [{"t": 20 + d, "rain": 0.1 * d} for d in range(3)]}
                )
                * 4,
            },
        ]
    return {"model": "m", "input": items, "tools": TOOLS, "temperature": 0.7, "max_output_tokens": 512}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def start(
    kind: str, config: dict[str, Any], profile: str | None = None, source: Path = ROOT
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    args = [sys.executable, "-c", SERVE, kind, json.dumps(config), str(port), *([profile] if profile else [])]
    proc = subprocess.Popen(args, cwd=source, env={**os.environ, "PYTHONPATH": str(source)})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{kind} did not start on port {port}")


async def send(url: str, path: str, body: dict[str, Any], requests: int, concurrency: int) -> None:
    payload = json.dumps(body)
    queue = iter(range(requests))
    async with aiohttp.ClientSession(headers={"content-type": "application/json"}) as session:

        async def worker() -> None:
            for _ in queue:
                async with session.post(f"{url}{path}", data=payload) as answer:
                    await answer.read()
                    if answer.status != 200:
                        raise RuntimeError(f"{path} answered {answer.status}: {await answer.text()}")

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def measure(
    name: str, api: str, path: str, body: dict[str, Any], args: argparse.Namespace, upstream: tuple[Any, str]
) -> None:
    upstream_proc, upstream_url = upstream
    config = {"base_url": f"{upstream_url}/v1", "model": "scripted", "api": api}
    profile = f"{args.profile}.{name.split()[0]}-{api}" if args.profile else None
    proxy, url = start("openai", config, profile, args.proxy_source)
    try:
        try:
            asyncio.run(send(url, path, body, 100, args.concurrency))  # warm up: imports, pools
        except RuntimeError as exc:
            print(f"{name:<28} not served: {str(exc)[:100]}")
            return
        proxy_before, upstream_before, started = cpu_s(proxy.pid), cpu_s(upstream_proc.pid), time.monotonic()
        asyncio.run(send(url, path, body, args.requests, args.concurrency))
        elapsed = time.monotonic() - started
        proxy_ms = (cpu_s(proxy.pid) - proxy_before) * 1000 / args.requests
        upstream_ms = (cpu_s(upstream_proc.pid) - upstream_before) * 1000 / args.requests
        print(
            f"{name:<28} proxy {proxy_ms:6.2f} ms CPU/request   scripted model {upstream_ms:6.2f} ms   "
            f"{args.requests / elapsed:7.1f} req/s"
        )
    finally:
        proxy.terminate()
        proxy.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--profile", metavar="FILE", help="write the proxy's cProfile stats to FILE.<mode>")
    parser.add_argument("--proxy-source", metavar="DIR", type=Path, default=ROOT, help="run the proxy from DIR")
    args = parser.parse_args()
    body = request_body()
    print(
        f"request body {len(json.dumps(body))} bytes; {args.requests} requests per mode, {args.concurrency} in flight"
    )
    upstream = start("scripted", {"rules": RULES})
    try:
        measure("responses (pass-through)", "responses", "/v1/responses", body, args, upstream)
        measure("responses via chat", "chat", "/v1/responses", body, args, upstream)
        measure("responses stream (relay)", "responses", "/v1/responses", {**body, "stream": True}, args, upstream)
        chat = {"model": "m", "messages": [{"role": "user", "content": "forecast " + "x " * 400}]}
        measure("chat completions", "chat", "/v1/chat/completions", chat, args, upstream)
    finally:
        upstream[0].terminate()
        upstream[0].wait(timeout=30)


if __name__ == "__main__":
    main()
