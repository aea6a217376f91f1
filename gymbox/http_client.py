"""The hot-path HTTP client: agent -> model/resources and collector -> agent.

Over `gymbox.http1`'s keep-alive pool, not httpx or aiohttp: on this kind of machine httpx's pool fell from
860 to ~115 req/s at 64 in flight, and aiohttp spent about six times the CPU per request of the lean client
(`benchmarks/bench_http_client.py`). One `PeerClient` per process, shared by every request.
Cookies are handled by hand (no jar), because one process runs many episodes at once and each episode's
session cookie must travel only with that episode's calls.

Every failure comes out as an `UpstreamError` with its `FailureKind`; every connection has a connect
timeout, so a dead replica (packets dropped, sockets stuck in SYN_SENT) fails in seconds, not minutes.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from gymbox import json_codec
from gymbox.errors import FailureKind, UpstreamError
from gymbox.host_addresses import HostAddresses
from gymbox.http1 import ConnectFailed, ConnectionPool, ConnectTimedOut, Disconnected
from gymbox.retry import CONNECTING, RetryPolicy

# A pooled connection must be dropped by the client before the server closes it, or a request can race
# the close and fail. uvicorn's default keep-alive is 5 s; gymbox servers keep connections
# SERVER_KEEP_ALIVE_S and its clients CLIENT_KEEP_ALIVE_S.
SERVER_KEEP_ALIVE_S = 75
CLIENT_KEEP_ALIVE_S = 30.0
# Connecting on a local network takes milliseconds; 10 s leaves room for a loaded host dropping SYNs
# (the kernel resends after 1 s and 3 s) and still takes a dead peer out long before a request timeout.
CONNECT_TIMEOUT_S = 10.0
# A peer that is (re)starting refuses connections for a few seconds: resend what it never received.
CONNECT_RETRY = RetryPolicy(attempts=4, base_s=0.25, cap_s=8.0, retry_on=CONNECTING)
_SERVER_ERROR_STATUSES = frozenset({408, 429})
JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass
class PeerResponse:
    status: int
    body: Any
    cookies: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def error_text(self) -> str:
        if isinstance(self.body, dict) and "error" in self.body:
            err = self.body["error"]
            if isinstance(err, dict) and isinstance(err.get("message"), str):  # OpenAI's shape (model servers)
                return str(err["message"])
            return err if isinstance(err, str) else json.dumps(err)
        return self.body if isinstance(self.body, str) else json.dumps(self.body)

    def error_kind(self) -> str | None:
        """The `kind` an error answer names, at the top level or under `detail`."""
        if not isinstance(self.body, dict):
            return None
        detail = self.body.get("detail")
        kind = self.body.get("kind") or (detail.get("kind") if isinstance(detail, dict) else None)
        return kind if isinstance(kind, str) else None

    def failure(self) -> FailureKind | None:
        """None for a 2xx answer; else why it failed: a lost session (409 `session_lost`), a server error
        (5xx, 429, 408), or the request rejected (any other 4xx)."""
        if self.ok:
            return None
        if self.status == 409 and self.error_kind() == FailureKind.SESSION_LOST:
            return FailureKind.SESSION_LOST
        if self.status >= 500 or self.status in _SERVER_ERROR_STATUSES:
            return FailureKind.SERVER_ERROR
        return FailureKind.REJECTED


class PeerClient:
    """POST JSON to peers over pooled keep-alive connections (`gymbox.http1`).

    Failures to connect are retried by `retry` (by default a few times, for a peer that is restarting).
    HTTP error statuses are returned, not raised: callers decide (see `PeerResponse.failure`).
    """

    def __init__(
        self,
        *,
        timeout_s: float = 600.0,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        retry: RetryPolicy = CONNECT_RETRY,
    ) -> None:
        self.connect_timeout_s = connect_timeout_s
        self.timeout_s = timeout_s
        self.retry = retry
        self._pool = ConnectionPool(
            connect_timeout_s=connect_timeout_s, keepalive_s=CLIENT_KEEP_ALIVE_S, addresses=ADDRESSES
        )

    async def close(self) -> None:
        await self._pool.close()

    async def post(
        self, url: str, payload: Any, *, cookies: dict[str, str] | None = None, timeout_s: float | None = None
    ) -> PeerResponse:
        """The peer's answer, whatever its status. Raises `UpstreamError` when there is no answer."""
        headers = JSON_HEADERS
        if cookies:
            headers = {**JSON_HEADERS, "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
        body = json_codec.dumps(payload)

        async def attempt(_n: int) -> PeerResponse:
            return await self._post_once(url, body, headers, timeout_s or self.timeout_s)

        return await self.retry.call(attempt)

    async def _post_once(self, url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> PeerResponse:
        try:
            answer = await self._pool.request("POST", url, body, headers, timeout_s=timeout_s)
        except ConnectTimedOut as exc:  # before ConnectFailed: it is one
            raise UpstreamError(
                f"cannot reach {url}: no connection within {self.connect_timeout_s:g} s (is the peer down?)",
                kind=FailureKind.CONNECT_TIMEOUT,
            ) from exc
        except ConnectFailed as exc:
            raise UpstreamError(f"cannot reach {url}: {exc}", kind=FailureKind.UNREACHABLE) from exc
        except TimeoutError as exc:
            raise UpstreamError(f"{url} did not answer within the timeout", kind=FailureKind.TIMEOUT) from exc
        except Disconnected as exc:  # disconnected, reset, a torn answer
            raise UpstreamError(
                f"connection to {url} lost before an answer: {exc}", kind=FailureKind.DISCONNECTED
            ) from exc
        raw = answer.body
        try:
            parsed: Any = json_codec.loads(raw) if raw else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            parsed = raw.decode(errors="replace")
        return PeerResponse(answer.status, parsed, answer.cookies)


class DownReplicas:
    """Replicas that stopped answering, each out of rotation for a cool-down that doubles (up to `cap_s`)
    while it keeps failing. After its cool-down a replica is tried again, so one that comes back rejoins."""

    def __init__(self, first_s: float = 2.0, cap_s: float = 60.0) -> None:
        self.first_s = first_s
        self.cap_s = cap_s
        self._until: dict[str, float] = {}
        self._strikes: dict[str, int] = {}

    def mark_down(self, replica: str) -> None:
        strikes = self._strikes.get(replica, 0) + 1
        self._strikes[replica] = strikes
        self._until[replica] = time.monotonic() + min(self.cap_s, self.first_s * 2 ** (strikes - 1))

    def mark_up(self, replica: str) -> None:
        if replica in self._strikes:
            del self._strikes[replica], self._until[replica]

    def is_down(self, replica: str) -> bool:
        return self._until.get(replica, 0.0) > time.monotonic()

    def available(self, replicas: Sequence[str]) -> list[str]:
        """The replicas in rotation, in the given order; when every one is out, the one back soonest."""
        up = [r for r in replicas if not self.is_down(r)]
        if up or not replicas:
            return up
        return [min(replicas, key=lambda r: self._until.get(r, 0.0))]


# A lookup is a thread-pool job and, in a container, a DNS query: once per episode it was half the agent's
# CPU. One cache per process, for pinning episodes and for every PeerClient's new connections.
ADDRESSES = HostAddresses()


async def _resolve(host: str, port: int, down: DownReplicas | None) -> list[str]:
    """The host's IPv4 addresses, from a recent lookup while one of them is not down (a replica that
    restarted on a new address is found at once)."""
    addresses = await ADDRESSES.addresses(host, port)
    if down is not None and all(down.is_down(a) for a in addresses):
        ADDRESSES.forget(host, port)
        addresses = await ADDRESSES.addresses(host, port)
    return sorted(a for a in addresses if ":" not in a)  # getaddrinfo's IPv6 addresses, scoped or not, hold a colon


async def pin_replica(url: str, down: DownReplicas | None = None) -> str:
    """Resolve the URL's host and pick one address, so a whole episode stays on one replica.

    Compose service names resolve to every replica; episode state lives in one replica's memory.
    Addresses in `down` are avoided while others remain.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 80
    try:
        addresses = await _resolve(host, port, down)
    except OSError:
        return url  # let the request itself report the failure
    if len(addresses) <= 1:
        return url
    if down is not None:
        addresses = down.available(addresses)
    return urlunsplit(parts._replace(netloc=f"{random.choice(addresses)}:{port}"))
