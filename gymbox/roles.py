"""The four roles a server instance can have: the second level of `instance: {role: {implementation: ...}}`."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    RESOURCES_SERVERS = "resources_servers"  # environments: tools, sessions, /verify
    RESPONSES_API_AGENTS = "responses_api_agents"  # agents: the tool loop behind /run
    RESPONSES_API_MODELS = "responses_api_models"  # model servers: the Responses API
    SANDBOXES = "sandboxes"  # code execution for environments that run a model's code
