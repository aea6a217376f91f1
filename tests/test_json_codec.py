"""gymbox.json_codec: orjson's speed without its refusals."""

import json
import math
from typing import Any

import pytest

from gymbox import json_codec


@pytest.mark.parametrize(
    "value",
    [
        {"text": "héllo ☃", "n": 3, "x": 1.5, "items": [None, True, {"a": []}]},
        {"lone": "\ud800 surrogate"},  # a model can write one: orjson refuses, json escapes it
        {"big": 2**80},  # beyond 64 bits
        {1: "non-string key"},
    ],
)
def test_dumps_round_trips_what_json_accepts(value: object) -> None:
    assert json.loads(json_codec.dumps(value)) == json.loads(json.dumps(value))


def test_nan_is_written_as_null() -> None:
    assert json.loads(json_codec.dumps({"reward": math.nan})) == {"reward": None}


@pytest.mark.parametrize("text", ['{"a": NaN}', '"\\ud800"', '{"a": 1}', b'[1, "\xc3\xa9"]'])
def test_loads_accepts_what_json_accepts(text: str | bytes) -> None:
    expected = json.loads(text)
    got = json_codec.loads(text)
    assert json.dumps(got) == json.dumps(expected)


@pytest.mark.parametrize("text", ["{", "", b"\xff"])
def test_loads_raises_json_errors_on_bad_json(text: str | bytes) -> None:
    with pytest.raises((json.JSONDecodeError, UnicodeDecodeError)):
        json_codec.loads(text)


@pytest.mark.parametrize(
    "text",
    [
        "123456789012345678901234567890",
        b'{"id": 18446744073709551616, "n": [-9223372036854775809]}',
        '{"big": 99999999999999999999, "small": 1}',
        '{"lone": "\ud800", "big": 99999999999999999999}',  # text no codec can encode as it is
        b'{"id": 123456789012345678, "n": 1234567890123456789.5}',  # 18 digits, and 19 before a point
    ],
)
def test_integers_beyond_64_bits_stay_exact(text: str | bytes) -> None:
    assert repr(json_codec.loads(text)) == repr(json.loads(text))  # ints, not floats that compare equal


@pytest.mark.parametrize("obj", [{"b": 1, "a": {"d": [2], "c": None}}, {"b": "\ud800", "a": 2**70}])
def test_sorted_dumps_are_canonical_whatever_the_key_order(obj: dict[str, Any]) -> None:
    reordered = dict(reversed(list(obj.items())))
    assert json_codec.dumps(obj, sort_keys=True) == json_codec.dumps(reordered, sort_keys=True)
    assert json.loads(json_codec.dumps(obj, sort_keys=True)) == json.loads(json.dumps(obj, sort_keys=True))
    assert list(json.loads(json_codec.dumps(obj, sort_keys=True))) == sorted(obj)
