"""instruction_following: write a response that follows every verifiable instruction of the prompt.

Each task row carries a writing task and, as `instructions`, the constraints its prompt states (IFEval-style:
word counts, keywords, forbidden words, bullet points, case, start/end phrases, paragraphs, no commas, a
title); checks.py holds the checkers. There are no tools. `verify` checks the final assistant message
against each instruction: reward = the fraction followed. Extra metrics: `strict_all` (1.0 iff all are),
`pass_<type>` for each instruction type the row has, and `followed` (one bool per instruction).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import Field, field_validator

from gymbox import ResourcesServer, ResourcesServerConfig, RunRequest, Session, VerifyRequest


def _sibling(name: str) -> ModuleType:
    """Import `<this folder>/<name>.py`. gymbox imports app.py by its path, so its folder is not on sys.path."""
    module_name = f"{__name__}__{name}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, Path(__file__).with_name(f"{name}.py"))
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]


checks = _sibling("checks")

# A reasoning model served without a reasoning parser leaves its <think> block in the message: not the answer.
THINK_BLOCK = re.compile(r"\A\s*<think>.*?</think>", re.S)


class InstructionTask(RunRequest):
    """A task row's fields beyond `responses_create_params`."""

    instructions: list[dict[str, Any]] = Field(min_length=1, description="the constraints the prompt states")

    @field_validator("instructions")
    @classmethod
    def _known_and_well_formed(cls, instructions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for index, instruction in enumerate(instructions):
            try:
                checks.validate(instruction)
            except ValueError as exc:
                raise ValueError(f"instructions[{index}]: {exc}") from None
        return instructions


class InstructionVerifyRequest(InstructionTask, VerifyRequest):
    pass


def response_text(message: str) -> str:
    """The part of the final message that is the response: without a leading <think>...</think> block."""
    return THINK_BLOCK.sub("", message, count=1)


def score(text: str, instructions: list[dict[str, Any]]) -> dict[str, Any]:
    """Reward (fraction of instructions followed) and metrics of one response."""
    followed = [checks.check(instruction, text) for instruction in instructions]
    by_type: dict[str, bool] = {}
    for instruction, ok in zip(instructions, followed, strict=True):
        by_type[instruction["type"]] = by_type.get(instruction["type"], True) and ok
    return {
        "reward": sum(followed) / len(followed),
        "strict_all": float(all(followed)),
        "followed": followed,
        **{f"pass_{kind}": float(ok) for kind, ok in sorted(by_type.items())},
    }


class InstructionFollowingServer(ResourcesServer[ResourcesServerConfig, InstructionTask, InstructionVerifyRequest]):
    async def seed_session(self, body: InstructionTask, session: Session) -> None:
        # Validating the row here refuses unknown or malformed instructions before the episode starts.
        return None

    async def verify(self, body: InstructionVerifyRequest, session: Session) -> dict[str, Any]:
        return score(response_text(body.response.last_message_text), body.instructions)
