"""Every error gymbox raises on purpose.

    GymboxError
    ├── ConfigError        a config file, key or value is wrong (names file:line and key path)
    ├── DataError          a dataset row is wrong (names file:line and field)
    ├── DockerError        a docker / docker compose command failed (carries command, exit code, stderr)
    ├── StackError         a stack did not come up healthy (names the service, with its last log lines)
    └── UpstreamError      a peer server (model, resources, agent) failed or could not be reached

Messages say what happened, where, and what to do about it.
"""

from __future__ import annotations


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


class UpstreamError(GymboxError):
    """A peer server failed or could not be reached.

    `retryable` says whether the same request may succeed if sent again (connection errors, 429, 5xx).
    """

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False) -> None:
        self.status = status
        self.retryable = retryable
        super().__init__(message)
