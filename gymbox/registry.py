"""Find the class behind an instance's implementation name and build its app.

Built-in model, agent and sandbox implementations live in gymbox; a resources server's implementation is an
environment folder, `<environments dir>/<implementation>/app.py`, holding one `ResourcesServer` subclass.
The environments dir is `$GYMBOX_ENVIRONMENTS_DIR`, else `./environments`.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
import types
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from gymbox.config import ResolvedConfig, ServerInstance, validate_fields
from gymbox.errors import ConfigError
from gymbox.roles import Role

if TYPE_CHECKING:
    from fastapi import FastAPI
    from pydantic import BaseModel

    from gymbox.servers.resources import ResourcesServer


class Server(Protocol):
    """A built server: what `gymbox serve` and the stack run."""

    def build_app(self) -> FastAPI: ...


class ServerImplementation(Protocol):
    """What a server class (built in, or an environment's ResourcesServer subclass) must provide."""

    @property
    def Config(self) -> type[BaseModel]:
        """The model that validates an instance's implementation fields."""
        ...

    def __call__(self, config: Any, /, *, name: str, stack: ResolvedConfig) -> Server:
        """The constructor: `(validated config, *, name=<instance name>, stack=<the resolved config>)`."""
        ...


BUILTINS: dict[tuple[str, str], str] = {
    (Role.RESPONSES_API_MODELS, "openai_model"): "gymbox.model_servers.openai_model:OpenAIModelServer",
    (Role.RESPONSES_API_MODELS, "vllm_model"): "gymbox.model_servers.openai_model:VLLMModelServer",
    (Role.RESPONSES_API_MODELS, "scripted_model"): "gymbox.model_servers.scripted_model:ScriptedModelServer",
    (Role.RESPONSES_API_MODELS, "replay_model"): "gymbox.model_servers.replay_model:ReplayModelServer",
    (Role.RESPONSES_API_AGENTS, "simple_agent"): "gymbox.agents.simple_agent:SimpleAgentServer",
    (Role.SANDBOXES, "python_sandbox"): "gymbox.sandbox.server:PythonSandboxServer",
}

if TYPE_CHECKING:  # mypy checks each built-in class against ServerImplementation; nothing runs here
    from gymbox.agents.simple_agent import SimpleAgentServer
    from gymbox.model_servers.openai_model import OpenAIModelServer, VLLMModelServer
    from gymbox.model_servers.replay_model import ReplayModelServer
    from gymbox.model_servers.scripted_model import ScriptedModelServer
    from gymbox.sandbox.server import PythonSandboxServer

    _BUILTIN_CLASSES: tuple[ServerImplementation, ...] = (
        OpenAIModelServer,
        VLLMModelServer,
        ScriptedModelServer,
        ReplayModelServer,
        SimpleAgentServer,
        PythonSandboxServer,
    )


def environments_dir() -> Path:
    return Path(os.environ.get("GYMBOX_ENVIRONMENTS_DIR", "environments")).resolve()


def server_class(inst: ServerInstance, environments: Path | None = None) -> ServerImplementation:
    target = BUILTINS.get((inst.role, inst.implementation))
    if target is not None:
        module, attr = target.split(":")
        builtin: ServerImplementation = getattr(importlib.import_module(module), attr)
        return builtin
    if inst.role != Role.RESOURCES_SERVERS:
        known = ", ".join(impl for role, impl in BUILTINS if role == inst.role)
        raise ConfigError(
            f"{inst.source}: {inst.name}: unknown {inst.role} implementation "
            f"{inst.implementation!r} (built in: {known}); for NeMo Gym's own, add `nemo_gym: {{version: 0.4.0}}`"
        )
    env_dir = (environments or environments_dir()) / inst.implementation
    return load_environment(inst.implementation, env_dir)


def load_environment(name: str, env_dir: Path | None = None) -> type[ResourcesServer[Any, Any, Any]]:
    """Import `<env_dir>/app.py` and return its one ResourcesServer subclass."""
    from gymbox.servers.resources import ResourcesServer

    env_dir = env_dir or environments_dir() / name
    app_file = env_dir / "app.py"
    if not app_file.is_file():
        raise ConfigError(
            f"environment {name!r}: {app_file} not found (set GYMBOX_ENVIRONMENTS_DIR to the folder that holds {name}/)"
        )
    # The folder is imported as a package, so app.py can import its siblings: `from . import checks`.
    package = f"gymbox_env_{name}"
    if package not in sys.modules or list(getattr(sys.modules[package], "__path__", [])) != [str(env_dir)]:
        pkg = types.ModuleType(package)
        pkg.__path__ = [str(env_dir)]
        sys.modules[package] = pkg
    module_name = f"{package}.app"
    spec = importlib.util.spec_from_file_location(module_name, app_file)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    found = [
        obj
        for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, ResourcesServer) and obj is not ResourcesServer and obj.__module__ == module_name
    ]
    if len(found) != 1:
        raise ConfigError(
            f"{app_file}: expected exactly one ResourcesServer subclass, found "
            f"{len(found)}: {', '.join(c.__name__ for c in found) or 'none'}"
        )
    return found[0]


def check_fields(
    stack: ResolvedConfig, environments: Path | None = None, *, missing_environments_ok: bool = False
) -> None:
    """Validate every instance's implementation fields now, naming the user's file:line, so a typo fails
    `gymbox config` and `render` rather than a container.

    An environment whose app.py imports a package this venv lacks is left to its container, which checks
    it the same way at start. `missing_environments_ok`: skip environments whose folder is not here (at
    render time the images were already built from them).
    """
    from gymbox.config import did_you_mean
    from gymbox.nemo.servers import is_nemo_server

    env_root = environments or environments_dir()
    for inst in stack.instances.values():
        if is_nemo_server(inst) or "container" in inst.config.extra_fields() or inst.config.url:
            continue  # read by NeMo Gym's own code, any image (gymbox.docker.any_image), or a server elsewhere
        builtin = (inst.role, inst.implementation) in BUILTINS
        if inst.role == Role.RESOURCES_SERVERS and not (env_root / inst.implementation / "app.py").is_file():
            if missing_environments_ok:
                continue
            known = sorted(p.parent.name for p in env_root.glob("*/app.py"))
            path = (inst.name, inst.role.value, inst.implementation)
            raise ConfigError(
                f"{stack.where(path)}: {'.'.join(path)}: no environment {inst.implementation!r} in {env_root}"
                f"{did_you_mean(inst.implementation, known)} (set GYMBOX_ENVIRONMENTS_DIR to the folder that holds it)"
            )
        try:
            cls = server_class(inst, environments)
        except ImportError:
            if builtin:
                raise
            continue
        validate_fields(inst, cls.Config, stack.where)


def build_server(stack: ResolvedConfig, name: str, environments: Path | None = None) -> Server:
    """The server object of instance `name`, its implementation's Config validated."""
    inst = stack.instance(name)
    cls = server_class(inst, environments)
    config = validate_fields(inst, cls.Config, stack.where)
    return cls(config, name=name, stack=stack)


def build_app(stack: ResolvedConfig, name: str, environments: Path | None = None) -> FastAPI:
    return build_server(stack, name, environments).build_app()
