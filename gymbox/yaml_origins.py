"""YAML loading that remembers where every key came from, so errors can name file:line.

Config files are untrusted input: only plain values, mappings and lists are built (no `!!python/...` or
other tags), aliases may expand to at most `MAX_ALIAS_NODES` nodes (a ten-line "billion laughs" file
would otherwise expand to gigabytes), recursive aliases are refused, `<<:` merge keys work as in YAML
1.1 (keys written in the mapping win, then the merged mappings in the order given), and the text must
be UTF-8.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from gymbox.errors import ConfigError

KeyPath = tuple[str, ...]
Origins = dict[KeyPath, str]  # key path -> "file:line"

MAX_ALIAS_NODES = 100_000
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"


def dotted(path: KeyPath) -> str:
    return ".".join(path) if path else "<root>"


def where(origins: Origins, path: KeyPath) -> str:
    """file:line of the nearest key on `path` that has an origin."""
    for end in range(len(path), -1, -1):
        if path[:end] in origins:
            return origins[path[:end]]
    return "<config>"


def load_yaml(path: Path) -> tuple[dict[str, Any], Origins]:
    """Parse one YAML mapping; return it with the file:line of every key path in it."""
    text = _read_text(path)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{at}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    except RecursionError:
        raise ConfigError(f"{path}: invalid YAML: nested too deeply") from None
    if node is None:
        return {}, {}
    if not isinstance(node, yaml.MappingNode):
        raise ConfigError(f"{path}:{node.start_mark.line + 1}: a config file must be a mapping at the top")
    builder = _Builder(path)
    try:
        data = builder.build(node, (), via_alias=False, at=f"{builder.line(node)}: {dotted(())}")
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply") from None
    return data, builder.origins


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8"
        ) from None


class _Builder:
    """Builds Python values from composed nodes, recording origins and bounding alias expansion.

    PyYAML's composer shares an anchored node between its uses; building walks every use, so a node met
    a second time is an alias being expanded and counts against the budget.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.origins: Origins = {}
        self.built: set[int] = set()  # id() of nodes built at least once
        self.open: set[int] = set()  # id() of nodes being built: meeting one again is a recursive alias
        self.alias_nodes = 0

    def line(self, node: yaml.Node) -> str:
        return f"{self.path}:{node.start_mark.line + 1}"

    def where(self, node: yaml.Node, key_path: KeyPath) -> str:
        return f"{self.line(node)}: {dotted(key_path)}"

    def build(self, node: yaml.Node, key_path: KeyPath, *, via_alias: bool, at: str) -> Any:
        """`at`: "file:line: key.path" where this value is written; inside an alias, where that alias is used."""
        ident = id(node)
        if ident in self.open:
            raise ConfigError(f"{at}: a YAML alias refers to a value that contains it")
        via_alias = via_alias or ident in self.built
        if via_alias:
            self.alias_nodes += 1
            if self.alias_nodes > MAX_ALIAS_NODES:
                raise ConfigError(
                    f"{at}: YAML aliases expand to more than {MAX_ALIAS_NODES:,} values; "
                    "write the values out, or nest fewer aliases"
                )
        self.built.add(ident)
        self.origins.setdefault(key_path, self.line(node))
        if isinstance(node, yaml.MappingNode):
            self._check_tag(node, _MAP_TAG, key_path)
            self.open.add(ident)
            try:
                return self._mapping(node, key_path, via_alias=via_alias, at=at)
            finally:
                self.open.discard(ident)
        if isinstance(node, yaml.SequenceNode):
            self._check_tag(node, _SEQ_TAG, key_path)
            self.open.add(ident)
            try:
                items = [(item, (*key_path, str(i))) for i, item in enumerate(node.value)]
                return [
                    self.build(item, path, via_alias=via_alias, at=at if via_alias else self.where(node, path))
                    for item, path in items
                ]
            finally:
                self.open.discard(ident)
        try:
            return _SCALAR_LOADER.construct_object(node, deep=True)
        except yaml.YAMLError:
            raise self._tag_error(node, key_path) from None

    def _mapping(self, node: yaml.MappingNode, key_path: KeyPath, *, via_alias: bool, at: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merges: list[tuple[yaml.Node, yaml.Node]] = []  # (`<<` key, what it merges)
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise ConfigError(f"{self.line(key_node)}: {dotted(key_path)}: keys must be plain text")
            if key_node.tag == _MERGE_TAG:
                merges.append((key_node, value_node))
                continue
            key = str(key_node.value)
            path = (*key_path, key)
            out[key] = self.build(
                value_node, path, via_alias=via_alias, at=at if via_alias else self.where(key_node, path)
            )
            # The key's own line is the useful one for errors about its value.
            self.origins[(*key_path, key)] = self.line(key_node)
        for key_node, value_node in merges:
            merge_at = at if via_alias else self.where(key_node, key_path)
            self._merge(out, value_node, key_path, via_alias=via_alias, at=merge_at)
        return out

    def _merge(self, out: dict[str, Any], value: yaml.Node, key_path: KeyPath, *, via_alias: bool, at: str) -> None:
        """`<<: *a` or `<<: [*a, *b]`: copy in the keys `out` does not have yet (earlier sources win)."""
        sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                raise ConfigError(f"{at}: `<<` merges a mapping or a list of mappings (e.g. `<<: *defaults`)")
            outer, self.origins = self.origins, {}
            try:
                merged = self.build(source, key_path, via_alias=via_alias, at=at)
                source_origins = self.origins
            finally:
                self.origins = outer
            for key, item in merged.items():
                if key in out:
                    continue
                out[key] = item
                prefix = (*key_path, key)
                for origin_path, origin in source_origins.items():
                    if origin_path[: len(prefix)] == prefix:
                        self.origins[origin_path] = origin

    def _check_tag(self, node: yaml.Node, expected: str, key_path: KeyPath) -> None:
        if node.tag != expected:
            raise self._tag_error(node, key_path)

    def _tag_error(self, node: yaml.Node, key_path: KeyPath) -> ConfigError:
        return ConfigError(
            f"{self.line(node)}: {dotted(key_path)}: the YAML tag {node.tag} is not allowed in a config; "
            "use plain values, mappings and lists"
        )


_SCALAR_LOADER = yaml.SafeLoader("")
