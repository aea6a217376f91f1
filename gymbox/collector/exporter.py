"""`gymbox rollout --metrics-port N`: the collector's live counters on 127.0.0.1:N/metrics for Prometheus.

Counts come from the outcomes the collector reports as rollouts finish (the same ones the progress bar
shows); rollouts in flight are read from the replica pickers when Prometheus scrapes. The HTTP server
is prometheus-client's own, in a daemon thread, so it costs the event loop nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from gymbox.errors import GymboxError

if TYPE_CHECKING:
    from gymbox.collector.runner import Collector, Outcome

FINISHED = ("ok", "model_error", "infra_error", "timeout")  # rollouts that took an agent's time


class CollectorExporter:
    """The counters of one `gymbox rollout` run, and the HTTP server that offers them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.started = time.monotonic()
        self._finished = 0
        self._collector: Collector | None = None
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.rollouts = Counter(
            "gymbox_collector_rollouts",
            "Rollouts finished by status (ok, model_error, infra_error, timeout), and rows rejected or skipped",
            ["status"],
            registry=self.registry,
        )
        # A gauge, not a counter: rewards may be negative.
        self.reward_sum = Gauge(
            "gymbox_collector_reward_sum", "Sum of the rewards of scored rollouts", registry=self.registry
        )
        Gauge(
            "gymbox_collector_in_flight", "Rollouts sent to an agent and not answered yet", registry=self.registry
        ).set_function(self._in_flight)
        Gauge(
            "gymbox_collector_throughput_rollouts_per_second",
            "Finished rollouts per second since the run started",
            registry=self.registry,
        ).set_function(self._throughput)

    def observe(self, outcome: Outcome) -> None:
        self.rollouts.labels(str(outcome.kind)).inc()
        if outcome.reward is not None:
            self.reward_sum.inc(outcome.reward)
        if outcome.kind in FINISHED:
            self._finished += 1

    def chain(self, on_outcome: Callable[[Outcome], None]) -> Callable[[Outcome], None]:
        """An outcome callback that counts, then calls `on_outcome` (the progress display)."""

        def both(outcome: Outcome) -> None:
            self.observe(outcome)
            on_outcome(outcome)

        return both

    def watch(self, collector: Collector) -> None:
        """Read rollouts in flight from this collector's replica pickers."""
        self._collector = collector

    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """Start answering `GET /metrics` on host:port (0: a free port); returns the port."""
        try:
            self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise GymboxError(
                f"--metrics-port {port}: cannot listen on {host}:{port} ({exc.strerror}); choose another port"
            ) from None
        return int(self._server.server_port)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _in_flight(self) -> float:
        collector = self._collector
        if collector is None:
            return 0.0
        return float(sum(sum(picker.in_flight.values()) for picker in list(collector.pickers.values())))

    def _throughput(self) -> float:
        elapsed = time.monotonic() - self.started
        return self._finished / elapsed if elapsed > 0 else 0.0
