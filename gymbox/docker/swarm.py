"""A stack on Docker Swarm: the rendered services as `docker stack deploy` runs them on many nodes.

    files = render(config, "weather", push_images(images, "registry.example:5000"))
    deploy_swarm(files)                      # compose/weather/swarm.yaml, then `docker stack deploy`
    agent_urls_swarm("weather")              # {"weather_agent": ["http://10.0.0.7:30001", ...]}
    remove_swarm("weather")

Swarm commands go to a manager: `host` (`--swarm-host`, e.g. tcp://10.0.0.1:2375 or ssh://user@node),
else this machine's engine, which must then be a manager itself; images are built and pushed by this
machine's engine either way. What changes from the compose path, and why:
- Services are named `<stack>_<instance>` by Swarm, and keep their instance name as an alias on the stack's
  networks, so stack.yaml's `http://<instance>:8000` still reaches them.
- `endpoint_mode: dnsrr`: a service name resolves to every task, and an agent pins each episode to one
  environment task, as it pins it to one compose replica (virtual IPs would balance every call anew).
- Agents publish port 8000 in `host` mode on whichever node runs them, on a port Docker picks; the
  collector finds each task's node address and port through the manager.
- stack.yaml travels as a Swarm config, and secrets as Swarm secrets created from stdin (never a file):
  gymbox servers read them from /run/secrets (`load_mounted_secrets`). A container that is not gymbox's
  own (the vLLM engine) gets its secret environment filled in by `docker stack deploy`, as compose does.
- Images must come from a registry every node can reach: `gymbox push` (gymbox.docker.registry).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gymbox.docker import client
from gymbox.docker.render import StackFiles
from gymbox.docker.service import CONFIG_PATH, CONTAINER_PORT, ROLE_LABEL, STACK_LABEL, Service
from gymbox.errors import StackError
from gymbox.roles import Role

SWARM_FILE = "swarm.yaml"
CONFIG_KEY = "stack_config"  # the stack file's name for stack.yaml's Swarm config
SECRETS_DIR = Path("/run/secrets")
SECRET_PREFIX = "GYMBOX_SECRET_"
GPU_CONSTRAINT = "node.labels.gpu == true"  # label GPU nodes: docker node update --label-add gpu=true NODE
_REFERENCE = re.compile(r"^\$\{(" + SECRET_PREFIX + r"[A-Z0-9_]+)\}$")
_RESTART = {"no": "none", "always": "any", "unless-stopped": "any", "on-failure": "on-failure"}


def _docker(
    host: str | None, *args: str, env: dict[str, str] | None = None, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """A docker command against the Swarm manager (`host`, else this machine's engine)."""
    extra = {**(env or {}), **({"DOCKER_HOST": host} if host else {})}
    return client.run(["docker", *args], env=extra, **kwargs)


def _secret_refs(svc: Service) -> dict[str, str]:
    """The service's environment variables that pass a stack secret through: {variable: secret name}."""
    return {key: match[1] for key, value in svc.environment.items() if (match := _REFERENCE.match(str(value)))}


def secret_object_name(stack: str, name: str, value: str) -> str:
    """Swarm secrets cannot change: a new value gets a new name, and services move to it on deploy."""
    digest = hashlib.sha256(value.encode()).hexdigest()[:10]
    return f"{stack}_{name.lower()}_{digest}"


def _service(svc: Service) -> dict[str, Any]:
    out: dict[str, Any] = {"image": svc.image}
    if svc.command:
        out["command"] = list(svc.command)
    if svc.init and svc.gymbox:
        out["init"] = True
    if svc.user:
        out["user"] = svc.user
    secrets = _secret_refs(svc) if svc.gymbox else {}
    environment = {key: value for key, value in svc.environment.items() if key not in secrets}
    if environment:
        out["environment"] = environment
    if secrets:
        uid = (svc.user or "0").split(":")[0]
        out["secrets"] = [
            {"source": name, "target": name, "uid": uid, "gid": uid, "mode": 0o400}
            for name in sorted(set(secrets.values()))
        ]
    if svc.gymbox:
        out["configs"] = [{"source": CONFIG_KEY, "target": CONFIG_PATH, "mode": 0o444}]
    if svc.volumes:
        out["volumes"] = list(svc.volumes)
    out["labels"] = {key: str(value) for key, value in svc.labels.items()}  # roles are StrEnums
    if svc.healthcheck:
        out["healthcheck"] = dict(svc.healthcheck)
    if svc.publish:
        out["ports"] = [{"target": CONTAINER_PORT, "protocol": "tcp", "mode": "host"}]
    out["networks"] = {network: {"aliases": [svc.name]} for network in svc.networks}
    if svc.read_only:
        out["read_only"] = True
    if svc.tmpfs:
        out["tmpfs"] = list(svc.tmpfs)
    if svc.cap_drop:
        out["cap_drop"] = list(svc.cap_drop)
    if svc.cap_add:
        out["cap_add"] = list(svc.cap_add)
    if svc.security_opt:
        out["security_opt"] = list(svc.security_opt)
    out["stop_grace_period"] = "5s"
    out["deploy"] = _deploy(svc)
    return out


def _deploy(svc: Service) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    if svc.cpus:
        limits["cpus"] = str(svc.cpus)
    if svc.memory:
        limits["memory"] = svc.memory
    if svc.pids_limit:
        limits["pids"] = svc.pids_limit
    if limits:
        resources["limits"] = limits
        # Reserve what is limited, so the scheduler never packs a node beyond what its tasks may use.
        resources["reservations"] = {k: v for k, v in limits.items() if k != "pids"}
    constraints = list(svc.placement)
    if svc.gpus:
        resources.setdefault("reservations", {})["generic_resources"] = [
            {"discrete_resource_spec": {"kind": "NVIDIA-GPU", "value": svc.gpus}}
        ]
        constraints.append(GPU_CONSTRAINT)
    deploy: dict[str, Any] = {
        "mode": "replicated",
        "replicas": svc.replicas,
        "endpoint_mode": "dnsrr",
        "labels": {STACK_LABEL: str(svc.labels[STACK_LABEL]), ROLE_LABEL: str(svc.labels.get(ROLE_LABEL, ""))},
        "restart_policy": {"condition": _RESTART.get(svc.restart, "any"), "delay": "2s"},
        # One task at a time, the new one healthy before the old one stops; a failed update rolls back.
        "update_config": {"parallelism": 1, "order": "start-first", "failure_action": "rollback"},
        "rollback_config": {"parallelism": 1, "order": "start-first"},
    }
    if resources:
        deploy["resources"] = resources
    if constraints:
        deploy["placement"] = {"constraints": constraints}
    return deploy


def stack_document(files: StackFiles) -> dict[str, Any]:
    """The `docker stack deploy` file (format 3.8) for a rendered stack."""
    config_text = (files.directory / "stack.yaml").read_bytes()
    config_name = f"{files.name}_config_{hashlib.sha256(config_text).hexdigest()[:10]}"
    services = {svc.name: _service(svc) for svc in files.services}
    used = sorted({name for svc in files.services if svc.gymbox for name in _secret_refs(svc).values()})
    networks: dict[str, Any] = {
        "default": {"driver": "overlay", "attachable": True, "labels": {STACK_LABEL: files.name}},
    }
    for network in files.sandbox_networks:  # no route out, and only the servers naming the sandbox join
        networks[network] = {"driver": "overlay", "internal": True, "labels": {STACK_LABEL: files.name}}
    document: dict[str, Any] = {
        "version": "3.8",
        "services": services,
        "networks": networks,
        "configs": {CONFIG_KEY: {"file": "./stack.yaml", "name": config_name}},
    }
    if used:
        document["secrets"] = {
            name: {"external": True, "name": secret_object_name(files.name, name, files.secrets[name])} for name in used
        }
    if files.volumes:
        document["volumes"] = {name: {"labels": labels} for name, labels in files.volumes.items()}
    return document


def write_stack_file(files: StackFiles, document: dict[str, Any] | None = None) -> Path:
    """Write `swarm.yaml`: `document`, else the stack document of `files`."""
    import yaml

    path = files.directory / SWARM_FILE
    header = (
        f"# Stack {files.name!r} for Docker Swarm, rendered by gymbox: do not edit.\n"
        f"# `gymbox up --engine swarm` creates its secrets and runs `docker stack deploy -c {SWARM_FILE}`.\n"
    )
    path.write_text(header + yaml.safe_dump(document or stack_document(files), sort_keys=False))
    return path


# ------------------------------------------------------------------------------------------ lifecycle


def _ensure_secrets(files: StackFiles, document: dict[str, Any], host: str | None) -> None:
    """Create the stack's secrets from stdin, so their values never touch a file."""
    existing = set(_docker(host, "secret", "ls", "--format", "{{.Name}}").stdout.split())
    for name, spec in document.get("secrets", {}).items():
        if spec["name"] in existing:
            continue
        _docker(
            host,
            "secret",
            "create",
            "--label",
            f"{STACK_LABEL}={files.name}",
            spec["name"],
            "-",
            input=files.secrets[name],
        )


def deploy_swarm(
    files: StackFiles,
    *,
    host: str | None = None,
    timeout: float = 600.0,
    on_progress: Callable[[dict[str, str]], None] | None = None,
) -> dict[str, list[str]]:
    """Deploy (or update) the stack, wait until every service runs all its replicas; return agent URLs."""
    document = stack_document(files)
    path = write_stack_file(files, document)
    _ensure_secrets(files, document, host)
    # Non-gymbox containers (the vLLM engine) take their secret environment from `${...}` substitution.
    _docker(host, "stack", "deploy", "--prune", "--compose-file", str(path), files.name, env=files.secrets, timeout=300)
    wait_converged(files.name, {svc.name: svc.replicas for svc in files.services}, timeout, host, on_progress)
    return agent_urls_swarm(files.name, host)


def services_state(stack: str, host: str | None = None) -> dict[str, str]:
    """{instance: "running/desired"} of the stack's services."""
    out = _docker(
        host, "service", "ls", "--filter", f"label={STACK_LABEL}={stack}", "--format", "{{.Name}} {{.Replicas}}"
    ).stdout
    state = {}
    for line in out.splitlines():
        name, _, replicas = line.partition(" ")
        state[name.removeprefix(f"{stack}_")] = replicas.split(" ")[0]
    return state


def wait_converged(
    stack: str,
    expected: dict[str, int],
    timeout: float,
    host: str | None = None,
    on_progress: Callable[[dict[str, str]], None] | None = None,
) -> None:
    """Until every service runs its replicas (a task with a healthcheck counts once healthy)."""
    deadline = time.monotonic() + timeout
    last: dict[str, str] = {}
    while True:
        state = services_state(stack, host)
        if state != last and on_progress is not None:
            on_progress(state)
        last = state
        if all(state.get(name) == f"{n}/{n}" for name, n in expected.items()):
            return
        if time.monotonic() > deadline:
            behind = ", ".join(
                f"{name} {state.get(name, 'missing')}"
                for name in expected
                if state.get(name) != f"{expected[name]}/{expected[name]}"
            )
            raise StackError(
                f"swarm stack {stack!r} did not converge within {timeout:g} s: {behind}.\n"
                f"Hint: `docker service ps --no-trunc {stack}_<instance>` shows why tasks fail "
                "(an image no node can pull: push it with `gymbox push --registry ...`)."
            )
        time.sleep(1.0)


def _inspect(host: str | None, *ids: str) -> list[dict[str, Any]]:
    if not ids:
        return []
    result: list[dict[str, Any]] = json.loads(_docker(host, "inspect", *ids).stdout)
    return result


def agent_urls_swarm(stack: str, host: str | None = None) -> dict[str, list[str]]:
    """{agent instance: URLs} of every running agent task, at its node's address and published port."""
    services = _docker(
        host,
        "service",
        "ls",
        "--filter",
        f"label={STACK_LABEL}={stack}",
        "--filter",
        f"label={ROLE_LABEL}={Role.RESPONSES_API_AGENTS.value}",
        "--format",
        "{{.Name}}",
    ).stdout.split()
    nodes: dict[str, str] = {}
    urls: dict[str, list[str]] = {}
    for service in sorted(services):
        task_ids = _docker(
            host, "service", "ps", "--quiet", "--no-trunc", "--filter", "desired-state=running", service
        ).stdout.split()
        tasks = [t for t in _inspect(host, *task_ids) if t.get("Status", {}).get("State") == "running"]
        missing = sorted({t["NodeID"] for t in tasks} - set(nodes))
        for node in _inspect(host, *missing):
            nodes[node["ID"]] = node.get("Status", {}).get("Addr", "")
        found = []
        for task in tasks:
            for port in task.get("Status", {}).get("PortStatus", {}).get("Ports", []) or []:
                if port.get("TargetPort") == CONTAINER_PORT and port.get("PublishedPort"):
                    found.append(f"http://{nodes[task['NodeID']]}:{port['PublishedPort']}")
        urls[service.removeprefix(f"{stack}_")] = sorted(found)
    return urls


def remove_swarm(stack: str, host: str | None = None, *, timeout: float = 120.0) -> None:
    """`docker stack rm`, then wait until its tasks and networks are gone and drop its secrets."""
    _docker(host, "stack", "rm", stack, check=False)
    deadline = time.monotonic() + timeout
    namespace = f"label=com.docker.stack.namespace={stack}"
    while time.monotonic() < deadline:
        services = _docker(host, "service", "ls", "--quiet", "--filter", namespace).stdout.split()
        networks = _docker(host, "network", "ls", "--quiet", "--filter", namespace).stdout.split()
        if not services and not networks:
            break
        time.sleep(1.0)
    secrets = _docker(host, "secret", "ls", "--quiet", "--filter", f"label={STACK_LABEL}={stack}").stdout.split()
    if secrets:
        _docker(host, "secret", "rm", *secrets, check=False)


def service_logs(stack: str, instance: str, *, host: str | None, follow: bool = False, tail: str = "all") -> None:
    """Print a service's logs from every node, each line prefixed with its task (to the terminal)."""
    args = ["service", "logs", "--no-trunc", "--timestamps", "--tail", tail]
    if follow:
        args.append("--follow")
    try:
        _docker(host, *args, f"{stack}_{instance}", capture=False)
    except KeyboardInterrupt:  # Ctrl-C ends --follow
        pass


def load_mounted_secrets(directory: Path = SECRETS_DIR) -> list[str]:
    """In a container: put the stack's Swarm secrets (files named GYMBOX_SECRET_*) into the environment,
    where stack.yaml's `${env:GYMBOX_SECRET_...}` references find them. Returns the names loaded."""
    loaded = []
    if directory.is_dir():
        for path in sorted(directory.glob(f"{SECRET_PREFIX}*")):
            if path.name not in os.environ and path.is_file():
                os.environ[path.name] = path.read_text()
                loaded.append(path.name)
    return loaded
