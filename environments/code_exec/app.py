"""code_exec: write a Python function from a spec; reward = the fraction of hidden unit tests it passes.

The prompt gives a function's name, signature, description and a couple of worked examples. The model
may try code with the `run_python` tool, then answers with the function in a ```python block. `verify`
takes the last such block of the final message and runs it in the stack's sandbox (a `python_sandbox`
instance, docs/sandbox.md) under `harness.py`, which calls the function on each hidden test's arguments and
reports the return values; this server compares them with the expected values, which never enter the
sandbox. Reward = tests passed / tests; `all_passed`, `loaded` (the code ran and defined the function),
`tests_passed` and `tests_total` are extra metrics.

Model code never runs in this process: the tool and the verifier both go through the sandbox. A sandbox
that fails (unreachable, 5xx) makes `verify` answer 502, an infrastructure error, not a zero.
"""

from __future__ import annotations

import json
import math
import re
import secrets
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints, field_validator

from gymbox import (
    Execution,
    ResourcesServer,
    ResourcesServerConfig,
    RunRequest,
    SandboxClient,
    ServerRef,
    Session,
    VerifyRequest,
    tool,
)

HARNESS = (Path(__file__).resolve().parent / "harness.py").read_text()
CODE_BLOCK = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
REL_TOL, ABS_TOL = 1e-6, 1e-9  # floats within this count as equal
TOOL_OUTPUT_CHARS = 4000


class TestCase(BaseModel):
    args: list[Any] = Field(description="positional arguments of the call")
    expected: Any = Field(description="the return value that passes (JSON: tuples are lists)")


class Task(RunRequest):
    """A task row's fields beyond `responses_create_params`."""

    entry_point: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_]\w*$")]
    tests: list[TestCase] = Field(min_length=1, description="hidden tests; the prompt shows others")


class TaskVerifyRequest(Task, VerifyRequest):
    pass


class CodeExecConfig(ResourcesServerConfig):
    sandbox: ServerRef = Field(
        default=ServerRef(type="sandboxes", name="code_sandbox"),
        description="the python_sandbox instance that runs model code",
    )
    test_timeout_s: float = Field(default=2.0, gt=0, description="per hidden test call")
    run_wall_s: float = Field(default=10.0, gt=0, description="a run_python call's wall-time limit")
    load_allowance_s: float = Field(default=3.0, gt=0, description="interpreter start and import of the code")
    max_code_chars: int = Field(
        default=100_000, gt=0, description="a longer answer scores 0; keep it under the sandbox's max_code_kb"
    )


class RunPythonArgs(BaseModel):
    code: Annotated[str, StringConstraints(min_length=1, max_length=100_000)] = Field(
        description="A complete Python 3 program. Its stdout and stderr are returned; print what you want to see."
    )

    @field_validator("code")
    @classmethod
    def _is_unicode(cls, code: str) -> str:
        if not is_unicode(code):
            raise ValueError("the program is not valid Unicode text (it holds a lone surrogate)")
        return code


class RunPythonResult(BaseModel):
    status: str = Field(description="ok, error (non-zero exit), timeout, cpu_limit or killed")
    exit_code: int | None
    stdout: str
    stderr: str


def is_unicode(text: str) -> bool:
    """Whether `text` can be written as UTF-8. A lone surrogate cannot: the sandbox refuses such code
    (a 4xx, hence an infra_error), so an answer holding one must score here, as the 0 it is."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def extract_code(text: str) -> str | None:
    """The last ```python (or untagged) fenced block of the answer."""
    blocks = CODE_BLOCK.findall(text or "")
    return blocks[-1] if blocks else None


def same_value(got: Any, expected: Any) -> bool:
    """JSON equality, with floats compared within tolerance (and an int equal to an equal float)."""
    if isinstance(expected, bool) or isinstance(got, bool):
        return type(got) is type(expected) and got == expected
    if isinstance(expected, (int, float)) and isinstance(got, (int, float)):
        if isinstance(expected, int) and isinstance(got, int):
            return got == expected
        return math.isclose(got, expected, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    if isinstance(expected, list) and isinstance(got, list):
        return len(got) == len(expected) and all(same_value(g, e) for g, e in zip(got, expected, strict=True))
    if isinstance(expected, dict) and isinstance(got, dict):
        return got.keys() == expected.keys() and all(same_value(got[k], expected[k]) for k in expected)
    return type(got) is type(expected) and got == expected


def read_results(stdout: str, nonce: str, count: int) -> tuple[bool, list[dict[str, Any] | None]]:
    """(loaded, one harness record per test or None where none came), from the harness's lines only."""
    loaded = False
    results: list[dict[str, Any] | None] = [None] * count
    for line in stdout.splitlines():
        if not line.startswith(nonce):
            continue
        try:
            record = json.loads(line[len(nonce) :])
        except json.JSONDecodeError:
            continue
        if not isinstance(record, dict):  # the harness writes objects; anything else is forged
            continue
        if record.get("loaded") is True:
            loaded = True
        i = record.get("i")
        if isinstance(i, int) and 0 <= i < count and results[i] is None:
            results[i] = record
    return loaded, results


def clip(text: str, limit: int = TOOL_OUTPUT_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f"\n... ({len(text) - limit} more characters)"


class CodeExecServer(ResourcesServer[CodeExecConfig, Task, TaskVerifyRequest]):
    async def startup(self) -> None:
        if self.stack is None:
            raise RuntimeError(f"{self.name} needs the stack config to find its sandbox")
        url = self.stack.resolve_ref(self.config.sandbox).url
        self.sandbox = SandboxClient(url)

    async def shutdown(self) -> None:
        await self.sandbox.close()

    async def seed_session(self, body: Task, session: Session) -> None:
        # Validating the row here makes a row without tests fail at the start of the episode.
        return None

    @tool
    async def run_python(self, args: RunPythonArgs, session: Session) -> RunPythonResult:
        """Run a Python 3 program in a sandbox (no network, a few seconds, no files kept between calls) and
        return its exit status, stdout and stderr. Use it to try your function before you answer."""
        run = await self.sandbox.execute(args.code, limits={"wall_s": self.config.run_wall_s})
        return RunPythonResult(
            status=run.status, exit_code=run.exit_code, stdout=clip(run.stdout), stderr=clip(run.stderr)
        )

    async def verify(self, body: TaskVerifyRequest, session: Session) -> dict[str, float]:
        total = len(body.tests)
        code = extract_code(body.response.last_message_text)
        # What the sandbox would refuse (a 4xx, an infra_error) is the model's doing: it scores 0.
        if code is None or len(code) > self.config.max_code_chars or not is_unicode(code):
            return {"reward": 0.0, "all_passed": 0.0, "loaded": 0.0, "tests_passed": 0.0, "tests_total": total}
        run, nonce = await self.run_tests(code, body.entry_point, body.tests)
        loaded, results = read_results(run.stdout, nonce, total)
        passed = sum(
            1
            for record, test in zip(results, body.tests, strict=True)
            if record is not None and "value" in record and same_value(record["value"], test.expected)
        )
        return {
            "reward": passed / total,
            "all_passed": float(passed == total),
            "loaded": float(loaded),
            "tests_passed": float(passed),
            "tests_total": float(total),
        }

    async def run_tests(self, code: str, entry_point: str, tests: list[TestCase]) -> tuple[Execution, str]:
        nonce = f"@{secrets.token_hex(8)}@"
        spec = {
            "entry_point": entry_point,
            "test_timeout_s": self.config.test_timeout_s,
            "calls": [test.args for test in tests],
        }
        wall = self.config.load_allowance_s + self.config.test_timeout_s * len(tests)
        run = await self.sandbox.execute(
            HARNESS, stdin=f"{nonce}\n{json.dumps(spec)}\n", files={"solution.py": code}, limits={"wall_s": wall}
        )
        return run, nonce
