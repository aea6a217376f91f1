"""example_session_state_mgmt: a counter that lives in the episode's session, one per rollout.

`seed_session` starts the counter at the task's `initial_count`; `increment_counter` and `get_counter_value`
act on the counter of the episode whose session cookie they carry, so concurrent rollouts never see each
other's counts. `verify` rewards 1.0 iff the episode's final count equals the task's `expected_count`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from gymbox import ResourcesServer, ResourcesServerConfig, RunRequest, Session, VerifyRequest, tool

COUNT = "count"  # session state key, set by seed_session (a tool or verify without a session answers 409)


class IncrementCounterArgs(BaseModel):
    count: int = Field(default=1, description="How much to add; may be negative")


class GetCounterValueArgs(BaseModel):
    pass  # no arguments


class CounterResult(BaseModel):
    count: int


class CounterTask(RunRequest):
    initial_count: int


class CounterVerifyRequest(VerifyRequest):
    expected_count: int


class SessionStateServer(ResourcesServer[ResourcesServerConfig, CounterTask, CounterVerifyRequest]):
    async def seed_session(self, body: CounterTask, session: Session) -> None:
        session.state[COUNT] = body.initial_count

    @tool
    async def increment_counter(self, args: IncrementCounterArgs, session: Session) -> CounterResult:
        """Add `count` (default 1) to the counter and return its new value."""
        session.state[COUNT] += args.count
        return CounterResult(count=session.state[COUNT])

    @tool
    async def get_counter_value(self, args: GetCounterValueArgs, session: Session) -> CounterResult:
        """Get the counter's current value."""
        return CounterResult(count=session.state[COUNT])

    async def verify(self, body: CounterVerifyRequest, session: Session) -> dict[str, Any]:
        final = session.state[COUNT]
        return {"reward": float(final == body.expected_count), "final_count": final}
