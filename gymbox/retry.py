"""The one retry policy: how many tries, how long to wait between them, and after which failures.

Every hop uses it: the collector retries whole rollouts (a new episode each time), the HTTP client retries
connecting to a peer that is (re)starting, and the model proxy retries its upstream. Failures are told
apart by their `FailureKind`, never by the text of a message.

    policy = RetryPolicy(attempts=4)
    answer = await policy.call(lambda attempt: post(url))   # retries UpstreamErrors of the kinds it names
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from gymbox.errors import FailureKind, UpstreamError

T = TypeVar("T")

# Failures that may pass: the peer restarting, a replica dying, a lost session (a whole new episode helps).
TRANSIENT = frozenset(
    {
        FailureKind.UNREACHABLE,
        FailureKind.CONNECT_TIMEOUT,
        FailureKind.DISCONNECTED,
        FailureKind.TIMEOUT,
        FailureKind.SERVER_ERROR,
        FailureKind.SESSION_LOST,
    }
)
# Failures of a peer that is (re)starting, before it could act on the request: safe to resend even a call
# that changes state. Not a connect timeout: the same dead address would only time out again.
CONNECTING = frozenset({FailureKind.UNREACHABLE, FailureKind.DISCONNECTED})
# Failures that say the peer's address is dead for now: pick another replica, look the stack up again.
PEER_GONE = frozenset({FailureKind.UNREACHABLE, FailureKind.CONNECT_TIMEOUT})


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` tries in all (the first included), with exponential backoff and jitter between them.

    `jitter` is the random share of each wait: 1.0 (full jitter) waits uniformly in [0, backoff], 0.25
    (the `openai` client's) in [0.75 * backoff, backoff].
    """

    attempts: int = 4
    base_s: float = 0.5
    cap_s: float = 15.0
    jitter: float = 1.0
    retry_on: frozenset[FailureKind] = TRANSIENT

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"RetryPolicy.attempts must be at least 1, got {self.attempts}")
        if not 0 <= self.base_s <= self.cap_s:
            raise ValueError(f"RetryPolicy needs 0 <= base_s <= cap_s, got {self.base_s} and {self.cap_s}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"RetryPolicy.jitter is a share of the wait, from 0 to 1, got {self.jitter}")

    def should_retry(self, kind: FailureKind, attempt: int) -> bool:
        """Whether to try again after attempt number `attempt` (1-based) failed with `kind`."""
        return attempt < self.attempts and kind in self.retry_on

    def delay_s(self, attempt: int) -> float:
        """The wait after attempt `attempt` failed: the backoff min(cap, base * 2**(attempt - 1)), less a
        random share of up to `jitter` of it. Jitter spreads the retries of many calls that failed together
        (a replica died under them)."""
        backoff = min(self.cap_s, self.base_s * 2.0 ** max(attempt - 1, 0))
        return backoff * (1 - self.jitter * random.random())

    async def call(self, attempt_fn: Callable[[int], Awaitable[T]]) -> T:
        """`await attempt_fn(1)`, then `attempt_fn(2)`, ... while it raises an `UpstreamError` this policy
        retries; the last error, or one it does not retry, is raised."""
        attempt = 1
        while True:
            try:
                return await attempt_fn(attempt)
            except UpstreamError as exc:
                if not self.should_retry(exc.kind, attempt):
                    raise
            await asyncio.sleep(self.delay_s(attempt))
            attempt += 1
