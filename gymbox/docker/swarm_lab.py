"""A real multi-node Docker Swarm on one machine, for the Swarm tests and benchmark.

    with SwarmLab("lab", nodes=3) as lab:     # a manager and two workers, each its own Docker engine
        lab.manager                           # tcp://<node 1>:2375, for `gymbox up --engine swarm --swarm-host`
        lab.registry                          # 127.0.0.1:<port>, for `gymbox push --registry`
        lab.kill_node(2)                      # a worker goes away
    # nodes, their volumes, the registry and the network are gone here

Each node is a container of base_images/swarm_node (Debian's docker.io) running its own dockerd. The flags are
the ones that work on a host without CAP_SYS_RESOURCE, where `--privileged` fails ("unable to apply caps").
Everything carries the label `gymbox.lab=<name>`, and `remove` deletes only that.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from gymbox.docker import client
from gymbox.docker.context import BuildContext
from gymbox.docker.images import ROOT_IMAGE, BuildOptions, ImageSpec, base_image_id, build, source_root
from gymbox.errors import StackError

LAB_LABEL = "gymbox.lab"
NODE_REPO = "gymbox/swarm-node"
ENGINE_PORT = 2375
NODE_FLAGS = (
    "--init",  # tini reaps the node's processes: a kill otherwise finds dockerd a zombie and fails
    "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
    "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
    "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--tmpfs", "/run",
    # Each node's images and containers live in memory: vfs copies every layer and every container's root
    # (~2.5 GB a node for 2-3 weather containers, ~9 GB for 7 on one node). Deleting that much vfs from a disk
    # volume took minutes; a tmpfs goes with its container.
    "--tmpfs", "/var/lib/docker:exec,size=16g",  # a cap, not a reservation
)  # fmt: skip


def node_image(options: BuildOptions, base: str = ROOT_IMAGE) -> str:
    """Build (once: content-tagged) the node image."""
    ctx = BuildContext()
    ctx.add_file(source_root() / "base_images" / "swarm_node" / "Dockerfile", "Dockerfile")
    spec = ImageSpec(NODE_REPO, ctx, {"BASE": base}, tag_inputs={"base_id": base_image_id(base)})
    return build(spec, options)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class SwarmLab:
    name: str
    nodes: int = 3
    options: BuildOptions = field(default_factory=BuildOptions)
    registry_port: int = field(default_factory=_free_port)
    node_names: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)

    @property
    def network(self) -> str:
        return f"{self.name}-net"

    @property
    def registry(self) -> str:
        return f"127.0.0.1:{self.registry_port}"

    @property
    def manager(self) -> str:
        return f"tcp://{self.addresses[0]}:{ENGINE_PORT}"

    def _labels(self) -> list[str]:
        return ["--label", f"{LAB_LABEL}={self.name}"]

    def start(self, timeout: float = 120.0) -> SwarmLab:
        image = node_image(self.options)
        client.docker("network", "create", *self._labels(), self.network)
        client.docker(
            "run", "--detach", "--name", f"{self.name}-registry", "--network", self.network, *self._labels(),
            "--publish", f"127.0.0.1:{self.registry_port}:5000",
            image, "docker-registry", "serve", "/etc/docker/registry/lab.yml",
        )  # fmt: skip
        forward = f"{self.registry_port}:{self.name}-registry:5000"
        for index in range(1, self.nodes + 1):
            node = f"{self.name}-node{index}"
            client.docker(
                "run", "--detach", "--name", node, "--hostname", node, "--network", self.network, *self._labels(),
                *NODE_FLAGS, "--env", f"REGISTRY_FORWARD={forward}", image,
            )  # fmt: skip
            self.node_names.append(node)
        self.addresses = [self._address(node) for node in self.node_names]
        self._wait_engines(timeout)
        self._form_swarm()
        return self

    def _address(self, container: str) -> str:
        fmt = "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}"
        return client.docker("inspect", "--format", fmt, container).stdout.strip()

    def node_docker(self, index: int, *args: str, **kwargs: Any) -> str:
        """A docker command on node `index` (0 = the manager), through its engine's TCP socket."""
        env = {"DOCKER_HOST": f"tcp://{self.addresses[index]}:{ENGINE_PORT}"}
        return client.run(["docker", *args], env=env, **kwargs).stdout

    def _wait_engines(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for index in range(self.nodes):
            while True:
                result = client.run(
                    ["docker", "version", "--format", "{{.Server.Version}}"],
                    env={"DOCKER_HOST": f"tcp://{self.addresses[index]}:{ENGINE_PORT}"},
                    check=False,
                    timeout=10,
                )
                if result.returncode == 0:
                    break
                if time.monotonic() > deadline:
                    logs = client.docker("logs", "--tail", "20", self.node_names[index], check=False)
                    raise StackError(f"swarm lab node {self.node_names[index]} engine did not start:\n{logs.stderr}")
                time.sleep(0.5)

    def _form_swarm(self) -> None:
        self.node_docker(0, "swarm", "init", "--advertise-addr", self.addresses[0])
        token = self.node_docker(0, "swarm", "join-token", "--quiet", "worker").strip()
        for index in range(1, self.nodes):
            self.node_docker(index, "swarm", "join", "--token", token, f"{self.addresses[0]}:2377")

    def kill_node(self, index: int, timeout: float = 60.0) -> None:
        """Take node `index` away at once, as a machine that loses power (and wait until it is gone)."""
        node = self.node_names[index]
        deadline = time.monotonic() + timeout
        while True:
            client.docker("kill", node, check=False)
            state = client.docker("inspect", "--format", "{{.State.Running}}", node, check=False).stdout.strip()
            if state != "true":
                return
            if time.monotonic() > deadline:
                raise StackError(f"swarm lab node {node} would not die")
            time.sleep(0.5)

    def remove(self, timeout: float = 900.0) -> None:
        """Delete every container (with its volumes) and network labelled with this lab, and nothing else.

        A node's engine may still be tearing down its own containers when the kill arrives, and the kill
        then fails ("did not receive an exit event") although the node exits a moment later: try again.
        """
        label = f"label={LAB_LABEL}={self.name}"
        deadline = time.monotonic() + timeout
        while containers := client.docker("ps", "--all", "--quiet", "--filter", label).stdout.split():
            if time.monotonic() > deadline:
                raise StackError(f"swarm lab {self.name}: containers {' '.join(containers)} would not go away")
            # A graceful stop first: each node's engine then stops its own containers before the node goes.
            client.docker("stop", "--time", "20", *containers, timeout=600, check=False)
            client.docker("rm", "--force", "--volumes", *containers, timeout=600, check=False)
        networks = client.docker("network", "ls", "--quiet", "--filter", label).stdout.split()
        if networks:
            client.docker("network", "rm", *networks)

    def __enter__(self) -> SwarmLab:
        try:
            return self.start()
        except BaseException:
            self.remove()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.remove()
