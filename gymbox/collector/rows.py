"""Reading task rows as a stream: each line validated as it is read, each row keyed by its content."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gymbox import json_codec
from gymbox.errors import DataError, describe_validation_errors
from gymbox.protocol import RunRequest


@dataclass
class TaskRow:
    line: int  # 1-based line number in the input file
    task_index: int  # 0-based index among the valid rows (NeMo Gym's `_ng_task_index`)
    key: str  # content hash + occurrence: stable across edits elsewhere in the file
    row: dict[str, Any]

    @property
    def agent_name(self) -> str | None:
        ref = self.row.get("agent_ref")
        return ref.get("name") if isinstance(ref, dict) else None


@dataclass
class RejectedRow:
    line: int
    reason: str
    text: str


def content_hash(row: dict[str, Any]) -> str:
    return _hash(_canonical(row).encode())


def _hash(canonical: bytes) -> str:
    return hashlib.sha256(canonical).hexdigest()[:32]


def _canonical(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def check_input(path: Path) -> None:
    """Raise a `DataError` that says what to do when `path` is not a file of task rows."""
    if path.is_dir():
        raise DataError(f"{path} is a directory; pass a JSONL file of task rows (one JSON object per line)")
    if not path.is_file():
        raise DataError(f"{path} not found; pass a JSONL file of task rows (one JSON object per line)")


def read_rows(path: Path, limit: int | None = None) -> Iterator[TaskRow | RejectedRow]:
    """Yield each line of a JSONL file as a valid `TaskRow` or a `RejectedRow` naming the reason.

    Reads one line at a time, so memory does not grow with the file. `limit` counts valid rows. No line,
    however hostile (bad UTF-8, nesting too deep, invalid Unicode escapes), raises: each becomes a reject.
    """
    check_input(path)
    rows = _RowKeys()
    with path.open("rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            if limit is not None and rows.valid >= limit:
                return
            try:
                text = raw.decode("utf-8").strip()
            except UnicodeDecodeError as exc:
                reason = f"not valid UTF-8: byte 0x{raw[exc.start]:02x} at byte {exc.start + 1} of the line"
                yield RejectedRow(line_no, reason, raw.decode("utf-8", "replace").strip())
                continue
            if text:
                yield rows.take(line_no, text)


def rows_from_objects(objects: Iterable[Any], limit: int | None = None) -> Iterator[TaskRow | RejectedRow]:
    """The same for rows given as Python objects (the n-th is "line" n), validated exactly as file lines are."""
    rows = _RowKeys()
    for line_no, obj in enumerate(objects, start=1):
        if limit is not None and rows.valid >= limit:
            return
        try:
            text = json.dumps(obj)  # ASCII escapes: a lone surrogate is then refused as it is in a file
        except (TypeError, ValueError, RecursionError) as exc:
            yield RejectedRow(line_no, f"not JSON: {exc}", repr(obj)[:200])
            continue
        yield rows.take(line_no, text)


class _RowKeys:
    """Validates rows and keys each by its content; identical rows are told apart by their order of
    appearance, with 16 bytes kept per distinct row."""

    def __init__(self) -> None:
        self.valid = 0
        self._seen: dict[bytes, int] = {}

    def take(self, line_no: int, text: str) -> TaskRow | RejectedRow:
        checked = _checked_row(text)
        if isinstance(checked, str):
            return RejectedRow(line_no, checked, text)
        row, canonical = checked
        digest = _hash(canonical)
        raw_key = bytes.fromhex(digest)
        occurrence = self._seen.get(raw_key, 0)
        self._seen[raw_key] = occurrence + 1
        self.valid += 1
        return TaskRow(line_no, self.valid - 1, f"{digest}.{occurrence}", row)


def validate_row_text(text: str) -> dict[str, Any] | str:
    """The parsed row, or why it is not a valid task row."""
    checked = _checked_row(text)
    return checked if isinstance(checked, str) else checked[0]


def _checked_row(text: str) -> tuple[dict[str, Any], bytes] | str:
    """The parsed row and its canonical JSON (what its key hashes), or why it is not a valid task row."""
    try:
        return _validate_row_text(text)
    except RecursionError:  # json, pydantic and the hash all recurse: 10,000 nested brackets stop them
        return "nested too deeply to read (thousands of levels of brackets); flatten the row"


def _validate_row_text(text: str) -> tuple[dict[str, Any], bytes] | str:
    try:
        row = json_codec.loads(text)
    except json.JSONDecodeError as exc:
        return f"not valid JSON: {exc.msg} at column {exc.colno}"
    if not isinstance(row, dict):
        return f"a row must be a JSON object, got {type(row).__name__}"
    try:
        canonical = _canonical(row).encode()
    except UnicodeEncodeError as exc:
        code = ord(exc.object[exc.start])
        return f"holds the escape \\u{code:04x}, a lone surrogate that is not valid Unicode; fix or drop it"
    try:
        RunRequest.model_validate(row)
    except ValidationError as exc:
        return describe_validation_errors(list(exc.errors()))
    return row, canonical


def count_lines(path: Path) -> int:
    """Non-empty lines, counted in binary chunks (for the progress total; no parsing)."""
    count = 0
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                count += 1
    return count
