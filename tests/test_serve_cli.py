"""The README's hand-started stack: three `gymbox serve` processes, then `curl` to the agent's /run."""

import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from gymbox.config import load_config
from tests.cli_helpers import free_port

ROOT = Path(__file__).resolve().parents[1]
CONFIG = "environments/example_single_tool_call/configs/example_single_tool_call.yaml"


def wait_healthy(url: str, procs: list[subprocess.Popen], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                raise AssertionError(f"a server exited: {proc.args}\n{proc.stderr.read() if proc.stderr else ''}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never became healthy")


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_three_hand_started_servers_answer_run_with_a_reward() -> None:
    stack = load_config([ROOT / CONFIG], model="scripted")
    names = ["example_single_tool_call", "policy_model", "example_single_tool_call_simple_agent"]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "gymbox.cli", "serve", "-c", CONFIG, "-m", "scripted", "--name", name],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    try:
        for name in names:
            wait_healthy(stack.instance(name).url, procs)
        agent = stack.instance("example_single_tool_call_simple_agent").url
        row = (ROOT / "environments/example_single_tool_call/data/example.jsonl").read_text().splitlines()[0]
        curl = subprocess.run(
            ["curl", "-s", f"{agent}/run", "-H", "content-type: application/json", "-d", row],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        body = json.loads(curl.stdout)
        assert body["reward"] == 1.0
        assert body["status"] == "ok"
        assert body["response"]["output"][-1]["type"] == "message"
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)
            if proc.stderr:
                proc.stderr.close()


@contextmanager
def policy_model_server(preexec_fn: Callable[[], None] | None = None) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """A real `gymbox serve` of the scripted policy model on a free port, once healthy: (process, port)."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gymbox.cli", "serve", "-c", CONFIG, "-m", "scripted", "--name", "policy_model",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, preexec_fn=preexec_fn,
    )  # fmt: skip
    try:
        wait_healthy(f"http://127.0.0.1:{port}", [server])
        yield server, port
    finally:
        server.terminate()
        server.wait(timeout=10)
        assert server.stderr is not None
        server.stderr.close()


def test_a_server_holds_more_connections_than_the_soft_open_file_limit_it_started_with() -> None:
    # Many shells start with a soft limit of 1,024 open files; here 256, and 400 peers connected at once.
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < 1024:
        pytest.skip(f"the hard limit on open files here ({hard}) is below what this test needs")
    peers: list[socket.socket] = []
    with policy_model_server(lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))) as (_, port):
        try:
            for _ in range(400):  # every connection stays open, as a peer's kept-alive one does
                peer = socket.create_connection(("127.0.0.1", port), timeout=10)
                peer.sendall(b"GET /health HTTP/1.1\r\nHost: peer\r\n\r\n")
                peers.append(peer)
            answered = sum(1 for peer in peers if peer.recv(64).startswith(b"HTTP/1.1 200"))
            assert answered == len(peers)
        finally:
            for peer in peers:
                peer.close()


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="no SCHED_BATCH on this platform")
def test_a_server_runs_every_thread_as_batch_work() -> None:
    with policy_model_server() as (server, _):
        threads = [int(tid) for tid in os.listdir(f"/proc/{server.pid}/task")]
        assert {os.sched_getscheduler(tid) for tid in threads} == {os.SCHED_BATCH}
