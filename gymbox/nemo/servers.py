"""Which instances are NeMo Gym servers (resources servers, agents, model servers), and where each
one's folder is.

A resources server is a NeMo Gym server when its fields hold `nemo_gym:` or NeMo's own `entrypoint:`:

    weather:                                   # a server of a pinned release (fetched from PyPI)
      resources_servers:
        example_single_tool_call:
          nemo_gym: {version: 0.4.0}           # server: <folder name>, default the implementation
          domain: agent
    my_env:                                    # any NeMo Gym server folder (app.py, requirements.txt)
      resources_servers:
        my_env:
          nemo_gym: {path: ../my_servers/my_env, version: 0.4.0}

A NeMo Gym config used as is (`entrypoint: app.py`, no `nemo_gym:`) names the folder the NeMo way,
`<role>/<implementation>/`, found above the config file (a NeMo Gym checkout or unpacked wheel) or in the
working directory; the nemo-gym version is that tree's own.

Agents and model servers follow the same rules, with one difference: where gymbox has the implementation
itself (`simple_agent`, `openai_model`, ...), a NeMo config's `entrypoint:` keeps gymbox's (NeMo configs
carry `entrypoint` on every server, and gymbox's agent is the one its collector and tests are built
around); `nemo_gym:` asks for NeMo's. An implementation gymbox lacks (`gymnasium_agent`) runs NeMo's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from gymbox.config import ServerInstance, config_validation_error
from gymbox.errors import ConfigError
from gymbox.nemo.release import release_root, version_of_tree
from gymbox.registry import BUILTINS
from gymbox.roles import Role

NEMO_FIELD = "nemo_gym"
ROLE = Role.RESOURCES_SERVERS.value  # also the folder of NeMo Gym's resources servers
# The roles NeMo Gym has servers for; each is also the folder of that role's servers in a NeMo Gym tree.
ROLES = frozenset({Role.RESOURCES_SERVERS, Role.RESPONSES_API_AGENTS, Role.RESPONSES_API_MODELS})
DEFAULT_ENTRYPOINT = "app.py"
# ServerConfig's own fields: gymbox's deployment settings, not the NeMo server's.
GYMBOX_FIELDS = frozenset({"host", "port", "url", "replicas", "cpus", "memory", "restart", "placement", NEMO_FIELD})


class NemoGymSource(BaseModel):
    """The `nemo_gym:` field: where a NeMo Gym server's folder comes from."""

    model_config = ConfigDict(extra="forbid")

    server: str | None = None  # folder under the release's <role>/ (default: the implementation)
    version: str | None = None  # the nemo-gym release: its server folder and the nemo-gym the image installs
    path: str | None = None  # a NeMo Gym server folder, relative to the config file that names it


@dataclass(frozen=True)
class NemoServer:
    instance: str
    implementation: str
    folder: Path  # holds the entrypoint, requirements.txt, data/
    entrypoint: str
    version: str  # nemo-gym installed in its image
    role: str = ROLE  # the folder above it in the image: NeMo apps import `<role>.<folder>`

    @property
    def folder_name(self) -> str:
        """Its folder's name under <role>/ in the image (apps import `resources_servers.<it>`)."""
        return self.folder.name


def is_nemo_server(inst: ServerInstance) -> bool:
    """Runs NeMo Gym's own code: `nemo_gym:` given, or NeMo's `entrypoint:` on a resources server or on an
    agent or model server whose implementation gymbox does not have."""
    if inst.role not in ROLES:
        return False
    fields = inst.config.extra_fields()
    if NEMO_FIELD in fields:
        return True
    if "entrypoint" not in fields:
        return False
    return inst.role == Role.RESOURCES_SERVERS or (inst.role, inst.implementation) not in BUILTINS


def nemo_fields(inst: ServerInstance) -> dict[str, Any]:
    """The instance's fields a NeMo server reads (gymbox's deployment fields removed)."""
    fields = inst.config.model_dump(exclude_none=True)
    return {k: v for k, v in fields.items() if k not in GYMBOX_FIELDS}


def nemo_server(inst: ServerInstance) -> NemoServer:
    """Where `inst`'s NeMo Gym server folder is and which nemo-gym it runs on; errors name file:line."""
    fields = inst.config.extra_fields()
    where = (inst.name, inst.role, inst.implementation, NEMO_FIELD)
    try:
        source = NemoGymSource.model_validate(fields.get(NEMO_FIELD) or {})
    except ValidationError as exc:
        raise config_validation_error(exc, lambda _p: inst.source, where) from None
    entrypoint = str(fields.get("entrypoint") or DEFAULT_ENTRYPOINT)
    if source.path:
        folder = _relative_to_config(inst, source.path)
        version = source.version or version_of_tree(folder)
        if version is None:
            raise ConfigError(
                f"{inst.source}: {inst.name}: no nemo-gym version found for {folder}; "
                f"give it as `{NEMO_FIELD}: {{path: ..., version: 0.4.0}}`"
            )
    elif source.version:
        version = source.version
        folder = release_root(version) / inst.role.value / (source.server or inst.implementation)
    else:
        folder, version = _nemo_tree_folder(inst, entrypoint)
    if not (folder / entrypoint).is_file():
        known = _known_servers(folder.parent)
        raise ConfigError(
            f"{inst.source}: {inst.name}: NeMo Gym server folder {folder} has no {entrypoint}"
            + (f" (servers there: {known})" if known else "")
        )
    return NemoServer(inst.name, inst.implementation, folder.resolve(), entrypoint, version, inst.role.value)


def _config_file(inst: ServerInstance) -> Path | None:
    """The file that defined `inst`, from its `file:line` source."""
    path = inst.source.rsplit(":", 1)[0]
    return Path(path) if path and Path(path).is_file() else None


def _relative_to_config(inst: ServerInstance, path: str) -> Path:
    folder = Path(os.path.expandvars(path)).expanduser()
    config_file = _config_file(inst)
    if not folder.is_absolute() and config_file is not None:
        folder = config_file.parent / folder
    return folder


def _nemo_tree_folder(inst: ServerInstance, entrypoint: str) -> tuple[Path, str]:
    """`<role>/<implementation>/` of the NeMo Gym tree above the config file, or in the cwd."""
    role = inst.role.value
    config_file = _config_file(inst)
    roots = [*config_file.resolve().parents] if config_file else []
    roots.append(Path.cwd())
    for root in roots:
        folder = root / role / inst.implementation
        if (folder / entrypoint).is_file():
            version = version_of_tree(folder)
            if version is None:
                raise ConfigError(
                    f"{inst.source}: {inst.name}: {folder} is not in a nemo-gym wheel or checkout (no "
                    f"dist-info or nemo_gym/package_info.py above it); add `{NEMO_FIELD}: {{version: ...}}`"
                )
            return folder, version
    why = ""
    if inst.role != Role.RESOURCES_SERVERS:  # an agent or model: neither gymbox's nor NeMo's exists
        builtin = ", ".join(impl for r, impl in BUILTINS if r == inst.role)
        why = f" (gymbox has no {role} {inst.implementation!r}; built in: {builtin})"
    raise ConfigError(
        f"{inst.source}: {inst.name}: `entrypoint: {entrypoint}` makes it a NeMo Gym server{why}, but "
        f"{role}/{inst.implementation}/{entrypoint} is neither above the config file nor in {Path.cwd()}; "
        f"add `{NEMO_FIELD}: {{version: 0.4.0}}` to use a release's server, or `{NEMO_FIELD}: {{path: DIR}}`"
    )


def _known_servers(parent: Path) -> str:
    if not parent.is_dir():
        return ""
    names = sorted(p.name for p in parent.iterdir() if (p / DEFAULT_ENTRYPOINT).is_file())
    return ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")


def release_servers(version: str, role: str = ROLE) -> list[str]:
    """Every server of a nemo-gym release in `role` (its resources servers by default)."""
    root = release_root(version) / role
    return sorted(p.name for p in root.iterdir() if (p / DEFAULT_ENTRYPOINT).is_file())
