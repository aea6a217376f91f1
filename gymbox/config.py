"""Stack config: NeMo Gym-shaped YAML, merged, interpolated and validated, with file:line in every error.

Order of precedence, lowest first: the built-in model config picked with `--model` (its variables are
defaults), the `-c` files left to right, the `--model` instance itself (it replaces a file's
`policy_model`), `env.yaml`, then the overrides (`--set key.path=value`, Hydra's `+key=value`,
`++key=value`, `~key`).
"""

from __future__ import annotations

import copy
import difflib
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gymbox.errors import ConfigError
from gymbox.roles import Role
from gymbox.yaml_origins import KeyPath, Origins, dotted, load_yaml, where

BUILTIN_MODELS = ("scripted", "openai", "vllm")
POLICY_MODEL = "policy_model"
REQUIRED = "???"
DEFAULT_PORT_BASE = 18000
# NeMo Gym's descriptive instance fields: accepted on every implementation, kept in the resolved config,
# and not passed to gymbox's implementations (unless one declares the field itself).
NEMO_GYM_FIELDS = frozenset({"entrypoint", "domain", "verified", "verified_url", "description", "value", "license"})
# Interpolations expand shared values like YAML aliases do; this bounds the values one config may expand to.
MAX_INTERPOLATED_VALUES = 200_000
# `${...}`; `$${` is an escaped, literal `${`.
_INTERPOLATION = re.compile(r"\$\$\{|\$\{([^${}]*)\}")
_REFERENCE = re.compile(r"[A-Za-z_][\w.\-]*")
_RESOLVER = re.compile(r"([A-Za-z_][\w.]*):\s*([^,]*?)\s*(?:,(.*))?", re.DOTALL)
_ENV_RESOLVERS = ("env", "oc.env")  # `${env:VAR}` is gymbox's; `${oc.env:VAR,default}` OmegaConf's
_SELECT_RESOLVER = "oc.select"
_SECRET_WORDS = {"key", "apikey", "token", "secret", "password", "passwd"}
_URL_WITH_USERINFO = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://[^/?#@\s]*@")
MASK = "****"


def is_secret_key(key: str) -> bool:
    """`api_key`, `hf_token`, `db-password` are secrets; `max_tokens` and `keyword` are not."""
    return any(part in _SECRET_WORDS for part in re.split(r"[_\-.]", key.lower()))


def mask_url(url: str) -> str:
    """`https://user:tok@host/v1` -> `https://****@host/v1`: a URL as it may be shown."""
    return _URL_WITH_USERINFO.sub(lambda m: m.group(0).split("://", 1)[0] + f"://{MASK}@", url, count=1)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """` (did you mean 'x'?)` when a choice is close to `word`, else ``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class ServerConfig(BaseModel):
    """Fields every server instance has, whatever its implementation; the rest belong to it."""

    model_config = ConfigDict(extra="allow")

    host: str = "127.0.0.1"
    port: int | None = Field(default=None, ge=1, le=65535)
    replicas: int = Field(default=1, ge=1, le=256)
    cpus: float | None = Field(default=None, gt=0, description="CPU limit of each container")
    memory: str | None = Field(default=None, description="memory limit of each container, e.g. 512m")
    restart: Literal["no", "always", "on-failure", "unless-stopped"] = "unless-stopped"
    placement: list[str] | None = Field(
        default=None, description="Swarm placement constraints, e.g. node.labels.zone == a"
    )

    url: str | None = Field(
        default=None, description="a server outside the stack: peers reach it here, and the stack does not start it"
    )

    def extra_fields(self) -> dict[str, Any]:
        """The implementation's fields (NeMo Gym's descriptive ones included)."""
        return dict(self.model_extra or {})


class ServerInstance(BaseModel):
    name: str
    role: Role
    implementation: str
    config: ServerConfig
    source: str = Field(description="file:line where the instance was defined")

    @property
    def url(self) -> str:
        if self.config.url:
            return self.config.url.rstrip("/")
        return f"http://{self.config.host}:{self.config.port}"


class ServerRef(BaseModel):
    """`{type: <role>, name: <instance>}`: one server naming another."""

    model_config = ConfigDict(extra="forbid")
    type: Role
    name: str


def server_refs(value: Any, path: KeyPath = ()) -> Iterator[tuple[KeyPath, ServerRef]]:
    """Every `{type: <role>, name: <instance>}` inside `value`, with its key path."""
    if isinstance(value, dict):
        if set(value) == {"type", "name"} and value["type"] in list(Role):
            yield path, ServerRef(type=Role(value["type"]), name=str(value["name"]))
            return
        for key, item in value.items():
            yield from server_refs(item, (*path, str(key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from server_refs(item, (*path, str(i)))


class ResolvedConfig(BaseModel):
    instances: dict[str, ServerInstance]
    variables: dict[str, Any] = Field(default_factory=dict)
    origins: Origins = Field(default_factory=dict, repr=False)

    def where(self, path: KeyPath) -> str:
        """file:line of the nearest key on `path` (for errors found after loading)."""
        return where(self.origins, path)

    def instance(self, name: str) -> ServerInstance:
        try:
            return self.instances[name]
        except KeyError:
            known = ", ".join(sorted(self.instances)) or "none"
            raise ConfigError(f"no server instance named {name!r} in the config (instances: {known})") from None

    def by_role(self, role: Role) -> list[ServerInstance]:
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
            out[name] = {inst.role.value: {inst.implementation: fields}}
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
    serving: str | None = None,
) -> ResolvedConfig:
    """Load, merge, interpolate and validate a stack config.

    `env_file` defaults to `./env.yaml` when that exists. `serving`: the one instance this process serves
    (`gymbox serve`); an environment variable that only other instances read may then be unset, since
    each container of a stack is given only its own instance's secrets.
    """
    merged: dict[str, Any] = {}
    origins: Origins = {}
    builtin: dict[str, Any] | None = None
    if model is not None:
        builtin, builtin_origins = _load_builtin_model(model)
        _merge(merged, origins, builtin, builtin_origins)
    for file in files:
        data, data_origins = load_yaml(Path(file))
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
        parse_override(item).apply(merged, origins)
    if not merged:
        raise ConfigError("no config given: pass -c FILE (repeatable) and/or --model NAME")
    _check_urls(merged, (), origins)  # first where a URL is written, then what interpolation made
    resolved = _Interpolation(merged, origins, serving).resolve()
    _check_required(resolved, (), origins)
    _check_urls(resolved, (), origins)
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


# ------------------------------------------------------------------------------------------- overrides


@dataclass(frozen=True)
class Override:
    """One `--set` item: `key.path=value` (or Hydra's `+key=value`, `++key=value`) sets, `~key.path` deletes."""

    text: str
    path: KeyPath
    value: Any
    delete: bool = False

    def apply(self, root: dict[str, Any], origins: Origins) -> None:
        node = root
        for i, part in enumerate(self.path[:-1]):
            child = node.get(part)
            if not isinstance(child, dict):
                if self.delete:
                    raise ConfigError(f"override {self.text}: {dotted(self.path[: i + 1])} is not in the config")
                child = node[part] = {}
            node = child
        last = self.path[-1]
        if self.delete:
            if last not in node:
                raise ConfigError(f"override {self.text}: {dotted(self.path)} is not in the config")
            del node[last]
            return
        node[last] = self.value
        origins[self.path] = f"override {self.text.split('=', 1)[0]}"


def parse_override(item: str) -> Override:
    """`a.b.c=value` -> set (("a", "b", "c"), value), the value parsed as a YAML scalar or flow collection.

    Hydra's forms, as NeMo Gym's command lines write them: `+key=value` and `++key=value` set the key
    whether or not it exists (the files are not yet merged when Hydra reads them), `~key` deletes it.
    """
    text = item.strip()
    delete = text.startswith("~")
    body = text[1:] if delete else text.removeprefix("++").removeprefix("+")
    if "=" not in body and not delete:
        hint = "; give each config file its own -c" if text.endswith((".yaml", ".yml")) else ""
        raise ConfigError(f"override {item!r}: expected key.path=value (or +key=value, ++key=value, ~key){hint}")
    key, _, raw = body.partition("=")
    path = tuple(part for part in key.strip().split(".") if part)
    if not path:
        raise ConfigError(f"override {item!r}: empty key path")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return Override(text=text, path=path, value=value, delete=delete)


def _merge(
    dst: dict[str, Any], dst_origins: Origins, src: dict[str, Any], src_origins: Origins, prefix: KeyPath = ()
) -> None:
    for key, value in src.items():
        path = (*prefix, key)
        existing = dst.get(key)
        switches_implementation = (
            len(prefix) == 1
            and key in list(Role)
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
        for origin_path, origin in src_origins.items():
            if origin_path[: len(path)] == path:
                dst_origins[origin_path] = origin


# --------------------------------------------------------------------------------------- interpolation


class _Interpolation:
    """`${name}`, `${env:VAR}`, `${oc.env:VAR,default}` and `${oc.select:key,default}` over the merged config."""

    def __init__(self, root: dict[str, Any], origins: Origins, serving: str | None) -> None:
        self.root = root
        self.origins = origins
        self.serving = serving
        self.values = 0

    def resolve(self) -> dict[str, Any]:
        # Under `serving`, only that instance (and what it refers to) needs its environment variables.
        return {
            key: self.value(item, (key,), (), lenient=self.serving is not None and key != self.serving)
            for key, item in self.root.items()
        }

    def value(self, value: Any, path: KeyPath, stack: tuple[str, ...], *, lenient: bool) -> Any:
        self.values += 1
        if self.values > MAX_INTERPOLATED_VALUES:
            raise ConfigError(
                f"{where(self.origins, path)}: {dotted(path)}: interpolations expand the config to more than "
                f"{MAX_INTERPOLATED_VALUES:,} values; refer to large values fewer times"
            )
        if isinstance(value, dict):
            return {k: self.value(v, (*path, k), stack, lenient=lenient) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v, (*path, str(i)), stack, lenient=lenient) for i, v in enumerate(value)]
        if not isinstance(value, str) or "${" not in value:
            return value
        whole = _INTERPOLATION.fullmatch(value)
        if whole and whole.group(1) is not None:  # keep the referenced value's type
            return self.expression(whole, path, stack, lenient=lenient)

        def text(match: re.Match[str]) -> str:
            if match.group(1) is None:
                return "${"
            return str(self.expression(match, path, stack, lenient=lenient))

        return _INTERPOLATION.sub(text, value)

    def expression(self, match: re.Match[str], path: KeyPath, stack: tuple[str, ...], *, lenient: bool) -> Any:
        inner = match.group(1).strip()
        if _REFERENCE.fullmatch(inner):
            return self.reference(inner, _REQUIRED_KEY, path, stack, lenient=lenient)
        resolver = _RESOLVER.fullmatch(inner)
        if resolver is None:
            return match.group(0)  # not an interpolation (`${1,3}` in a regex): literal text
        name, arg, default_text = resolver.groups()
        default = _parse_default(default_text)
        if name in _ENV_RESOLVERS:
            if arg in os.environ:
                return os.environ[arg]
            if default is not _NO_DEFAULT:
                return None if default is None else str(default)  # as OmegaConf: a string, or null
            if lenient:
                return match.group(0)
            raise self.error(path, f"environment variable {arg} is not set (or give a default: ${{{name}:{arg},...}})")
        if name == _SELECT_RESOLVER:
            return self.reference(arg, default, path, stack, lenient=lenient)
        raise self.error(
            path,
            f"unknown resolver {name!r} in {match.group(0)}{did_you_mean(name, [*_ENV_RESOLVERS, _SELECT_RESOLVER])};"
            " gymbox resolves env, oc.env and oc.select (write $${ for a literal ${)",
        )

    def reference(self, name: str, default: Any, path: KeyPath, stack: tuple[str, ...], *, lenient: bool) -> Any:
        """`${name}`; from `${oc.select:name,default}` a missing key gives `default` (None without one)."""
        if name in stack:
            raise self.error(path, f"interpolation cycle through ${{{name}}}")
        target = tuple(name.split("."))
        node: Any = self.root
        for part in target:
            if not isinstance(node, dict) or part not in node:
                if default is not _REQUIRED_KEY:
                    return None if default is _NO_DEFAULT else default
                raise self.error(
                    path, f"${{{name}}} is not defined; define `{name}` at the top of a config file or in env.yaml"
                )
            node = node[part]
        if node == REQUIRED:
            raise ConfigError(
                f"{where(self.origins, path)}: {dotted(path)} needs ${{{name}}}, which is required (??? at "
                f"{where(self.origins, target)}); set `{name}` in env.yaml or with --set {name}=VALUE"
            )
        return self.value(node, target, (*stack, name), lenient=lenient)

    def error(self, path: KeyPath, message: str) -> ConfigError:
        return ConfigError(f"{where(self.origins, path)}: {dotted(path)}: {message}")


_NO_DEFAULT = object()  # `${oc.env:VAR}`, `${oc.select:key}`: no default given
_REQUIRED_KEY = object()  # `${name}`: a missing key is an error


def _parse_default(text: str | None) -> Any:
    if text is None:
        return _NO_DEFAULT
    text = text.strip()
    if not text:
        return ""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def escape_interpolation(value: str) -> str:
    """The text that `load_config` reads back as exactly `value` (for writing resolved configs)."""
    return value.replace("${", "$${")


# ------------------------------------------------------------------------------------------ validation


def _check_required(value: Any, path: KeyPath, origins: Origins) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _check_required(v, (*path, k), origins)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_required(v, (*path, str(i)), origins)
    elif value == REQUIRED:
        raise ConfigError(
            f"{where(origins, path)}: {dotted(path)} is required (???); "
            f"set it in env.yaml or with --set {dotted(path)}=VALUE"
        )


def _check_urls(value: Any, path: KeyPath, origins: Origins) -> None:
    """Refuse credentials inside URLs: stack.yaml and `gymbox config` show URLs, and an HTTP client given
    both a URL's credentials and an Authorization header refuses every request."""
    if isinstance(value, dict):
        for k, v in value.items():
            _check_urls(v, (*path, k), origins)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_urls(v, (*path, str(i)), origins)
    elif isinstance(value, str) and _URL_WITH_USERINFO.match(value):
        try:
            has_credentials = urlsplit(value).username is not None
        except ValueError:
            has_credentials = True
        if has_credentials:
            raise ConfigError(
                f"{where(origins, path)}: {dotted(path)}: the URL {mask_url(value)} carries credentials, which "
                "would be written to stack.yaml and shown in logs; remove the `user:token@` part and give the "
                "token as the model server's `api_key` (sent as an Authorization header)"
            )


def _build_stack(resolved: dict[str, Any], origins: Origins) -> ResolvedConfig:
    instances: dict[str, ServerInstance] = {}
    variables: dict[str, Any] = {}
    roles = [role.value for role in Role]
    for name, body in resolved.items():
        role_keys = [k for k in body if k in roles] if isinstance(body, dict) else []
        if not role_keys:
            _check_not_a_misspelt_instance(name, body, origins)
            variables[name] = body
            continue
        if len(body) != 1:
            extra = ", ".join(k for k in body if k not in roles) or ", ".join(role_keys)
            raise ConfigError(
                f"{where(origins, (name,))}: {name}: a server instance holds exactly one role key, found extra: {extra}"
            )
        role = Role(role_keys[0])
        impls = body[role.value]
        if not isinstance(impls, dict) or len(impls) != 1:
            raise ConfigError(
                f"{where(origins, (name, role.value))}: {name}.{role.value}: expected exactly one implementation, "
                f"e.g. `{name}: {{{role.value}: {{<implementation>: {{...}}}}}}`"
            )
        impl, fields = next(iter(impls.items()))
        fields = fields or {}
        prefix = (name, role.value, impl)
        if not isinstance(fields, dict):
            raise ConfigError(f"{where(origins, prefix)}: {dotted(prefix)}: fields must be a mapping")
        try:
            server = ServerConfig.model_validate(fields)
        except ValidationError as exc:
            raise config_validation_error(exc, lambda p: where(origins, p), prefix) from None
        instances[name] = ServerInstance(
            name=name, role=role, implementation=impl, config=server, source=where(origins, (name,))
        )
    stack = ResolvedConfig(instances=instances, variables=variables, origins=dict(origins))
    _check_refs(resolved, stack)
    return stack


def _check_not_a_misspelt_instance(name: str, body: Any, origins: Origins) -> None:
    """`x: {resource_servers: {impl: {...}}}` is an instance with a misspelt role, not a variable."""
    if not isinstance(body, dict) or len(body) != 1:
        return
    key, impls = next(iter(body.items()))
    looks_like_an_instance = (
        isinstance(impls, dict)
        and len(impls) == 1
        and all(fields is None or isinstance(fields, dict) for fields in impls.values())
    )
    hint = did_you_mean(str(key), [role.value for role in Role])
    if looks_like_an_instance and hint:
        raise ConfigError(
            f"{where(origins, (name, str(key)))}: {name}.{key}: unknown role {key!r}{hint}; "
            f"the roles are {', '.join(Role)}"
        )


def config_validation_error(
    exc: ValidationError, where_of: Callable[[KeyPath], str], prefix: KeyPath, model: type[BaseModel] | None = None
) -> ConfigError:
    """Turn a pydantic error on the fields at `prefix` into one naming file:line and key path.

    With `model` (the one that raised), an unknown field gets a "did you mean" from that model's fields.
    """
    lines = []
    for err in exc.errors():
        loc = tuple(str(p) for p in err["loc"])
        path = (*prefix, *loc)
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = _unknown_field(loc, model)
        lines.append(f"{where_of(path)}: {dotted(path)}: {message}")
    return ConfigError("\n".join(lines))


def _unknown_field(loc: KeyPath, model: type[BaseModel] | None) -> str:
    known = _fields_at(model, loc[:-1])
    if known is None:
        return "unknown field"
    return f"unknown field{did_you_mean(loc[-1], known)}; the fields here are {', '.join(known) or 'none'}"


def _fields_at(model: type[BaseModel] | None, loc: KeyPath) -> list[str] | None:
    """The field names of the (nested) model found at `loc` inside `model`, if it is one."""
    for part in loc:
        if model is None or part not in model.model_fields:
            return None
        annotation = model.model_fields[part].annotation
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    return None if model is None else list(model.model_fields)


def validate_fields(
    inst: ServerInstance, model: type[BaseModel], where_of: Callable[[KeyPath], str] | None = None
) -> Any:
    """An instance's implementation fields validated by `model` (its server's Config); errors name file:line.

    NeMo Gym's descriptive fields are left out unless `model` declares them. A field `model` does not
    know is an error even when `model` allows extra fields, so a typo fails here and not in a container.
    """
    fields = {
        k: v for k, v in inst.config.extra_fields().items() if k not in NEMO_GYM_FIELDS or k in model.model_fields
    }
    prefix = (inst.name, inst.role.value, inst.implementation)
    locate = where_of or (lambda _p: inst.source)
    try:
        validated = model.model_validate(fields)
    except ValidationError as exc:
        raise config_validation_error(exc, locate, prefix, model) from None
    unknown = sorted((validated.model_extra or {}) if isinstance(validated, BaseModel) else {})
    if unknown:
        raise ConfigError(
            "\n".join(
                f"{locate((*prefix, key))}: {dotted((*prefix, key))}: {_unknown_field((key,), model)}"
                for key in unknown
            )
        )
    return validated


def _check_refs(resolved: dict[str, Any], stack: ResolvedConfig) -> None:
    for path, ref in server_refs(resolved):
        target = stack.instances.get(ref.name)
        at = stack.where(path)
        if target is None:
            known = ", ".join(i.name for i in stack.by_role(ref.type)) or "none"
            raise ConfigError(
                f"{at}: {dotted(path)}: refers to {ref.type} {ref.name!r}, which is not defined "
                f"(defined {ref.type}: {known}){did_you_mean(ref.name, list(stack.instances))}"
            )
        if target.role != ref.type:
            raise ConfigError(f"{at}: {dotted(path)}: {ref.name!r} is a {target.role} instance, not {ref.type}")


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
