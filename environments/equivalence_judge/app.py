"""equivalence_judge: short factual answers, graded by a second model (LLM-as-judge) against a reference.

The policy answers a question with no tools, its final answer in `\\boxed{}`. `verify` takes the last
`\\boxed{...}` of the final assistant message and asks the stack's judge model (the `judge_model`
instance named by `Config.judge_model`, over the Responses API) whether it is equivalent to the row's
`reference_answer`. Reward 1.0 iff the judge answers `EQUIVALENT`, 0.0 if it answers `NOT_EQUIVALENT` or
the policy gave no boxed answer (then the judge is not asked).

A judge failure is not the policy's: a judge that cannot be reached, answers non-2xx, or answers
anything but the two verdicts makes `verify` answer 502, so the agent reports `infra_error` and the
collector records no reward for the rollout.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from pydantic import Field

from gymbox import (
    CONNECT_RETRY,
    PeerClient,
    ResourcesServer,
    ResourcesServerConfig,
    RunRequest,
    ServerRef,
    Session,
    ToolError,
    UpstreamError,
    VerifyRequest,
)

EQUIVALENT, NOT_EQUIVALENT = "EQUIVALENT", "NOT_EQUIVALENT"
JUDGE_INSTRUCTIONS = (
    "You are grading a short answer against a reference answer.\n"
    "Decide whether the CANDIDATE answer means the same as the REFERENCE answer to the QUESTION: the same "
    "value (numbers may be written differently, e.g. 0.5 and 1/2, and a unit may be abbreviated, but a "
    "different quantity is wrong) or the same entity (case, accents and minor spelling variants do not "
    "matter).\n"
    f"Reply with exactly one word: {EQUIVALENT} or {NOT_EQUIVALENT}."
)


def one_line(text: str) -> str:
    """Whitespace (newlines included) collapsed to single spaces, so each prompt field is one line."""
    return " ".join(text.split())


def judge_prompt(question: str, candidate: str, reference: str) -> str:
    """The judge's user message. It ends with the lines `CANDIDATE: ...` and `REFERENCE: ...`, each one line.

    That fixed tail is what the scripted judge's rules match (configs/equivalence_judge.yaml).
    """
    return (
        f"{JUDGE_INSTRUCTIONS}\n\nQUESTION: {one_line(question)}\n"
        f"CANDIDATE: {one_line(candidate)}\nREFERENCE: {one_line(reference)}"
    )


def last_boxed(text: str) -> str | None:
    """The contents of the last balanced `\\boxed{...}` in `text` (nested braces allowed), else None."""
    start = text.rfind("\\boxed{")
    while start != -1:
        depth = 0
        for i in range(start + len("\\boxed"), len(text)):
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    return text[start + len("\\boxed{") : i].strip()
        start = text.rfind("\\boxed{", 0, start)  # unbalanced: try an earlier one
    return None


class JudgeError(ToolError):
    """The judge failed: answered 502, so the rollout is an infrastructure error, not a zero."""

    def __init__(self, message: str, kind: str, **detail: Any) -> None:
        super().__init__(f"judge model: {message}", status_code=502, detail={"kind": kind, **detail})


def parse_verdict(text: str) -> bool:
    """`EQUIVALENT` -> True, `NOT_EQUIVALENT` -> False (surrounding whitespace and one trailing '.' allowed).

    Anything else raises JudgeError: an unreadable verdict is the judge's failure, not the policy's.
    """
    word = text.strip()
    word = word[:-1] if word.endswith(".") else word
    if word == EQUIVALENT:
        return True
    if word == NOT_EQUIVALENT:
        return False
    shown = text if len(text) <= 200 else text[:200] + "…"
    raise JudgeError(f"unparseable verdict {shown!r} (expected {EQUIVALENT} or {NOT_EQUIVALENT})", "judge_unparseable")


def final_text(response: Any) -> str:
    """The text of the last assistant message of a Responses API object (reasoning items are skipped)."""
    output = response.get("output") if isinstance(response, dict) else None
    if not isinstance(output, list):
        raise JudgeError("response has no output list", "judge_unparseable")
    for item in reversed(output):
        if isinstance(item, dict) and item.get("type") == "message" and item.get("role", "assistant") == "assistant":
            content = item.get("content")
            if isinstance(content, str):
                return content
            return "".join(
                part.get("text", "")
                for part in content or ()
                if isinstance(part, dict) and part.get("type") == "output_text"
            )
    raise JudgeError("response has no assistant message", "judge_unparseable")


class EquivalenceJudgeConfig(ResourcesServerConfig):
    judge_model: ServerRef = Field(
        default=ServerRef(type="responses_api_models", name="judge_model"),
        description="the model server that judges equivalence",
    )
    judge_timeout_s: float = Field(default=120.0, gt=0)
    judge_connect_retries: int = Field(default=3, ge=0, description="retries while the judge is unreachable")
    judge_temperature: float | None = Field(default=0.0, description="None: the judge server's default")
    judge_max_output_tokens: int | None = Field(default=None, ge=1, description="None: no limit sent")


class Task(RunRequest):
    """A task row's fields beyond `responses_create_params`."""

    question: str = Field(description="the question, without the output-format instruction")
    reference_answer: str = Field(min_length=1, description="what the judge compares the answer with")


class TaskVerifyRequest(Task, VerifyRequest):
    pass


class EquivalenceJudgeServer(ResourcesServer[EquivalenceJudgeConfig, Task, TaskVerifyRequest]):
    async def startup(self) -> None:
        if self.stack is None:
            raise RuntimeError(f"{self.name} needs the stack config to find its judge model")
        self.judge_url = f"{self.stack.resolve_ref(self.config.judge_model).url}/v1/responses"
        self.client = PeerClient(
            timeout_s=self.config.judge_timeout_s,
            retry=replace(CONNECT_RETRY, attempts=self.config.judge_connect_retries + 1),
        )

    async def shutdown(self) -> None:
        await self.client.close()

    async def seed_session(self, body: Task, session: Session) -> None:
        # Validating the row here makes a row without `reference_answer` fail at the start of the episode.
        return None

    def judge_request(self, question: str, candidate: str, reference: str) -> dict[str, Any]:
        request: dict[str, Any] = {"input": [{"role": "user", "content": judge_prompt(question, candidate, reference)}]}
        if self.config.judge_temperature is not None:
            request["temperature"] = self.config.judge_temperature
        if self.config.judge_max_output_tokens is not None:
            request["max_output_tokens"] = self.config.judge_max_output_tokens
        return request

    async def judge(self, question: str, candidate: str, reference: str) -> bool:
        """Ask the judge model; True iff it says EQUIVALENT. Raises JudgeError on any judge failure."""
        try:
            answer = await self.client.post(self.judge_url, self.judge_request(question, candidate, reference))
        except UpstreamError as exc:
            raise JudgeError(f"unreachable: {exc}", "judge_unavailable") from None
        if not answer.ok:
            raise JudgeError(
                f"{self.judge_url} answered {answer.status}: {answer.error_text()[:500]}",
                "judge_error",
                judge_status=answer.status,
            )
        return parse_verdict(final_text(answer.body))

    async def verify(self, body: TaskVerifyRequest, session: Session) -> dict[str, Any]:
        candidate = last_boxed(body.response.last_message_text)
        if not candidate:  # no (or an empty) boxed answer: a format failure, no need to ask the judge
            return {
                "reward": 0.0,
                "answer_found": False,
                "judge_equivalent": False,
                "judge_latency_s": 0.0,
                "extracted_answer": None,
            }
        started = time.monotonic()
        equivalent = await self.judge(body.question, candidate, body.reference_answer)
        return {
            "reward": float(equivalent),
            "answer_found": True,
            "judge_equivalent": equivalent,
            "judge_latency_s": round(time.monotonic() - started, 4),
            "extracted_answer": candidate,
        }
