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
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gymbox.collector.rows import RejectedRow, TaskRow, read_rows
from gymbox.collector.store import JsonlAppender, completed_keys, rollout_key, sibling
from gymbox.errors import GymboxError, UpstreamError
from gymbox.http_client import PeerClient, backoff_delay


@dataclass
class CollectOptions:
    repeats: int = 1
    limit: int | None = None
    concurrency: int = 32
    timeout_s: float = 600.0
    max_attempts: int = 4
    strict: bool = False
    resume: bool = False
    agent: str | None = None  # None: each row's agent_ref.name picks its agent
    metadata: dict[str, Any] = field(default_factory=dict)  # stack name, image digests: stamped on rows


@dataclass
class Outcome:
    """What one rollout came to, for the progress display."""

    kind: str  # ok | model_error | infra_error | timeout | rejected | skipped
    reward: float | None = None


@dataclass
class RunSummary:
    written: int = 0
    failed: int = 0
    rejected: int = 0
    skipped: int = 0
    elapsed_s: float = 0.0
    interrupted: bool = False


class ReplicaPicker:
    """Least-in-flight choice among an agent's replicas (ties go round-robin)."""

    def __init__(self, urls: list[str]) -> None:
        if not urls:
            raise GymboxError("no agent URL to send rollouts to")
        self.urls = list(urls)
        self.in_flight = dict.fromkeys(self.urls, 0)
        self._turn = 0

    def acquire(self) -> str:
        self._turn += 1
        n = len(self.urls)
        order = [self.urls[(self._turn + i) % n] for i in range(n)]
        url = min(order, key=self.in_flight.__getitem__)
        self.in_flight[url] += 1
        return url

    def release(self, url: str) -> None:
        self.in_flight[url] -= 1


class _Retryable(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class _Rejected(Exception):
    pass


class Collector:
    def __init__(
        self,
        agents: dict[str, list[str]],
        output: Path,
        options: CollectOptions,
        on_outcome: Callable[[Outcome], None] = lambda _: None,
    ) -> None:
        self.pickers = {name: ReplicaPicker(urls) for name, urls in agents.items()}
        self.options = options
        self.output = output
        self.on_outcome = on_outcome
        self.rollouts = JsonlAppender(output)
        self.failures = JsonlAppender(sibling(output, "failures.jsonl"))
        self.rejects = JsonlAppender(sibling(output, "rejects.jsonl"))
        self.summary = RunSummary()
        self.client = PeerClient(timeout_s=options.timeout_s, connect_retries=0)

    async def run(self, input_path: Path) -> RunSummary:
        if self.output.exists() and self.output.stat().st_size and not self.options.resume:
            raise GymboxError(
                f"{self.output} already holds rollouts: pass --resume to continue it, or choose another --output"
            )
        done = completed_keys(self.output) if self.options.resume else set()
        queue: asyncio.Queue[tuple[TaskRow, int] | None] = asyncio.Queue(maxsize=2 * self.options.concurrency)
        started = time.monotonic()
        workers = [asyncio.create_task(self._worker(queue)) for _ in range(self.options.concurrency)]
        try:
            await self._produce(input_path, queue, done)
            for _ in workers:
                await queue.put(None)
            await asyncio.gather(*workers)
        except asyncio.CancelledError:
            self.summary.interrupted = True
            raise
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            await self.client.close()
            for appender in (self.rollouts, self.failures, self.rejects):
                appender.close()
            self.summary.elapsed_s = time.monotonic() - started
        return self.summary

    async def _produce(self, input_path: Path, queue: asyncio.Queue, done: set[str]) -> None:
        for item in read_rows(input_path, self.options.limit):
            if isinstance(item, RejectedRow):
                self._reject(item.line, item.reason, item.text)
                if self.options.strict:
                    raise GymboxError(f"{input_path}:{item.line}: {item.reason}")
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
                    raise GymboxError(f"{input_path}:{item.line}: {reason}")
                continue
            for repeat in range(self.options.repeats):
                if rollout_key(item.key, repeat) in done:
                    self.summary.skipped += 1
                    self.on_outcome(Outcome("skipped"))
                    continue
                await queue.put((item, repeat))

    def _reject(self, line: int, reason: str, text: str | None, row: dict[str, Any] | None = None) -> None:
        self.summary.rejected += 1
        self.rejects.write({"line": line, "error": reason, "row": row if row is not None else text})
        self.on_outcome(Outcome("rejected"))

    async def _worker(self, queue: asyncio.Queue) -> None:
        while (job := await queue.get()) is not None:
            task, repeat = job
            try:
                await self._rollout(task, repeat)
            except (asyncio.CancelledError, KeyboardInterrupt):
                raise
            except Exception as exc:  # a bug must not stall the producer: record it and go on
                self.failures.write(
                    {
                        "_ng_task_index": task.task_index,
                        "_ng_rollout_index": repeat,
                        "status": "infra_error",
                        "error": f"collector error: {exc!r}",
                        "line": task.line,
                        "gymbox": {"task_key": task.key},
                    }
                )
                self.summary.failed += 1
                self.on_outcome(Outcome("infra_error"))

    async def _rollout(self, task: TaskRow, repeat: int) -> None:
        agent = self.options.agent or task.agent_name or ""
        picker = self.pickers[agent]
        started_at = time.time()
        error, kind = "", "infra_error"
        for attempt in range(1, self.options.max_attempts + 1):
            url = picker.acquire()
            begun = time.monotonic()
            try:
                body = await self._post_run(url, task.row)
            except _Retryable as exc:
                error, kind = str(exc), exc.kind
                if attempt < self.options.max_attempts:
                    await asyncio.sleep(backoff_delay(attempt - 1, base=0.5, cap=15.0))
                continue
            except _Rejected as exc:
                self._reject(task.line, str(exc), None, task.row)
                return
            finally:
                picker.release(url)
            status = body.get("status") if body.get("status") in ("ok", "model_error") else "ok"
            meta = self._meta(task, attempt, url, started_at, time.monotonic() - begun)
            self.rollouts.write(
                {
                    **body,
                    "_ng_task_index": task.task_index,
                    "_ng_rollout_index": repeat,
                    "agent_ref": {"name": agent},
                    "status": status,
                    "gymbox": meta,
                }
            )
            self.summary.written += 1
            self.on_outcome(Outcome(status, _reward(body)))
            return
        meta = self._meta(task, self.options.max_attempts, "", started_at, time.time() - started_at)
        self.failures.write(
            {
                "_ng_task_index": task.task_index,
                "_ng_rollout_index": repeat,
                "agent_ref": {"name": agent},
                "status": kind,
                "error": error,
                "line": task.line,
                "gymbox": meta,
            }
        )
        self.summary.failed += 1
        self.on_outcome(Outcome(kind))

    async def _post_run(self, url: str, row: dict[str, Any]) -> dict[str, Any]:
        try:
            answer = await self.client.post(f"{url}/run", row, timeout_s=self.options.timeout_s)
        except UpstreamError as exc:
            kind = "timeout" if "within the timeout" in str(exc) else "infra_error"
            raise _Retryable(kind, str(exc)) from exc
        if answer.ok and isinstance(answer.body, dict):
            return answer.body
        if 400 <= answer.status < 500 and answer.status not in (408, 429):
            raise _Rejected(f"the agent rejected the row ({answer.status}): {answer.error_text()}")
        raise _Retryable("infra_error", f"agent {url} answered {answer.status}: {answer.error_text()}")

    def _meta(self, task: TaskRow, attempts: int, url: str, started_at: float, latency: float) -> dict[str, Any]:
        return {
            "task_key": task.key,
            "line": task.line,
            "task_fields": sorted(task.row),
            "attempts": attempts,
            "url": url,
            "started_at": round(started_at, 3),
            "latency_s": round(latency, 4),
            **self.options.metadata,
        }


def _reward(body: dict[str, Any]) -> float | None:
    reward = body.get("reward")
    return float(reward) if isinstance(reward, int | float) else None
