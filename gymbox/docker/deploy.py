"""Config to running stack in one call: build what is missing, render, start, wait for health.

    from gymbox.docker.deploy import deploy
    with deploy(load_config([cfg], model="scripted"), "weather") as running:
        running.agent_urls["my_agent"]          # ["http://127.0.0.1:32771", ...]
    # still running here; `running.stack.down()` (or `gymbox down --name weather`) removes it

What `gymbox up` does, and what tests and benchmarks call.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType

from gymbox.config import ResolvedConfig
from gymbox.docker.fixed_ports import check_fixed_ports
from gymbox.docker.images import BuildOptions, StackImages, build_stack_images
from gymbox.docker.records import Container
from gymbox.docker.render import StackFiles, check_stack_name, compose_root, render
from gymbox.docker.stack import Stack, agent_urls
from gymbox.docker.up_lock import up_lock


@dataclass
class Deployment:
    stack: Stack
    rendered: StackFiles
    images: StackImages
    containers: list[Container]
    agent_urls: dict[str, list[str]] = field(default_factory=dict)


def build_and_render(config: ResolvedConfig, name: str, options: BuildOptions) -> tuple[StackImages, StackFiles]:
    images = build_stack_images(config, options)
    return images, render(config, name, images)


DEFAULT_TIMEOUT_S = 120.0
GPU_TIMEOUT_S = 1800.0  # a vLLM container may download and load a model first


@contextmanager
def deploy(
    config: ResolvedConfig, name: str, *, options: BuildOptions | None = None, timeout: float | None = None
) -> Iterator[Deployment]:
    """Build, render, start and wait; tear down if any of it (or the `with` body) fails. Holds the
    stack's `up` lock meanwhile: a second `deploy` (`gymbox up`) of the same name fails at once."""
    with up_lock(compose_root() / check_stack_name(name), name):
        images, rendered = build_and_render(config, name, options or BuildOptions())
        check_fixed_ports(rendered.services, name)
        stack = Stack(name, rendered.directory)
        expected = {svc.name: svc.replicas for svc in rendered.services}
        if timeout is None:
            timeout = GPU_TIMEOUT_S if any(svc.gpus for svc in rendered.services) else DEFAULT_TIMEOUT_S
        with stack.up(expected, timeout=timeout) as containers:
            yield Deployment(stack, rendered, images, containers, agent_urls(containers))


@contextmanager
def signals_interrupt() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise KeyboardInterrupt, so teardown runs for both.

    SIGINT too, because a shell starts background jobs (`gymbox up &`) with SIGINT ignored.
    """

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
