"""The collector's files: rollouts appended and flushed one by one, failures, rejects, and resume.

`<out>.jsonl` holds scored rollouts (status `ok` or `model_error`), `<out>_failures.jsonl` the
rollouts our side failed (`infra_error`, `timeout`) with their error, `<out>_rejects.jsonl` input lines
that are not valid task rows. Every file drops a torn last line left by a crash before it is appended to,
so the next record never merges with it. Resume reads `<out>.jsonl` back and skips every (task key,
repeat) already there; once a run ends, failures of pairs that have since been scored are dropped.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import IO, Any

from gymbox import json_codec
from gymbox.errors import OutputError


def sibling(output: Path, suffix: str) -> Path:
    """`rollouts.jsonl` -> `rollouts_<suffix>`."""
    return output.with_name(f"{output.stem}_{suffix}")


class JsonlAppender:
    """Appends one JSON object per line and flushes it at once, so a crash loses at most the line in flight."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[bytes] | None = None

    def write(self, obj: dict[str, Any]) -> None:
        """Raises `OutputError` when the line cannot be written; every line before it stays on disk."""
        try:
            if self._handle is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                if self.path.exists():
                    repair_torn_tail(self.path)
                self._handle = self.path.open("ab")
            self._handle.write(_json_line(obj))
            self._handle.flush()
        except OSError as exc:
            self._discard()  # the unwritten rest of the line must not be flushed later, after other lines
            raise OutputError(
                f"cannot write {self.path}: {exc.strerror or exc}. Every line before it is on disk: fix the cause "
                "(room on the disk, a quota, permissions), then rerun with --resume to go on"
            ) from exc

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _discard(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):  # closing flushes what is buffered, which fails the same way
                self._handle.close()
            self._handle = None


def _json_line(obj: dict[str, Any]) -> bytes:
    return json_codec.dumps(obj) + b"\n"


def rollout_key(task_key: str, repeat: int) -> str:
    return f"{task_key}/{repeat}"


def completed_keys(output: Path) -> set[str]:
    """Keys of the rollouts already in `output`, after cutting off a torn last line."""
    if not output.exists():
        return set()
    repair_torn_tail(output)
    keys: set[str] = set()
    with output.open(encoding="utf-8") as handle:
        for text in handle:
            try:
                row = json.loads(text)
                keys.add(rollout_key(row["gymbox"]["task_key"], int(row["_ng_rollout_index"])))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                continue  # a foreign or damaged line: its rollout will be collected again
    return keys


def repair_torn_tail(path: Path) -> bool:
    """Truncate an unterminated or unparsable last line (a write cut by a crash). True if it cut."""
    size = path.stat().st_size
    if size == 0:
        return False
    with path.open("rb+") as handle:
        # Find the start of the last line without reading the whole file.
        block = 1 << 16
        pos = size
        tail = b""
        while pos > 0:
            step = min(block, pos)
            pos -= step
            handle.seek(pos)
            tail = handle.read(step) + tail
            if tail.rstrip(b"\n").rfind(b"\n") != -1:
                break
        body = tail.rstrip(b"\n")
        last_start = size - len(tail) + body.rfind(b"\n") + 1
        last_line = tail[last_start - (size - len(tail)) :]
        complete = last_line.endswith(b"\n")
        if complete:
            try:
                json.loads(last_line)
                return False
            except json.JSONDecodeError:
                pass
        handle.truncate(last_start)
        return True


def drop_scored_failures(output: Path) -> int:
    """Remove from `<out>_failures.jsonl` the pairs that `<out>.jsonl` now holds scored; how many went.

    A resumed run retries failed pairs: those that succeed must not stay listed as failures.
    """
    failures = sibling(output, "failures.jsonl")
    if not failures.exists() or not output.exists():
        return 0
    scored = completed_keys(output)
    kept = failures.with_name(failures.name + ".tmp")
    dropped = 0
    try:
        with failures.open("rb") as src, kept.open("wb") as dst:
            for raw in src:
                try:
                    row = json.loads(raw)
                    key = rollout_key(row["gymbox"]["task_key"], int(row["_ng_rollout_index"]))
                except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                    key = None  # kept as it is: not ours to judge
                if key is not None and key in scored:
                    dropped += 1
                    continue
                dst.write(raw if raw.endswith(b"\n") else raw + b"\n")
    except OSError:
        kept.unlink(missing_ok=True)  # the failures file itself is untouched
        raise
    if dropped:
        os.replace(kept, failures)
    else:
        kept.unlink()
    return dropped
