"""Model servers that proxy to any OpenAI-compatible endpoint: `openai_model` and `vllm_model`.

Routes: `POST /v1/responses` (Responses API; passed through, or converted to Chat Completions for
backends without it, see `chat_convert`), `POST /v1/chat/completions` (passed through), `GET /health`.

What the proxy does to every request before it goes upstream:
- `model` is replaced with the configured model;
- `metadata` keys starting with `gymbox_` are removed (the scripted model reads them; real providers
  must never see them);
- `extra_body` fills in fields the request does not set (a field the request sets wins);
- with `return_token_ids`, vLLM is asked for token ids and logprobs (see `_TOKEN_ID_PARAMS`).

Upstream 408/409/429/5xx answers and connection errors are retried by the `openai` client itself
(exponential backoff from 0.5 s, capped at 8 s, with up to 25 % jitter, honouring `retry-after(-ms)`),
`max_retries` times. Then the proxy answers:
- 502 `{"error", "detail": {"kind": "upstream_unavailable"}}` — an infrastructure failure;
- 400 `{"error", "detail": {"kind": "context_length_exceeded"}}` — the model's episode is over;
- any other upstream 4xx with the same status (`kind: upstream_error`).
The api key is never logged, and scrubbed from any upstream message passed on.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from typing import Any, Literal

import openai
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from gymbox.config import ResolvedConfig
from gymbox.model_servers.chat_convert import ChatConversionError, chat_to_response, responses_to_chat
from gymbox.servers.app import ToolError, create_app

log = logging.getLogger(__name__)

PRIVATE_METADATA_PREFIX = "gymbox_"
VLLM_PORT = 8000

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
    base_url: str  # type: ignore[assignment]  # required here; vllm_model derives it


class VLLMModelConfig(ProxyConfig):
    """`vllm serve` settings of the container the stack starts, plus the proxy's fields."""

    tool_call_parser: str | None = "hermes"
    reasoning_parser: str | None = None
    max_model_len: int | None = Field(default=None, ge=1)
    gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1)
    tensor_parallel_size: int = Field(default=1, ge=1)
    extra_args: list[str] = Field(default_factory=list, description="more `vllm serve` arguments")
    return_token_ids: bool = True
    image: str = "vllm/vllm-openai:latest"


class OpenAIModelServer:
    """A Responses API model server in front of any OpenAI-compatible endpoint."""

    Config: type[ProxyConfig] = OpenAIModelConfig

    def __init__(
        self, config: ProxyConfig | None = None, *, name: str = "", stack: ResolvedConfig | None = None
    ) -> None:
        self.config = config if config is not None else self.Config()
        self.name = name or type(self).__name__
        self.stack = stack
        self.base_url = self._base_url()
        self._api = self.config.api  # "auto" becomes "responses" or "chat" after the first answer
        self._client: openai.AsyncOpenAI | None = None
        self._limit = asyncio.Semaphore(self.config.max_concurrency) if self.config.max_concurrency else None
        self._warned_no_tokens = False

    def _base_url(self) -> str:
        assert self.config.base_url, "OpenAIModelConfig requires base_url"
        return self.config.base_url

    # ------------------------------------------------------------------ the upstream client

    def client(self) -> openai.AsyncOpenAI:
        """The shared upstream client, made on first use (aiohttp needs a running event loop)."""
        if self._client is None:
            self._client = openai.AsyncOpenAI(
                base_url=self.base_url,
                api_key=self.config.api_key,
                max_retries=self.config.max_retries,
                timeout=self.config.timeout_s,
                # httpx's pool collapses under concurrency (DESIGN.md §8); aiohttp holds.
                http_client=openai.DefaultAioHttpClient(),
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self._limit or nullcontext():
            try:
                answer = await self.client().post(path, body=body, cast_to=object)
            except openai.APIStatusError as exc:
                raise self._status_error(exc) from None
            except openai.APIConnectionError as exc:
                message = f"model server {self.base_url} unreachable after {self.config.max_retries} retries: {exc}"
                log.warning("%s: %s", self.name, message)
                raise ToolError(message, 502, {"kind": "upstream_unavailable"}) from None
        if not isinstance(answer, dict):
            raise ToolError(
                f"model server {self.base_url}{path} answered something other than a JSON object",
                502,
                {"kind": "upstream_unavailable"},
            )
        return answer

    def _status_error(self, exc: openai.APIStatusError) -> ToolError:
        status = exc.status_code
        body = exc.body if isinstance(exc.body, dict) else {}
        message = self._scrub(str(body.get("message") or exc.message))
        if status in (400, 413) and (body.get("code") == "context_length_exceeded" or _CONTEXT_LENGTH.search(message)):
            return ToolError(f"context length exceeded: {message}", 400, {"kind": "context_length_exceeded"})
        if status in _RETRIED_STATUSES or status >= 500:
            text = f"model server {self.base_url} answered {status} after {self.config.max_retries} retries: {message}"
            log.warning("%s: %s", self.name, text)
            return ToolError(text, 502, {"kind": "upstream_unavailable", "upstream_status": status})
        return ToolError(
            f"model server answered {status}: {message}", status, {"kind": "upstream_error", "upstream_status": status}
        )

    def _scrub(self, text: str) -> str:
        key = self.config.api_key
        return text.replace(key, "****") if key and key != "EMPTY" else text

    # ------------------------------------------------------------------ request shaping

    def _prepare(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("stream"):
            raise ToolError("streaming is not supported by gymbox model servers; send stream: false", 400)
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

    async def create_response(self, params: dict[str, Any]) -> dict[str, Any]:
        """`POST /v1/responses`: a Responses create body -> a Responses object (as JSON)."""
        body = self._prepare(params)
        if self._api in ("responses", "auto"):
            try:
                answer = await self._post("/responses", body)
            except ToolError as exc:
                upstream = (exc.detail or {}).get("upstream_status")
                if self._api != "auto" or upstream not in (404, 405):
                    raise
                log.info("%s: %s has no /responses; converting to Chat Completions", self.name, self.base_url)
                self._api = "chat"
            else:
                self._api = "responses"
                return answer
        try:
            chat = self._chat_body(responses_to_chat(body))
        except ChatConversionError as exc:
            raise ToolError(str(exc), 400) from None
        completion = await self._post("/chat/completions", chat)
        try:
            response = chat_to_response(
                completion, params, model=self.config.model, with_token_ids=self.config.return_token_ids
            )
        except ChatConversionError as exc:
            raise ToolError(f"model server {self.base_url}: {exc}", 502, {"kind": "upstream_unavailable"}) from None
        if self.config.return_token_ids and "generation_token_ids" not in response["output"][-1]:
            self._warn_no_tokens()
        return response

    async def create_chat_completion(self, params: dict[str, Any]) -> dict[str, Any]:
        """`POST /v1/chat/completions`: passed through (with the same request shaping)."""
        return await self._post("/chat/completions", self._chat_body(self._prepare(params)))

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

        app = create_app(self.name, lifespan=lifespan)

        # JSONResponse directly: FastAPI's jsonable_encoder would walk every token id of a long generation.
        @app.post("/v1/responses")
        async def responses(request: Request) -> JSONResponse:
            return JSONResponse(await self.create_response(await _json_object(request)))

        @app.post("/v1/chat/completions")
        async def chat_completions(request: Request) -> JSONResponse:
            return JSONResponse(await self.create_chat_completion(await _json_object(request)))

        return app


async def _json_object(request: Request) -> dict[str, Any]:
    body = await request.json()
    if not isinstance(body, dict):
        raise ToolError("request body must be a JSON object", 400)
    return body


class VLLMModelServer(OpenAIModelServer):
    """The proxy in front of the vLLM container the stack renders beside it (`<name>-vllm`)."""

    Config: type[VLLMModelConfig] = VLLMModelConfig

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
