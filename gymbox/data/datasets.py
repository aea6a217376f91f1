"""The `datasets:` entries of a stack's agents, as in NeMo Gym, each with its file found on disk.

An agent lists its data as `datasets: [{name, type: example|train|validation, jsonl_fpath, license}]`.
NeMo Gym reads `jsonl_fpath` relative to the current directory (its repository root). gymbox also looks
relative to the folder of the config file that defines it, then each folder above that one: a config
written either way (`data/x.jsonl` beside it, or `environments/<env>/data/x.jsonl` from the repository
root, as NeMo Gym's are) works from wherever it is run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from gymbox.config import ResolvedConfig, config_validation_error
from gymbox.errors import ConfigError, DataError
from gymbox.roles import Role

DatasetType = Literal["example", "train", "validation"]


class DatasetEntry(BaseModel):
    """One item of an agent's `datasets` list; unknown keys (NeMo Gym's `gitlab_identifier`, ...) pass."""

    model_config = ConfigDict(extra="allow")

    name: str
    type: DatasetType
    jsonl_fpath: str
    license: str | None = None


@dataclass(frozen=True)
class Dataset:
    agent: str  # the agent instance that serves these rows
    name: str
    type: DatasetType
    path: Path  # the file as found (relative to the current directory when it was given so)
    where: str  # file:line of `jsonl_fpath` in the config, for errors

    @property
    def label(self) -> str:
        return f"{self.agent}/{self.name}"


def find_datasets(stack: ResolvedConfig, types: tuple[str, ...] | None = None) -> list[Dataset]:
    """Every dataset of every agent (in config order), optionally only those of `types`.

    Raises `DataError` naming the config file:line of each dataset whose file does not exist.
    """
    found, missing = locate_datasets(stack, types)
    if missing:
        raise DataError("\n".join(missing))
    return found


def locate_datasets(stack: ResolvedConfig, types: tuple[str, ...] | None = None) -> tuple[list[Dataset], list[str]]:
    """The datasets whose files exist, and an error (config file:line, key path) for each that does not."""
    found: list[Dataset] = []
    missing: list[str] = []
    for agent in stack.by_role(Role.RESPONSES_API_AGENTS):
        prefix = (agent.name, agent.role, agent.implementation, "datasets")
        entries = agent.config.extra_fields().get("datasets") or []
        if not isinstance(entries, list):
            raise ConfigError(f"{stack.where(prefix)}: {'.'.join(prefix)}: expected a list of datasets")
        for index, raw in enumerate(entries):
            item_path = (*prefix, str(index))
            try:
                entry = DatasetEntry.model_validate(raw)
            except ValidationError as exc:
                raise config_validation_error(exc, stack.where, item_path) from None
            if types is not None and entry.type not in types:
                continue
            where = stack.where((*item_path, "jsonl_fpath"))
            path = _locate(entry.jsonl_fpath, where)
            if path is None:
                missing.append(
                    f"{where}: {'.'.join(item_path)}.jsonl_fpath: dataset file {entry.jsonl_fpath!r} "
                    "not found (looked in the current directory, then in the config file's folder "
                    "and each folder above it)"
                )
                continue
            found.append(Dataset(agent.name, entry.name, entry.type, path, where))
    return found, missing


def _locate(jsonl_fpath: str, where: str) -> Path | None:
    given = Path(jsonl_fpath)
    if given.is_file():
        return given
    config_file = config_file_of(where)
    if config_file is None or given.is_absolute():
        return None
    folder = config_file.parent
    for base in (folder, *folder.resolve().parents):
        if (base / given).is_file():
            return base / given
    return None


def config_file_of(where: str) -> Path | None:
    """`configs/a.yaml:12` -> `configs/a.yaml`; None for values that came from `--set`."""
    file, sep, line = where.rpartition(":")
    if not sep or not line.isdigit():
        return None
    return Path(file)
