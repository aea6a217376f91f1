"""gymbox's keep-alive HTTP/1.1 client against raw servers on 127.0.0.1 that send exactly the bytes a test needs."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from gymbox.http1 import ConnectionPool, ConnectTimedOut, Disconnected


class RawServer:
    """Answers each request with `answer(n)` (the n-th request overall); counts connections."""

    def __init__(self, answer: Callable[[int], bytes], close_after: bool = False) -> None:
        self.answer = answer
        self.close_after = close_after
        self.connections = 0
        self.requests: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                self.requests.append(head + await reader.readexactly(length))
                writer.write(self.answer(len(self.requests)))
                await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


Serve = Callable[[RawServer], Awaitable[str]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[asyncio.Server] = []

    async def start(raw: RawServer) -> str:
        server = await asyncio.start_server(raw.handle, "127.0.0.1", 0)
        servers.append(server)
        return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"

    yield start
    for server in servers:
        server.close()


def ok(body: bytes, *headers: str) -> bytes:
    head = "".join(f"{h}\r\n" for h in headers)
    return f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{head}\r\n".encode() + body


async def test_sequential_requests_share_one_connection_and_send_body_and_headers(serve: Serve) -> None:
    raw = RawServer(lambda n: ok(b'{"n": %d}' % n))
    url = await serve(raw)
    pool = ConnectionPool(connect_timeout_s=5)
    try:
        first = await pool.request("POST", f"{url}/tool?x=1", b'{"a": 1}', {"Cookie": "s=1"}, timeout_s=5)
        second = await pool.request("POST", f"{url}/verify", b"{}", timeout_s=5)
    finally:
        await pool.close()
    assert (first.status, first.body, second.body) == (200, b'{"n": 1}', b'{"n": 2}')
    assert raw.connections == 1
    assert raw.requests[0].startswith(b"POST /tool?x=1 HTTP/1.1\r\n")
    assert b"\r\nCookie: s=1\r\n" in raw.requests[0]
    assert raw.requests[0].endswith(b'\r\n\r\n{"a": 1}')
    assert f"Host: {url.removeprefix('http://')}".encode() in raw.requests[0]


async def test_headers_are_lower_case_and_each_set_cookie_is_read(serve: Serve) -> None:
    url = await serve(
        RawServer(lambda n: ok(b"{}", "Set-Cookie: a=1; HttpOnly; Path=/", 'Set-Cookie: b="2"', "X-Y: z"))
    )
    pool = ConnectionPool(connect_timeout_s=5)
    try:
        answer = await pool.request("POST", url, timeout_s=5)
    finally:
        await pool.close()
    assert answer.cookies == {"a": "1", "b": "2"}
    assert answer.headers["x-y"] == "z"


async def test_a_chunked_answer_and_one_ended_by_closing_are_read_whole(serve: Serve) -> None:
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    until_close = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it"
    chunked_url = await serve(RawServer(lambda n: chunked))
    close_url = await serve(RawServer(lambda n: until_close, close_after=True))
    pool = ConnectionPool(connect_timeout_s=5)
    try:
        assert (await pool.request("GET", chunked_url, timeout_s=5)).body == b"abcde"
        assert (await pool.request("GET", close_url, timeout_s=5)).body == b"all of it"
    finally:
        await pool.close()


async def test_a_server_that_closes_after_answering_gets_a_new_connection(serve: Serve) -> None:
    raw = RawServer(lambda n: ok(b"{}", "Connection: close"), close_after=True)
    url = await serve(raw)
    pool = ConnectionPool(connect_timeout_s=5)
    try:
        for _ in range(3):
            assert (await pool.request("POST", url, timeout_s=5)).status == 200
    finally:
        await pool.close()
    assert raw.connections == 3


async def test_idle_connections_past_keep_alive_are_not_reused(serve: Serve) -> None:
    raw = RawServer(lambda n: ok(b"{}"))
    url = await serve(raw)
    pool = ConnectionPool(connect_timeout_s=5, keepalive_s=0.05)
    try:
        await pool.request("POST", url, timeout_s=5)
        await asyncio.sleep(0.1)
        await pool.request("POST", url, timeout_s=5)
    finally:
        await pool.close()
    assert raw.connections == 2


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\ntorn",  # closed mid-body
        b"not http at all\r\n\r\n",
    ],
)
async def test_a_torn_or_garbled_answer_is_a_disconnection(serve: Serve, answer: bytes) -> None:
    url = await serve(RawServer(lambda n: answer, close_after=True))
    pool = ConnectionPool(connect_timeout_s=5)
    try:
        with pytest.raises(Disconnected):
            await pool.request("POST", url, timeout_s=5)
    finally:
        await pool.close()


async def test_a_timed_out_exchange_is_not_reused(serve: Serve) -> None:
    slow = RawServer(lambda n: b"")  # reads the request, never answers
    url = await serve(slow)
    pool = ConnectionPool(connect_timeout_s=5)
    try:
        with pytest.raises(TimeoutError):
            await pool.request("POST", url, timeout_s=0.2)
        with pytest.raises(TimeoutError):
            await pool.request("POST", url, timeout_s=0.2)
    finally:
        await pool.close()
    assert slow.connections == 2  # the first connection's answer might still come: never read it as the second's


@pytest.fixture
def unanswered_url() -> Iterator[str]:
    """A port whose accept queue is full: the kernel drops further SYNs, so a connect hangs as to a dead host."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port))  # the one connection a backlog of 0 takes
    yield f"http://127.0.0.1:{port}/x"
    filler.close()
    listener.close()


async def test_a_connect_past_the_connect_timeout_is_a_connect_timeout(unanswered_url: str) -> None:
    pool = ConnectionPool(connect_timeout_s=0.2)
    with pytest.raises(ConnectTimedOut, match=r"0\.2 s"):
        await pool.request("POST", unanswered_url, timeout_s=30)
    with pytest.raises(ConnectTimedOut):  # no deadline for the request: the connect timeout still holds
        await pool.request("POST", unanswered_url)


async def test_a_request_deadline_before_the_connect_timeout_ends_the_connect_as_a_timeout(
    unanswered_url: str,
) -> None:
    pool = ConnectionPool(connect_timeout_s=30)
    with pytest.raises(TimeoutError):  # not a connect failure: the peer may be fine, the request ran out of time
        await pool.request("POST", unanswered_url, timeout_s=0.2)


async def test_a_header_with_a_line_break_is_refused_before_sending(serve: Serve) -> None:
    raw = RawServer(lambda n: ok(b"{}"))
    url = await serve(raw)
    pool = ConnectionPool(connect_timeout_s=5)
    try:
        with pytest.raises(ValueError, match="line break"):
            await pool.request("POST", url, headers={"Cookie": "s=1\r\nX-Admin: 1"}, timeout_s=5)
    finally:
        await pool.close()
    assert raw.requests == []


@pytest.mark.parametrize("url", ["ftp://host/x", "http://user:pw@host/x", "http:///x"])
async def test_urls_it_cannot_use_are_refused(url: str) -> None:
    pool = ConnectionPool(connect_timeout_s=5)
    with pytest.raises(ValueError, match="URL"):
        await pool.request("GET", url, timeout_s=5)
