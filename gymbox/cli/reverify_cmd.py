"""`gymbox reverify`: send each recorded response to its environment's /verify again; report which rewards
differ from the recorded ones.

A row's episode is not played again: `seed_session` starts a fresh session from the row's task fields (so
stateful verifiers find their state), then `/verify` gets the task row plus the recorded `response`.
Environments whose reward depends on tool calls made during the episode (state the tools changed) need a
replayed episode instead: `replay_model` plays the recorded turns through the agent.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from gymbox.cli.options import JsonOutput
from gymbox.roles import Role

DEFAULT_TOLERANCE = 1e-6


@dataclass
class Difference:
    source: str  # file:line
    recorded: float
    got: float | None
    error: str = ""


@dataclass
class ReverifyReport:
    rows: int = 0
    matched: int = 0
    skipped: int = 0  # rows without a numeric recorded reward
    differences: list[Difference] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "matched": self.matched,
            "skipped": self.skipped,
            "differences": [d.__dict__ for d in self.differences],
        }


async def reverify_rows(
    rows: list[tuple[str, dict[str, Any]]], url: str, *, concurrency: int = 4, tolerance: float = DEFAULT_TOLERANCE
) -> ReverifyReport:
    """Verify each (source, rollout row) again at the resources server `url`."""
    from gymbox.http_client import PeerClient
    from gymbox.model_servers.replay_model import task_row

    report = ReverifyReport()
    client = PeerClient(timeout_s=600)
    limit = asyncio.Semaphore(concurrency)

    async def one(source: str, row: dict[str, Any]) -> None:
        recorded = row.get("reward")
        if not isinstance(recorded, int | float) or isinstance(recorded, bool):
            report.skipped += 1
            return
        report.rows += 1
        task = task_row(row)
        async with limit:
            seeded = await client.post(f"{url}/seed_session", task)
            if not seeded.ok:
                report.differences.append(Difference(source, recorded, None, f"seed_session: {seeded.error_text()}"))
                return
            verified = await client.post(f"{url}/verify", {**task, "response": row["response"]}, cookies=seeded.cookies)
        got = verified.body.get("reward") if verified.ok and isinstance(verified.body, dict) else None
        if not isinstance(got, int | float):
            report.differences.append(Difference(source, recorded, None, f"verify: {verified.error_text()}"))
        elif math.isclose(float(got), float(recorded), rel_tol=tolerance, abs_tol=tolerance):
            report.matched += 1
        else:
            report.differences.append(Difference(source, float(recorded), float(got)))

    try:
        await asyncio.gather(*(one(source, row) for source, row in rows))
    finally:
        await client.close()
    report.differences.sort(key=lambda d: d.source)
    return report


def resources_url(stack: str, server: str | None) -> str:
    """The address of a resources server in a running stack (its container's, reachable from this host)."""
    from gymbox.docker.stack import Stack
    from gymbox.errors import GymboxError

    containers = [c for c in Stack(stack).containers() if c.role == Role.RESOURCES_SERVERS]
    names = sorted({c.instance for c in containers})
    if not names:
        raise GymboxError(f"no running stack {stack!r} with resources servers: start it with `gymbox up`")
    if server is None and len(names) > 1:
        raise GymboxError(f"stack {stack!r} has several resources servers ({', '.join(names)}): pass --server")
    name = server or names[0]
    found = [c for c in containers if c.instance == name and c.ip_addresses]
    if not found:
        raise GymboxError(f"stack {stack!r} has no running resources server {name!r} (it has: {', '.join(names)})")
    from gymbox.docker.service import CONTAINER_PORT

    return f"http://{found[0].ip_addresses[0]}:{CONTAINER_PORT}"


def reverify(
    rollouts: Annotated[
        Path,
        typer.Argument(
            metavar="ROLLOUTS",
            help="Rollouts JSONL: NeMo Gym's example_rollouts.jsonl or `gymbox rollout` output.",
            exists=True,
            dir_okay=False,
        ),
    ],
    stack: Annotated[str | None, typer.Option(help="Running stack whose resources server verifies.")] = None,
    server: Annotated[
        str | None, typer.Option(help="Resources-server instance in --stack [default: the only one].")
    ] = None,
    url: Annotated[str | None, typer.Option(help="Resources server URL instead of --stack.")] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Rows verified at once.")] = 4,
    tolerance: Annotated[float, typer.Option(help="Largest reward difference that still matches.")] = DEFAULT_TOLERANCE,
    json_output: JsonOutput = False,
) -> None:
    """Verify recorded responses again and report the rows whose reward differs. Exit 1 when any does."""
    from gymbox.cli.common import print_json
    from gymbox.model_servers.replay_model import read_rollouts

    if (stack is None) == (url is None):
        raise typer.BadParameter("give exactly one of --stack and --url")
    target = url.rstrip("/") if url else resources_url(str(stack), server)
    rows = [(f"{rollouts}:{n}", row) for n, row in read_rollouts(rollouts)]
    report = asyncio.run(reverify_rows(rows, target, concurrency=concurrency, tolerance=tolerance))
    if json_output:
        print_json(report.to_dict())
    else:
        for d in report.differences:
            got = "no reward" if d.got is None else f"{d.got:g}"
            typer.echo(f"{d.source}: recorded {d.recorded:g}, got {got}" + (f" ({d.error})" if d.error else ""))
        typer.echo(
            f"{report.matched}/{report.rows} rewards match ({len(report.differences)} differ, "
            f"{report.skipped} rows without a recorded reward)",
            err=True,
        )
    if report.differences:
        raise typer.Exit(1)
