"""An instance served by any image: `container: {image, command, port, health_path}` instead of a gymbox
implementation or environment folder.

    search_tool:
      resources_servers:
        search_tool:
          container: {image: acme/search:1.2, command: [serve, --port, "9000"], port: 9000, health_path: /hz}

The stack starts the image as it is (its own user and entrypoint), health-checks `GET <health_path>` on
`port`, and peers dial `<instance>:<port>`. The image must have bash (the probe is bash's /dev/tcp, as
for every gymbox service). Its other fields are the instance's config for whoever reads it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gymbox.config import ServerInstance, config_validation_error
from gymbox.docker.service import CONTAINER_PORT, Service, healthcheck
from gymbox.roles import Role

FIELD = "container"


class ContainerSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image: str = Field(min_length=1)
    command: list[str] | None = None  # None: the image's own CMD
    port: int = Field(default=CONTAINER_PORT, ge=1, le=65535)
    health_path: str = Field(default="/health", pattern=r"^/")


def runs_any_image(inst: ServerInstance) -> bool:
    return FIELD in inst.config.extra_fields()


def container_spec(inst: ServerInstance) -> ContainerSpec:
    try:
        return ContainerSpec.model_validate(inst.config.extra_fields()[FIELD])
    except ValidationError as exc:
        raise config_validation_error(
            exc, lambda _p: inst.source, (inst.name, str(inst.role), inst.implementation, FIELD)
        ) from None


def image_service(inst: ServerInstance, labels: dict[str, str], depends_on: list[str]) -> Service:
    spec = container_spec(inst)
    cfg = inst.config
    return Service(
        name=inst.name,
        image=spec.image,
        labels=labels,
        command=spec.command or [],
        healthcheck=healthcheck(spec.port, path=spec.health_path),
        depends_on=depends_on,
        # The template publishes the gymbox port: an agent elsewhere is reached through its network only.
        publish=inst.role == Role.RESPONSES_API_AGENTS and spec.port == CONTAINER_PORT,
        replicas=cfg.replicas,
        cpus=cfg.cpus,
        memory=cfg.memory,
        restart=cfg.restart,
        user=None,  # the image's own
        gymbox=False,
        init=False,
        comment=f"{inst.name}: image {spec.image}, as it is",
    )
