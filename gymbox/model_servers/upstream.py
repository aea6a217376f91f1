"""The proxy's client of its upstream OpenAI-compatible server: JSON bytes in and out, retries.

Not the `openai` client: per call it builds pydantic request options, an httpx URL, headers and request,
and runs them through an httpx transport over aiohttp. A proxy sends one JSON body and passes bytes on;
in a profile that machinery was the largest share of the proxy's CPU, and without it (and with answers
forwarded unparsed) `benchmarks/bench_model_proxy.py` measures 40-55 % less per request. Whole answers
come over `gymbox.http1`'s pool, as on gymbox's other hops; streams over aiohttp, which relays them.

Retries follow gymbox's one `RetryPolicy`, which the proxy shapes like the `openai` client's: 408, 409,
429, 5xx and connection errors or timeouts are retried while it has attempts left; `x-should-retry:
true|false` decides when sent; the wait is `retry-after-ms` or `retry-after` (seconds or an HTTP date)
when 0 < wait <= 60 s, else the policy's backoff (from 0.5 s capped at 8 s, minus up to 25 % jitter).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import aiohttp

from gymbox import json_codec
from gymbox.errors import FailureKind
from gymbox.http1 import ConnectFailed, ConnectionPool, Disconnected
from gymbox.http_client import CLIENT_KEEP_ALIVE_S, CONNECT_TIMEOUT_S
from gymbox.retry import RetryPolicy

_MAX_RETRY_AFTER_S = 60.0
_RETRIED_STATUSES = frozenset({408, 409, 429})
T = TypeVar("T")


class UpstreamStatusError(Exception):
    """The upstream answered an error status (after any retries)."""

    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        # OpenAI and recent vLLM nest the error; older vLLM sends it flat.
        error = parsed.get("error") if isinstance(parsed, dict) else None
        self.body: dict[str, Any] = error if isinstance(error, dict) else parsed if isinstance(parsed, dict) else {}
        message = self.body.get("message")
        self.message = message if isinstance(message, str) else body.decode(errors="replace")[:1000]
        super().__init__(f"{status}: {self.message}")


class UpstreamUnreachable(Exception):
    """No answer: connection refused or reset, or a timeout (after any retries)."""


class UpstreamClient:
    """POST JSON to one OpenAI-compatible base URL over pooled connections, made on first use."""

    def __init__(self, base_url: str, api_key: str, *, retry: RetryPolicy, timeout_s: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry
        # Connecting is bounded on its own, as on every hop: a dead upstream fails in seconds. A whole answer
        # has `timeout_s` from sending; a stream `timeout_s` per read, as the openai client's: a long stream is
        # fine while bytes flow.
        connect_s = min(timeout_s, CONNECT_TIMEOUT_S)
        self._timeout_s = timeout_s
        self._pool = ConnectionPool(connect_timeout_s=connect_s, keepalive_s=CLIENT_KEEP_ALIVE_S)
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_s, sock_read=timeout_s)
        self._headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": "gymbox"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """For streams."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=CLIENT_KEEP_ALIVE_S)
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self._timeout, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    async def close(self) -> None:
        await self._pool.close()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(self, path: str, body: dict[str, Any]) -> bytes:
        """The upstream's 2xx answer body; raises `UpstreamStatusError` or `UpstreamUnreachable`."""
        data = json_codec.dumps(body)
        url = f"{self.base_url}{path}"

        async def send() -> tuple[int, Mapping[str, str], bytes]:
            try:
                answer = await self._pool.request("POST", url, data, self._headers, timeout_s=self._timeout_s)
            except (ConnectFailed, Disconnected, TimeoutError) as exc:
                raise _NoAnswer(exc) from None
            return answer.status, answer.headers, answer.body

        return await self._retrying(send)

    async def open(self, path: str, body: dict[str, Any]) -> aiohttp.ClientResponse:
        """Send, retrying as the module docstring says, and return the 2xx answer unread (for a stream).

        The caller reads it (`.content`) and then calls `.release()`.
        """
        data = json_codec.dumps(body)
        url = f"{self.base_url}{path}"

        async def send() -> tuple[int, Mapping[str, str], aiohttp.ClientResponse | bytes]:
            try:
                answer = await self.session.post(url, data=data, headers=self._headers)
            except (aiohttp.ClientConnectionError, TimeoutError) as exc:
                raise _NoAnswer(exc) from None
            if answer.status < 300:
                return answer.status, answer.headers, answer
            try:
                return answer.status, answer.headers, await answer.read()
            except (aiohttp.ClientError, TimeoutError):
                return answer.status, answer.headers, b""
            finally:
                answer.release()

        answer = await self._retrying(send)
        assert isinstance(answer, aiohttp.ClientResponse)
        return answer

    async def _retrying(self, send: Callable[[], Awaitable[tuple[int, Mapping[str, str], T]]]) -> T:
        """`send` until a 2xx answer, retrying failures as the module docstring says; an error answer's
        body comes as bytes."""
        for attempt in range(1, self.retry.attempts + 1):
            try:
                status, headers, answer = await send()
            except _NoAnswer as exc:
                if not self.retry.should_retry(FailureKind.UNREACHABLE, attempt):
                    raise UpstreamUnreachable(f"{exc.cause!r}") from None
                await asyncio.sleep(self.retry.delay_s(attempt))
                continue
            if status < 300:
                return answer
            retry = self.retry.should_retry(FailureKind.SERVER_ERROR, attempt)
            if not (retry and _should_retry(status, headers)):
                raise UpstreamStatusError(status, answer if isinstance(answer, bytes) else b"")
            await asyncio.sleep(_backoff(self.retry, attempt, headers))
        raise AssertionError("unreachable")


class _NoAnswer(Exception):
    """One attempt got no answer: refused, reset, timed out."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(repr(cause))
        self.cause = cause


def _should_retry(status: int, headers: Mapping[str, str]) -> bool:
    retry_after = _retry_after_s(headers)
    if retry_after is not None and retry_after > _MAX_RETRY_AFTER_S:
        return False
    explicit = headers.get("x-should-retry")
    if explicit in ("true", "false"):
        return explicit == "true"
    return status in _RETRIED_STATUSES or status >= 500


def _backoff(policy: RetryPolicy, attempt: int, headers: Mapping[str, str]) -> float:
    retry_after = _retry_after_s(headers)
    if retry_after is not None and 0 < retry_after <= _MAX_RETRY_AFTER_S:
        return retry_after
    return policy.delay_s(attempt)


def _retry_after_s(headers: Mapping[str, str]) -> float | None:
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is not None:
            try:
                return float(value) / divisor
            except ValueError:
                pass
    date = headers.get("retry-after")
    parsed = email.utils.parsedate_tz(date) if date else None
    if parsed is None:
        return None
    return email.utils.mktime_tz(parsed) - time.time()
