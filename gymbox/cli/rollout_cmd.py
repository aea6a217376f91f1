"""`gymbox rollout`: collect verified rollouts from a running stack's agents."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def rollout(
    input: Annotated[
        Path,
        typer.Option("--input", "-i", help="Task rows, JSONL (NeMo Gym's row format).", exists=True, dir_okay=False),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Rollouts JSONL, appended as they finish.")],
    agent: Annotated[
        str | None,
        typer.Option("--agent", "-a", help="Agent instance for every row [default: each row's agent_ref.name]."),
    ] = None,
    stack: Annotated[str, typer.Option("--stack", "--name", help="Running stack to find agents in.")] = "default",
    url: Annotated[
        list[str] | None,
        typer.Option(
            "--url", help="Agent base URL (repeatable: replicas); with --agent, instead of looking in the stack."
        ),
    ] = None,
    repeats: Annotated[int, typer.Option("--repeats", "-k", min=1, help="Rollouts per task.")] = 1,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N valid rows.")] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", "-j", min=1, help="Rollouts in flight.")] = 32,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds one rollout attempt may take.")] = 600.0,
    max_attempts: Annotated[int, typer.Option(min=1, help="Attempts per rollout on infra errors.")] = 4,
    resume: Annotated[bool, typer.Option(help="Continue an output file: skip (task, repeat) pairs in it.")] = False,
    strict: Annotated[bool, typer.Option(help="Stop at the first invalid input line.")] = False,
    pass_threshold: Annotated[float, typer.Option(help="Reward that counts as a pass for pass@k.")] = 1.0,
) -> None:
    """Send each row (x repeats) to `POST /run` of its agent; write scored rollouts, failures and metrics."""
    import asyncio

    from gymbox.cli.progress import RolloutProgress
    from gymbox.collector.discovery import DIRECT_AGENT, find_agents
    from gymbox.collector.metrics import compute_metrics, write_metrics
    from gymbox.collector.metrics_table import print_metrics
    from gymbox.collector.rows import count_lines
    from gymbox.collector.runner import CollectOptions, Collector

    agents, metadata = find_agents(stack, agent, url or [])
    if url and agent is None:
        agent = DIRECT_AGENT
    options = CollectOptions(
        repeats=repeats,
        limit=limit,
        concurrency=concurrency,
        timeout_s=timeout,
        max_attempts=max_attempts,
        strict=strict,
        resume=resume,
        agent=agent,
        metadata=metadata,
    )
    total = min(count_lines(input), limit or 1 << 62) * repeats
    with RolloutProgress(total) as progress:
        collector = Collector(agents, output, options, on_outcome=progress.update)
        try:
            summary = asyncio.run(collector.run(input))
        except KeyboardInterrupt:
            summary = collector.summary
            summary.interrupted = True
    metrics = compute_metrics(
        output, pass_threshold=pass_threshold, elapsed_s=None if summary.interrupted else summary.elapsed_s
    )
    path = write_metrics(output, metrics)
    print_metrics(metrics)
    typer.echo(
        f"{summary.written} rollouts written to {output}; {summary.failed} failed, "
        f"{summary.rejected} rows rejected, {summary.skipped} already done; metrics in {path}"
    )
    if summary.interrupted:
        typer.echo("interrupted: everything finished so far is on disk; rerun with --resume to continue", err=True)
        raise typer.Exit(130)
