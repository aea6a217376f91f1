"""Stack config: NeMo Gym-shaped YAML, merged, interpolated and validated, with file:line in every error.

Order of precedence, lowest first: the built-in model config picked with `--model` (its variables are
defaults), the `-c` files left to right, the `--model` instance itself (it replaces a file's
`policy_model`), `env.yaml`, then `--set key.path=value`.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gymbox.errors import ConfigError
from gymbox.yaml_origins import KeyPath, Origins, dotted, load_yaml

ROLES = ("resources_servers", "responses_api_agents", "responses_api_models", "sandboxes")
Role = Literal["resources_servers", "responses_api_agents", "responses_api_models", "sandboxes"]
BUILTIN_MODELS = ("scripted", "openai", "vllm")
POLICY_MODEL = "policy_model"
REQUIRED = "???"
DEFAULT_PORT_BASE = 18000
# `${name}` interpolates; `$${` is an escaped, literal `${`.
_INTERPOLATION = re.compile(r"\$\$\{|\$\{((?:env:)?[A-Za-z_][\w.\-]*)\}")
_SECRET_WORDS = {"key", "apikey", "token", "secret", "password", "passwd"}
MASK = "****"


def is_secret_key(key: str) -> bool:
    """`api_key`, `hf_token`, `db-password` are secrets; `max_tokens` and `keyword` are not."""
    return any(part in _SECRET_WORDS for part in re.split(r"[_\-.]", key.lower()))


class ServerConfig(BaseModel):
    """Fields every server instance has, whatever its implementation; the rest belong to it."""

    model_config = ConfigDict(extra="allow")

    host: str = "127.0.0.1"
    port: int | None = Field(default=None, ge=1, le=65535)
    replicas: int = Field(default=1, ge=1, le=256)
    cpus: float | None = Field(default=None, gt=0, description="CPU limit of each container")
    memory: str | None = Field(default=None, description="memory limit of each container, e.g. 512m")
    restart: Literal["no", "always", "on-failure", "unless-stopped"] = "unless-stopped"

    def extra_fields(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class ServerInstance(BaseModel):
    name: str
    role: Role
    implementation: str
    config: ServerConfig
    source: str = Field(description="file:line where the instance was defined")

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.config.port}"


class ServerRef(BaseModel):
    """`{type: <role>, name: <instance>}`: one server naming another."""

    model_config = ConfigDict(extra="forbid")
    type: Role
    name: str


class ResolvedConfig(BaseModel):
    instances: dict[str, ServerInstance]
    variables: dict[str, Any] = Field(default_factory=dict)
    origins: dict[str, str] = Field(default_factory=dict, repr=False)

    def where(self, path: KeyPath) -> str:
        """file:line of the nearest key on `path` (for errors found after loading)."""
        for end in range(len(path), -1, -1):
            if dotted(path[:end]) in self.origins:
                return self.origins[dotted(path[:end])]
        return "<config>"

    def instance(self, name: str) -> ServerInstance:
        try:
            return self.instances[name]
        except KeyError:
            known = ", ".join(sorted(self.instances)) or "none"
            raise ConfigError(f"no server instance named {name!r} in the config (instances: {known})") from None

    def by_role(self, role: str) -> list[ServerInstance]:
        return [inst for inst in self.instances.values() if inst.role == role]

    def resolve_ref(self, ref: dict[str, Any] | ServerRef) -> ServerInstance:
        ref = ref if isinstance(ref, ServerRef) else ServerRef.model_validate(ref)
        inst = self.instance(ref.name)
        if inst.role != ref.type:
            raise ConfigError(f"{ref.name!r} is a {inst.role} instance, not {ref.type}")
        return inst

    def to_dict(self, *, mask_secrets: bool = False) -> dict[str, Any]:
        """The resolved config in NeMo Gym's shape, loadable again by `load_config`."""
        out: dict[str, Any] = {}
        for name, inst in self.instances.items():
            fields = inst.config.model_dump(exclude_none=True)
            out[name] = {inst.role: {inst.implementation: fields}}
        out.update(copy.deepcopy(self.variables))
        return _masked(out) if mask_secrets else out

    def to_yaml(self, *, mask_secrets: bool = False) -> str:
        return yaml.safe_dump(self.to_dict(mask_secrets=mask_secrets), sort_keys=False)


def _masked(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _masked(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    if key and is_secret_key(key) and value not in (None, ""):
        return MASK
    return value


# --------------------------------------------------------------------------------------------- loading


def load_config(
    files: list[Path] | tuple[Path, ...] = (),
    *,
    sets: list[str] | tuple[str, ...] = (),
    model: str | None = None,
    env_file: Path | None = None,
    assign_ports: bool = True,
) -> ResolvedConfig:
    """Load, merge, interpolate and validate a stack config.

    `env_file` defaults to `./env.yaml` when that exists.
    """
    merged: dict[str, Any] = {}
    origins: Origins = {}
    builtin: dict[str, Any] | None = None
    if model is not None:
        builtin, builtin_origins = _load_builtin_model(model)
        _merge(merged, origins, builtin, builtin_origins)
    for path in files:
        data, data_origins = load_yaml(Path(path))
        _merge(merged, origins, data, data_origins)
    if builtin is not None:
        # An explicit --model beats a policy_model defined in a file.
        merged[POLICY_MODEL] = copy.deepcopy(builtin[POLICY_MODEL])
    if env_file is None and Path("env.yaml").is_file():
        env_file = Path("env.yaml")
    if env_file is not None:
        data, data_origins = load_yaml(env_file)
        _merge(merged, origins, data, data_origins)
    for item in sets:
        path, value = parse_set(item)
        _set_path(merged, path)(value)
        origins[path] = f"--set {item.split('=', 1)[0]}"
    if not merged:
        raise ConfigError("no config given: pass -c FILE (repeatable) and/or --model NAME")
    resolved = _interpolate(merged, merged, (), origins, ())
    _check_required(resolved, (), origins)
    stack = _build_stack(resolved, origins)
    if assign_ports:
        _assign_default_ports(stack)
    return stack


def _load_builtin_model(model: str) -> tuple[dict[str, Any], Origins]:
    if model not in BUILTIN_MODELS:
        raise ConfigError(f"--model {model!r} is not a built-in model; choose one of {', '.join(BUILTIN_MODELS)}")
    ref = resources.files("gymbox") / "builtin_configs" / f"{model}.yaml"
    with resources.as_file(ref) as path:
        return load_yaml(path)


def parse_set(item: str) -> tuple[KeyPath, Any]:
    """`a.b.c=value` -> (("a", "b", "c"), value), the value parsed as a YAML scalar or flow collection."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected key.path=value")
    key, raw = item.split("=", 1)
    path = tuple(part for part in key.strip().split(".") if part)
    if not path:
        raise ConfigError(f"--set {item!r}: empty key path")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return path, value


def _set_path(root: dict[str, Any], path: KeyPath):  # type: ignore[no-untyped-def]
    node = root
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child

    def assign(value: Any) -> None:
        node[path[-1]] = value

    return assign


def _merge(
    dst: dict[str, Any], dst_origins: Origins, src: dict[str, Any], src_origins: Origins, prefix: KeyPath = ()
) -> None:
    for key, value in src.items():
        path = (*prefix, key)
        existing = dst.get(key)
        switches_implementation = (
            len(prefix) == 1
            and key in ROLES
            and isinstance(value, dict)
            and isinstance(existing, dict)
            and value.keys().isdisjoint(existing.keys())
        )
        if isinstance(value, dict) and isinstance(existing, dict) and not switches_implementation:
            _merge(dst[key], dst_origins, value, src_origins, path)
            continue
        # A later file naming another implementation for an instance replaces it (e.g. a real judge model
        # instead of the scripted one) rather than leaving two implementations under one role.
        dst[key] = copy.deepcopy(value)
        for origin_path, where in src_origins.items():
            if origin_path[: len(path)] == path:
                dst_origins[origin_path] = where


def _where(origins: Origins, path: KeyPath) -> str:
    for end in range(len(path), -1, -1):
        if path[:end] in origins:
            return origins[path[:end]]
    return "<config>"


def _interpolate(value: Any, root: dict[str, Any], path: KeyPath, origins: Origins, stack: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, root, (*path, k), origins, stack) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, root, (*path, str(i)), origins, stack) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def lookup(name: str) -> Any:
        if name.startswith("env:"):  # ${env:VAR}: how rendered stacks pass secrets without writing them down
            var = name[4:]
            if var not in os.environ:
                raise ConfigError(f"{_where(origins, path)}: {dotted(path)}: environment variable {var} is not set")
            return os.environ[var]
        if name in stack:
            raise ConfigError(f"{_where(origins, path)}: {dotted(path)}: interpolation cycle through ${{{name}}}")
        node: Any = root
        for part in name.split("."):
            if not isinstance(node, dict) or part not in node:
                raise ConfigError(
                    f"{_where(origins, path)}: {dotted(path)}: ${{{name}}} is not defined; "
                    f"define `{name}` at the top of a config file or in env.yaml"
                )
            node = node[part]
        if node == REQUIRED:
            var_path = tuple(name.split("."))
            raise ConfigError(
                f"{_where(origins, path)}: {dotted(path)} needs ${{{name}}}, which is required (??? at "
                f"{_where(origins, var_path)}); set `{name}` in env.yaml or with --set {name}=VALUE"
            )
        return _interpolate(node, root, tuple(name.split(".")), origins, (*stack, name))

    whole = _INTERPOLATION.fullmatch(value)
    if whole and whole.group(1):  # keep the referenced value's type
        return lookup(whole.group(1))
    return _INTERPOLATION.sub(lambda m: str(lookup(m.group(1))) if m.group(1) else "${", value)


def escape_interpolation(value: str) -> str:
    """The text that `load_config` reads back as exactly `value` (for writing resolved configs)."""
    return value.replace("${", "$${")


def _check_required(value: Any, path: KeyPath, origins: Origins) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _check_required(v, (*path, k), origins)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_required(v, (*path, str(i)), origins)
    elif value == REQUIRED:
        raise ConfigError(
            f"{_where(origins, path)}: {dotted(path)} is required (???); "
            f"set it in env.yaml or with --set {dotted(path)}=VALUE"
        )


def _build_stack(resolved: dict[str, Any], origins: Origins) -> ResolvedConfig:
    instances: dict[str, ServerInstance] = {}
    variables: dict[str, Any] = {}
    for name, body in resolved.items():
        roles = [k for k in body if k in ROLES] if isinstance(body, dict) else []
        if not roles:
            variables[name] = body
            continue
        where = _where(origins, (name,))
        if len(body) != 1:
            extra = ", ".join(k for k in body if k not in ROLES) or ", ".join(roles)
            raise ConfigError(f"{where}: {name}: a server instance holds exactly one role key, found extra: {extra}")
        role = roles[0]
        impls = body[role]
        if not isinstance(impls, dict) or len(impls) != 1:
            raise ConfigError(
                f"{_where(origins, (name, role))}: {name}.{role}: expected exactly one implementation, "
                f"e.g. `{name}: {{{role}: {{<implementation>: {{...}}}}}}`"
            )
        impl, fields = next(iter(impls.items()))
        fields = fields or {}
        if not isinstance(fields, dict):
            raise ConfigError(f"{_where(origins, (name, role, impl))}: {name}.{role}.{impl}: fields must be a mapping")
        try:
            server = ServerConfig.model_validate(fields)
        except ValidationError as exc:
            raise config_validation_error(exc, lambda p: _where(origins, p), (name, role, impl)) from None
        instances[name] = ServerInstance(name=name, role=role, implementation=impl, config=server, source=where)
    stack = ResolvedConfig(instances=instances, variables=variables, origins={dotted(k): v for k, v in origins.items()})
    _check_refs(resolved, stack, origins)
    return stack


def config_validation_error(exc: ValidationError, where: Callable[[KeyPath], str], prefix: KeyPath) -> ConfigError:
    """Turn a pydantic error on the fields at `prefix` into one naming file:line and key path."""
    lines = []
    for err in exc.errors():
        path = (*prefix, *(str(p) for p in err["loc"]))
        lines.append(f"{where(path)}: {dotted(path)}: {err['msg']}")
    return ConfigError("\n".join(lines))


def validate_fields(inst: ServerInstance, model: type[Any], where: Callable[[KeyPath], str] | None = None) -> Any:
    """An instance's implementation fields validated by `model` (its server's Config); errors name file:line."""
    try:
        return model.model_validate(inst.config.extra_fields())
    except ValidationError as exc:
        raise config_validation_error(
            exc, where or (lambda _p: inst.source), (inst.name, inst.role, inst.implementation)
        ) from None


def _check_refs(value: Any, stack: ResolvedConfig, origins: Origins, path: KeyPath = ()) -> None:
    if isinstance(value, dict):
        if set(value) == {"type", "name"} and value.get("type") in ROLES:
            target = stack.instances.get(str(value["name"]))
            where = _where(origins, path)
            if target is None:
                known = ", ".join(i.name for i in stack.by_role(value["type"])) or "none"
                raise ConfigError(
                    f"{where}: {dotted(path)}: refers to {value['type']} {value['name']!r}, "
                    f"which is not defined (defined {value['type']}: {known})"
                )
            if target.role != value["type"]:
                raise ConfigError(
                    f"{where}: {dotted(path)}: {value['name']!r} is a {target.role} instance, not {value['type']}"
                )
            return
        for k, v in value.items():
            _check_refs(v, stack, origins, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_refs(v, stack, origins, (*path, str(i)))


def _assign_default_ports(stack: ResolvedConfig) -> None:
    """Give each instance without a port a stable one, so hand-started servers find each other."""
    taken = {inst.config.port for inst in stack.instances.values() if inst.config.port}
    port = DEFAULT_PORT_BASE
    for name in sorted(stack.instances):
        inst = stack.instances[name]
        if inst.config.port:
            continue
        while port in taken:
            port += 1
        inst.config.port = port
        taken.add(port)
