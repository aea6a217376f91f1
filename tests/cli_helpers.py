"""Running the real `gymbox` executable in a subprocess, as a user would, and a stand-in agent for it."""

from __future__ import annotations

import json
import resource
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GYMBOX = Path(sys.executable).parent / "gymbox"
WEATHER_CONFIG = ROOT / "environments/example_single_tool_call/configs/example_single_tool_call.yaml"
WEATHER_ROWS = ROOT / "environments/example_single_tool_call/data/example.jsonl"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on: bound, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gymbox(
    *args: str,
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
    open_files: tuple[int, int] | None = None,
    file_size: int | None = None,
) -> subprocess.CompletedProcess[str]:
    """`open_files`: the (soft, hard) limit on open files the command starts with, as a shell's `ulimit -n`.
    `file_size`: the largest file it may write, in bytes (`ulimit -f`); a write past it fails, as on a full disk."""

    def preexec() -> None:
        if open_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, open_files)
        if file_size is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))

    return subprocess.run(
        [str(GYMBOX), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False,
        preexec_fn=preexec,
    )  # fmt: skip


@contextmanager
def fixed_answer_agent(status: int = 200, body: dict[str, Any] | None = None, delay_s: float = 0) -> Iterator[str]:
    """A test double for an agent: answers every `POST /run` with `status` and `body` (default: a verified
    episode with reward 1.0), `delay_s` after reading the request, each on its own thread. Yields its base URL."""
    answer = json.dumps(body if body is not None else {"reward": 1.0, "status": "ok"}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            time.sleep(delay_s)  # so that many requests are open at once
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 1024  # the default 5 would drop the SYNs of a burst of connections

        def handle_error(self, request: Any, client_address: Any) -> None:
            if not isinstance(sys.exc_info()[1], ConnectionError):  # a collector that ended its run hung up
                super().handle_error(request, client_address)

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
