"""Responses API items -> OpenAI chat messages, as training data (SFT / DPO rows).

The conversion is `gymbox.model_servers.chat_messages` in its `TRAINING` style, which keeps what a
training set needs and a Chat Completions request does not:
- content is plain text (text parts joined); a non-text part (an image) is an error, not silently dropped;
- roles are kept as written (`system`, `developer`, `user`, `assistant`); the trainer's chat template
  decides what `developer` means;
- a reasoning item becomes `reasoning_content` on its turn's assistant message, not text in `content`;
- one model turn (reasoning?, message?, function_call*) becomes one assistant message, its calls as
  `tool_calls` (arguments as the JSON string the model wrote); an assistant message with only tool calls
  has `content: ""`, not null.

Errors are `ChatConversionError`s that name the field and item (`response.output[3]: ...`).
"""

from __future__ import annotations

from typing import Any

from gymbox.model_servers.chat_convert import tool_to_chat
from gymbox.model_servers.chat_messages import TRAINING, items_to_messages, prompt_to_messages


def prompt_messages(create_params: dict[str, Any]) -> list[dict[str, Any]]:
    """`instructions` (as a system message) and `input` of a task's `responses_create_params`."""
    return prompt_to_messages(create_params, TRAINING, label="responses_create_params")


def rollout_messages(output: list[Any]) -> list[dict[str, Any]]:
    """A rollout's `response.output` items as the assistant and tool messages that follow the prompt."""
    return items_to_messages(output, TRAINING, label="response.output")


def chat_tools(tools: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Responses function tools as chat tools (`{"type": "function", "function": {...}}`)."""
    return [tool_to_chat(tool) for tool in tools or []]
