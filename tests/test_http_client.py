"""The peer HTTP client against real sockets on 127.0.0.1: each way a peer can fail comes out typed."""

import asyncio
import socket
from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from gymbox.errors import FailureKind, UpstreamError
from gymbox.http_client import DownReplicas, PeerClient, PeerResponse, pin_replica
from gymbox.retry import RetryPolicy
from gymbox.testing import bound_socket, serve_app

ONCE = RetryPolicy(attempts=1)


@pytest.fixture
def silent_host() -> Iterator[str]:
    """A port whose SYNs go unanswered, as a dead host's or a vanished container's do: the listen
    backlog is full and never drained, so the kernel drops new connection attempts."""
    listener = bound_socket()
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    yield f"http://127.0.0.1:{port}"
    for sock in [*fillers, listener]:
        sock.close()


async def failure_of(url: str, **client_options: object) -> UpstreamError:
    client = PeerClient(retry=ONCE, **client_options)  # type: ignore[arg-type]
    try:
        with pytest.raises(UpstreamError) as failed:
            await client.post(url, {})
    finally:
        await client.close()
    return failed.value


async def test_a_host_that_never_answers_the_connect_is_unreachable_not_a_stall(silent_host: str) -> None:
    await asyncio.sleep(0.1)  # let the fillers take the backlog
    error = await failure_of(f"{silent_host}/run", timeout_s=60, connect_timeout_s=0.5)
    assert error.kind is FailureKind.CONNECT_TIMEOUT  # long before the 60 s request timeout
    assert "no connection within 0.5 s" in str(error)


async def test_a_refused_connection_is_unreachable() -> None:
    closed = bound_socket()  # bound, never listening
    try:
        error = await failure_of(f"http://127.0.0.1:{closed.getsockname()[1]}/run")
    finally:
        closed.close()
    assert error.kind is FailureKind.UNREACHABLE
    assert "cannot reach" in str(error)


async def test_a_peer_that_closes_mid_request_is_disconnected() -> None:
    server = await asyncio.start_server(_read_then_close, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        error = await failure_of(f"http://127.0.0.1:{port}/run")
    assert error.kind is FailureKind.DISCONNECTED


async def _read_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(100)
    writer.close()


async def test_no_answer_within_the_timeout_is_a_timeout() -> None:
    slow = FastAPI()

    @slow.post("/run")
    async def run() -> dict:
        await asyncio.sleep(5)
        return {}

    with serve_app(slow) as url:
        error = await failure_of(f"{url}/run", timeout_s=0.3)
    assert error.kind is FailureKind.TIMEOUT


@pytest.mark.parametrize(
    ("status", "body", "failure"),
    [
        (200, {}, None),
        (409, {"error": "unknown or expired session", "kind": "session_lost"}, FailureKind.SESSION_LOST),
        (409, {"error": "conflict"}, FailureKind.REJECTED),
        (422, {"error": "invalid arguments"}, FailureKind.REJECTED),
        (429, {"error": "slow down"}, FailureKind.SERVER_ERROR),
        (502, {"error": "x", "detail": {"kind": "infra_error"}}, FailureKind.SERVER_ERROR),
        (500, "Internal Server Error", FailureKind.SERVER_ERROR),
    ],
)
def test_an_answer_says_how_it_failed(status: int, body: object, failure: FailureKind | None) -> None:
    assert PeerResponse(status, body).failure() is failure


def test_a_down_replica_leaves_rotation_for_a_doubling_cool_down(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr("gymbox.http_client.time.monotonic", lambda: now[0])
    down = DownReplicas(first_s=2.0, cap_s=5.0)
    replicas = ["a", "b"]
    down.mark_down("a")
    assert down.available(replicas) == ["b"]
    now[0] += 2.0
    assert down.available(replicas) == ["a", "b"]  # tried again after its cool-down
    down.mark_down("a")  # still dead: twice as long
    now[0] += 3.0
    assert down.available(replicas) == ["b"]
    down.mark_down("b")  # every replica out: the one back soonest rather than none
    assert down.available(replicas) == ["a"]
    down.mark_up("a")
    assert down.available(replicas) == ["a"]


async def test_an_episode_is_pinned_to_a_replica_that_is_not_down(monkeypatch: pytest.MonkeyPatch) -> None:
    async def two_replicas(host: str, port: int, **_: object) -> list[tuple]:
        # What compose DNS answers for a service with two replicas (resolution only: nothing is sent).
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in ("172.30.0.2", "172.30.0.3")]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", two_replicas)
    down = DownReplicas()
    url = "http://toy:8000"
    assert {await pin_replica(url, down) for _ in range(50)} == {"http://172.30.0.2:8000", "http://172.30.0.3:8000"}
    down.mark_down("172.30.0.2")
    assert {await pin_replica(url, down) for _ in range(50)} == {"http://172.30.0.3:8000"}


async def test_replicas_restarted_on_new_addresses_are_found_despite_the_address_cache(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = {"ips": ("172.31.0.2", "172.31.0.3")}

    async def replicas(host: str, port: int, **_: object) -> list[tuple]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in answers["ips"]]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", replicas)
    down = DownReplicas()
    url = "http://restarting:8000"
    assert {await pin_replica(url, down) for _ in range(50)} == {"http://172.31.0.2:8000", "http://172.31.0.3:8000"}
    answers["ips"] = ("172.31.0.8", "172.31.0.9")  # both came back elsewhere; the old addresses refuse
    down.mark_down("172.31.0.2")
    down.mark_down("172.31.0.3")
    assert {await pin_replica(url, down) for _ in range(50)} == {"http://172.31.0.8:8000", "http://172.31.0.9:8000"}
