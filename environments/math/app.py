"""Math word problems and exercises, graded by math-verify: the model reasons, then answers in \\boxed{}.

The rows (data/generate.py) are arithmetic, linear equations, fractions and word problems with exact
answers (`expected_answer`: "12", "-5/2"). There are no tools. `verify` reads the final assistant message,
extracts its answer (the last \\boxed{} first, else an anchored or the last number) and rewards 1.0 iff
math-verify finds it equal to the expected answer: `3/4`, `\\frac{3}{4}` and `0.75` all count.

math-verify runs in worker processes (grader.py), never in the server's own threads: its time limits use
SIGALRM, which only a main thread can take, and a worker stuck on hostile input is killed and replaced. The
verify response says which math-verify release graded it (`math_verify_version`): the release is a build
arg of the image, and one stack can run this environment built with two (configs/math_v07.yaml).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import Field

from gymbox import ResourcesServer, ResourcesServerConfig, RunRequest, Session, VerifyRequest

GRADER = Path(__file__).resolve().with_name("grader.py")
PIPE_LIMIT = 1 << 20  # bytes of one line from a worker (its answers are small; the default is 64 KiB)


class GraderError(RuntimeError):
    """The grader could not grade: math-verify missing, a worker crash, an expected answer that does not parse.

    Our side's failure, not the model's: verify answers 500 and the rollout is an infra error, never a zero.
    """


class _Worker:
    """One `python grader.py` process: a JSON line in, a JSON line out."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.version: str | None = None  # set by the ready line

    @classmethod
    async def start(cls, script: Path) -> _Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-u",
            str(script),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=PIPE_LIMIT,
        )
        return cls(process)

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    async def read(self, timeout_s: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout_s)
        if not line:
            raise GraderError(f"grader worker exited (code {await self.process.wait()}) without answering")
        message: dict[str, Any] = json.loads(line)
        return message

    async def ready(self, timeout_s: float) -> None:
        if self.version is not None:
            return
        hello = await self.read(timeout_s)
        if not hello.get("ready"):
            raise GraderError(hello.get("error") or f"grader worker did not start: {hello}")
        self.version = str(hello["math_verify_version"])

    async def ask(self, request: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request).encode() + b"\n")
        await self.process.stdin.drain()
        return await self.read(timeout_s)

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Close its stdin (it exits at end of input), kill it if it lingers, and reap it."""
        if self.process.stdin is not None and not self.process.stdin.is_closing():
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), timeout_s)
        except TimeoutError:
            self.kill()
            await self.process.wait()

    def kill(self) -> None:
        if self.alive:
            try:
                self.process.kill()
            except ProcessLookupError:  # it exited meanwhile
                pass


class GraderPool:
    """`workers` grader processes, started by `warm` (or on first use); a request waits for an idle one.

    A worker that answers nothing within `timeout_s` is killed (a later request starts a new one) and the
    answer is graded wrong: what hangs the grader is the model's answer, not our side.
    """

    def __init__(self, workers: int, timeout_s: float, startup_timeout_s: float, script: Path = GRADER) -> None:
        self.script = script
        self.workers = workers
        self.timeout_s = timeout_s
        self.startup_timeout_s = startup_timeout_s
        self._idle: asyncio.Queue[_Worker | None] | None = None

    async def warm(self) -> None:
        """Start every worker now; returns at once, while they import math-verify."""
        if self._idle is None:
            self._idle = asyncio.Queue()
            for _ in range(self.workers):
                try:
                    worker: _Worker | None = await _Worker.start(self.script)
                except OSError:  # grade() tries again, and reports why
                    worker = None
                self._idle.put_nowait(worker)

    async def close(self) -> None:
        """Stop the idle workers (at server shutdown, while their event loop still runs)."""
        if self._idle is None:
            return
        while not self._idle.empty():
            worker = self._idle.get_nowait()
            if worker is not None:
                await worker.stop()
        self._idle = None

    async def grade(self, gold: str, answer: str) -> dict[str, Any]:
        await self.warm()
        idle = self._idle
        assert idle is not None
        worker = await idle.get()
        answered = False  # else the worker is killed: it may still owe an answer to a request now gone
        try:
            if worker is None or not worker.alive:
                worker = await _Worker.start(self.script)
            await worker.ready(self.startup_timeout_s)
            try:
                result = await worker.ask({"gold": gold, "answer": answer}, self.timeout_s)
            except TimeoutError:
                return {
                    "correct": False,
                    "answer_parsed": False,
                    "boxed": False,
                    "extracted_answer": None,
                    "error": None,
                    "timed_out": True,
                    "math_verify_version": worker.version,
                }
            answered = True
            return {**result, "timed_out": False, "math_verify_version": worker.version}
        except (TimeoutError, OSError, ValueError) as exc:  # no ready line, a broken pipe, a garbled line
            raise GraderError(f"grader worker failed: {type(exc).__name__}: {exc}") from exc
        finally:
            if worker is not None and (not answered or idle is not self._idle):  # or the pool closed meanwhile
                worker.kill()
                await worker.stop()
                worker = None
            idle.put_nowait(worker)


class MathConfig(ResourcesServerConfig):
    grader_workers: int = Field(default=2, ge=1, description="math-verify worker processes per replica")
    grade_timeout_s: float = Field(default=30.0, gt=0, description="kill a worker grading one answer longer")
    grader_startup_timeout_s: float = Field(default=120.0, gt=0, description="wait this long for a new worker")


class MathTask(RunRequest):
    """A task row's fields beyond `responses_create_params`."""

    expected_answer: str = Field(min_length=1, description="the exact answer: an integer or a fraction, '-5/2'")
    problem_type: str | None = Field(default=None, description="arithmetic, linear_equation, fraction, ...")
    difficulty: int | None = Field(default=None, ge=1, le=3)


class MathVerifyRequest(MathTask, VerifyRequest):
    pass


def major_minor(release: str | None) -> float:
    """'0.9.0' -> 0.9, a number the metrics can average (0.0 when unknown)."""
    major, _, rest = (release or "0.0").partition(".")
    return float(f"{major}.{rest.partition('.')[0] or 0}")


class MathServer(ResourcesServer[MathConfig, MathTask, MathVerifyRequest]):
    def __init__(self, config: MathConfig | None = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.grader = GraderPool(
            self.config.grader_workers, self.config.grade_timeout_s, self.config.grader_startup_timeout_s
        )

    def build_app(self) -> FastAPI:
        app = super().build_app()
        serve = app.router.lifespan_context

        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
            async with serve(app) as state:
                await self.grader.warm()  # workers import math-verify while the stack comes up
                try:
                    yield state
                finally:
                    await self.grader.close()

        app.router.lifespan_context = lifespan
        return app

    async def seed_session(self, body: MathTask, session: Session) -> None:
        # The row is validated on the way in. The workers started with the server; not if it was served
        # without its lifespan, so start them here too (a no-op once they have).
        await self.grader.warm()

    async def verify(self, body: MathVerifyRequest, session: Session) -> dict[str, Any]:
        graded = await self.grader.grade(body.expected_answer, body.response.last_message_text)
        if graded["error"]:
            raise GraderError(graded["error"])
        return {
            "reward": float(graded["correct"]),
            "answer_parsed": float(graded["answer_parsed"]),
            "boxed": float(graded["boxed"]),
            "grader_timeout": float(graded["timed_out"]),
            "extracted_answer": graded["extracted_answer"],
            "math_verify_version": graded["math_verify_version"],
            "math_verify_major_minor": major_minor(graded["math_verify_version"]),
        }
