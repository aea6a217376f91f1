"""Run a whole stack in-process, on 127.0.0.1, for tests: real uvicorn servers, real HTTP, no Docker.

    with running_stack(load_config([cfg], model="scripted", assign_ports=False)) as urls:
        httpx.post(f"{urls['my_agent']}/run", json=row)

An environment's own tests use `environment_stack(env_dir)` and the rollout helpers below; they run the
same on the host and inside the environment's image.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.types import ASGIApp

from gymbox.config import ResolvedConfig, load_config
from gymbox.http_client import SERVER_KEEP_ALIVE_S
from gymbox.registry import build_app
from gymbox.roles import Role
from gymbox.servers.http_protocol import BufferedHttpToolsProtocol

_NO_ENV_FILE = Path("/dev/null")  # tests must not pick up a developer's ./env.yaml


class _ThreadServer:
    """One uvicorn server in a daemon thread, on a socket bound beforehand."""

    def __init__(self, app: ASGIApp, sock: socket.socket) -> None:
        self.sock = sock
        host, port = sock.getsockname()[:2]
        self.url = f"http://{host}:{port}"
        self.server = uvicorn.Server(
            uvicorn.Config(
                app,
                log_level="warning",
                lifespan="on",
                http=BufferedHttpToolsProtocol,  # as `gymbox serve`
                timeout_graceful_shutdown=1,
                timeout_keep_alive=SERVER_KEEP_ALIVE_S,
            )
        )
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def wait_started(self) -> None:
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"test server at {self.url} did not start")
            time.sleep(0.01)

    def signal_stop(self) -> None:
        self.server.should_exit = True

    def join(self) -> None:
        self.thread.join(timeout=10)
        self.sock.close()


@contextmanager
def _serving(servers: list[_ThreadServer]) -> Iterator[None]:
    try:
        for server in servers:
            server.start()
        for server in servers:
            server.wait_started()
        yield
    finally:
        for server in servers:  # stop all at once: shutdowns overlap instead of queueing
            server.signal_stop()
        for server in servers:
            if server.thread.ident is not None:  # started
                server.join()
            else:
                server.sock.close()


@contextmanager
def serve_app(app: ASGIApp, sock: socket.socket | None = None) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread; yield its base URL."""
    server = _ThreadServer(app, sock or bound_socket())
    with _serving([server]):
        yield server.url


def bound_socket() -> socket.socket:
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets whose protocol says TCP, and without it
    # every request on a kept-alive connection waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def running_stack(stack: ResolvedConfig, environments: Path | None = None) -> Iterator[dict[str, str]]:
    """Serve every instance of `stack` on free ports of 127.0.0.1; yield {instance: base URL}.

    Ports are bound before any app is built, so agents find their peers at the right addresses.
    """
    sockets = {name: bound_socket() for name in stack.instances}
    try:
        for name, sock in sockets.items():
            stack.instances[name].config.host = "127.0.0.1"
            stack.instances[name].config.port = sock.getsockname()[1]
        servers = [_ThreadServer(build_app(stack, name, environments), sockets[name]) for name in stack.instances]
    except BaseException:
        for sock in sockets.values():
            sock.close()
        raise
    with _serving(servers):
        yield {name: server.url for name, server in zip(stack.instances, servers, strict=True)}


@dataclass
class EnvironmentStack:
    """An environment served with its agent and a model, for its tests (see `environment_stack`)."""

    urls: dict[str, str]  # {instance: base URL}
    agent: str  # the agent's base URL
    resources: str  # the environment's resources server base URL
    client: httpx.Client

    def run(self, row: dict[str, Any], *, status: str | None = "ok") -> dict[str, Any]:
        """One whole rollout through the agent's `POST /run`: its verify response (reward, response, ...)."""
        answer = self.client.post(f"{self.agent}/run", json=row)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        assert status is None or result["status"] == status, result
        return result


@contextmanager
def environment_stack(env_dir: Path, model: str = "scripted") -> Iterator[EnvironmentStack]:
    """Serve an environment folder's config with a built-in model (default: the scripted test double).

    Works from any directory and inside the environment's own image: the folder's parent is taken as
    the environments dir, and the folder's name is the environment's. The config is `configs/<name>.yaml`
    (other files there are further instances, e.g. another build of the environment), else every
    `configs/*.yaml`; it must define one agent.
    """
    env_dir = Path(env_dir).resolve()
    own = env_dir / "configs" / f"{env_dir.name}.yaml"
    configs = [own] if own.is_file() else sorted((env_dir / "configs").glob("*.yaml"))
    stack = load_config(configs, model=model, assign_ports=False, env_file=_NO_ENV_FILE)
    agents = [inst.name for inst in stack.by_role(Role.RESPONSES_API_AGENTS)]
    if len(agents) != 1:
        raise ValueError(f"{env_dir}/configs: expected one agent, found {agents or 'none'}")
    with running_stack(stack, env_dir.parent) as urls, httpx.Client(timeout=60) as client:
        yield EnvironmentStack(urls, urls[agents[0]], urls[env_dir.name], client)


def environment_fixtures(env_dir: Path) -> tuple[Any, Any, Any]:
    """pytest fixtures for an environment's tests: `env, rollout, episode = environment_fixtures(ENV_DIR)`.

    - `env` (module scope): the `EnvironmentStack` of the folder, served with the scripted model;
    - `rollout`: `env.run`, one row through the agent's `/run` (asserts HTTP 200 and status ok);
    - `episode`: an httpx client of the resources server that keeps its session cookie, as the agent does,
      its episode seeded from the first row of `data/example.jsonl` (`/seed_session` again starts another).
    """
    import pytest  # only test code calls this

    @pytest.fixture(scope="module", name="env")
    def env() -> Iterator[EnvironmentStack]:
        with environment_stack(env_dir) as running:
            yield running

    @pytest.fixture(name="rollout")
    def rollout(env: EnvironmentStack) -> Any:
        return env.run

    @pytest.fixture(name="episode")
    def episode(env: EnvironmentStack) -> Iterator[httpx.Client]:
        with httpx.Client(base_url=env.resources, timeout=30) as client:
            # Tools and verify need a live session (a call without one answers 409 session_lost).
            seeded = client.post("/seed_session", json=read_rows(env_dir / "data" / "example.jsonl")[0])
            assert seeded.status_code == 200, seeded.text
            yield client

    return env, rollout, episode


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a JSONL file."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def with_script(row: dict[str, Any], *turns: dict[str, Any]) -> dict[str, Any]:
    """`row` with the scripted model playing `turns` instead of the row's own script."""
    params = {**row["responses_create_params"], "metadata": {"gymbox_script": json.dumps(turns)}}
    return {**row, "responses_create_params": params}


def tool_calls(result: dict[str, Any]) -> list[tuple[str, dict[str, Any], Any]]:
    """Every tool call of a rollout as (name, arguments, JSON output), in the order made."""
    items = result["response"]["output"]
    outputs = {item["call_id"]: json.loads(item["output"]) for item in items if item["type"] == "function_call_output"}
    return [
        (item["name"], json.loads(item["arguments"]), outputs[item["call_id"]])
        for item in items
        if item["type"] == "function_call"
    ]


def final_answer(result: dict[str, Any]) -> str:
    """The text of a rollout's last item, which must be an assistant message."""
    last = result["response"]["output"][-1]
    assert last["type"] == "message", last
    return "".join(part.get("text", "") for part in last["content"])
