"""Keeping secrets out of rendered files.

A rendered stack's `stack.yaml` says `api_key: ${env:GYMBOX_SECRET_POLICY_MODEL_API_KEY}` where the
config had the key; the value lives only in the stack's mode-600 `.env`. Compose reads that file to fill
in `${GYMBOX_SECRET_...}` references in the compose file, and each service's `environment` names only the
secrets its own instance's fields refer to (`referenced`), so an agent or environment container never
holds the policy model's key. In the container, `gymbox serve --name X` resolves X's `${env:...}` again
and leaves other instances' unresolved. A secret is any value under a key `gymbox.config.is_secret_key`
calls secret (`api_key`, `hf_token`, `policy_api_key`, ...).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from gymbox.config import escape_interpolation, is_secret_key
from gymbox.errors import ConfigError
from gymbox.roles import Role

PREFIX = "GYMBOX_SECRET_"
# Characters both compose v1 (python-dotenv) and v2 (compose-go) read back unchanged, unquoted.
_PLAIN = re.compile(r"^[A-Za-z0-9_\-.,:/+=@%^~!*?]*$")
_REFERENCE = re.compile(r"^\$\{env:(" + PREFIX + r"[A-Z0-9_]+)\}$")


def env_var_name(path: tuple[str, ...]) -> str:
    """(`policy_model`, `responses_api_models`, `openai_model`, `api_key`) -> GYMBOX_SECRET_POLICY_MODEL_API_KEY.

    The role and implementation levels are dropped: an instance has exactly one of each.
    """
    if len(path) >= 3 and path[1] in list(Role):
        path = (path[0], *path[3:])
    return PREFIX + re.sub(r"[^A-Z0-9]+", "_", "_".join(path).upper()).strip("_")


def extract_secrets(value: Any) -> tuple[Any, dict[str, str]]:
    """A copy of `value` with every secret replaced by `${env:VAR}`, and {VAR: secret}."""
    found: dict[str, str] = {}
    return _replace(value, (), found, secret=False), found


def _replace(value: Any, path: tuple[str, ...], found: dict[str, str], *, secret: bool) -> Any:
    if isinstance(value, dict):
        return {k: _replace(v, (*path, str(k)), found, secret=is_secret_key(str(k))) for k, v in value.items()}
    if isinstance(value, list):  # a list under a secret key holds secrets too
        return [_replace(v, (*path, str(i)), found, secret=secret) for i, v in enumerate(value)]
    if not secret and isinstance(value, str):
        return escape_interpolation(value)  # a resolved literal `${` must stay literal in the container
    if not secret or value is None or value == "" or isinstance(value, bool):
        return value
    name = env_var_name(path)
    text = str(value)
    if found.get(name, text) != text:  # two paths that spell the same name: keep both
        suffix = 2
        while f"{name}_{suffix}" in found and found[f"{name}_{suffix}"] != text:
            suffix += 1
        name = f"{name}_{suffix}"
    found[name] = text
    return f"${{env:{name}}}"


def referenced(value: Any) -> list[str]:
    """The .env names that `value`, a part of `extract_secrets`' output (one instance's), refers to."""
    if isinstance(value, dict):
        return sorted({name for item in value.values() for name in referenced(item)})
    if isinstance(value, list):
        return sorted({name for item in value for name in referenced(item)})
    match = _REFERENCE.match(value) if isinstance(value, str) else None
    return [match[1]] if match else []


def service_environment(names: list[str]) -> dict[str, str]:
    """A compose `environment` passing these .env values through, by reference (`${NAME}`)."""
    return {name: "${" + name + "}" for name in names}


def dotenv_line(name: str, value: str) -> str:
    """One `.env` line that compose v1 and v2 both read back as exactly `value`."""
    if "\n" in value or "\r" in value:
        raise ConfigError(f"secret {name} spans several lines; .env files cannot carry it")
    if _PLAIN.match(value):
        return f"{name}={value}"
    if "'" not in value and "\\" not in value:
        return f"{name}='{value}'"  # single quotes: no interpolation, no comments, in both parsers
    raise ConfigError(
        f"secret {name} holds both characters that need quoting and a quote or backslash, "
        "which compose v1 and v2 read back differently from a .env file; use another value"
    )


def write_dotenv(path: Path, secrets: dict[str, str], extra: dict[str, str] | None = None) -> None:
    """Write `.env` with mode 600 from the start (never briefly world-readable)."""
    lines = ["# Secrets of this stack; compose passes each service its own. Mode 600; never commit it."]
    lines += [dotenv_line(k, v) for k, v in sorted({**secrets, **(extra or {})}.items())]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its old mode through O_CREAT
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")


def assert_no_secret(texts: dict[str, str], secrets: dict[str, str], min_length: int = 6) -> None:
    """Fail loudly if a rendered file would contain a secret (a rendering bug, never a user error).

    Secrets shorter than `min_length` (`EMPTY`, test keys) are skipped: they match too much by chance.
    """
    for name, value in secrets.items():
        if len(value) < min_length:
            continue
        for file, text in texts.items():
            if value in text:
                raise ConfigError(f"refusing to write {file}: it would contain the value of {name}")
