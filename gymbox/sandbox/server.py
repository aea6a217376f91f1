"""`python_sandbox`: the `sandboxes` implementation that serves the executor over HTTP.

POST /execute  ExecuteRequest -> Execution   (400 for a request it will not run, 413 for oversized code)
GET  /status   runs in flight, queued, done, and leftover processes killed so far
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from gymbox.sandbox.executor import Executor, InvalidRequest
from gymbox.sandbox.processes import become_subreaper
from gymbox.sandbox.protocol import ExecuteRequest, Execution, Limits
from gymbox.sandbox.signals import guard_shutdown_signals
from gymbox.servers.app import ToolError, create_app


class PythonSandboxConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limits: Limits = Field(default_factory=Limits, description="per run; requests may lower them")
    max_concurrency: int = Field(default=4, ge=1, le=256, description="runs at once; more wait in line")
    max_code_kb: int = Field(default=512, ge=1, description="largest code + files + stdin accepted")
    contain_orphans: bool | None = Field(
        default=None,
        description="become the child subreaper and kill our children that fled a run's session; "
        "and take SIGTERM/SIGINT only from outside the runs (gymbox.sandbox.signals). None: only when this "
        "process owns its container (it is PID 1 or a child of it)",
    )
    # The container `gymbox up` renders for this instance (gymbox.docker.sandbox):
    environment: str | None = Field(
        default=None,
        description="run in this environment's image, so the code can import what its "
        "requirements.txt installs (numpy, say); default: the runtime image, standard library and gymbox's deps",
    )
    tmpfs_mb: int = Field(default=256, ge=16, description="size of the container's writable /tmp")
    pids_limit: int = Field(default=512, ge=16, description="processes and threads in the container")


class PythonSandboxServer:
    Config = PythonSandboxConfig

    def __init__(self, config: PythonSandboxConfig | None = None, *, name: str = "", stack: Any = None) -> None:
        self.config = config or PythonSandboxConfig()
        self.name = name or "python_sandbox"
        contain = self.config.contain_orphans
        if contain is None:  # not inside a test process or a shell, where our other children are not strays
            contain = os.getpid() == 1 or os.getppid() == 1
        self.executor = Executor(
            self.config.limits, max_concurrency=self.config.max_concurrency, contain_orphans=contain
        )

    def build_app(self) -> FastAPI:
        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            if self.executor.contain_orphans:  # this process owns its container
                become_subreaper()
                if threading.current_thread() is threading.main_thread():
                    guard_shutdown_signals()
            try:
                yield
            finally:
                self.executor.close()

        app = create_app(self.name, lifespan=lifespan)
        max_bytes = self.config.max_code_kb * 1024

        @app.post("/execute")
        async def execute(body: ExecuteRequest) -> Execution:
            size = sum(len(text.encode()) for text in (body.code, body.stdin, *body.files.values()))
            if size > max_bytes:
                raise ToolError(
                    f"code, files and stdin hold {size} bytes; this sandbox takes at most {max_bytes}", status_code=413
                )
            try:
                return await self.executor.execute(body)
            except InvalidRequest as exc:
                raise ToolError(str(exc)) from None

        @app.get("/status")
        async def status() -> dict[str, int]:
            ex = self.executor
            return {
                "running": ex.running,
                "queued": max(ex.queued - ex.running, 0),
                "runs": ex.runs,
                "max_concurrency": ex.max_concurrency,
                "leftovers_killed": ex.leftovers_killed,
            }

        return app
