"""The collection engine: bounded concurrency over agent replicas, retries, statuses, nothing lost.

A producer reads rows lazily into a small queue and `concurrency` workers drain it, so memory stays flat
however large the input. Each finished rollout is written at once. What `status` means:

- `ok`, `model_error`: the agent ran and verified the episode; the reward is real (a model error is the
  policy's failure, a true zero or partial score).
- `infra_error`, `timeout`: our side failed after every retry; no reward. These go to the failures file,
  never into the rollouts a trainer reads, and never into the mean reward.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gymbox import open_files
from gymbox.collector.rows import RejectedRow, TaskRow, check_input, count_lines, read_rows, rows_from_objects
from gymbox.collector.store import JsonlAppender, completed_keys, drop_scored_failures, rollout_key, sibling
from gymbox.errors import FailureKind, GymboxError, OutputError, RolloutStatus, UpstreamError
from gymbox.http_client import CONNECT_TIMEOUT_S, DownReplicas, PeerClient
from gymbox.retry import PEER_GONE, RetryPolicy

log = logging.getLogger(__name__)
MATERIALIZED_INPUTS = "materialized_inputs.jsonl"

# How often at most the stack is asked again where its agents are (each look-up runs `docker ps`/`inspect`).
REDISCOVER_INTERVAL_S = 2.0


@dataclass
class CollectOptions:
    repeats: int = 1
    limit: int | None = None
    concurrency: int = 32
    timeout_s: float = 600.0  # per attempt
    connect_timeout_s: float = CONNECT_TIMEOUT_S  # a replica that accepts no connection is out this soon
    max_attempts: int = 4
    strict: bool = False
    resume: bool = False
    agent: str | None = None  # None: each row's agent_ref.name picks its agent
    metadata: dict[str, Any] = field(default_factory=dict)  # stack name, image digests: stamped on rows

    def rollouts(self, rows: int) -> int:
        """How many rollouts `rows` input lines ask for, at most (--limit, --repeats)."""
        return min(rows, self.limit or rows) * self.repeats

    def retry_policy(self) -> RetryPolicy:
        """Whole rollouts are retried, each time as a new episode, after any transient failure."""
        return RetryPolicy(attempts=self.max_attempts, base_s=0.5, cap_s=15.0)


@dataclass
class Outcome:
    """What one rollout came to, for the progress display."""

    kind: str  # a RolloutStatus, or rejected | skipped
    reward: float | None = None
    detail: str | None = None  # for a rejected row: `file:line: reason`


@dataclass(frozen=True)
class Rollout:
    """One (task, repeat), collected: scored (`ok`, `model_error`; `reward` is real) or failed after every
    retry (`infra_error`, `timeout`; no reward, `failure` says why). `record` is the line written for it to
    the rollouts file (the verify response plus `gymbox` metadata) or to the failures file (with `error`)."""

    status: RolloutStatus
    task_index: int
    repeat: int
    agent: str
    reward: float | None
    record: dict[str, Any]
    failure: FailureKind | None = None

    @property
    def scored(self) -> bool:
        return self.status.scored


@dataclass
class RunSummary:
    written: int = 0
    failed: int = 0
    rejected: int = 0
    skipped: int = 0
    elapsed_s: float = 0.0
    interrupted: bool = False


class ReplicaPicker:
    """Least-in-flight choice among an agent's replicas (ties go round-robin), skipping replicas that
    stopped answering until their cool-down ends."""

    def __init__(self, urls: list[str]) -> None:
        if not urls:
            raise GymboxError("no agent URL to send rollouts to")
        self.urls = list(urls)
        self.in_flight = dict.fromkeys(self.urls, 0)
        self.down = DownReplicas()
        self._turn = 0

    def acquire(self) -> str:
        self._turn += 1
        candidates = self.down.available(self.urls)
        n = len(candidates)
        order = [candidates[(self._turn + i) % n] for i in range(n)]
        url = min(order, key=lambda u: self.in_flight.get(u, 0))
        self.in_flight[url] = self.in_flight.get(url, 0) + 1
        return url

    def release(self, url: str) -> None:
        self.in_flight[url] -= 1

    def all_down(self) -> bool:
        return all(self.down.is_down(url) for url in self.urls)

    def replace(self, urls: list[str]) -> None:
        """Where the agent's replicas are now (found again after one stopped answering)."""
        if urls and urls != self.urls:
            log.info("agent replicas moved: %s -> %s", ", ".join(self.urls), ", ".join(urls))
            self.urls = list(urls)


class _AgentRejectedRow(Exception):
    """The agent refused the row itself (4xx): sending it again cannot help."""


class Collector:
    """Collects rollouts of rows (a JSONL file, or row objects) into `output` and its failures and rejects files.

    `rediscover`, when given, says where the agents listen now (`discovery.stack_agents`); it is called
    when an agent stops answering, so one restarted on a new port costs seconds, not the run.
    """

    def __init__(
        self,
        agents: dict[str, list[str]],
        output: Path,
        options: CollectOptions,
        on_outcome: Callable[[Outcome], None] = lambda _: None,
        *,
        rediscover: Callable[[], dict[str, list[str]]] | None = None,
        on_rollout: Callable[[Rollout], Awaitable[None]] | None = None,
    ) -> None:
        self.pickers = {name: ReplicaPicker(urls) for name, urls in agents.items()}
        self.options = options
        self.output = output
        self.on_outcome = on_outcome
        self.rediscover = rediscover
        self.on_rollout = on_rollout  # awaited: a slow consumer holds the workers back
        self.rollouts = JsonlAppender(output)
        self.failures = JsonlAppender(sibling(output, "failures.jsonl"))
        self.rejects = JsonlAppender(sibling(output, "rejects.jsonl"))
        # Every (task, repeat) of the input as sent, as NeMo Gym's ng_collect_rollouts writes it: its reward
        # profiling reads this file to know which rollouts were expected.
        self.materialized = JsonlAppender(sibling(output, MATERIALIZED_INPUTS))
        self.summary = RunSummary()
        self.retry = options.retry_policy()
        # One attempt per request: the collector retries whole rollouts itself, on another replica if need be.
        self.client = PeerClient(
            timeout_s=options.timeout_s, connect_timeout_s=options.connect_timeout_s, retry=RetryPolicy(attempts=1)
        )
        self.run_id = uuid.uuid4().hex[:12]  # stamped on every row: metrics tell this run from earlier ones
        self._input = ""
        self._lookup: asyncio.Task[None] | None = None
        self._looked_up_at = -REDISCOVER_INTERVAL_S

    async def run(self, rows: Path | Iterable[dict[str, Any]]) -> RunSummary:
        """Collect every row of a JSONL file, or of an iterable of row objects (then "line" n is the n-th)."""
        if isinstance(rows, Path):
            check_input(rows)
        if self.output.is_dir():
            raise GymboxError(
                f"{self.output} is a directory; pass a file for the rollouts, e.g. {self.output / 'rollouts.jsonl'}"
            )
        if self.output.exists() and self.output.stat().st_size and not self.options.resume:
            raise GymboxError(
                f"{self.output} already holds rollouts: pass --resume to continue it, or choose another --output"
            )
        open_files.ensure_for_collector(self.options.concurrency, lambda: self._rollouts_in(rows))  # before any write
        self._input = str(rows) if isinstance(rows, Path) else "<rows>"
        done = completed_keys(self.output) if self.options.resume else set()
        self.materialized.path.unlink(missing_ok=True)  # rewritten whole: it lists the input, done or not
        queue: asyncio.Queue[tuple[TaskRow, int] | None] = asyncio.Queue(maxsize=2 * self.options.concurrency)
        started = time.monotonic()
        workers = [asyncio.create_task(self._worker(queue)) for _ in range(self.options.concurrency)]
        producer = asyncio.create_task(self._produce(rows, queue, done, stops=len(workers)))
        tasks = [producer, *workers]
        try:
            # The first error ends the run (a file that cannot be written, --strict): nothing waits on a dead task.
            finished, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in finished:
                if not task.cancelled() and (error := task.exception()) is not None:
                    raise error
        except asyncio.CancelledError:
            self.summary.interrupted = True
            raise
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self._lookup is not None:
                self._lookup.cancel()
            await self.client.close()
            for appender in (self.rollouts, self.failures, self.rejects, self.materialized):
                appender.close()
            try:
                drop_scored_failures(self.output)
            except OSError as exc:  # a tidy-up: the rollouts are all written; a resumed run drops them again
                log.warning("could not drop the now-scored pairs from the failures file: %s", exc)
            self.summary.elapsed_s = time.monotonic() - started
        return self.summary

    def _rollouts_in(self, rows: Path | Iterable[dict[str, Any]]) -> int | None:
        """How many rollouts `rows` asks for, at most: None for rows that can only be read once."""
        if not isinstance(rows, Path | Sized):
            return None
        return self.options.rollouts(count_lines(rows) if isinstance(rows, Path) else len(rows))

    async def _produce(
        self,
        rows: Path | Iterable[dict[str, Any]],
        queue: asyncio.Queue[tuple[TaskRow, int] | None],
        done: set[str],
        stops: int,
    ) -> None:
        """Queue every (row, repeat) still to collect, then `stops` Nones: one per worker."""
        source = (
            read_rows(rows, self.options.limit)
            if isinstance(rows, Path)
            else rows_from_objects(rows, self.options.limit)
        )
        for item in source:
            if isinstance(item, RejectedRow):
                self._reject(item.line, item.reason, item.text)
                if self.options.strict:
                    raise GymboxError(f"{self._input}:{item.line}: {item.reason}")
                continue
            agent = self.options.agent or item.agent_name
            if agent not in self.pickers:
                reason = (
                    f"agent_ref.name {agent!r} is not an agent of this run (agents: {', '.join(sorted(self.pickers))})"
                    if agent
                    else "no --agent given and the row has no agent_ref.name"
                )
                self._reject(item.line, reason, None, item.row)
                if self.options.strict:
                    raise GymboxError(f"{self._input}:{item.line}: {reason}")
                continue
            for repeat in range(self.options.repeats):
                self.materialized.write(
                    {
                        **item.row,
                        "_ng_task_index": item.task_index,
                        "_ng_rollout_index": repeat,
                        "agent_ref": {"name": agent},
                    }
                )
                if rollout_key(item.key, repeat) in done:
                    self.summary.skipped += 1
                    self.on_outcome(Outcome("skipped"))
                    continue
                await queue.put((item, repeat))
                # A put into a queue with room never yields: without this the first 2 x concurrency rows
                # (at -j 1024, a 2,000-row file whole) are read before the first request leaves.
                await asyncio.sleep(0)
        for _ in range(stops):
            await queue.put(None)

    def _reject(self, line: int, reason: str, text: str | None, row: dict[str, Any] | None = None) -> None:
        self.summary.rejected += 1
        self.rejects.write(
            {"file": self._input, "line": line, "error": reason, "row": row if row is not None else text}
        )
        self.on_outcome(Outcome("rejected", detail=f"{self._input}:{line}: {reason}"))

    async def _worker(self, queue: asyncio.Queue[tuple[TaskRow, int] | None]) -> None:
        while (job := await queue.get()) is not None:
            task, repeat = job
            try:
                await self._rollout(task, repeat)
            except (asyncio.CancelledError, KeyboardInterrupt, OutputError):
                raise  # an output file that cannot be written ends the run: every rollout would be lost
            except Exception as exc:  # a bug must not stall the producer: record it and go on
                self.failures.write(
                    {
                        "_ng_task_index": task.task_index,
                        "_ng_rollout_index": repeat,
                        "status": RolloutStatus.INFRA_ERROR,
                        "error": f"collector error: {exc!r}",
                        "file": self._input,
                        "line": task.line,
                        "gymbox": {"task_key": task.key, "run": self.run_id},
                    }
                )
                self.summary.failed += 1
                self.on_outcome(Outcome(RolloutStatus.INFRA_ERROR))

    async def _rollout(self, task: TaskRow, repeat: int) -> None:
        agent = self.options.agent or task.agent_name or ""
        picker = self.pickers[agent]
        started_at = time.time()
        tried = 0

        async def attempt(n: int) -> tuple[dict[str, Any], str, float]:
            nonlocal tried
            tried = n
            if picker.all_down() and self._lookup is not None and not self._lookup.done():
                await asyncio.shield(self._lookup)  # every replica is gone: wait to learn where they went
            url = picker.acquire()
            begun = time.monotonic()
            try:
                body = await self._post_run(url, task.row)
            except UpstreamError as exc:
                if exc.kind in PEER_GONE:
                    picker.down.mark_down(url)
                    self._look_up_agents()
                raise
            finally:
                picker.release(url)
            picker.down.mark_up(url)
            return body, url, time.monotonic() - begun

        try:
            body, url, latency = await self.retry.call(attempt)
        except _AgentRejectedRow as exc:
            self._reject(task.line, str(exc), None, task.row)
            return
        except UpstreamError as exc:
            meta = self._meta(task, tried, "", started_at, time.time() - started_at)
            await self._fail(task, repeat, agent, exc, meta)
            return
        status = RolloutStatus.MODEL_ERROR if body.get("status") == RolloutStatus.MODEL_ERROR else RolloutStatus.OK
        record = {
            **body,
            "_ng_task_index": task.task_index,
            "_ng_rollout_index": repeat,
            "agent_ref": {"name": agent},
            "status": status,
            "gymbox": self._meta(task, tried, url, started_at, latency),
        }
        self.rollouts.write(record)
        self.summary.written += 1
        self.on_outcome(Outcome(status, _reward(body)))
        if self.on_rollout is not None:
            await self.on_rollout(Rollout(status, task.task_index, repeat, agent, _reward(body), record))

    async def _fail(self, task: TaskRow, repeat: int, agent: str, exc: UpstreamError, meta: dict[str, Any]) -> None:
        record = {
            "_ng_task_index": task.task_index,
            "_ng_rollout_index": repeat,
            "agent_ref": {"name": agent},
            "status": exc.kind.status,
            "failure": exc.kind,
            "http_status": exc.status,  # what the agent answered; None when it did not answer
            "error": str(exc),
            "file": self._input,
            "line": task.line,
            "gymbox": meta,
        }
        self.failures.write(record)
        self.summary.failed += 1
        self.on_outcome(Outcome(exc.kind.status))
        if self.on_rollout is not None:
            await self.on_rollout(Rollout(exc.kind.status, task.task_index, repeat, agent, None, record, exc.kind))

    async def _post_run(self, url: str, row: dict[str, Any]) -> dict[str, Any]:
        answer = await self.client.post(f"{url}/run", row, timeout_s=self.options.timeout_s)
        if answer.ok and isinstance(answer.body, dict):
            return answer.body
        failure = answer.failure() or FailureKind.SERVER_ERROR  # a 2xx that is not a JSON object
        if failure is FailureKind.REJECTED:
            raise _AgentRejectedRow(f"the agent rejected the row ({answer.status}): {answer.error_text()}")
        detail = answer.body.get("detail") if isinstance(answer.body, dict) else None
        reported = detail.get("failure") if isinstance(detail, dict) else None
        if isinstance(reported, str) and reported in set(FailureKind):  # the agent says how its peer failed
            failure = FailureKind(reported)
        raise UpstreamError(
            f"agent {url} answered {answer.status}: {answer.error_text()}", kind=failure, status=answer.status
        )

    def _look_up_agents(self) -> None:
        """Ask again where the agents listen: at most one look-up at a time, and one per interval."""
        if self.rediscover is None or (self._lookup is not None and not self._lookup.done()):
            return
        if time.monotonic() - self._looked_up_at < REDISCOVER_INTERVAL_S:
            return
        self._looked_up_at = time.monotonic()
        self._lookup = asyncio.create_task(self._refresh_agents(self.rediscover))

    async def _refresh_agents(self, lookup: Callable[[], dict[str, list[str]]]) -> None:
        try:
            found = await asyncio.to_thread(lookup)
        except Exception as exc:  # Docker busy or gone: keep the URLs there are
            log.warning("could not look the agents up again: %s", exc)
            return
        for name, picker in self.pickers.items():
            picker.replace(found.get(name, []))

    def _meta(self, task: TaskRow, attempts: int, url: str, started_at: float, latency: float) -> dict[str, Any]:
        return {
            "task_key": task.key,
            "line": task.line,
            "task_fields": sorted(task.row),
            "attempts": attempts,
            "url": url,
            "run": self.run_id,
            "started_at": round(started_at, 3),
            "latency_s": round(latency, 4),
            **self.options.metadata,
        }


def _reward(body: dict[str, Any]) -> float | None:
    reward = body.get("reward")
    return float(reward) if isinstance(reward, int | float) else None


def run_until_signalled(collector: Collector, input_path: Path) -> RunSummary:
    """Run `collector` to the end, or until SIGINT or SIGTERM: then it stops cleanly (every finished rollout
    is on disk) and the summary so far comes back, marked interrupted, for the caller to report."""

    async def main() -> RunSummary:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            return await collector.run(input_path)
        except asyncio.CancelledError:  # SIGTERM (or SIGINT, which asyncio.run turns into a cancel)
            return collector.summary
        finally:
            loop.remove_signal_handler(signal.SIGTERM)

    try:
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            return runner.run(main())
    except KeyboardInterrupt:
        collector.summary.interrupted = True
        return collector.summary


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop where it is installed (not on Windows): a C event loop, which cuts the collector's CPU
    per rollout; else asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop
