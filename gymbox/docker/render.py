"""Render a stack config into `compose/<stack>/`: docker-compose.yaml, stack.yaml and .env.

One compose service per server instance, named as the instance (peers find each other by that DNS name,
port 8000). The template (gymbox/templates/compose/docker-compose.yaml.j2) only lays out what
`services()` decides here, so the decisions are plain Python and unit-tested. File format 2.4, which
docker-compose v1.29 and compose v2 both read with `depends_on: condition: service_healthy`, `scale`,
`cpus`, `mem_limit` and GPU `deploy.resources.reservations.devices` (v3 files drop the first ones for
swarm).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gymbox.config import ResolvedConfig, ServerInstance, server_refs
from gymbox.docker import secrets as secrets_mod
from gymbox.docker.any_image import container_spec, image_service, runs_any_image
from gymbox.docker.images import StackImages, env_image, environments_of, nemo_instances
from gymbox.docker.sandbox import network_name, sandbox_service
from gymbox.docker.service import (
    CACHE_LABEL,
    CONFIG_LABEL,
    CONFIG_PATH,
    CONTAINER_PORT,
    INSTANCE_LABEL,
    NEMO_LABEL,
    ROLE_LABEL,
    STACK_LABEL,
    Service,
    healthcheck,
    serve_command,
)
from gymbox.errors import ConfigError
from gymbox.roles import Role

COMPOSE_FILE = "docker-compose.yaml"
PROJECT_VAR = "COMPOSE_PROJECT_NAME"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_SERVICE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")  # also a DNS name on the stack's network: no dots


def compose_root() -> Path:
    return Path(os.environ.get("GYMBOX_COMPOSE_DIR", "compose"))


def project_name(stack: str) -> str:
    return f"gymbox-{stack}"


def check_stack_name(name: str) -> str:
    if not _NAME.match(name):
        raise ConfigError(
            f"stack name {name!r}: use lowercase letters, digits, '-' and '_' "
            "(starting with a letter or digit, at most 63 characters)"
        )
    return name


def default_stack_name(config_files: list[Path] | None, model: str | None) -> str:
    """The first config file's stem (`example_single_tool_call`), else the model's name."""
    stem = Path(config_files[0]).stem if config_files else (model or "stack")
    name = re.sub(r"[^a-z0-9_-]+", "-", stem.lower()).strip("-_") or "stack"
    return check_stack_name(name[:63])


@dataclass
class StackFiles:
    name: str
    directory: Path
    services: list[Service]
    volumes: dict[str, dict[str, str]]  # volume -> labels
    secrets: dict[str, str] = field(repr=False)  # .env name -> value

    @property
    def project(self) -> str:
        return project_name(self.name)

    @property
    def sandbox_networks(self) -> list[str]:
        """The internal networks, one per sandbox: every network a service joins besides `default`."""
        return sorted({network for svc in self.services for network in svc.networks} - {"default"})

    @property
    def compose_file(self) -> Path:
        return self.directory / COMPOSE_FILE


def references(fields: Any) -> list[str]:
    """Instance names a server's fields refer to with `{type: <role>, name: <instance>}`."""
    return [ref.name for _, ref in server_refs(fields)]


def container_stack(stack: ResolvedConfig) -> ResolvedConfig:
    """The config as containers see it: every instance at <its service name>:8000, except those with a
    `url` (servers outside the stack, which keep it)."""
    inside = stack.model_copy(deep=True)
    for inst in inside.instances.values():
        if inst.config.url:
            continue
        inst.config.host = inst.name
        inst.config.port = container_spec(inst).port if runs_any_image(inst) else CONTAINER_PORT
    return inside


def _labels(stack_name: str, inst: ServerInstance) -> dict[str, str]:
    return {
        STACK_LABEL: stack_name,
        INSTANCE_LABEL: inst.name,
        ROLE_LABEL: inst.role,
        "gymbox.implementation": inst.implementation,
    }


def services(
    stack: ResolvedConfig,
    stack_name: str,
    images: StackImages,
    secret_names: dict[str, str],
    host_ports: dict[str, int] | None = None,
) -> tuple[list[Service], dict[str, dict[str, str]]]:
    """The compose services and named volumes of `stack`. `secret_names`: secret value -> .env name.
    `host_ports`: the instances' ports as configured (before `container_stack`), where NeMo agents and
    their head server are published (gymbox.nemo.head)."""
    out: list[Service] = []
    nemo_agent_ports: dict[str, int] = {}
    volumes: dict[str, dict[str, str]] = {}
    sandboxes = {inst.name for inst in stack.by_role(Role.SANDBOXES)}
    outside = {inst.name for inst in stack.instances.values() if inst.config.url}
    for inst in stack.instances.values():
        if inst.config.url:
            continue  # outside the stack: peers dial its url, nothing here starts it
        if not _SERVICE.match(inst.name):
            raise ConfigError(
                f"{inst.source}: instance name {inst.name!r} cannot be a compose service name; "
                "use letters, digits, '_' and '-'"
            )
        if inst.role == Role.SANDBOXES:
            out.append(sandbox_service(inst, images, _labels(stack_name, inst)))
            continue
        if runs_any_image(inst):
            depends_on = sorted({r for r in references(inst.config.extra_fields()) if r not in (inst.name, *outside)})
            out.append(image_service(inst, _labels(stack_name, inst), depends_on))
            continue
        if inst.name in images.nemo:
            nemo = _nemo_service(stack, inst, images, _labels(stack_name, inst), secret_names)
            out.append(nemo)
            _add_ray_head(out, images.nemo[inst.name], stack_name)
            if inst.role == Role.RESPONSES_API_AGENTS:
                nemo_agent_ports[inst.name] = _publish_nemo_agent(nemo, inst, host_ports or {})
            continue
        if inst.role == Role.RESOURCES_SERVERS:
            image = images.environments[env_image(inst).key]
        else:
            image = images.runtime
        cfg = inst.config
        depends_on = sorted({ref for ref in references(cfg.extra_fields()) if ref not in (inst.name, *outside)})
        svc = Service(
            name=inst.name,
            image=image,
            labels=_labels(stack_name, inst),
            command=serve_command(inst.name),
            healthcheck=healthcheck(),
            depends_on=depends_on,
            publish=inst.role == Role.RESPONSES_API_AGENTS,
            replicas=cfg.replicas,
            cpus=cfg.cpus,
            memory=cfg.memory,
            restart=cfg.restart,
            placement=list(cfg.placement or []),
            # A sandbox is reachable only on its own network, which only the servers naming it join.
            networks=["default", *(network_name(ref) for ref in depends_on if ref in sandboxes)],
        )
        out.append(svc)
        if inst.implementation == "vllm_model" and not cfg.extra_fields().get("base_url"):
            from gymbox.docker.vllm import vllm_service  # imports the model server (and openai): only here

            vllm, volume = vllm_service(inst, stack_name, secret_names)
            svc.depends_on.append(vllm.name)
            out.append(vllm)
            volumes[volume] = {STACK_LABEL: stack_name, INSTANCE_LABEL: inst.name, CACHE_LABEL: "model"}
    if nemo_agent_ports:
        from gymbox.nemo.head import head_port, head_service

        image = images.nemo[min(nemo_agent_ports)]
        out.append(head_service(stack, nemo_agent_ports, head_port(stack), image, stack_name))
    return out, volumes


def _publish_nemo_agent(svc: Service, inst: ServerInstance, host_ports: dict[str, int]) -> int:
    """A NeMo agent listens on its configured port on the host, where the head server's dict says it is."""
    from gymbox.nemo.head import agent_host_port

    configured = inst.model_copy(deep=True)
    configured.config.port = host_ports.get(inst.name)
    svc.host_port = agent_host_port(configured)
    return svc.host_port


def _add_ray_head(out: list[Service], server_image: str, stack_name: str) -> None:
    """The Ray head the NeMo server just added connects to, once per nemo-gym version."""
    from gymbox.nemo.runtime import ray_head_service

    version = out[-1].labels[NEMO_LABEL]
    head = ray_head_service(version, server_image, stack_name)
    if all(svc.name != head.name for svc in out):
        out.append(head)


def _nemo_service(
    stack: ResolvedConfig,
    inst: ServerInstance,
    images: StackImages,
    labels: dict[str, str],
    secret_names: dict[str, str],
) -> Service:
    """A NeMo Gym server's service (gymbox.nemo.runtime): NeMo's own process, NeMo's config variables."""
    from gymbox.nemo.runtime import nemo_config_dict, nemo_service
    from gymbox.nemo.servers import nemo_server

    outside = {other.name for other in stack.instances.values() if other.config.url}
    depends_on = sorted({ref for ref in references(inst.config.extra_fields()) if ref not in (inst.name, *outside)})
    config_dict = nemo_config_dict(stack, inst.name, secret_names)
    return nemo_service(inst, nemo_server(inst), images.nemo[inst.name], labels, config_dict, depends_on)


def render(stack: ResolvedConfig, stack_name: str, images: StackImages, *, root: Path | None = None) -> StackFiles:
    """Write compose/<stack>/{docker-compose.yaml, stack.yaml, .env}; return what was written."""
    import yaml

    from gymbox.registry import check_fields

    check_stack_name(stack_name)
    check_fields(stack, missing_environments_ok=True)  # a typo fails here, naming the user's file:line
    missing = sorted(set(environments_of(stack)) - set(images.environments))
    missing += sorted(set(nemo_instances(stack)) - set(images.nemo))
    if missing:
        raise ConfigError(f"no image for environment(s) {', '.join(missing)}; build them first")
    inside = container_stack(stack)
    stack_dict, found = secrets_mod.extract_secrets(inside.to_dict())
    config_text = (
        "# The resolved config as this stack's containers see it (`gymbox render`); secrets are\n"
        "# ${env:...} references to .env.\n" + yaml.safe_dump(stack_dict, sort_keys=False)
    )
    by_value = {value: name for name, value in found.items()}
    host_ports = {name: inst.config.port for name, inst in stack.instances.items() if inst.config.port}
    svcs, volumes = services(inside, stack_name, images, by_value, host_ports)
    from gymbox.nemo.runtime import RAY_ROLE

    # Dependents need these started, not healthy: `up` itself waits until each answers (gymbox servers reach
    # their peers per request, not at start), and NeMo Gym servers may restart while they connect to Ray
    # (docker/wait.py). vLLM and the Ray head are waited for by the engine, which probes them every second.
    started_enough = {s.name for s in svcs if s.probed_by_up or (s.nemo_gym and s.labels.get(ROLE_LABEL) != RAY_ROLE)}
    for svc in svcs:
        svc.started_deps = [dep for dep in svc.depends_on if dep in started_enough]
    for svc in svcs:  # each container gets only the secrets its own instance's fields name
        if svc.secrets:
            svc.environment.update(secrets_mod.service_environment(secrets_mod.referenced(stack_dict.get(svc.name))))
    # Compose recreates a service when its compose definition changes (the .env values included), but
    # cannot see inside the mounted stack.yaml: its hash, as a label, makes a config change restart them.
    config_hash = hashlib.sha256(config_text.encode()).hexdigest()[:12]
    for svc in svcs:
        if svc.gymbox:
            svc.labels[CONFIG_LABEL] = config_hash
    directory = (root or compose_root()) / stack_name
    rendered = StackFiles(stack_name, directory, svcs, volumes, found)

    compose_text = compose_yaml(rendered)
    secrets_mod.assert_no_secret({"stack.yaml": config_text, COMPOSE_FILE: compose_text}, found)

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "stack.yaml").write_text(config_text)
    (directory / "stack.yaml").chmod(0o644)  # read by the containers' non-root user
    # COMPOSE_PROJECT_NAME: plain `docker-compose -f compose/<stack>/docker-compose.yaml ps` (v1 and v2 read
    # the .env beside the file) then finds the stack; v1 rejects a top-level `name:` in a 2.4 file.
    secrets_mod.write_dotenv(directory / ".env", found, {PROJECT_VAR: rendered.project})
    (directory / COMPOSE_FILE).write_text(compose_text)
    return rendered


# ------------------------------------------------------------------------------------------ template


def _yaml_value(value: Any) -> str:
    """A YAML flow value (JSON is YAML); `$` doubled so compose does not interpolate it."""
    if isinstance(value, str):
        value = value.replace("$", "$$")
    elif isinstance(value, list):
        value = [v.replace("$", "$$") if isinstance(v, str) else v for v in value]
    return json.dumps(value, ensure_ascii=False)


def compose_yaml(rendered: StackFiles) -> str:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(
        loader=PackageLoader("gymbox", "templates/compose"),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["v"] = _yaml_value
    env.filters["raw"] = json.dumps  # compose ${VAR} references, meant to be interpolated
    template = env.get_template("docker-compose.yaml.j2")
    return template.render(
        stack=rendered.name,
        project=rendered.project,
        services=rendered.services,
        volumes=rendered.volumes,
        port=CONTAINER_PORT,
        config_path=CONFIG_PATH,
        stack_label=STACK_LABEL,
        sandbox_networks=rendered.sandbox_networks,
    )
