"""Model servers that proxy to any OpenAI-compatible endpoint: `openai_model` and `vllm_model`.

Routes: `POST /v1/responses` (Responses API; passed through, or converted to Chat Completions for
backends without it, see `chat_convert`), `POST /v1/chat/completions` (passed through), both streaming
or not; `GET /v1/models` (the configured model), `GET /health`.

What the proxy does to every request before it goes upstream:
- `model` is replaced with the configured model;
- `metadata` keys starting with `gymbox_` are removed (the scripted model reads them; real providers
  must never see them);
- `extra_body` fills in fields the request does not set (a field the request sets wins);
- with `return_token_ids`, vLLM is asked for token ids and logprobs (see `_TOKEN_ID_PARAMS`).

Answers that need no conversion (`api: responses`, `/v1/chat/completions`) go back as the upstream's
bytes, unparsed; streams (`stream: true`) are relayed chunk by chunk. A streaming Responses request over
`api: chat` is answered with events made from the converted answer (`stream_events`).

Upstream 408/409/429/5xx answers and connection errors are retried `max_retries` times by gymbox's
`RetryPolicy`, shaped like the `openai` client's (exponential backoff from 0.5 s, capped at 8 s, with up
to 25 % jitter, honouring `retry-after(-ms)`; see `upstream`). Then the proxy answers, in OpenAI's error
shape (`openai_app`):
- 502, code `upstream_unavailable` — an infrastructure failure;
- 400, code `context_length_exceeded` — the model's episode is over;
- any other upstream 4xx with the same status (code `upstream_error`).
`detail.kind` repeats the code for gymbox's agent. A streaming request gets these before any event.
The api key is never logged, and scrubbed from any upstream message passed on.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, nullcontext
from typing import Any, ClassVar, Literal

from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask

from gymbox import json_codec
from gymbox.config import ResolvedConfig
from gymbox.model_servers.chat_convert import chat_to_response, responses_to_chat
from gymbox.model_servers.chat_messages import ChatConversionError
from gymbox.model_servers.openai_app import (
    ModelServerError,
    create_model_app,
    json_object,
    response_event_bytes,
    sse_response,
    sse_whole,
)
from gymbox.model_servers.stream_events import response_events
from gymbox.model_servers.upstream import UpstreamClient, UpstreamStatusError, UpstreamUnreachable
from gymbox.retry import RetryPolicy
from gymbox.servers.app import EscapingJSONResponse, direct_post

log = logging.getLogger(__name__)

PRIVATE_METADATA_PREFIX = "gymbox_"
VLLM_PORT = 8000
# Pinned, so every stack started from this checkout runs the same vLLM release (`latest` moves under a
# project); an instance's `image:` picks another. The vLLM release on PyPI when this was written.
VLLM_IMAGE = "vllm/vllm-openai:v0.33.0"

# vLLM extensions: per-token logprobs of the sampled tokens only (top_logprobs=0), those tokens written as
# "token_id:<id>", and the prompt's and generation's token ids (vLLM >= 0.10.2). Prompt *logprobs* are
# not asked for: a trainer needs the prompt's ids, and prompt logprobs cost a full pass over the prompt.
_TOKEN_ID_PARAMS = {"logprobs": True, "return_tokens_as_token_ids": True, "return_token_ids": True}
_RETRIED_STATUSES = (408, 409, 429)
_CONTEXT_LENGTH = re.compile(
    r"context[ _]length|maximum model length|context size|context window|prompt is too long", re.IGNORECASE
)


class ProxyConfig(BaseModel):
    """Fields shared by `openai_model` and `vllm_model`."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="model name sent upstream (replaces the request's `model`)")
    base_url: str | None = Field(default=None, description="OpenAI-compatible base URL, e.g. .../v1")
    api_key: str = Field(default="EMPTY", repr=False)
    api: Literal["auto", "responses", "chat"] = Field(
        default="chat",
        description="upstream API for /v1/responses: `responses` passes it through, `chat` converts to "
        "Chat Completions, `auto` tries /responses once and falls back to chat on 404/405",
    )
    max_concurrency: int | None = Field(default=None, ge=1, description="cap on concurrent upstream requests")
    max_retries: int = Field(default=4, ge=0, description="retries of 408/409/429/5xx and connection errors")
    timeout_s: float = Field(default=600.0, gt=0, description="per upstream attempt")
    extra_body: dict[str, Any] = Field(default_factory=dict, description="defaults merged into every request")
    return_token_ids: bool = Field(default=False, description="ask vLLM for token ids and logprobs")


class OpenAIModelConfig(ProxyConfig):
    base_url: str  # required here; vllm_model derives it


class VLLMModelConfig(ProxyConfig):
    """`vllm serve` settings of the container the stack starts, plus the proxy's fields."""

    tool_call_parser: str | None = "hermes"
    reasoning_parser: str | None = None
    max_model_len: int | None = Field(default=None, ge=1)
    gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1)
    tensor_parallel_size: int = Field(default=1, ge=1)
    extra_args: list[str] = Field(default_factory=list, description="more `vllm serve` arguments")
    return_token_ids: bool = True
    image: str = VLLM_IMAGE


class OpenAIModelServer:
    """A Responses API model server in front of any OpenAI-compatible endpoint."""

    Config: ClassVar[type[ProxyConfig]] = OpenAIModelConfig

    def __init__(self, config: ProxyConfig, *, name: str = "", stack: ResolvedConfig | None = None) -> None:
        self.config = config
        self.name = name or type(self).__name__
        self.stack = stack
        self.base_url = self._base_url()
        self._api = self.config.api  # "auto" becomes "responses" or "chat" after the first answer
        self._upstream: UpstreamClient | None = None
        self._limit = asyncio.Semaphore(self.config.max_concurrency) if self.config.max_concurrency else None
        self._warned_no_tokens = False

    def _base_url(self) -> str:
        assert self.config.base_url, "OpenAIModelConfig requires base_url"
        return self.config.base_url

    # ------------------------------------------------------------------ the upstream client

    def upstream(self) -> UpstreamClient:
        """The shared upstream client (its connections are made on first use, in the running loop)."""
        if self._upstream is None:
            self._upstream = UpstreamClient(
                self.base_url,
                self.config.api_key,
                retry=RetryPolicy(attempts=self.config.max_retries + 1, base_s=0.5, cap_s=8.0, jitter=0.25),
                timeout_s=self.config.timeout_s,
            )
        return self._upstream

    async def aclose(self) -> None:
        if self._upstream is not None:
            await self._upstream.close()
            self._upstream = None

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST upstream and parse the answer (for a completion the proxy converts)."""
        raw = await self._send(path, body)
        try:
            answer = json_codec.loads(raw)
        except (ValueError, RecursionError):
            answer = None
        if not isinstance(answer, dict):
            raise self._not_json(path)
        return answer

    async def _forward(self, path: str, body: dict[str, Any]) -> Response:
        """POST upstream and answer with its JSON bytes as they are: no parsing and re-serializing."""
        raw = await self._send(path, body)
        if not raw.lstrip().startswith(b"{"):
            raise self._not_json(path)
        return Response(raw, media_type="application/json")

    async def _send(self, path: str, body: dict[str, Any]) -> bytes:
        async with self._limit or nullcontext():
            with self._upstream_errors(path):
                return await self.upstream().post(path, body)

    async def _relay(self, path: str, body: dict[str, Any]) -> StreamingResponse:
        """Open an upstream stream (its errors answer as usual) and pass its bytes on as they arrive.

        The concurrency slot is held until the stream ends or the client goes away.
        """
        if self._limit is not None:
            await self._limit.acquire()
        release = _Once(self._limit.release if self._limit is not None else None)
        try:
            with self._upstream_errors(path):
                answer = await self.upstream().open(path, body)
        except BaseException:
            release()
            raise

        async def relay() -> AsyncIterator[bytes]:
            try:
                async for chunk in answer.content.iter_any():
                    yield chunk
            except Exception as exc:  # the status was sent long ago: all that is left is to end the stream
                log.warning("%s: the stream from %s%s broke off: %r", self.name, self.base_url, path, exc)
            finally:
                answer.release()
                release()

        response = sse_response(relay(), media_type=answer.headers.get("content-type", "text/event-stream"))
        response.background = BackgroundTask(release)  # a stream that never started still frees its slot
        return response

    @contextmanager
    def _upstream_errors(self, path: str) -> Iterator[None]:
        """Upstream failures as the answers the module docstring lists."""
        try:
            yield
        except UpstreamStatusError as exc:
            raise self._status_error(exc) from None
        except UpstreamUnreachable as exc:
            message = f"model server {self.base_url}{path} unreachable after {self.config.max_retries} retries: {exc}"
            log.warning("%s: %s", self.name, message)
            raise ModelServerError(message, 502, code="upstream_unavailable") from None

    def _not_json(self, path: str) -> ModelServerError:
        return ModelServerError(
            f"model server {self.base_url}{path} answered something other than a JSON object",
            502,
            code="upstream_unavailable",
        )

    def _status_error(self, exc: UpstreamStatusError) -> ModelServerError:
        status, body = exc.status, exc.body
        message = self._scrub(exc.message)
        if status in (400, 413) and (body.get("code") == "context_length_exceeded" or _CONTEXT_LENGTH.search(message)):
            return ModelServerError(f"context length exceeded: {message}", 400, code="context_length_exceeded")
        if status in _RETRIED_STATUSES or status >= 500:
            text = f"model server {self.base_url} answered {status} after {self.config.max_retries} retries: {message}"
            log.warning("%s: %s", self.name, text)
            return ModelServerError(text, 502, code="upstream_unavailable", detail={"upstream_status": status})
        return ModelServerError(
            f"model server answered {status}: {message}",
            status,
            code="upstream_error",
            param=body.get("param") if isinstance(body.get("param"), str) else None,
            detail={"upstream_status": status},
        )

    def _scrub(self, text: str) -> str:
        key = self.config.api_key
        return text.replace(key, "****") if key and key != "EMPTY" else text

    # ------------------------------------------------------------------ request shaping

    def _prepare(self, params: dict[str, Any]) -> dict[str, Any]:
        body = {**self.config.extra_body, **params, "model": self.config.model}
        metadata = body.get("metadata")
        if isinstance(metadata, dict):
            kept = {k: v for k, v in metadata.items() if not str(k).startswith(PRIVATE_METADATA_PREFIX)}
            if kept:
                body["metadata"] = kept
            else:
                body.pop("metadata")
        return body

    def _chat_body(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.config.return_token_ids:
            top = body.get("top_logprobs")
            body = {**body, **_TOKEN_ID_PARAMS, "top_logprobs": top if top is not None else 0}
        return body

    # ------------------------------------------------------------------ the two APIs

    async def answer_responses(self, params: dict[str, Any]) -> Response:
        """`POST /v1/responses`: a Responses create body -> a Responses object, or its event stream."""
        body = self._prepare(params)
        stream = bool(body.get("stream"))
        if self._api in ("responses", "auto"):
            try:
                answer = await (self._relay("/responses", body) if stream else self._forward("/responses", body))
            except ModelServerError as exc:
                upstream = (exc.detail or {}).get("upstream_status")
                if self._api != "auto" or upstream not in (404, 405):
                    raise
                log.info("%s: %s has no /responses; converting to Chat Completions", self.name, self.base_url)
                self._api = "chat"
            else:
                self._api = "responses"
                return answer
        response = await self._response_via_chat(body, params)
        if stream:
            return sse_whole(response_event_bytes(event) for event in response_events(response))
        return EscapingJSONResponse(response)

    async def _response_via_chat(self, body: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        """The Responses request as a chat completion upstream, and the completion as a Responses object.

        A streaming request is answered from the whole completion: the `<think>` split and the token ids
        need the whole message.
        """
        try:
            chat = self._chat_body(responses_to_chat(body))
        except ChatConversionError as exc:
            raise ModelServerError(str(exc), 400, code="unsupported_by_chat_completions") from None
        completion = await self._post("/chat/completions", chat)
        try:
            response = chat_to_response(
                completion, params, model=self.config.model, with_token_ids=self.config.return_token_ids
            )
        except ChatConversionError as exc:
            message = f"model server {self.base_url}: {exc}"
            raise ModelServerError(message, 502, code="upstream_unavailable") from None
        if self.config.return_token_ids and "generation_token_ids" not in response["output"][-1]:
            self._warn_no_tokens()
        return response

    async def answer_chat_completion(self, params: dict[str, Any]) -> Response:
        """`POST /v1/chat/completions`: passed through (with the same request shaping), streaming or not."""
        body = self._chat_body(self._prepare(params))
        if body.get("stream"):
            return await self._relay("/chat/completions", body)
        return await self._forward("/chat/completions", body)

    def _warn_no_tokens(self) -> None:
        if not self._warned_no_tokens:
            self._warned_no_tokens = True
            log.warning(
                "%s: return_token_ids is set but %s returned no prompt/generation token ids and "
                "logprobs; use vLLM >= 0.10.2, or set return_token_ids: false",
                self.name,
                self.base_url,
            )

    # ------------------------------------------------------------------ the app

    def build_app(self) -> FastAPI:
        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            try:
                yield
            finally:
                await self.aclose()

        app = create_model_app(self.name, self.config.model, lifespan=lifespan)

        @direct_post(app, "/v1/responses")
        async def responses(request: Request) -> Response:
            return await self.answer_responses(await json_object(request))

        @direct_post(app, "/v1/chat/completions")
        async def chat_completions(request: Request) -> Response:
            return await self.answer_chat_completion(await json_object(request))

        return app


class _Once:
    """Call `action` the first time only (a concurrency slot is released by whichever path ends first)."""

    def __init__(self, action: Callable[[], None] | None) -> None:
        self._action = action

    def __call__(self) -> None:
        action, self._action = self._action, None
        if action is not None:
            action()


class VLLMModelServer(OpenAIModelServer):
    """The proxy in front of the vLLM container the stack renders beside it (`<name>-vllm`)."""

    Config: ClassVar[type[VLLMModelConfig]] = VLLMModelConfig

    @staticmethod
    def service_name(name: str) -> str:
        """The compose service of instance `name`'s vLLM container."""
        return f"{name}-vllm"

    def _base_url(self) -> str:
        return self.config.base_url or f"http://{self.service_name(self.name)}:{VLLM_PORT}/v1"

    @staticmethod
    def vllm_serve_args(config: VLLMModelConfig) -> list[str]:
        """The `vllm serve` arguments for `config` (the api key goes in the VLLM_API_KEY env var, not here)."""
        args = ["--model", config.model, "--host", "0.0.0.0", "--port", str(VLLM_PORT)]
        if config.tool_call_parser:
            args += ["--enable-auto-tool-choice", "--tool-call-parser", config.tool_call_parser]
        if config.reasoning_parser:
            args += ["--reasoning-parser", config.reasoning_parser]
        if config.max_model_len is not None:
            args += ["--max-model-len", str(config.max_model_len)]
        args += [
            "--gpu-memory-utilization",
            str(config.gpu_memory_utilization),
            "--tensor-parallel-size",
            str(config.tensor_parallel_size),
        ]
        return args + list(config.extra_args)
