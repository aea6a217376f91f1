"""structured_outputs: answer with a JSON object that validates against the task's JSON Schema.

Each task row carries a JSON Schema (`schema`, Draft 2020-12) and a short description of an object to
produce; the prompt shows both and asks for the JSON object only. There are no tools. `verify` reads the
final assistant message, takes it as JSON (bare, or inside one ```json code block), and validates it
with `jsonschema`'s Draft 2020-12 validator, string formats included: reward 1.0 iff it parses and
validates, else 0.0. Extra metrics: `parsed`, `valid`, `fenced`, `error_count` (parsed answers only).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError
from pydantic import Field, model_validator

from gymbox import ResourcesServer, ResourcesServerConfig, RunRequest, Session, VerifyRequest

# A reasoning model served without a reasoning parser leaves its <think> block in the message: not the answer.
THINK_BLOCK = re.compile(r"\A\s*<think>.*?</think>", re.S)
# The whole answer is one fenced block, ```json or plain ```, and nothing else.
FENCED = re.compile(r"\A```[ \t]*(?:json)?[ \t]*\n?(.*?)```\Z", re.S | re.I)
ERRORS_SHOWN = 5  # validation errors listed in the verify response
ERROR_CHARS = 300  # each one cut to this length


class StructuredOutputsConfig(ResourcesServerConfig):
    check_formats: bool = Field(
        default=True, description="enforce `format` (date, email, uuid, ipv4, ...), not just annotate it"
    )


@functools.lru_cache(maxsize=4096)
def schema_problem(schema_json: str) -> str | None:
    """Why a schema is not a valid Draft 2020-12 schema, or None. Cached: checking costs milliseconds."""
    try:
        Draft202012Validator.check_schema(json.loads(schema_json))
    except SchemaError as exc:
        return str(exc.message)
    return None


class SchemaTask(RunRequest):
    """A task row: `schema` (a JSON Schema object) and `task` (what the object describes).

    `schema` is read from the row's extra fields rather than declared, because a pydantic field of that
    name would shadow `BaseModel.schema`.
    """

    task: str = Field(default="", description="the object to produce, in words (shown in the prompt)")

    @model_validator(mode="after")
    def _has_a_valid_schema(self) -> SchemaTask:
        schema = (self.model_extra or {}).get("schema")
        if not isinstance(schema, dict):
            raise ValueError("the row needs `schema`: a JSON Schema object")
        problem = schema_problem(json.dumps(schema, sort_keys=True))
        if problem:
            raise ValueError(f"`schema` is not a valid Draft 2020-12 schema: {problem}")
        return self

    @property
    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = (self.model_extra or {})["schema"]
        return schema


class SchemaVerifyRequest(SchemaTask, VerifyRequest):
    pass


@dataclass(frozen=True)
class Answer:
    value: Any  # the parsed JSON value
    fenced: bool  # it came inside a ```json block


class NotJSON(ValueError):
    """The answer is not one JSON value (with the reason)."""


def _reject_constant(name: str) -> Any:
    raise NotJSON(f"{name} is not JSON")


def parse_answer(text: str) -> Answer:
    """The JSON value of a final message: the whole message, or the inside of one ```json fence.

    Raises NotJSON. A leading <think>...</think> block is dropped; NaN and Infinity are refused (Python's
    json accepts them, JSON does not), and so is nesting deep enough to exhaust the recursion limit.
    """
    text = THINK_BLOCK.sub("", text, count=1).strip()
    fence = FENCED.fullmatch(text)
    if fence:
        text = fence.group(1).strip()
    if not text:
        raise NotJSON("the answer is empty")
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise NotJSON(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise NotJSON("nested too deeply") from None
    return Answer(value, fenced=fence is not None)


@functools.lru_cache(maxsize=4096)
def validator_for(schema_json: str, check_formats: bool) -> Draft202012Validator:
    """One validator per distinct schema (a GRPO group verifies the same schema many times)."""
    checker = Draft202012Validator.FORMAT_CHECKER if check_formats else None
    return Draft202012Validator(json.loads(schema_json), format_checker=checker)


def describe(error: ValidationError) -> str:
    text = f"{error.json_path}: {error.message}"
    return text if len(text) <= ERROR_CHARS else text[:ERROR_CHARS] + " …"


def score(text: str, schema: dict[str, Any], check_formats: bool = True) -> dict[str, Any]:
    """Reward and metrics of one final message against one schema."""
    try:
        answer = parse_answer(text)
    except NotJSON as exc:
        return {"reward": 0.0, "parsed": 0.0, "valid": 0.0, "fenced": 0.0, "errors": [f"not JSON: {exc}"]}
    validator = validator_for(json.dumps(schema, sort_keys=True), check_formats)
    try:
        errors = sorted(validator.iter_errors(answer.value), key=lambda e: (list(map(str, e.path)), e.message))
    except RecursionError:  # a schema and an answer that recurse without end
        return {
            "reward": 0.0,
            "parsed": 1.0,
            "valid": 0.0,
            "fenced": float(answer.fenced),
            "error_count": 1,
            "errors": ["$: nested too deeply to validate"],
        }
    valid = 0.0 if errors else 1.0
    return {
        "reward": valid,
        "parsed": 1.0,
        "valid": valid,
        "fenced": float(answer.fenced),
        "error_count": len(errors),
        "errors": [describe(error) for error in errors[:ERRORS_SHOWN]],
    }


class StructuredOutputsServer(ResourcesServer[StructuredOutputsConfig, SchemaTask, SchemaVerifyRequest]):
    async def seed_session(self, body: SchemaTask, session: Session) -> None:
        # Validating the row here refuses a task without a usable schema before the episode starts.
        return None

    async def verify(self, body: SchemaVerifyRequest, session: Session) -> dict[str, Any]:
        return score(body.response.last_message_text, body.json_schema, self.config.check_formats)
