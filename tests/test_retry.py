"""The one retry policy: which failures it retries, how often, and how long it waits."""

import pytest

from gymbox.errors import FailureKind, RolloutStatus, UpstreamError
from gymbox.retry import CONNECTING, RetryPolicy


def test_it_retries_transient_kinds_until_the_last_attempt() -> None:
    policy = RetryPolicy(attempts=3)
    for kind in (FailureKind.UNREACHABLE, FailureKind.TIMEOUT, FailureKind.SERVER_ERROR, FailureKind.SESSION_LOST):
        assert policy.should_retry(kind, 1)
        assert policy.should_retry(kind, 2)
        assert not policy.should_retry(kind, 3)
    assert not policy.should_retry(FailureKind.REJECTED, 1)  # the same request cannot succeed


def test_a_connect_only_policy_resends_only_what_the_peer_never_acted_on() -> None:
    policy = RetryPolicy(retry_on=CONNECTING)
    assert policy.should_retry(FailureKind.UNREACHABLE, 1)
    assert not policy.should_retry(FailureKind.TIMEOUT, 1)
    assert not policy.should_retry(FailureKind.SESSION_LOST, 1)


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    policy = RetryPolicy(base_s=0.5, cap_s=3.0)
    for attempt, bound in ((1, 0.5), (2, 1.0), (3, 2.0), (4, 3.0), (10, 3.0)):
        delays = [policy.delay_s(attempt) for _ in range(200)]
        assert all(0 <= d <= bound for d in delays)
        assert max(delays) > bound / 2  # jittered across the whole range, not a fixed step
    openai_like = RetryPolicy(base_s=0.5, cap_s=8.0, jitter=0.25)
    assert all(0.375 <= openai_like.delay_s(1) <= 0.5 for _ in range(200))


async def test_call_retries_then_returns_or_raises_the_last_error() -> None:
    policy = RetryPolicy(attempts=3, base_s=0.0, cap_s=0.0)
    seen: list[int] = []

    async def flaky(attempt: int) -> str:
        seen.append(attempt)
        if attempt < 3:
            raise UpstreamError("session gone", kind=FailureKind.SESSION_LOST)
        return "scored"

    assert await policy.call(flaky) == "scored"
    assert seen == [1, 2, 3]

    async def down(attempt: int) -> str:
        raise UpstreamError(f"refused, try {attempt}", kind=FailureKind.UNREACHABLE)

    with pytest.raises(UpstreamError, match="try 3") as failed:
        await policy.call(down)
    assert failed.value.kind.status is RolloutStatus.INFRA_ERROR

    async def rejected(attempt: int) -> str:
        seen.append(attempt)
        raise UpstreamError("bad row", kind=FailureKind.REJECTED, status=400)

    seen.clear()
    with pytest.raises(UpstreamError, match="bad row"):
        await policy.call(rejected)
    assert seen == [1]


def test_only_a_timeout_makes_a_timeout_status() -> None:
    assert FailureKind.TIMEOUT.status is RolloutStatus.TIMEOUT
    assert {kind.status for kind in FailureKind if kind is not FailureKind.TIMEOUT} == {RolloutStatus.INFRA_ERROR}
    assert [s for s in RolloutStatus if s.scored] == [RolloutStatus.OK, RolloutStatus.MODEL_ERROR]


def test_a_policy_that_cannot_try_is_refused() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="base_s"):
        RetryPolicy(base_s=2.0, cap_s=1.0)
