"""The files of a run, checked: every name a plain relative path that can be created as given.

A request's `files` map names to text. Each name must be a relative POSIX path of at most MAX_DEPTH
parts, each part at most NAME_MAX bytes in UTF-8 and free of NUL and other control characters, with no
empty, `.` or `..` part; no name may be `main.py` (the code), and no name may be a folder of another
(`a` and `a/b`). Anything else is an InvalidRequest, which the server answers 400 with the name.
"""

from __future__ import annotations

import unicodedata

from gymbox.sandbox.protocol import ExecuteRequest, InvalidRequest

MAIN = "main.py"
NAME_MAX = 255  # bytes in one path part (Linux)
MAX_DEPTH = 16
MAX_FILES = 1000


def _check_name(name: str) -> tuple[str, ...]:
    def refuse(why: str) -> InvalidRequest:
        return InvalidRequest(f"files: {name[:300]!r} {why}")

    if not name or name.startswith("/"):
        raise refuse("must be a relative path inside the run's folder")
    parts = tuple(name.split("/"))
    if len(parts) > MAX_DEPTH:
        raise refuse(f"has more than {MAX_DEPTH} parts")
    for part in parts:
        if part in ("", ".", ".."):
            raise refuse("must be a relative path inside the run's folder, without empty, '.' or '..' parts")
        if any(unicodedata.category(ch) == "Cc" for ch in part):
            raise refuse("holds a control character (NUL, newline, ...)")
        if len(part.encode()) > NAME_MAX:
            raise refuse(f"has a part longer than {NAME_MAX} bytes")
    if name == MAIN:
        raise refuse(f"is the code's own name, {MAIN}")
    return parts


def run_files(request: ExecuteRequest) -> dict[str, str]:
    """main.py (the code) and the request's files, by name; raises InvalidRequest naming a bad name."""
    if len(request.files) > MAX_FILES:
        raise InvalidRequest(f"files: {len(request.files)} files; a run takes at most {MAX_FILES}")
    files = {MAIN: request.code}
    folders: set[tuple[str, ...]] = set()
    for name, text in request.files.items():
        parts = _check_name(name)
        folders.update(parts[:i] for i in range(1, len(parts)))
        files[name] = text
    for name in files:
        if tuple(name.split("/")) in folders:
            raise InvalidRequest(f"files: {name[:300]!r} is both a file and a folder of another file")
    return files
