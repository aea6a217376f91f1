"""example_multi_step: look up a value per word, then submit them all, in order, in one call.

Each task names some synonyms of a term. The model calls `get_synonym_value` for each (in parallel or one
by one), carries the results forward, and submits the list with `extract_synonym_values`, which records it
in the episode's session. `verify` rewards 1.0 iff the last submitted list equals the task's
`expected_synonym_values` exactly, order included.

A synonym's value is the sum of its characters' code points ("Warm" -> 407), as in NeMo Gym's example:
a deterministic stand-in so the grading is exact; the skill is the tool workflow, not the arithmetic.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from gymbox import ResourcesServer, ResourcesServerConfig, RunRequest, Session, VerifyRequest, tool

SUBMITTED = "synonym_values"  # session state key: the last list given to extract_synonym_values


def synonym_value(synonym: str) -> int:
    return sum(map(ord, synonym))


class GetSynonymValueArgs(BaseModel):
    synonym: Annotated[str, StringConstraints(min_length=1)] = Field(description="One synonym, spelled as given")


class GetSynonymValueResult(BaseModel):
    synonym_value: int


class ExtractSynonymValuesArgs(BaseModel):
    synonym_values: list[int] = Field(description="The synonym values, in the order the synonyms were given")


class ExtractSynonymValuesResult(BaseModel):
    success: bool


class SynonymTask(RunRequest):
    """A task row's fields beyond `responses_create_params`."""

    expected_synonyms: list[str] = Field(min_length=1)
    expected_synonym_values: list[int] = Field(min_length=1)
    minefield_label: str | None = Field(default=None, description="the original term, which is not a synonym")
    minefield_label_value: int | None = None


class SynonymVerifyRequest(SynonymTask, VerifyRequest):
    pass


class MultiStepServer(ResourcesServer[ResourcesServerConfig, SynonymTask, SynonymVerifyRequest]):
    async def seed_session(self, body: SynonymTask, session: Session) -> None:
        # Validating the row here makes a malformed task fail at the start of the episode, not at verify.
        return None

    @tool
    async def get_synonym_value(self, args: GetSynonymValueArgs, session: Session) -> GetSynonymValueResult:
        """Get the value of one synonym."""
        return GetSynonymValueResult(synonym_value=synonym_value(args.synonym))

    @tool
    async def extract_synonym_values(
        self, args: ExtractSynonymValuesArgs, session: Session
    ) -> ExtractSynonymValuesResult:
        """Submit the values of all the synonyms, in the order the synonyms were given. Call it once, at the end."""
        session.state[SUBMITTED] = list(args.synonym_values)
        return ExtractSynonymValuesResult(success=True)

    async def verify(self, body: SynonymVerifyRequest, session: Session) -> dict[str, Any]:
        expected = body.expected_synonym_values
        submitted: list[int] = session.state.get(SUBMITTED, [])
        accuracy = float(submitted == expected)
        present = set(submitted)
        set_overlap = sum(value in present for value in expected) / len(expected)
        return {
            "reward": accuracy,
            "accuracy": accuracy,
            "set_overlap": set_overlap,
            "parsed_synonym_values": submitted,
            "original_term_minefield_hit": body.minefield_label_value is not None
            and body.minefield_label_value in submitted,
            "order_instruction_following_failure": not accuracy and sorted(submitted) == sorted(expected),
        }
