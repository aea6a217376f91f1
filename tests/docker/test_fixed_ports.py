"""`up` checks the fixed host ports of a stack (NeMo agents, the NeMo head) before starting anything: a port
another stack's container or another program holds is named, with the setting that moves this one."""

from __future__ import annotations

import socket
import subprocess

import pytest

from gymbox.docker.fixed_ports import check_fixed_ports
from gymbox.docker.service import INSTANCE_LABEL, ROLE_LABEL, STACK_LABEL, Service
from gymbox.errors import StackError
from tests.cli_helpers import free_port

pytestmark = pytest.mark.docker


def nemo_agent(port: int) -> Service:
    labels = {INSTANCE_LABEL: "my_agent", ROLE_LABEL: "responses_api_agents", "gymbox.implementation": "simple_agent"}
    return Service("my_agent", "image", labels, host_port=port)


@pytest.fixture
def held_by_a_stack(weather_images: tuple[str, str], stack_name: str) -> tuple[int, str]:
    """A port published by a container of the stack `stack_name` (removed by that fixture)."""
    port = free_port()
    container = subprocess.run(
        ["docker", "run", "-d", "--label", f"{STACK_LABEL}={stack_name}", "-p", f"127.0.0.1:{port}:8000",
         "--entrypoint", "sleep", weather_images[0], "120"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    name = subprocess.run(
        ["docker", "inspect", "-f", "{{.Name}}", container], capture_output=True, text=True, check=True
    ).stdout.strip()
    return port, name.lstrip("/")


def test_a_port_another_stack_publishes_is_named_with_the_setting_that_moves_this_one(
    held_by_a_stack: tuple[int, str], stack_name: str
) -> None:
    port, container = held_by_a_stack

    with pytest.raises(StackError) as raised:
        check_fixed_ports([nemo_agent(port)], "second")
    message = str(raised.value)
    assert f"127.0.0.1:{port}, which container {container} of stack {stack_name!r} holds" in message
    assert "`--set my_agent.responses_api_agents.simple_agent.port=PORT`" in message
    # The stack's own container (an `up` of a stack that runs) is no conflict.
    check_fixed_ports([nemo_agent(port)], stack_name)


def test_a_port_another_program_listens_on_is_refused_and_a_free_one_passes() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        head = Service("nemo_head", "image", {ROLE_LABEL: "nemo_head"}, host_port=port)
        with pytest.raises(StackError, match=rf"127\.0\.0\.1:{port}, which another program holds.*head_server\.port="):
            check_fixed_ports([head], "mine")
    check_fixed_ports([head, nemo_agent(free_port()), Service("env", "image", {})], "mine")
