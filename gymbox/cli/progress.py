"""The rollout progress bar, on stderr: done/total, rollouts/s, mean reward, failed and rejected.

Its words are the summary's: `failed` counts rollouts that ended `infra_error` or `timeout`, `rejected`
counts input rows refused (invalid, or refused by the agent).
"""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gymbox.collector.runner import Outcome

FAILED_KINDS = ("infra_error", "timeout")


class RolloutProgress:
    def __init__(self, total: int) -> None:
        self.progress = Progress(
            TextColumn("[bold]rollouts"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:.1f}/s"),
            TextColumn("reward {task.fields[reward]}"),
            TextColumn("failed {task.fields[failed]}"),
            TextColumn("rejected {task.fields[rejected]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),  # stdout carries the tables, or the --json document
            transient=False,
        )
        self.task = self.progress.add_task("collect", total=total, rate=0.0, reward="-", failed=0, rejected=0)
        self.rewards_sum = 0.0
        self.rewards_n = 0
        self.failed = 0
        self.rejected = 0

    def __enter__(self) -> RolloutProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.progress.stop()

    def finish(self) -> None:
        """The run ended: the bar ends full. An invalid input line stands for all its repeats, which were
        counted in the total but never sent."""
        self.progress.update(self.task, total=self.progress.tasks[0].completed)

    def update(self, outcome: Outcome) -> None:
        if outcome.reward is not None:
            self.rewards_sum += outcome.reward
            self.rewards_n += 1
        if outcome.kind in FAILED_KINDS:
            self.failed += 1
        elif outcome.kind == "rejected":
            self.rejected += 1
        task = self.progress.tasks[0]
        elapsed = task.elapsed or 0.0
        done = task.completed + 1
        self.progress.update(
            self.task,
            advance=1,
            failed=self.failed,
            rejected=self.rejected,
            rate=done / elapsed if elapsed else 0.0,
            reward=f"{self.rewards_sum / self.rewards_n:.3f}" if self.rewards_n else "-",
        )
