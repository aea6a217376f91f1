"""Config files are untrusted input: YAML bombs, unsafe tags, merge keys, encodings, all as clean errors."""

from __future__ import annotations

import resource
from pathlib import Path

import pytest

from gymbox.config import load_config
from gymbox.errors import ConfigError
from gymbox.yaml_origins import MAX_ALIAS_NODES, load_yaml, where

BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def write(tmp_path: Path, text: str | bytes, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_a_billion_laughs_file_is_refused_naming_the_line_that_expands(tmp_path: Path) -> None:
    path = write(tmp_path, BILLION_LAUGHS)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ConfigError, match=rf"c\.yaml:6: f\..*more than {MAX_ALIAS_NODES:,} values"):
        load_config([path])
    # It stops early: the peak RSS grows by megabytes, not the gigabytes a full expansion takes.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB


def test_ordinary_aliases_still_work(tmp_path: Path) -> None:
    data, _ = load_yaml(write(tmp_path, "limits: &l {cpu_s: 3}\na: *l\nb: [*l, *l]\n"))
    assert data == {"limits": {"cpu_s": 3}, "a": {"cpu_s": 3}, "b": [{"cpu_s": 3}, {"cpu_s": 3}]}


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"c\.yaml:2: r\.1: a YAML alias refers to a value that contains it"):
        load_yaml(write(tmp_path, "a: 1\nr: &r [1, *r]\n"))


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nb: !!python/name:os.system\n",
        "a: 1\nb: !!python/object/apply:os.system [echo hi]\n",
        "a: 1\nb: !!set {x, y}\n",
        "a: 1\nb: !custom 3\n",
    ],
)
def test_unsafe_or_unknown_tags_are_a_clean_error_with_the_line(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError, match=r"c\.yaml:2: b: the YAML tag .* is not allowed in a config"):
        load_config([write(tmp_path, text)])


def test_non_utf8_text_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "a: 1\nb: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"c\.yaml:2: not UTF-8 text \(byte 0xe9\); save the file as UTF-8"):
        load_config([path])


def test_a_utf8_byte_order_mark_is_fine(tmp_path: Path) -> None:
    assert load_yaml(write(tmp_path, "\ufeffa: 1\n".encode()))[0] == {"a": 1}


def test_merge_keys_merge_and_written_keys_win(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "base: &base {max_steps: 4, max_retries: 2}\n"
        "more: &more {max_steps: 9, timeout_s: 30}\n"
        "m:\n"
        "  <<: [*base, *more]\n"
        "  max_retries: 5\n",
    )
    data, origins = load_yaml(path)
    assert data["m"] == {"max_retries": 5, "max_steps": 4, "timeout_s": 30}  # earlier merges win, then own keys
    assert "<<" not in data["m"]
    assert where(origins, ("m", "max_retries")) == f"{path}:5"
    assert where(origins, ("m", "max_steps")) == f"{path}:1"  # where the merged value is written


def test_merging_something_that_is_not_a_mapping_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"c\.yaml:3: m: `<<` merges a mapping"):
        load_yaml(write(tmp_path, "x: &x [1]\nm:\n  <<: *x\n"))


def test_an_instance_built_from_a_merge_key_loads(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "agent_defaults: &agent\n"
        "  model_server: {type: responses_api_models, name: policy_model}\n"
        "  max_steps: 3\n"
        "env_a:\n  resources_servers:\n    toy: {}\n"
        "agent_a:\n  responses_api_agents:\n    simple_agent:\n"
        "      <<: *agent\n"
        "      resources_server: {type: resources_servers, name: env_a}\n",
    )
    fields = load_config([path], model="scripted").instance("agent_a").config.extra_fields()
    assert fields["max_steps"] == 3
    assert fields["model_server"] == {"type": "responses_api_models", "name": "policy_model"}


def test_interpolations_that_expand_like_a_billion_laughs_are_refused(tmp_path: Path) -> None:
    from gymbox.config import MAX_INTERPOLATED_VALUES

    lines = ["a0: [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 10):
        ref = '"${a' + str(i - 1) + '}"'  # quoted: `{` cannot start a plain value in a flow list
        lines.append(f"a{i}: [{', '.join([ref] * 9)}]")
    path = write(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match=rf"c\.yaml:\d+: a\d.*more than {MAX_INTERPOLATED_VALUES:,} values"):
        load_config([path])
