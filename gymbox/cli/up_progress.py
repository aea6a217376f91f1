"""What `gymbox up` shows while it builds and waits, on stderr, with the time elapsed.

On a terminal, a live panel: the current step and each service's state, redrawn four times a second.
Otherwise (a log, CI), plain lines: each build step, and each service's state when it changes, plus a
`still waiting` line every 30 s so a long vLLM start never looks hung:

    [   0.4s] gymbox/runtime:3f2a9c1b7d4e is up to date
    [   1.9s] starting stack demo (3 services)
    [   2.3s] policy_model: starting
    [   3.1s] policy_model: healthy
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live

HEARTBEAT_S = 30.0


class UpProgress:
    def __init__(self, stack_name: str, console: Console, *, live: bool | None = None) -> None:
        self.stack_name = stack_name
        self.console = console
        self.started = time.monotonic()
        self.step = "building images"
        self.states: dict[str, str] = {}
        self.last_line = self.started
        self.live: Live | None = None
        if console.is_terminal if live is None else live:
            from rich.live import Live

            self.live = Live(get_renderable=self._panel, console=console, refresh_per_second=4, transient=True)

    def __enter__(self) -> UpProgress:
        if self.live is not None:
            self.live.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self.live is not None:
            self.live.stop()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def log(self, message: str) -> None:
        """A step worth keeping on screen (a build started or finished), with its time."""
        self._line(message)

    def services(self, states: dict[str, str]) -> None:
        """The wait's report (gymbox.docker.wait.progress_to): print what changed."""
        if not self.states:
            self.step = f"starting stack {self.stack_name} ({len(states)} services)"
            self._line(self.step)
        changed = {service: state for service, state in states.items() if self.states.get(service) != state}
        self.states = dict(states)
        if self.live is not None:
            return  # the panel shows every state
        for service, state in changed.items():
            self._line(f"{service}: {state}")
        if not changed and time.monotonic() - self.last_line >= HEARTBEAT_S:
            waiting = [f"{s}: {state}" for s, state in states.items() if state != "healthy"]
            self._line(f"still waiting for {', '.join(waiting)}")

    def _line(self, message: str) -> None:
        self.last_line = time.monotonic()
        self.console.print(f"[{self.elapsed:6.1f}s] {message}", markup=False, highlight=False)

    def _panel(self) -> RenderableType:
        from rich.table import Table

        table = Table.grid(padding=(0, 2))
        table.add_row(f"{self.step} ... {self.elapsed:.1f} s")
        for service, state in self.states.items():
            mark = "✓" if state == "healthy" else "·"
            table.add_row(f"  {mark} {service}: {state}")
        return table
