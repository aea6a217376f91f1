"""`gymbox.collect`: the collector as a typed async iterator, for Python code (a trainer's loop, a notebook).

    import gymbox

    async for rollout in gymbox.collect("rows.jsonl", stack="demo", repeats=4):
        if rollout.scored:                      # ok / model_error: a real reward
            print(rollout.task_index, rollout.reward)
        else:                                   # infra_error / timeout after every retry: no reward
            print(rollout.status, rollout.failure, rollout.record["error"])

Leaving the loop early: close the iterator (`async with contextlib.aclosing(...)`) to stop the collection
at once. It is `gymbox rollout` without the terminal: the same statuses, retries (a new episode each time),
replica choice, re-discovery of moved agents, files and resume. Rows are a JSONL file or any iterable of
row objects. With `output`, the rollouts, failures and rejects files are written there as by the CLI
(and `resume=True` skips the pairs already in it); without, they live in a temporary folder for the
duration. Rejected rows are not yielded: each is logged (a warning naming its line and the reason).
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from gymbox.collector.discovery import find_agents, stack_agents
from gymbox.collector.runner import CollectOptions, Collector, Outcome, Rollout
from gymbox.errors import GymboxError

log = logging.getLogger(__name__)


async def collect(
    rows: str | Path | Iterable[dict[str, Any]],
    *,
    stack: str | None = None,
    urls: Sequence[str] = (),
    agent: str | None = None,
    output: str | Path | None = None,
    resume: bool = False,
    repeats: int = 1,
    limit: int | None = None,
    concurrency: int = 32,
    timeout_s: float = 600.0,
    max_attempts: int = 4,
) -> AsyncIterator[Rollout]:
    """Yield each (task, repeat) of `rows` as it finishes, scored or failed (see `Rollout`).

    Agents are found in the running `stack`, or are the replica `urls` of one agent. With several agents,
    each row's `agent_ref.name` picks one unless `agent` is given. Raises `GymboxError` when there is no agent to send
    to, the input is not a file of rows, or `output` holds rollouts and `resume` is not set.
    """
    if not urls and not stack:
        raise GymboxError("collect() needs a running stack (stack='name') or agent URLs (urls=[...])")
    if resume and output is None:
        raise GymboxError("resume=True continues an output file: pass output='rollouts.jsonl'")
    agents, metadata = await asyncio.to_thread(find_agents, stack or "", agent, list(urls))
    if agent is None and len(agents) == 1:  # one agent: every row goes to it, agent_ref or not
        [agent] = agents
    options = CollectOptions(
        repeats=repeats,
        limit=limit,
        concurrency=concurrency,
        timeout_s=timeout_s,
        max_attempts=max_attempts,
        resume=resume,
        agent=agent,
        metadata=metadata,
    )
    source = Path(rows) if isinstance(rows, str | Path) else rows
    finished: asyncio.Queue[Rollout | None] = asyncio.Queue(maxsize=concurrency)
    with ExitStack() as scratch:
        out = (
            Path(output)
            if output is not None
            else Path(scratch.enter_context(tempfile.TemporaryDirectory())) / "rollouts.jsonl"
        )
        collector = Collector(
            agents,
            out,
            options,
            on_outcome=_log_reject,
            rediscover=(lambda: stack_agents(stack or "")) if not urls else None,
            on_rollout=finished.put,
        )

        async def run_then_close() -> None:
            this = asyncio.current_task()
            try:
                await collector.run(source)
            finally:
                if this is not None and not this.cancelling():  # cancelled: the consumer left, nobody reads
                    await finished.put(None)  # after every rollout queued: the end

        running = asyncio.create_task(run_then_close())
        try:
            while (rollout := await finished.get()) is not None:
                yield rollout
            await running  # the collector's own error, if it stopped on one
        finally:
            if not running.done():
                running.cancel()
                await asyncio.gather(running, return_exceptions=True)


def _log_reject(outcome: Outcome) -> None:
    if outcome.kind == "rejected":
        log.warning("row rejected: %s", outcome.detail)
