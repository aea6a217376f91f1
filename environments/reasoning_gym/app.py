"""reasoning_gym: procedurally generated reasoning tasks, scored by reasoning-gym's own verifiers.

Each row is one entry of a reasoning-gym dataset (arithmetic, counting, spelling, sorting, ...): the model
reads the question, reasons, and ends its reply with the answer between `<answer>` and `</answer>`. There
are no tools. `verify` takes the answer from the last `<answer>...</answer>` of the final assistant message
(else the whole message) and returns the family's own `score_answer(answer, entry)` as the reward, 0..1;
some families give partial credit.

Rows are NeMo Gym's reasoning_gym rows: `question`, `answer` and `metadata` (whose `source_dataset` names
the family) beside `responses_create_params`. `seed_session` refuses (400) a row whose family this server
does not score, or whose own `answer` does not earn 1.0 from its family's scorer (malformed metadata).

reasoning-gym (about 1.5 s to import) is imported by a thread the server starts, not at import: app.py loads,
and the row checks that need no scorer run, where the package is missing.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import re
import threading
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gymbox import ResourcesServer, ResourcesServerConfig, RunRequest, Session, ToolError, VerifyRequest

# The families data/generate.py draws from: each generates and scores offline with reasoning-gym==0.1.25.
FAMILIES = ("basic_arithmetic", "chain_sum", "leg_counting", "letter_counting", "spell_backward", "word_sorting")
logger = logging.getLogger(__name__)
ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.IGNORECASE | re.DOTALL)

Scorer = Callable[..., float]


def extract_answer(text: str) -> tuple[str, bool]:
    """The content of the last `<answer>...</answer>` in `text`, stripped, and True; else `text` stripped, False."""
    found = ANSWER_TAG.findall(text)
    if found:
        return found[-1].strip(), True
    return text.strip(), False


class ReasoningGymMissing(RuntimeError):
    """reasoning-gym is not installed here: the server's failure (500, an infra error), never the row's."""


@functools.cache
def scorer(family: str) -> Scorer:
    """reasoning-gym's `score_answer(answer, entry)` for a family (imports reasoning-gym the first time)."""
    try:
        import reasoning_gym
    except ModuleNotFoundError as exc:
        raise ReasoningGymMissing("reasoning-gym is not installed: pip install -r requirements.txt") from exc
    try:
        score: Scorer = reasoning_gym.get_score_answer_fn(family)
    except ValueError as exc:
        raise ToolError(
            f"metadata.source_dataset: reasoning-gym {reasoning_gym.__version__} has no dataset {family!r}"
        ) from exc
    return score


def score(family: str, answer: str, entry: dict[str, Any]) -> float:
    """The family's score of `answer`, clamped to 0..1 (NaN is 0)."""
    value = float(scorer(family)(answer=answer, entry=entry))
    return 0.0 if math.isnan(value) else min(1.0, max(0.0, value))


class TaskMetadata(BaseModel):
    """The entry's `metadata`: whatever its family put there, `source_dataset` (the family) included."""

    model_config = ConfigDict(extra="allow")

    source_dataset: str = Field(min_length=1, description="the reasoning-gym dataset (family) of the entry")


class ReasoningGymTask(RunRequest):
    """A task row's fields beyond `responses_create_params`: one reasoning-gym entry."""

    question: str = Field(default="", description="the entry's question, without the format instruction")
    answer: str = Field(description="the entry's reference answer")
    metadata: TaskMetadata

    @property
    def family(self) -> str:
        return self.metadata.source_dataset

    def entry(self) -> dict[str, Any]:
        """The entry as reasoning-gym made it, for its scorer."""
        return {"question": self.question, "answer": self.answer, "metadata": self.metadata.model_dump()}


class ReasoningGymVerifyRequest(ReasoningGymTask, VerifyRequest):
    pass


class ReasoningGymConfig(ResourcesServerConfig):
    families: list[str] = Field(
        default_factory=lambda: list(FAMILIES),
        min_length=1,
        description="the reasoning-gym datasets whose rows this server scores",
    )


class ReasoningGymServer(ResourcesServer[ReasoningGymConfig, ReasoningGymTask, ReasoningGymVerifyRequest]):
    def __init__(self, config: ReasoningGymConfig | None = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        # Import reasoning-gym and build the scorers while the server starts, so the first episodes do not
        # wait for them; a failure here is met again, and reported, by the first row that needs a scorer.
        threading.Thread(target=self._warm_up, name="reasoning_gym-warm-up", daemon=True).start()

    def _warm_up(self) -> None:
        for family in self.config.families:
            try:
                scorer(family)
            except Exception:
                return

    async def seed_session(self, body: ReasoningGymTask, session: Session) -> None:
        await self.check_row(body)
        return None

    async def verify(self, body: ReasoningGymVerifyRequest, session: Session) -> dict[str, Any]:
        await self.check_row(body)
        answer, tagged = extract_answer(body.response.last_message_text)
        try:
            reward, failed = await asyncio.to_thread(score, body.family, answer, body.entry()), False
        except Exception:  # the family's scorer choked on this answer: no credit, and say so
            logger.exception("%s: score_answer failed on %r", body.family, answer[:200])
            reward, failed = 0.0, True
        return {
            "reward": reward,
            "answer_extracted": float(tagged),
            "exact_match": float(reward == 1.0),
            "score_error": float(failed),
            f"reward/{body.family}": reward,
            "extracted_answer": answer,
        }

    async def check_row(self, body: ReasoningGymTask) -> None:
        """Refuse (400) a row of a family not served here, or one whose own answer its scorer does not accept."""
        if body.family not in self.config.families:
            raise ToolError(
                f"metadata.source_dataset: {body.family!r} is not a family this server scores "
                f"(families: {', '.join(self.config.families)})"
            )
        await asyncio.to_thread(scorer, body.family)  # the first call imports reasoning-gym; may raise ToolError
        try:
            own = await asyncio.to_thread(score, body.family, body.answer, body.entry())
        except Exception as exc:  # the scorer read a field the metadata lacks, or of the wrong type
            raise ToolError(
                f"metadata: malformed for {body.family}: its scorer failed on the row's own answer "
                f"({type(exc).__name__}: {exc})"
            ) from None
        if own != 1.0:
            raise ToolError(
                f"answer/metadata: inconsistent for {body.family}: the row's own answer "
                f"{body.answer!r} scores {own:g}, not 1"
            )
