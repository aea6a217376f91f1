"""`replay_model`: a model server that plays back recorded rollouts, turn by turn. A test double for a
model, not a model: the tools and the verifier still run live, so a replayed rollout checks that an
environment, the agent and the collector reproduce the recorded rewards.

It loads rollout files (NeMo Gym's `example_rollouts.jsonl`, or gymbox's own `gymbox rollout` output):
each row's `responses_create_params.input` and the `output` of its `response`. A request is matched to a
row by its input (the row's input items, compared by role and text for messages, so a data row and its
rollout match whether or not their messages say `"type": "message"`); the episode items after that input
say how many model turns were played. A turn is the items up to the next tool outputs or environment
message (a user turn a gymnasium-style agent adds after each step): turn i answers the i-th model call of
the episode with exactly the recorded items (function calls, messages, reasoning).

Rows with the same input are played in file order, one per episode (round robin), so a file that holds
several rollouts of one task replays each of them once per pass. Where a row's output starts with
environment messages (an agent that records its first observation there rather than in the input), those
messages are part of the input it is matched by. A row whose input is still empty answers nothing: it
would match every request, a judge's included.

Judges. A verifier that asks a judge model (NeMo Gym's LLM-as-a-judge servers) reaches this server too,
and gets the judge's recorded answer; the verifier's own prompt, verdict parsing and reward still run live.
- Where a row records the judge's calls (`judge_evaluations: [{responses_create_params, response}]`, or
  `judge_responses_create_params` + `judge_response`), each call is one more recording, matched by its
  input exactly like a policy turn: a prompt the verifier now builds differently finds no recording.
- Where a row records each judge prompt and the judge's text (`rubric_evaluations: [{judge_prompt,
  judge_response}]`), a judge request whose last user message is a recorded prompt gets its text (the
  system message, which the row does not hold, is not compared).
- Where a row records only the judge's text (`judge_output`), a judge request that matches no recording
  is answered with that text, taken from the episode whose first policy turn was played last (each text
  once). That is right only when episodes are played one at a time, as `gymbox.nemo.conformance` plays
  them (concurrency 1); under concurrency it would mix episodes up.
Both `POST /v1/responses` and `POST /v1/chat/completions` (judges that use Chat Completions) answer.

Config: `rollouts` (one path or a list; relative to the working directory), `model` (the name it answers
with). A request matching no row answers 404 with the input's first user text, so a wrong file is obvious.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from gymbox.errors import ConfigError
from gymbox.model_servers.chat_convert import response_to_completion
from gymbox.model_servers.chat_messages import ChatConversionError, messages_to_items
from gymbox.model_servers.openai_app import (
    CHAT_STREAM_END,
    ModelServerError,
    chat_chunk_bytes,
    create_model_app,
    json_object,
    response_event_bytes,
    sse_response,
    sse_whole,
)
from gymbox.model_servers.stream_events import completion_chunks, response_events
from gymbox.protocol import input_items
from gymbox.servers.app import EscapingJSONResponse, direct_post

TOOL_OUTPUT = "function_call_output"
ENVIRONMENT_ROLES = frozenset({"user", "system", "developer"})  # messages in an episode not from the model
PARAMS = "responses_create_params"
# A recorded rollout's outcome, not part of its task: what `task_row` removes.
OUTCOME_FIELDS = frozenset({"response", "reward", "_ng_task_index", "_ng_rollout_index", "status", "gymbox"})
# Where NeMo Gym's judge servers record their judge: a list of {responses_create_params, response}, a
# single call, or only the judge's answer text.
JUDGE_CALLS_FIELD = "judge_evaluations"
JUDGE_CALL_FIELDS = ("judge_responses_create_params", "judge_response")
JUDGE_TEXT_FIELD = "judge_output"
JUDGE_PROMPTS_FIELD = "rubric_evaluations"


class ReplayModelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rollouts: str | list[str] = Field(description="rollout JSONL files to play back")
    model: str = "gymbox-replay"


@dataclass(frozen=True)
class RecordedEpisode:
    source: str  # file:line
    input_length: int
    turns: list[list[dict[str, Any]]]
    status: str  # the recorded response's status: the last turn answers with it
    incomplete_details: Any
    judge: bool = False  # a call the verifier made to its judge, not a policy episode
    judge_texts: tuple[str, ...] = ()  # the judge's answers, where only their text was recorded


def input_key(items: Iterable[Any]) -> str:
    """A digest of input items that ignores how a message is spelled: role and text only."""
    return hashlib.sha256(json.dumps([_item_identity(item) for item in items]).encode()).hexdigest()


def _item_identity(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    if "role" in item and item.get("type", "message") == "message":
        return ["message", item["role"], _text(item.get("content"))]
    kind = item.get("type")
    if kind == "function_call":
        return [kind, item.get("call_id"), item.get("name"), item.get("arguments")]
    if kind == TOOL_OUTPUT:
        return [kind, item.get("call_id"), item.get("output")]
    return {k: v for k, v in item.items() if k not in ("id", "status")}


def _text(content: Any) -> Any:
    """A message's content as its text; parts that are not text (images, files) are kept whole."""
    if not isinstance(content, list):
        return content
    parts = [part for part in content if isinstance(part, dict)]
    if all("text" in part for part in parts):
        return "".join(str(part["text"]) for part in parts)
    return [part.get("text") if "text" in part else json.dumps(part, sort_keys=True) for part in parts]


def _from_environment(item: Any) -> bool:
    """Not the model's: a tool output, or a user/system message that an agent put in the episode (NeMo's
    gymnasium_agent adds each step's observation as a user message)."""
    if not isinstance(item, dict):
        return False
    return item.get("type") == TOOL_OUTPUT or (
        item.get("type", "message") == "message" and item.get("role") in ENVIRONMENT_ROLES
    )


def split_turns(output: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """A recorded episode's output as model turns: each turn ends where tool outputs or environment
    messages begin."""
    turns: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    for item in output:
        if _from_environment(item):
            if current:
                turns.append(current)
                current = []
            continue
        current.append(item)
    if current:
        turns.append(current)
    return turns


def turns_played(episode_items: list[Any]) -> int:
    """How many model turns the items after the input hold (runs of model items between tool outputs
    and environment messages)."""
    count, in_turn = 0, False
    for item in episode_items:
        is_output = _from_environment(item)
        if not is_output and not in_turn:
            count += 1
        in_turn = not is_output
    return count


def read_rollouts(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) of a rollout file's rows that hold an input and a response."""
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{path}:{number}: not a JSON row ({exc.msg}); is it a git-lfs pointer?") from None
            if isinstance(row, dict) and isinstance(row.get("response"), dict) and "responses_create_params" in row:
                yield number, row


def judge_calls(row: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(where, request params, response) of each judge call a recorded rollout holds."""
    calls = []
    for index, call in enumerate(row.get(JUDGE_CALLS_FIELD) or []):
        if isinstance(call, dict) and isinstance(call.get("response"), dict) and isinstance(call.get(PARAMS), dict):
            calls.append((f"{JUDGE_CALLS_FIELD}[{index}]", call[PARAMS], call["response"]))
    params, response = (row.get(field) for field in JUDGE_CALL_FIELDS)
    if isinstance(params, dict) and isinstance(response, dict):
        calls.append((JUDGE_CALL_FIELDS[1], params, response))
    return calls


def judge_prompts(row: dict[str, Any]) -> list[tuple[str, str]]:
    """(prompt, the judge's text) of each judge call whose prompt and answer a recorded rollout holds."""
    entries = row.get(JUDGE_PROMPTS_FIELD)
    return [
        (e["judge_prompt"], e["judge_response"])
        for e in entries or []
        if isinstance(e, dict) and isinstance(e.get("judge_prompt"), str) and isinstance(e.get("judge_response"), str)
    ]


def judge_record(rows: Iterable[dict[str, Any]]) -> str:
    """How recorded rollouts hold their judge's answers: "calls" (requests and responses), "prompts"
    (prompts and texts), "text" (only the judge's text), or "" (not at all). A field present but null
    (the verifier decided without its judge) counts as recorded."""
    rows = list(rows)
    if rows and all(JUDGE_CALLS_FIELD in r or all(f in r for f in JUDGE_CALL_FIELDS) for r in rows):
        return "calls"
    if rows and all(isinstance(r.get(JUDGE_PROMPTS_FIELD), list) for r in rows):
        return "prompts"
    if rows and all(JUDGE_TEXT_FIELD in r for r in rows):
        return "text"
    return ""


def task_row(rollout: dict[str, Any]) -> dict[str, Any]:
    """The task row a recorded rollout was collected from, as far as the rollout holds it: the rollout
    without its outcome (fields the verifier added stay; servers ignore fields they do not declare)."""
    return {k: v for k, v in rollout.items() if k not in OUTCOME_FIELDS}


class ReplayModelServer:
    Config = ReplayModelConfig

    def __init__(self, config: ReplayModelConfig, *, name: str = "", stack: Any = None) -> None:
        self.config = config
        self.name = name or "replay_model"
        files = [config.rollouts] if isinstance(config.rollouts, str) else config.rollouts
        self.episodes: dict[str, list[RecordedEpisode]] = {}
        self._prompt_texts: dict[str, list[str]] = {}
        for file in files:
            self._load(Path(file))
        self._lengths = sorted({e.input_length for eps in self.episodes.values() for e in eps})
        self._next: dict[str, Iterator[int]] = {}
        # An episode's later turns must come from the row its first turn came from.
        self._chosen: dict[str, RecordedEpisode] = {}
        self._lock = threading.Lock()
        # The judge texts of the episode whose first turn was played last, not yet answered.
        self._judge_texts: list[str] = []
        # Recorded judge prompts -> their texts, played in turn where a prompt recurs.
        self._prompted: dict[str, Iterator[str]] = {
            prompt: itertools.cycle(texts) for prompt, texts in self._prompt_texts.items()
        }

    def _load(self, path: Path) -> None:
        if not path.is_file():
            raise ConfigError(f"replay_model: rollouts file {path} not found (relative to {Path.cwd()})")
        for number, row in read_rollouts(path):
            calls = judge_calls(row)
            text = row.get(JUDGE_TEXT_FIELD)
            texts = (text,) if isinstance(text, str) and not calls else ()
            self._add(f"{path}:{number}", row[PARAMS], row["response"], judge_texts=texts)
            for where, params, response in calls:
                self._add(f"{path}:{number} {where}", params, response, judge=True)
            for prompt, judged in judge_prompts(row):
                self._prompt_texts.setdefault(prompt, []).append(judged)

    def _add(
        self,
        source: str,
        params: dict[str, Any],
        response: dict[str, Any],
        *,
        judge: bool = False,
        judge_texts: tuple[str, ...] = (),
    ) -> None:
        output = [i for i in response.get("output") or [] if isinstance(i, dict)]
        # An agent may record its first observation at the head of the output: the model saw it as input.
        items = [*input_items(params.get("input")), *itertools.takewhile(_from_environment, output)]
        if not items:
            return
        episode = RecordedEpisode(
            source=source,
            input_length=len(items),
            turns=split_turns(output),
            status=str(response.get("status") or "completed"),
            incomplete_details=response.get("incomplete_details"),
            judge=judge,
            judge_texts=judge_texts,
        )
        self.episodes.setdefault(input_key(items), []).append(episode)

    def build_app(self) -> FastAPI:
        app = create_model_app(self.name, self.config.model)

        @direct_post(app, "/v1/responses")
        async def responses(request: Request) -> Response:
            params = await json_object(request)
            response = self.respond(params)
            if params.get("stream"):
                return sse_response(response_event_bytes(event) for event in response_events(response))
            return EscapingJSONResponse(response)

        @direct_post(app, "/v1/chat/completions")
        async def chat_completions(request: Request) -> Response:
            params = await json_object(request)
            try:
                items = messages_to_items(params.get("messages"))
            except ChatConversionError as exc:
                raise ModelServerError(f"replay_model: {exc}", 400, param="messages") from None
            completion = response_to_completion(self.respond({"input": items}))
            if params.get("stream"):
                chunks = completion_chunks(completion, include_usage=False)
                return sse_whole([*(chat_chunk_bytes(chunk) for chunk in chunks), CHAT_STREAM_END])
            return EscapingJSONResponse(completion)

        return app

    def respond(self, params: dict[str, Any]) -> dict[str, Any]:
        items = input_items(params.get("input"))
        found = self._episode_for(items)
        if found is None:
            return self._judge_text_answer(params, items)
        episode, start = found
        step = turns_played(items[start:])
        if step == 0 and not episode.judge:
            with self._lock:
                self._judge_texts = list(episode.judge_texts)
        last = step >= len(episode.turns) - 1
        output = episode.turns[step] if step < len(episode.turns) else []
        return self._response(params, f"{episode.source}|{step}", output, episode if last else None)

    def _judge_text_answer(self, params: dict[str, Any], items: list[Any]) -> dict[str, Any]:
        """A request no recording has: the text recorded for its prompt, else the next judge text of the
        episode played last, else a 404."""
        users = [_text(i.get("content")) for i in items if isinstance(i, dict) and i.get("role") == "user"]
        with self._lock:
            prompted = self._prompted.get(users[-1]) if users and isinstance(users[-1], str) else None
            if prompted is not None:
                text: str | None = next(prompted)
            else:
                text = self._judge_texts.pop(0) if self._judge_texts else None
        if text is None:
            first_user = next(
                (_text(i.get("content")) for i in items if isinstance(i, dict) and i.get("role") == "user"), ""
            )
            raise ModelServerError(
                f"replay_model: no recorded rollout has this input (first user message: {str(first_user)[:200]!r})",
                404,
            )
        message_id = "msg_replay_" + hashlib.sha256(text.encode()).hexdigest()[:20]
        content = [{"type": "output_text", "text": text, "annotations": []}]
        output = [{"type": "message", "id": message_id, "role": "assistant", "status": "completed", "content": content}]
        return self._response(params, f"judge|{text}", output, None)

    def _response(
        self, params: dict[str, Any], seed: str, output: list[dict[str, Any]], last: RecordedEpisode | None
    ) -> dict[str, Any]:
        """A Responses object answering `params` with `output`; `last`: the episode whose last turn it is."""
        return {
            "id": f"resp_replay_{hashlib.sha256(seed.encode()).hexdigest()[:20]}",
            "object": "response",
            "created_at": int(time.time()),
            "model": self.config.model,
            "status": last.status if last else "completed",
            "error": None,
            "incomplete_details": last.incomplete_details if last else None,
            "instructions": params.get("instructions"),
            "output": output,
            # A judge's request may send these as null; a Responses object must not answer null.
            "parallel_tool_calls": params.get("parallel_tool_calls") is not False,
            "tool_choice": params.get("tool_choice") or "auto",
            "tools": params.get("tools") or [],
            "metadata": params.get("metadata"),
        }

    def _episode_for(self, items: list[Any]) -> tuple[RecordedEpisode, int] | None:
        """The recorded episode whose input starts `items`, and that input's length; None if none."""
        for length in reversed(self._lengths):  # the longest recorded input that is a prefix
            if length > len(items):
                continue
            key = input_key(items[:length])
            candidates = [e for e in self.episodes.get(key, []) if e.input_length == length]
            if not candidates:
                continue
            if len(candidates) == 1:
                return candidates[0], length
            return self._round_robin(key, items, length, candidates), length
        return None

    def _round_robin(
        self, key: str, items: list[Any], length: int, candidates: list[RecordedEpisode]
    ) -> RecordedEpisode:
        """Rows sharing an input: a new episode takes the next one; its later turns keep it."""
        episode_key = input_key(items[: length + 1]) if len(items) > length else None
        with self._lock:
            if episode_key is not None and episode_key in self._chosen:
                return self._chosen[episode_key]
            order = self._next.setdefault(key, itertools.cycle(range(len(candidates))))
            chosen = candidates[next(order)]
            if chosen.turns and chosen.turns[0]:
                self._chosen[input_key([*items[:length], *chosen.turns[0][:1]])] = chosen
            return chosen
