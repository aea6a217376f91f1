"""gymbox's uvicorn protocol sends an answer's head and body in one write, and loses nothing on the way."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator

import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, StreamingResponse

from gymbox.servers.http_protocol import _TurnBufferedTransport
from gymbox.testing import serve_app


class RecordingTransport:
    """A test double of an asyncio transport: it records what is written and whether it was closed."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


def buffered() -> tuple[_TurnBufferedTransport, RecordingTransport]:
    inner = RecordingTransport()
    return _TurnBufferedTransport(inner, asyncio.get_running_loop()), inner  # type: ignore[arg-type]


async def test_writes_of_one_loop_turn_leave_as_one() -> None:
    transport, inner = buffered()
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(b"")
    transport.write(memoryview(b"body"))
    assert inner.writes == []
    await asyncio.sleep(0)
    assert inner.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    transport.write(b"next chunk")  # a later turn: a stream's next chunk leaves on its own
    await asyncio.sleep(0)
    assert inner.writes[1:] == [b"next chunk"]


async def test_close_sends_what_is_pending_first() -> None:
    transport, inner = buffered()
    transport.write(b"last answer")
    transport.close()
    assert (inner.writes, inner.closed) == ([b"last answer"], True)
    await asyncio.sleep(0)
    assert inner.writes == [b"last answer"]  # the turn's flush finds nothing left


async def test_nothing_is_written_to_a_closing_transport_and_the_rest_is_the_transports() -> None:
    transport, inner = buffered()
    transport.write(b"too late")
    inner.closed = True  # the client went away within the turn
    await asyncio.sleep(0)
    assert inner.writes == []
    assert transport.get_extra_info("peername") == "info:peername"


def app() -> FastAPI:
    app = FastAPI()

    @app.get("/text")
    async def text() -> PlainTextResponse:
        return PlainTextResponse("x" * 100_000)

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            for i in range(3):
                await asyncio.sleep(0.01)
                yield f"chunk {i};".encode()

        return StreamingResponse(chunks())

    return app


@pytest.fixture(scope="module")
def address() -> Iterator[tuple[str, int]]:
    with serve_app(app()) as url:
        host, port = url.removeprefix("http://").split(":")
        yield host, int(port)


def exchange(address: tuple[str, int], request: bytes) -> bytes:
    """One request on a raw socket; every byte the server sends until it closes."""
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_a_large_answer_and_a_streamed_one_arrive_whole(address: tuple[str, int]) -> None:
    text = exchange(address, b"GET /text HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert text.startswith(b"HTTP/1.1 200 OK\r\n")
    assert text.endswith(b"\r\n\r\n" + b"x" * 100_000)
    streamed = exchange(address, b"GET /stream HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert b"transfer-encoding: chunked" in streamed
    assert streamed.endswith(b"\r\n\r\n8\r\nchunk 0;\r\n8\r\nchunk 1;\r\n8\r\nchunk 2;\r\n0\r\n\r\n")


def test_keep_alive_answers_follow_each_other_in_order(address: tuple[str, int]) -> None:
    request = b"GET /text HTTP/1.1\r\nHost: t\r\n\r\n"
    answer = exchange(address, request * 2 + b"GET /stream HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert answer.count(b"HTTP/1.1 200 OK") == 3
    assert answer.endswith(b"0\r\n\r\n")
