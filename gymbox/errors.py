"""Every error gymbox raises on purpose, and the kinds of failure a rollout can come to.

    GymboxError
    ├── ConfigError        a config file, key or value is wrong (names file:line and key path)
    ├── DataError          a dataset row is wrong (names file:line and field)
    ├── DockerError        a docker / docker compose command failed (carries command, exit code, stderr)
    ├── StackError         a stack did not come up healthy (names the service, with its last log lines)
    ├── OutputError        a file of a run's output could not be written (names it; what was written stays)
    └── UpstreamError      a peer server (model, resources, agent) failed or could not be reached;
                           carries its `FailureKind`, which decides retries and the rollout's status

Messages say what happened, where, and what to do about it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

_MAX_ERROR_CHARS = 1200


class RolloutStatus(StrEnum):
    """What a rollout came to. Only `ok` and `model_error` carry a real reward."""

    OK = "ok"  # the episode ran and was verified
    MODEL_ERROR = "model_error"  # the model ended it badly (context overflow, max_steps); verified anyway
    INFRA_ERROR = "infra_error"  # our side failed after every retry: no reward
    TIMEOUT = "timeout"  # no answer within the timeout after every retry: no reward

    @property
    def scored(self) -> bool:
        return self in (RolloutStatus.OK, RolloutStatus.MODEL_ERROR)


class FailureKind(StrEnum):
    """Why a call to a peer failed. The retry policy decides by kind; so does the rollout's status."""

    UNREACHABLE = "unreachable"  # connection refused or no such host (a peer restarting): nothing was sent
    CONNECT_TIMEOUT = "connect_timeout"  # no answer to connecting (a dead host, a vanished container): nothing sent
    DISCONNECTED = "disconnected"  # the connection dropped before an answer
    TIMEOUT = "timeout"  # connected, but no answer within the timeout
    SERVER_ERROR = "server_error"  # the peer answered 5xx, 429 or 408, or an answer that is not JSON
    SESSION_LOST = "session_lost"  # a resources server no longer knows the episode (it restarted, the TTL passed)
    REJECTED = "rejected"  # the peer refused the request itself (4xx): sending it again cannot help

    @property
    def status(self) -> RolloutStatus:
        """The status of a rollout that ends with this failure."""
        return RolloutStatus.TIMEOUT if self is FailureKind.TIMEOUT else RolloutStatus.INFRA_ERROR


class GymboxError(Exception):
    """Base class of every gymbox error."""


class ConfigError(GymboxError):
    """A config file, key or value is wrong."""


class DataError(GymboxError):
    """A dataset row is wrong."""


class DockerError(GymboxError):
    """A docker or docker compose command failed."""

    def __init__(self, command: list[str], returncode: int, stderr: str) -> None:
        self.command = command
        self.returncode = returncode
        self.stderr = stderr
        super().__init__(f"`{' '.join(command)}` failed with exit code {returncode}:\n{stderr.strip()}")


class StackError(GymboxError):
    """A stack did not come up healthy."""


class OutputError(GymboxError):
    """A file of a run's output could not be written (a full disk, a quota, no permission)."""


class UpstreamError(GymboxError):
    """A peer server failed or could not be reached.

    `kind` says why (see `FailureKind`); `status` is the HTTP status the peer answered, if it answered.
    """

    def __init__(self, message: str, *, kind: FailureKind, status: int | None = None) -> None:
        self.kind = kind
        self.status = status
        super().__init__(message)


def describe_validation_errors(errors: list[Any]) -> str:
    """`city: Field required; days: Input should be a valid integer` — short enough for a model to act on."""
    parts = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        where = ".".join(loc) or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    text = "; ".join(parts)
    # A union mismatch lists every alternative; the head is enough to act on.
    return text if len(text) <= _MAX_ERROR_CHARS else text[:_MAX_ERROR_CHARS] + " …"
