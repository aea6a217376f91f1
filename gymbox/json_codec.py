"""JSON on the hot paths: orjson where it can, the standard library where orjson refuses.

A rollout is six HTTP exchanges plus a line in the rollouts file, and encoding and decoding those bodies
with the standard library was 5-10 % of every server's CPU and of the collector's. orjson is several times
faster but stricter: it refuses lone surrogates (a model can write "\\ud800"), integers beyond 64 bits,
non-string keys, and NaN or Infinity in its input. Each of those falls back to `json`, so whatever was
accepted before still is, and encodes as before (a lone surrogate as its escape). Reading, orjson does not
refuse an integer beyond 64 bits but turns it into a float: text with a run of 19 digits or more (where
such an integer can be) is read by `json`, which keeps it exact. One difference remains:
orjson writes NaN and Infinity as `null`, valid JSON, where `json` wrote non-standard literals.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

# Every digit read as "0", then one search for 19 zeros: a tenth of a regular expression's time.
_DIGITS_AS_ZEROS = bytes.maketrans(b"123456789", b"000000000")
_LONG_RUN = b"0" * 19


def dumps(obj: Any, *, sort_keys: bool = False) -> bytes:
    """Compact JSON, UTF-8; `sort_keys` for a canonical form (a hash of it, say)."""
    try:
        return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS if sort_keys else None)
    except TypeError:  # orjson.JSONEncodeError: see above
        return json.dumps(obj, separators=(",", ":"), sort_keys=sort_keys).encode()


def loads(raw: bytes | str) -> Any:
    """Parse JSON; raises ValueError (json.JSONDecodeError) or RecursionError as `json.loads` does."""
    data = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")
    if _LONG_RUN in data.translate(_DIGITS_AS_ZEROS):
        return json.loads(raw)  # maybe an integer orjson would read as a float: see the module docstring
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)
