"""Docker's JSON, parsed: `docker inspect` of containers and `docker {ps,network ls,volume ls}
--format '{{json .}}'` lines. Only the fields gymbox reads; the rest is ignored, so newer engines parse.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gymbox.docker.service import INSTANCE_LABEL, ROLE_LABEL, STACK_LABEL

COMPOSE_SERVICE_LABEL = "com.docker.compose.service"
COMPOSE_NUMBER_LABEL = "com.docker.compose.container-number"


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class HealthLog(_Model):
    exit_code: int = Field(alias="ExitCode")
    output: str = Field(default="", alias="Output")


class Health(_Model):
    status: str = Field(alias="Status")  # starting | healthy | unhealthy
    failing_streak: int = Field(default=0, alias="FailingStreak")
    log: list[HealthLog] = Field(default_factory=list, alias="Log")


class State(_Model):
    status: str = Field(alias="Status")  # created | running | restarting | exited | dead | ...
    running: bool = Field(default=False, alias="Running")
    restarting: bool = Field(default=False, alias="Restarting")
    oom_killed: bool = Field(default=False, alias="OOMKilled")
    exit_code: int = Field(default=0, alias="ExitCode")
    error: str = Field(default="", alias="Error")
    health: Health | None = Field(default=None, alias="Health")


class PortBinding(_Model):
    host_ip: str = Field(alias="HostIp")
    host_port: str = Field(alias="HostPort")


class ContainerConfig(_Model):
    image: str = Field(default="", alias="Image")
    labels: dict[str, str] = Field(default_factory=dict, alias="Labels")

    @field_validator("labels", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return value or {}


class Endpoint(_Model):
    ip_address: str = Field(default="", alias="IPAddress")


class NetworkSettings(_Model):
    ports: dict[str, list[PortBinding] | None] = Field(default_factory=dict, alias="Ports")
    networks: dict[str, Endpoint] = Field(default_factory=dict, alias="Networks")

    @field_validator("ports", "networks", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return value or {}


class Container(_Model):
    """One element of `docker inspect <container>...`."""

    id: str = Field(alias="Id")
    name: str = Field(alias="Name")
    state: State = Field(alias="State")
    restart_count: int = Field(default=0, alias="RestartCount")
    config: ContainerConfig = Field(alias="Config")
    network_settings: NetworkSettings = Field(alias="NetworkSettings")

    @property
    def short_name(self) -> str:
        return self.name.lstrip("/")

    @property
    def labels(self) -> dict[str, str]:
        return self.config.labels

    @property
    def stack(self) -> str:
        return self.labels.get(STACK_LABEL, "")

    @property
    def instance(self) -> str:
        return self.labels.get(INSTANCE_LABEL, "")

    @property
    def role(self) -> str:
        return self.labels.get(ROLE_LABEL, "")

    @property
    def service(self) -> str:
        return self.labels.get(COMPOSE_SERVICE_LABEL, self.instance)

    @property
    def number(self) -> int:
        """The compose replica number (1, 2, ...)."""
        try:
            return int(self.labels.get(COMPOSE_NUMBER_LABEL, "1"))
        except ValueError:
            return 1

    @property
    def health(self) -> str:
        """healthy | starting | unhealthy | none (no healthcheck) — `starting` until it runs."""
        if self.state.health is None:
            return "none"
        return self.state.health.status

    @property
    def status(self) -> str:
        """One word for tables and errors: healthy, starting, unhealthy, exited(1), restarting, ..."""
        if self.state.running and not self.state.restarting:
            return self.health if self.health != "none" else "running"
        if self.state.status == "exited":
            return f"exited({self.state.exit_code}{', OOM-killed' if self.state.oom_killed else ''})"
        return self.state.status

    @property
    def failed(self) -> bool:
        """Exited, dead, restarting (crash loop), or its healthcheck gave up."""
        return (
            self.state.status in ("exited", "dead", "restarting")
            or self.restart_count > 0
            or self.health == "unhealthy"
        )

    def host_ports(self, container_port: int) -> list[tuple[str, int]]:
        """(host ip, host port) pairs published for `container_port`/tcp."""
        bindings = self.network_settings.ports.get(f"{container_port}/tcp") or []
        return [(b.host_ip or "127.0.0.1", int(b.host_port)) for b in bindings if b.host_port]

    @property
    def ip_addresses(self) -> list[str]:
        """Its addresses on its networks (reachable from a Linux host's own network namespace)."""
        return [n.ip_address for n in self.network_settings.networks.values() if n.ip_address]

    def last_probe_output(self) -> str:
        if self.state.health is None or not self.state.health.log:
            return ""
        return self.state.health.log[-1].output.strip()


class ListedObject(_Model):
    """A line of `docker {ps,network ls,volume ls} --format '{{json .}}'` (labels as `k=v,k=v`)."""

    id: str = Field(default="", alias="ID")
    name: str = Field(default="", alias="Name")
    names: str = Field(default="", alias="Names")
    labels_text: str = Field(default="", alias="Labels")

    @property
    def labels(self) -> dict[str, str]:
        out = {}
        for item in self.labels_text.split(","):
            key, sep, value = item.partition("=")
            if sep:
                out[key] = value
        return out

    @property
    def ref(self) -> str:
        """What `docker rm`/`network rm`/`volume rm` accept: the ID, or the name for volumes."""
        return self.id or self.name


def parse_inspect(text: str) -> list[Container]:
    data = json.loads(text or "[]")
    return [Container.model_validate(item) for item in data]


def parse_lines(text: str) -> list[ListedObject]:
    return [ListedObject.model_validate(json.loads(line)) for line in text.splitlines() if line.strip()]
