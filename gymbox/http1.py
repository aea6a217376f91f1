"""A lean HTTP/1.1 client for the hops every rollout makes: pooled keep-alive connections, answers parsed by
httptools (the C parser uvicorn uses on the server side).

Why not aiohttp on these hops: a rollout makes six to eight requests (collector -> agent, agent -> model
and environment, model proxy -> policy), and aiohttp's client spends about 300 µs of CPU on each (request
and response objects, multidicts, URL objects, timers, trace hooks) where this one spends about 50 µs
(`benchmarks/bench_http_client.py`). It does only what those hops need: one request with a whole body, the
whole answer read into memory, over http or https. No redirects, proxies, cookie jar, compression or
streaming: aiohttp still relays the model proxy's streams.

Failures come out as `ConnectFailed` (no connection: refused, unknown host, `ConnectTimedOut`),
`Disconnected` (the connection broke before the whole answer) or `TimeoutError` (no whole answer in time).
A request is sent once; retrying is the caller's choice (`gymbox.retry`).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple, cast

import httptools

from gymbox.host_addresses import HostAddresses

# Idle connections older than this are not reused; gymbox servers keep theirs open longer (see http_client),
# so the server never closes a connection the client is about to reuse.
DEFAULT_KEEPALIVE_S = 30.0


class ConnectFailed(Exception):
    """No connection to the peer: refused, unknown host, network unreachable."""


class ConnectTimedOut(ConnectFailed):
    """No connection within the connect timeout: the peer's host is down or drops packets."""


class Disconnected(Exception):
    """The connection closed, broke, or carried something other than HTTP before the whole answer came."""


@dataclass(slots=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value
    cookies: dict[str, str]  # name -> value of each Set-Cookie
    body: bytes


class _Target(NamedTuple):
    key: tuple[str, str, int]  # scheme, host, port: the pool a connection belongs to
    host_header: str
    path: str


@lru_cache(maxsize=4096)
def _target(url: str) -> _Target:
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("http", "https"):
        raise ValueError(f"not an http(s) URL: {url!r}")
    netloc, slash, path = rest.partition("/")
    host, port = netloc, 443 if scheme == "https" else 80
    try:
        if "@" in netloc:
            raise ValueError("credentials in a URL")
        if netloc.startswith("["):  # an IPv6 literal
            end = netloc.index("]")
            host, tail = netloc[1:end], netloc[end + 1 :]
            if tail.startswith(":"):
                port = int(tail[1:])
        elif ":" in netloc:
            host, _, port_text = netloc.rpartition(":")
            port = int(port_text)
        if not host:
            raise ValueError("no host")
    except ValueError as exc:
        raise ValueError(f"not a usable URL: {url!r} ({exc})") from None
    return _Target((scheme, host, port), netloc, slash + path)


class _Connection(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._waiter: asyncio.Future[Answer] | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._headers: dict[str, str] = {}
        self._cookies: dict[str, str] = {}
        self._body: list[bytes] = []
        self._headers_done = False
        self._sized = False  # the answer says where it ends (Content-Length or chunked)
        self._keep_alive = False

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio's classes

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # bytes nobody asked for: the stream cannot be trusted any more
            self.close()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(Disconnected(f"the answer is not valid HTTP: {exc}"))

    def eof_received(self) -> bool | None:
        return None  # close the transport: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            if self._headers_done and not self._sized:  # an answer delimited by the connection's close
                self._complete()
            else:
                self._fail(Disconnected(f"the connection closed before the whole answer ({exc or 'EOF'})"))

    # -- httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        if key == "set-cookie":
            pair = text.split(";", 1)[0]
            cookie, eq, cookie_value = pair.partition("=")
            if eq:
                self._cookies[cookie.strip()] = cookie_value.strip().strip('"')
        elif key in ("content-length", "transfer-encoding"):
            self._sized = True
        self._headers[key] = text

    def on_headers_complete(self) -> None:
        self._headers_done = True

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._keep_alive = self._parser.should_keep_alive()
        self._complete()

    # -- the exchange

    async def exchange(self, request: bytes, deadline: float | None) -> Answer:
        """Send `request`; its answer, or TimeoutError at `deadline` (the loop's clock)."""
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Answer] = loop.create_future()
        self._waiter = waiter
        # A timer on the one future, not asyncio.timeout: a third of the CPU, on every request.
        timer = None if deadline is None else loop.call_at(deadline, self._time_out)
        self.transport.write(request)
        try:
            return await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    def _time_out(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(TimeoutError())

    @property
    def reusable(self) -> bool:
        return self._keep_alive and not self.closed

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _complete(self) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        waiter.set_result(Answer(self._parser.get_status_code(), self._headers, self._cookies, b"".join(self._body)))
        self._reset()

    def _fail(self, exc: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)
        self.close()

    def _reset(self) -> None:
        # The parser stays: llhttp starts on the next answer of a kept-alive connection by itself.
        self._headers, self._cookies, self._body = {}, {}, []
        self._headers_done = self._sized = False


class ConnectionPool:
    """Keep-alive connections per (scheme, host, port), reused most-recent first; no cap on their number
    (callers bound their own concurrency)."""

    def __init__(
        self,
        *,
        connect_timeout_s: float,
        keepalive_s: float = DEFAULT_KEEPALIVE_S,
        addresses: HostAddresses | None = None,  # shared with other pools of the process; else its own
    ) -> None:
        self.connect_timeout_s = connect_timeout_s
        self.keepalive_s = keepalive_s
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._busy: set[_Connection] = set()
        self._ssl: ssl.SSLContext | None = None
        self._addresses = addresses or HostAddresses()

    async def request(
        self,
        method: str,
        url: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        timeout_s: float | None = None,
    ) -> Answer:
        """Send one request and read its whole answer, whatever its status; see the module docstring for
        what is raised instead. `timeout_s` bounds the whole exchange, connecting included."""
        target = _target(url)
        request = _request_bytes(method, target, body, headers)
        loop = asyncio.get_running_loop()
        deadline = None if timeout_s is None else loop.time() + timeout_s
        connection = self._idle_connection(target.key)
        if connection is None:
            connection = await self._connect(target.key, deadline)
        self._busy.add(connection)
        try:
            answer = await connection.exchange(request, deadline)
        except BaseException:  # a timeout or cancellation mid-answer leaves the stream unusable
            connection.close()
            raise
        finally:
            self._busy.discard(connection)
        if connection.reusable:
            connection.idle_since = time.monotonic()
            self._idle.setdefault(target.key, []).append(connection)
        else:
            connection.close()
        return answer

    async def close(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        for connection in self._busy:
            connection.close()
        self._idle.clear()
        self._busy.clear()

    def _idle_connection(self, key: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        if not idle:
            return None
        oldest_kept = time.monotonic() - self.keepalive_s
        while idle:
            connection = idle.pop()
            if not connection.closed and connection.idle_since > oldest_kept:
                if idle and idle[0].idle_since <= oldest_kept:  # the oldest are first: drop expired ones
                    self._drop_expired(idle, oldest_kept)
                return connection
            connection.close()
        return None

    @staticmethod
    def _drop_expired(idle: list[_Connection], oldest_kept: float) -> None:
        expired = 0
        while expired < len(idle) and idle[expired].idle_since <= oldest_kept:
            idle[expired].close()
            expired += 1
        del idle[:expired]

    async def _connect(self, key: tuple[str, str, int], deadline: float | None) -> _Connection:
        """A new connection within the connect timeout; TimeoutError if the request's `deadline` comes first."""
        scheme, host, port = key
        # One timer for both limits: a first wave of a thousand rollouts opens thousands of connections at once.
        connect_by = asyncio.get_running_loop().time() + self.connect_timeout_s
        request_limits = deadline is not None and deadline < connect_by
        try:
            async with asyncio.timeout_at(deadline if request_limits else connect_by):
                connection = await self._connect_to_any(scheme, host, port)
        except TimeoutError:
            if request_limits:
                raise
            self._addresses.forget(host, port)
            raise ConnectTimedOut(f"no connection within {self.connect_timeout_s:g} s") from None
        except OSError as exc:  # refused, unreachable, unknown host, a TLS handshake refused
            self._addresses.forget(host, port)
            raise ConnectFailed(str(exc) or type(exc).__name__) from exc
        return connection

    async def _connect_to_any(self, scheme: str, host: str, port: int) -> _Connection:
        """The first of the host's addresses that takes a connection, as `loop.create_connection` would
        try them, but from the looked-up addresses this pool keeps."""
        loop = asyncio.get_running_loop()
        tls = self._tls_context() if scheme == "https" else None
        failed: list[OSError] = []
        for address in await self._addresses.addresses(host, port):
            try:
                transport, connection = await loop.create_connection(
                    _Connection, address, port, ssl=tls, server_hostname=host if tls else None
                )
            except OSError as exc:
                failed.append(exc)
                continue
            if failed:  # one of its addresses is gone (a stopped replica): look the name up next time
                self._addresses.forget(host, port)
            connection.transport = transport  # uvloop may call connection_made only after this returns
            return connection
        raise failed[-1]

    def _tls_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl


def _request_bytes(method: str, target: _Target, body: bytes, headers: Mapping[str, str] | None) -> bytes:
    head = f"{method} {target.path} HTTP/1.1\r\nHost: {target.host_header}\r\nContent-Length: {len(body)}\r\n"
    if headers:
        extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        if extra.count("\n") != len(headers) or extra.count("\r") != len(headers):
            raise ValueError("an HTTP header name or value holds a line break")  # it would smuggle its own lines
        head += extra
    return f"{head}\r\n".encode("latin-1") + body
