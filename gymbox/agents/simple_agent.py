"""`simple_agent`: drives the model and the environment's tools, then asks the verifier for a reward.

`POST /v1/responses` runs the tool loop for one request: model -> each function call sent to the resources
server -> model ..., until the model answers without calls, `max_steps` is reached, or a response comes
back incomplete. It returns one Responses object whose `output` holds every item in order and whose
`usage` sums all steps.

`POST /run` runs a whole rollout: `seed_session` -> the loop -> `verify`, the resources server's session
cookie threaded through every call, and returns the verify response plus `status`.

Failures: what the *model* gets wrong (malformed JSON arguments, an unknown tool, a tool rejecting its
arguments) goes back to it as the tool's output, and the episode goes on. An episode the model ends
abnormally (context overflow, max_steps, max_output_tokens) is still verified, with `status: model_error`.
What *our* side gets wrong (a peer unreachable or answering 5xx, a resources server that lost the episode's
session) is answered 502 `{"error", "detail": {"kind": "infra_error", "failure": <FailureKind>}}`, so the
collector records an infrastructure failure, or retries the rollout as a new episode, instead of a fake zero.
A resources replica that cannot be reached is avoided by the next episodes for a while.
"""

from __future__ import annotations

import json
import re
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field

from gymbox.config import ResolvedConfig, ServerRef
from gymbox.errors import FailureKind, UpstreamError
from gymbox.http_client import CONNECT_TIMEOUT_S, DownReplicas, PeerClient, PeerResponse, pin_replica
from gymbox.protocol import SESSION_COOKIE, ResponsesCreateParams, RunRequest
from gymbox.retry import PEER_GONE
from gymbox.servers.app import EscapingJSONResponse, body_json, create_app, direct_post
from gymbox.servers.resources import RESERVED_ROUTES

_TOOL_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_CONTEXT_OVERFLOW = "context_length_exceeded"
# A model's answers that refuse the request's content (not its key, route or rate): the row is at fault.
_ROW_REFUSED = (400, 413, 422)


class SimpleAgentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resources_server: ServerRef
    model_server: ServerRef
    max_steps: int = Field(default=16, ge=1, description="model calls per episode")
    request_timeout_s: float = Field(default=600.0, gt=0, description="per call to the model or a tool")
    connect_timeout_s: float = Field(
        default=CONNECT_TIMEOUT_S, gt=0, description="to connect to the model or resources server"
    )
    datasets: list[dict[str, Any]] = Field(default_factory=list, description="NeMo Gym dataset entries")


@dataclass
class Episode:
    """What one tool loop accumulates."""

    output: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)
    last_response: dict[str, Any] = field(default_factory=dict)
    model_error: str | None = None
    cookies: dict[str, str] = field(default_factory=dict)


class AgentInfraError(Exception):
    """A peer failed; the rollout has no reward. `kind` says why."""

    def __init__(self, message: str, kind: FailureKind) -> None:
        super().__init__(message)
        self.kind = kind


class InvalidRowError(Exception):
    """The environment rejected the task row itself (seed_session or verify answered 4xx)."""


class SimpleAgentServer:
    Config = SimpleAgentConfig

    def __init__(self, config: SimpleAgentConfig, *, name: str = "", stack: ResolvedConfig | None = None) -> None:
        if stack is None:
            raise ValueError("simple_agent needs the stack config to find its peers")
        self.config = config
        self.name = name or "simple_agent"
        self.resources_url = stack.resolve_ref(config.resources_server).url
        self.model_url = stack.resolve_ref(config.model_server).url
        self.client = PeerClient(timeout_s=config.request_timeout_s, connect_timeout_s=config.connect_timeout_s)
        self.down_replicas = DownReplicas()  # resources replicas that could not be reached

    def build_app(self) -> FastAPI:
        @asynccontextmanager
        async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
            yield
            await self.client.close()

        app = create_app(self.name, lifespan=lifespan)

        @app.exception_handler(AgentInfraError)
        async def on_infra(request: Request, exc: AgentInfraError) -> EscapingJSONResponse:
            detail = {"kind": "infra_error", "failure": exc.kind.value}
            return EscapingJSONResponse({"error": str(exc), "detail": detail}, status_code=502)

        @app.exception_handler(InvalidRowError)
        async def on_invalid_row(request: Request, exc: InvalidRowError) -> EscapingJSONResponse:
            return EscapingJSONResponse({"error": str(exc), "detail": {"kind": "invalid_row"}}, status_code=400)

        @direct_post(app, "/v1/responses")
        async def responses(params: ResponsesCreateParams, request: Request) -> EscapingJSONResponse:
            cookies = dict(request.cookies)
            if SESSION_COOKIE not in cookies:  # a new conversation: its episode starts here, as /run's does
                row = {"responses_create_params": body_json(params, exclude_none=True)}
                self._expect_ok(await self._call(f"{self.resources_url}/seed_session", row, cookies), "seed_session")
            episode = await self.run_loop(params, self.resources_url, cookies)
            answer = EscapingJSONResponse(self._final_response(episode))
            if SESSION_COOKIE in episode.cookies:
                answer.set_cookie(SESSION_COOKIE, episode.cookies[SESSION_COOKIE], httponly=True)
            return answer

        @direct_post(app, "/run")
        async def run(row: RunRequest) -> EscapingJSONResponse:
            return EscapingJSONResponse(await self.run(row))

        return app

    # ------------------------------------------------------------------ the rollout

    async def run(self, row: RunRequest) -> dict[str, Any]:
        resources = await pin_replica(self.resources_url, self.down_replicas)
        row_json = body_json(row, exclude_none=True)
        seeded = await self._call(f"{resources}/seed_session", row_json, {})
        self._expect_ok(seeded, "seed_session")
        episode = await self.run_loop(
            row.responses_create_params, resources, dict(seeded.cookies), row_json["responses_create_params"]
        )
        verified = await self._call(
            f"{resources}/verify", {**row_json, "response": self._final_response(episode)}, episode.cookies
        )
        self._expect_ok(verified, "verify")
        result = dict(verified.body)
        result["status"] = "model_error" if episode.model_error else "ok"
        if episode.model_error:
            result["model_error"] = episode.model_error
        return result

    async def run_loop(
        self,
        params: ResponsesCreateParams,
        resources: str,
        cookies: dict[str, str],
        request: dict[str, Any] | None = None,
    ) -> Episode:
        """`request`: `params` already dumped as JSON, when the caller has it (`/run` does)."""
        episode = Episode(cookies=cookies)
        if request is None:
            request = body_json(params, exclude_none=True)
        items = params.input_items()
        allowed = {t.get("name") for t in params.tools if t.get("type") == "function"}
        for _step in range(self.config.max_steps):
            answer = await self._call(
                f"{self.model_url}/v1/responses", {**request, "input": items + episode.output}, {}
            )
            if not answer.ok:
                self._model_failure(answer, episode)
                return episode
            response = answer.body
            episode.last_response = response
            episode.output.extend(response.get("output", []))
            _add_usage(episode.usage, response.get("usage") or {})
            calls = [item for item in response.get("output", []) if item.get("type") == "function_call"]
            if response.get("status") == "incomplete":
                reason = (response.get("incomplete_details") or {}).get("reason", "incomplete")
                episode.model_error = f"the model's response was incomplete: {reason}"
                return episode
            if not calls:
                return episode
            for call in calls:  # in order: tools may change the episode's state
                output = await self._run_tool(call, resources, allowed, episode)
                episode.output.append(
                    {
                        "type": "function_call_output",
                        "id": f"fco_{call.get('call_id')}",
                        "call_id": call.get("call_id"),
                        "output": output,
                        "status": "completed",
                    }
                )
        episode.model_error = f"max_steps ({self.config.max_steps}) reached before a final answer"
        return episode

    async def _run_tool(self, call: dict[str, Any], resources: str, allowed: set[Any], episode: Episode) -> str:
        """The tool's JSON output, or an error text the model can read and act on."""
        name = str(call.get("name", ""))
        # Only the tools the request offered: a row with no tools has none to call.
        if not _TOOL_NAME.match(name) or name in RESERVED_ROUTES or name not in allowed:
            return json.dumps({"error": f"unknown tool {name!r}; available: {sorted(str(a) for a in allowed)}"})
        try:
            arguments = json.loads(call.get("arguments") or "{}")
        except json.JSONDecodeError as exc:
            return json.dumps({"error": f"arguments of {name} are not valid JSON: {exc}"})
        if not isinstance(arguments, dict):
            return json.dumps({"error": f"arguments of {name} must be a JSON object"})
        answer = await self._call(f"{resources}/{name}", arguments, episode.cookies)
        failure = answer.failure()
        # A lost session must not reach the model as a tool error: the episode is gone, not the model's fault.
        if failure in (FailureKind.SERVER_ERROR, FailureKind.SESSION_LOST):
            raise AgentInfraError(
                f"tool {name} failed on the resources server ({answer.status}): {answer.error_text()}", failure
            )
        episode.cookies.update(answer.cookies)
        if not answer.ok:
            return json.dumps({"error": answer.error_text()})
        return answer.body if isinstance(answer.body, str) else json.dumps(answer.body)

    def _model_failure(self, answer: PeerResponse, episode: Episode) -> None:
        detail = answer.body.get("detail") if isinstance(answer.body, dict) else None
        if answer.status == 400 and isinstance(detail, dict) and detail.get("kind") == _CONTEXT_OVERFLOW:
            episode.model_error = f"context length exceeded: {answer.error_text()}"
            return
        if answer.status in _ROW_REFUSED:  # the row's request itself is wrong: no peer is down, no retry helps
            raise InvalidRowError(
                f"the model server refused the row's request ({answer.status}): {answer.error_text()}"
            )
        raise AgentInfraError(
            f"model server answered {answer.status}: {answer.error_text()}",
            answer.failure() or FailureKind.SERVER_ERROR,
        )

    async def _call(self, url: str, payload: Any, cookies: dict[str, str]) -> PeerResponse:
        host = urlsplit(url).hostname or ""
        try:
            answer = await self.client.post(url, payload, cookies=cookies)
        except UpstreamError as exc:
            if exc.kind in PEER_GONE:
                self.down_replicas.mark_down(host)
            raise AgentInfraError(str(exc), exc.kind) from exc
        self.down_replicas.mark_up(host)
        cookies_out = answer.cookies
        if SESSION_COOKIE in cookies_out:
            cookies[SESSION_COOKIE] = cookies_out[SESSION_COOKIE]
        return answer

    @staticmethod
    def _expect_ok(answer: PeerResponse, what: str) -> None:
        failure = answer.failure()
        if failure is FailureKind.REJECTED:
            raise InvalidRowError(f"{what} rejected the task row ({answer.status}): {answer.error_text()}")
        if failure is not None:
            raise AgentInfraError(f"{what} failed ({answer.status}): {answer.error_text()}", failure)

    def _final_response(self, episode: Episode) -> dict[str, Any]:
        final = dict(episode.last_response)
        final.setdefault("id", "resp_gymbox_empty")
        final.setdefault("object", "response")
        final.setdefault("created_at", 0)
        final.setdefault("model", "")
        final.setdefault("parallel_tool_calls", True)
        final.setdefault("tool_choice", "auto")
        final.setdefault("tools", [])
        final["output"] = episode.output
        if episode.usage:
            final["usage"] = episode.usage
        if episode.model_error and final.get("status") != "incomplete":
            final["status"] = "incomplete"
        return final


def _add_usage(total: dict[str, Any], step: dict[str, Any]) -> None:
    """Sum usage across steps, nested detail objects included."""
    for key, value in step.items():
        if isinstance(value, dict):
            _add_usage(total.setdefault(key, {}), value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            total[key] = total.get(key, 0) + value
