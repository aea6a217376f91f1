"""What an environment uses to run code: `SandboxClient(url).execute(code, ...)` -> Execution.

Any failure of the sandbox itself (unreachable, 5xx, a request it refuses) raises `SandboxError`, a
ToolError answering 502: the rollout is then an infrastructure error, never a zero reward for the policy.
Each call picks one of the service's replicas at random (compose DNS lists them all).
"""

from __future__ import annotations

from typing import Any

from gymbox.errors import UpstreamError
from gymbox.http_client import PeerClient, pin_replica
from gymbox.sandbox.protocol import Execution
from gymbox.servers.app import ToolError

# Beyond the run's own wall time: queueing behind other runs and the HTTP round trip.
QUEUE_ALLOWANCE_S = 300.0
DEFAULT_TIMEOUT_S = 600.0  # a call that leaves the wall time to the sandbox's own limit


class SandboxError(ToolError):
    def __init__(self, message: str) -> None:
        super().__init__(f"sandbox: {message}", status_code=502, detail={"kind": "sandbox_error"})


class SandboxClient:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.client = PeerClient(timeout_s=DEFAULT_TIMEOUT_S)

    async def execute(
        self, code: str, *, stdin: str = "", files: dict[str, str] | None = None, limits: dict[str, float] | None = None
    ) -> Execution:
        payload: dict[str, Any] = {"code": code, "stdin": stdin, "files": files or {}, "limits": limits or {}}
        url = await pin_replica(f"{self.url}/execute")
        wall_s = payload["limits"].get("wall_s")
        try:
            answer = await self.client.post(url, payload, timeout_s=wall_s + QUEUE_ALLOWANCE_S if wall_s else None)
        except UpstreamError as exc:
            raise SandboxError(str(exc)) from None
        if not answer.ok:
            raise SandboxError(f"{url} answered {answer.status}: {answer.error_text()[:500]}")
        return Execution.model_validate(answer.body)

    async def close(self) -> None:
        await self.client.close()
