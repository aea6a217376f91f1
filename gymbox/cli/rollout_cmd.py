"""`gymbox rollout`: collect verified rollouts from a running stack's agents."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from gymbox.cli.options import Engine, JsonOutput, SwarmHost
from gymbox.cli.rollout_report import FailureLimit


def rollout(
    input: Annotated[
        Path,
        typer.Option(
            "--input",
            "-i",
            metavar="FILE",
            help="Task rows, JSONL (NeMo Gym's row format).",
            exists=True,
            dir_okay=False,
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", metavar="FILE", help="Rollouts JSONL, appended as they finish.")
    ],
    agent: Annotated[
        str | None,
        typer.Option(
            "--agent", "-a", metavar="NAME", help="Agent instance for every row [default: each row's agent_ref.name]."
        ),
    ] = None,
    stack: Annotated[
        str | None,
        typer.Option(
            "--stack",
            "--name",
            "-n",
            metavar="NAME",
            show_default=False,
            help="Running stack to find agents in [default: the one stack made from this directory].",
        ),
    ] = None,
    url: Annotated[
        list[str] | None,
        typer.Option(
            "--url",
            metavar="URL",
            help="Agent base URL (repeatable: replicas); with --agent, instead of looking in the stack.",
        ),
    ] = None,
    repeats: Annotated[int, typer.Option("--repeats", "-k", metavar="N", min=1, help="Rollouts per task.")] = 1,
    limit: Annotated[int | None, typer.Option(metavar="N", min=1, help="Only the first N valid rows.")] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-j", metavar="N", min=1, help="Rollouts in flight.")
    ] = 32,
    timeout: Annotated[
        float, typer.Option(metavar="SECONDS", min=1, help="Seconds one rollout attempt may take.")
    ] = 600.0,
    max_attempts: Annotated[int, typer.Option(metavar="N", min=1, help="Attempts per rollout on infra errors.")] = 4,
    max_failures: Annotated[
        FailureLimit,
        typer.Option(
            parser=FailureLimit.parse,
            metavar="N|FRACTION",
            help="Failed rollouts plus rejected rows tolerated before the exit code is 3: a count, or a "
            "fraction of the rollouts attempted (0.05; 1.0 tolerates any). 0: any one makes it 3.",
        ),
    ] = FailureLimit(count=0),
    resume: Annotated[bool, typer.Option(help="Continue an output file: skip (task, repeat) pairs in it.")] = False,
    strict: Annotated[bool, typer.Option(help="Stop at the first invalid input line.")] = False,
    pass_threshold: Annotated[
        float, typer.Option(metavar="REWARD", help="Reward that counts as a pass for pass@k.")
    ] = 1.0,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            metavar="PORT", min=0, max=65535, help="Serve the run's counters for Prometheus at 127.0.0.1:PORT/metrics."
        ),
    ] = None,
    json_output: JsonOutput = False,
    engine: Engine = "compose",
    swarm_host: SwarmHost = None,
) -> None:
    """Send each row (x repeats) to `POST /run` of its agent; write scored rollouts, failures and metrics.

    Exit codes: 0 done; 3 more failed rollouts plus rejected rows than --max-failures; 130 interrupted.
    """
    from gymbox.cli import rollout_report as report
    from gymbox.cli import swarm_engine
    from gymbox.cli.common import print_json
    from gymbox.cli.progress import RolloutProgress
    from gymbox.cli.stack_choice import choose_stack
    from gymbox.collector.discovery import DIRECT_AGENT, find_agents, stack_agents
    from gymbox.collector.metrics import compute_metrics, write_metrics
    from gymbox.collector.metrics_table import print_metrics
    from gymbox.collector.rows import count_lines
    from gymbox.collector.runner import CollectOptions, Collector, run_until_signalled
    from gymbox.collector.store import sibling
    from gymbox.cpu_policy import prefer_throughput
    from gymbox.gc_tuning import settle_after_startup

    prefer_throughput()  # before the Docker client's threads start: they inherit it
    rediscover: Callable[[], dict[str, list[str]]] | None
    if swarm_engine.check_engine(engine) == "swarm" and not url:
        from gymbox.docker.swarm import agent_urls_swarm

        swarm_stack = swarm_engine.need_name(stack, "rollout")
        stack_name: str | None = swarm_stack
        agents, metadata = swarm_engine.find_agents(swarm_stack, agent, swarm_host)
        # Tasks move between nodes (a lost node, a restart): look the agents up again when they stop answering.
        rediscover = lambda: agent_urls_swarm(swarm_stack, swarm_host)  # noqa: E731
    else:
        stack_name = stack if url else choose_stack(stack, "rollout")
        agents, metadata = find_agents(stack_name or "", agent, url or [])
        # With a stack, agents that stop answering are looked up again (a restart moves a published port).
        rediscover = None if url else lambda: stack_agents(stack_name or "")
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
    total = options.rollouts(count_lines(input))
    rejects_file, failures_file = sibling(output, "rejects.jsonl"), sibling(output, "failures.jsonl")
    starts = report.file_size(rejects_file), report.file_size(failures_file)  # --resume appends to them
    exporter = None
    if metrics_port is not None:
        from gymbox.collector.exporter import CollectorExporter

        exporter = CollectorExporter()
        typer.echo(f"collector metrics: http://127.0.0.1:{exporter.serve(metrics_port)}/metrics", err=True)
    with RolloutProgress(total) as progress:
        on_outcome = progress.update if exporter is None else exporter.chain(progress.update)
        collector = Collector(agents, output, options, on_outcome=on_outcome, rediscover=rediscover)
        if exporter is not None:
            exporter.watch(collector)
        settle_after_startup()  # this process is the collector now, to the end
        summary = run_until_signalled(collector, input)  # Ctrl-C and SIGTERM still print the summary
        if not summary.interrupted:
            progress.finish()
    metrics = compute_metrics(
        output, pass_threshold=pass_threshold, elapsed_s=None if summary.interrupted else summary.elapsed_s
    )
    path = write_metrics(output, metrics)
    rejects, failures = report.read_new(rejects_file, starts[0]), report.read_new(failures_file, starts[1], 1)
    if json_output:
        print_json(report.summary_json(summary, output, metrics, path, rejects, max_failures))
    else:
        print_metrics(metrics)
        for line in report.summary_lines(summary, output, path, rejects, failures):
            typer.echo(line)
    if summary.interrupted:
        typer.echo("interrupted: everything finished so far is on disk; rerun with --resume to continue", err=True)
        raise SystemExit(130)
    if report.over_limit(summary, max_failures):
        typer.echo(report.verdict(summary, max_failures), err=True)
        raise SystemExit(report.TOO_MANY_FAILURES_EXIT)
