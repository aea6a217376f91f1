"""Request and response bodies of the three server roles (docs/protocol.md), wire-compatible with NeMo Gym.

The model's side reuses the `openai` package's Responses API types; only what NeMo Gym adds around them
(the task row, the verify result) is typed here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from openai.types.responses import ResponseOutputMessage

SESSION_COOKIE = "gymbox_session"

RolloutStatus = Literal["ok", "model_error", "infra_error", "timeout"]
"""`ok` and `model_error` are real episodes with a real reward; `infra_error` and `timeout` have none."""


def input_items(value: str | list[Any] | None) -> list[Any]:
    """A Responses `input` as a list of items: a string is one user message, a list is copied as it is.

    Items are not checked here; each caller decides what a non-object item means to it.
    """
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    return list(value or [])


class ResponsesCreateParams(BaseModel):
    """The body of `POST /v1/responses` (OpenAI Responses API), as a task row carries it.

    Only `input` is required; every other Responses API field (`tools`, `temperature`, `max_output_tokens`,
    `metadata`, ...) passes through untouched.
    """

    model_config = ConfigDict(extra="allow")

    input: str | list[dict[str, Any]]
    tools: list[dict[str, Any]] = Field(default_factory=list)

    def input_items(self) -> list[dict[str, Any]]:
        return input_items(self.input)


class RunRequest(BaseModel):
    """One task row: `responses_create_params` plus any task fields the verifier reads."""

    model_config = ConfigDict(extra="allow")

    responses_create_params: ResponsesCreateParams

    def task_fields(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class RolloutResponse(BaseModel):
    """The final Responses API object of a rollout, as the agent hands it to `verify`.

    Lenient on purpose: backends (vLLM, NIM, llama.cpp) and `openai` releases disagree on optional and
    detail fields, and a verifier must not reject a real episode over `usage` details. Output items stay
    plain dicts in the Responses API shape (`message`, `function_call`, `function_call_output`,
    `reasoning`, ...); `output_text` and `messages()` read them with the `openai` types.
    """

    model_config = ConfigDict(extra="allow")

    id: str = ""
    object: str = "response"
    model: str = ""
    status: str | None = None
    output: list[dict[str, Any]] = Field(default_factory=list)
    usage: dict[str, Any] | None = None

    def messages(self) -> list[ResponseOutputMessage]:
        from openai.types.responses import ResponseOutputMessage  # ~0.5 s to import: only when asked

        return [
            ResponseOutputMessage.model_validate(item)
            for item in self.output
            if item.get("type") == "message" and item.get("role", "assistant") == "assistant"
        ]

    @property
    def output_text(self) -> str:
        """The text of every assistant message, joined (like `openai`'s `Response.output_text`)."""
        return "".join(part.text for msg in self.messages() for part in msg.content if part.type == "output_text")

    @property
    def last_message_text(self) -> str:
        messages = self.messages()
        if not messages:
            return ""
        return "".join(part.text for part in messages[-1].content if part.type == "output_text")

    def function_calls(self) -> list[dict[str, Any]]:
        return [item for item in self.output if item.get("type") == "function_call"]


class VerifyRequest(RunRequest):
    """The task row plus the final Responses object of the rollout."""

    response: RolloutResponse


class VerifyResponse(VerifyRequest):
    """The verify request plus `reward` (and any extra numeric fields the environment adds)."""

    reward: float


class RunResponse(VerifyResponse):
    """What an agent's `/run` returns: the verify response plus the episode's `status`."""

    status: Literal["ok", "model_error"] = "ok"


class AggregateMetricsRequest(BaseModel):
    verify_responses: list[dict[str, Any]]


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer of a gymbox server."""

    error: str
    detail: Any = None
