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
        return "".join(_message_text(item) for item in self._assistant_items())

    @property
    def last_message_text(self) -> str:
        items = self._assistant_items()
        return _message_text(items[-1]) if items else ""

    def _assistant_items(self) -> list[dict[str, Any]]:
        return [
            item
            for item in self.output
            if item.get("type") == "message" and item.get("role", "assistant") == "assistant"
        ]

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


def _message_text(item: dict[str, Any]) -> str:
    """An assistant message item's `output_text` parts, joined. Read from the dicts: every verify reads it,
    and validating with the `openai` types cost a 0.5 s import and a model per call. A message those types
    would refuse (content not a list of parts, a text that is not a string) raises their ValidationError."""
    content = item.get("content")
    if isinstance(content, list) and all(_is_part(part) for part in content):
        return "".join(part["text"] for part in content if part.get("type") == "output_text")
    from openai.types.responses import ResponseOutputMessage

    ResponseOutputMessage.model_validate(item)  # raises, naming what is wrong
    raise ValueError(f"unreadable message content: {content!r:.200}")


def _is_part(part: Any) -> bool:
    return isinstance(part, dict) and (part.get("type") != "output_text" or isinstance(part.get("text"), str))
