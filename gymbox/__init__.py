"""gymbox: Docker-first RL environments for LLMs, wire-compatible with NeMo Gym.

The public names below are imported on first use, so `import gymbox` (and every CLI command and
container start) does not pay for FastAPI and the `openai` types until it needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "CONNECT_RETRY": "gymbox.http_client",
    "ConfigError": "gymbox.errors",
    "DataError": "gymbox.errors",
    "DockerError": "gymbox.errors",
    "Execution": "gymbox.sandbox.protocol",
    "FailureKind": "gymbox.errors",
    "GymboxError": "gymbox.errors",
    "PeerClient": "gymbox.http_client",
    "ResourcesServer": "gymbox.servers.resources",
    "ResourcesServerConfig": "gymbox.servers.resources",
    "RetryPolicy": "gymbox.retry",
    "Rollout": "gymbox.collector.runner",
    "RolloutStatus": "gymbox.errors",
    "RunRequest": "gymbox.protocol",
    "RunResponse": "gymbox.protocol",
    "SandboxClient": "gymbox.sandbox.client",
    "ServerRef": "gymbox.config",
    "Session": "gymbox.servers.sessions",
    "StackError": "gymbox.errors",
    "ToolError": "gymbox.servers.app",
    "UpstreamError": "gymbox.errors",
    "VerifyRequest": "gymbox.protocol",
    "VerifyResponse": "gymbox.protocol",
    "collect": "gymbox.collector.api",
    "tool": "gymbox.servers.resources",
}
__all__ = [
    "CONNECT_RETRY",
    "ConfigError",
    "DataError",
    "DockerError",
    "Execution",
    "FailureKind",
    "GymboxError",
    "PeerClient",
    "ResourcesServer",
    "ResourcesServerConfig",
    "RetryPolicy",
    "Rollout",
    "RolloutStatus",
    "RunRequest",
    "RunResponse",
    "SandboxClient",
    "ServerRef",
    "Session",
    "StackError",
    "ToolError",
    "UpstreamError",
    "VerifyRequest",
    "VerifyResponse",
    "collect",
    "tool",
]

if TYPE_CHECKING:
    from gymbox.collector.api import collect
    from gymbox.collector.runner import Rollout
    from gymbox.config import ServerRef
    from gymbox.errors import (
        ConfigError,
        DataError,
        DockerError,
        FailureKind,
        GymboxError,
        RolloutStatus,
        StackError,
        UpstreamError,
    )
    from gymbox.http_client import CONNECT_RETRY, PeerClient
    from gymbox.protocol import RunRequest, RunResponse, VerifyRequest, VerifyResponse
    from gymbox.retry import RetryPolicy
    from gymbox.sandbox.client import SandboxClient
    from gymbox.sandbox.protocol import Execution
    from gymbox.servers.app import ToolError
    from gymbox.servers.resources import ResourcesServer, ResourcesServerConfig, tool
    from gymbox.servers.sessions import Session


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gymbox' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return [*globals(), *__all__]
