"""The hot-path HTTP client: agent -> model/resources and collector -> agent.

aiohttp, not httpx: on this kind of machine httpx's pool fell from 860 to ~115 req/s at 64 in flight while
aiohttp held thousands (DESIGN.md §8). One `PeerClient` per process, shared by every request.
Cookies are handled by hand (no jar), because one process runs many episodes at once and each episode's
session cookie must travel only with that episode's calls.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from gymbox.errors import UpstreamError

_RETRYABLE_STATUS = {429, 502, 503, 504}
# A pooled connection must be dropped by the client before the server closes it, or a request can race
# the close and fail with "Can not write request body". uvicorn's default keep-alive is 5 s against
# aiohttp's 15 s; gymbox servers keep connections SERVER_KEEP_ALIVE_S and its clients CLIENT_KEEP_ALIVE_S.
SERVER_KEEP_ALIVE_S = 75
CLIENT_KEEP_ALIVE_S = 30.0


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
            return err if isinstance(err, str) else json.dumps(err)
        return self.body if isinstance(self.body, str) else json.dumps(self.body)


class PeerClient:
    """POST JSON to peers over one pooled aiohttp session.

    `connect_retries` covers a peer that is (re)starting: connection refused/reset is retried with
    exponential backoff and jitter. HTTP error statuses are returned, not raised: callers decide.
    """

    def __init__(self, *, timeout_s: float = 600.0, connect_retries: int = 3, limit: int = 0) -> None:
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.connect_retries = connect_retries
        self._limit = limit
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # limit=0: no cap on pooled connections; callers bound concurrency themselves.
            connector = aiohttp.TCPConnector(limit=self._limit, ttl_dns_cache=10, keepalive_timeout=CLIENT_KEEP_ALIVE_S)
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self.timeout, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(
        self, url: str, payload: Any, *, cookies: dict[str, str] | None = None, timeout_s: float | None = None
    ) -> PeerResponse:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else None
        timeout = aiohttp.ClientTimeout(total=timeout_s) if timeout_s else None
        for attempt in range(self.connect_retries + 1):
            try:
                async with self.session.post(url, json=payload, headers=headers, timeout=timeout) as resp:
                    text = await resp.text()
                    try:
                        body: Any = json.loads(text) if text else None
                    except json.JSONDecodeError:
                        body = text
                    return PeerResponse(resp.status, body, {k: m.value for k, m in resp.cookies.items()})
            except (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError) as exc:
                if attempt == self.connect_retries:
                    raise UpstreamError(f"cannot reach {url}: {exc}", retryable=True) from exc
                await asyncio.sleep(backoff_delay(attempt))
            except TimeoutError as exc:
                raise UpstreamError(f"{url} did not answer within the timeout", retryable=True) from exc
            except aiohttp.ClientError as exc:
                raise UpstreamError(f"request to {url} failed: {exc}", retryable=True) from exc
        raise AssertionError("unreachable")


def backoff_delay(attempt: int, base: float = 0.25, cap: float = 8.0) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
    return random.uniform(0, min(cap, base * 2**attempt))


def is_retryable_status(status: int) -> bool:
    return status in _RETRYABLE_STATUS or status >= 500


async def pin_replica(url: str) -> str:
    """Resolve the URL's host once and pick one address, so a whole episode stays on one replica.

    Compose service names resolve to every replica; episode state lives in one replica's memory.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 80
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return url  # let the request itself report the failure
    addresses = sorted({info[4][0] for info in infos if info[0] == socket.AF_INET})
    if len(addresses) <= 1:
        return url
    return urlunsplit(parts._replace(netloc=f"{random.choice(addresses)}:{port}"))
