"""`gymbox view`: browse rollouts files in a local web page (overview, tasks, rollouts, two runs compared)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def view(
    rollouts: Annotated[
        list[Path],
        typer.Argument(
            help="Rollouts JSONL files written by `gymbox rollout` (two or more: compare them).",
            exists=True,
            dir_okay=False,
        ),
    ],
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port on 127.0.0.1 (0: any free port).")] = 8765,
    pass_threshold: Annotated[float, typer.Option(help="Reward that counts as a pass for pass@k.")] = 1.0,
) -> None:
    """Index the files (byte offsets and a few numbers per row), then serve the viewer on 127.0.0.1."""
    import socket
    import time

    import uvicorn

    from gymbox.errors import GymboxError
    from gymbox.viewer.app import create_viewer_app
    from gymbox.viewer.index import RunIndex

    # Bind first: a busy port fails before indexing, and the URL printed is the one that answers.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise GymboxError(
            f"--port {port}: cannot listen on 127.0.0.1:{port} ({exc.strerror}); choose another, or 0"
        ) from None
    runs = []
    for path in rollouts:
        started = time.monotonic()
        run = RunIndex(path, pass_threshold=pass_threshold)
        skipped = f", {run.skipped_lines} unreadable lines skipped" if run.skipped_lines else ""
        took = time.monotonic() - started
        typer.echo(f"indexed {path}: {len(run):,} rows, {len(run.tasks):,} tasks in {took:.1f} s{skipped}", err=True)
        runs.append(run)
    sock.listen(128)  # connections made before uvicorn starts wait in the backlog, not refused
    typer.echo(f"gymbox view: http://127.0.0.1:{sock.getsockname()[1]}/  (Ctrl-C stops)", err=True)
    server = uvicorn.Server(uvicorn.Config(create_viewer_app(runs), log_level="warning", access_log=False))
    server.run(sockets=[sock])
