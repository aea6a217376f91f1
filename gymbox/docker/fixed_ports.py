"""The fixed host ports a stack publishes, checked before `compose up`.

NeMo Gym agents and the NeMo head server are published on fixed ports of 127.0.0.1, where NeMo's own
clients dial them (gymbox.nemo.head); everything else gets a port Docker picks. Two stacks of the same
NeMo config would ask for the same ports, and Docker would refuse the second halfway through its start
with "port is already allocated". Checked first, `up` refuses at once, naming who holds the port and the
setting that moves this stack's one.
"""

from __future__ import annotations

import errno
import socket

from gymbox.docker import client
from gymbox.docker.service import INSTANCE_LABEL, ROLE_LABEL, STACK_LABEL, Service
from gymbox.errors import StackError
from gymbox.nemo.head import HEAD_KEY, HEAD_ROLE


def check_fixed_ports(services: list[Service], stack_name: str) -> None:
    """Raise StackError if another stack's container or another program holds a port one of `services` is
    published on. This stack's own containers (an `up` of a running stack) may hold theirs."""
    for svc in services:
        if svc.host_port is None:
            continue
        holder = _holder(svc.host_port, stack_name)
        if holder:
            raise StackError(
                f"stack {stack_name!r}: {svc.name} is published on 127.0.0.1:{svc.host_port}, which {holder} "
                f"holds; stop that, or move this one with {_setting(svc)}"
            )


def _holder(port: int, stack_name: str) -> str:
    """Who holds `port` on the host, in words; "" if it is free or held by this stack."""
    listed = client.docker(
        "ps", "--filter", f"publish={port}", "--format", '{{.Names}}\t{{.Label "' + STACK_LABEL + '"}}'
    ).stdout
    for line in listed.splitlines():
        name, _, stack = line.partition("\t")
        if stack == stack_name:
            return ""
        return f"container {name} of stack {stack!r}" if stack else f"container {name}"
    if _bindable(port):
        return ""
    return "another program"


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as a listener would: TIME_WAIT is no holder
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def _setting(svc: Service) -> str:
    if svc.labels.get(ROLE_LABEL) == HEAD_ROLE:
        return f"`--set {HEAD_KEY}.port=PORT` (NeMo's clients then need `+{HEAD_KEY}.port=PORT` too)"
    instance = svc.labels.get(INSTANCE_LABEL, svc.name)
    role = svc.labels.get(ROLE_LABEL, "responses_api_agents")
    implementation = svc.labels.get("gymbox.implementation", "IMPLEMENTATION")
    return f"`--set {instance}.{role}.{implementation}.port=PORT`"
