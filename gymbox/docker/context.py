"""Build contexts gymbox assembles itself, and the content hash that tags their images.

A context is a list of (path in context, bytes, mode). The hash covers exactly the bytes docker
receives (plus the build args), so an unchanged context means an unchanged tag and no rebuild, and
caches, editor droppings and git data never leak into an image or its tag. The context goes to
`docker build -` as a tar stream, which both the legacy builder and BuildKit accept.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import tarfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

# Never part of an image: regenerated caches and local state.
IGNORED = (
    "__pycache__",
    "*.pyc",
    "*.pyo",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
    ".git",
    ".venv",
    "*.egg-info",
    ".DS_Store",
    "*.swp",
    "*~",
    "env.yaml",
    ".env",
    "*_stats.json",  # `gymbox data validate` statistics: no server reads them, so they must not force rebuilds
    "*_metrics.json",  # rollout metrics, and NeMo Gym's data statistics
)
TAG_LENGTH = 12


@dataclass(frozen=True)
class ContextFile:
    path: str
    data: bytes
    mode: int = 0o644


@dataclass
class BuildContext:
    files: list[ContextFile] = field(default_factory=list)
    # Files that travel with the build but not into the tag: an extra CA bundle changes how pip reaches
    # PyPI, not what the image does, and must not force a rebuild of an image that already exists.
    untagged: list[ContextFile] = field(default_factory=list)

    def add_file(self, source: Path, dest: str) -> None:
        mode = 0o755 if source.stat().st_mode & 0o111 else 0o644
        self.files.append(ContextFile(dest, source.read_bytes(), mode))

    def add_tree(self, source: Path, dest: str) -> None:
        for path in walk(source):
            self.add_file(path, f"{dest}/{path.relative_to(source).as_posix()}".lstrip("/"))

    def add_bytes(self, dest: str, data: bytes, *, tagged: bool = True) -> None:
        (self.files if tagged else self.untagged).append(ContextFile(dest, data))

    def digest(self, build_args: Mapping[str, str] | None = None) -> str:
        """sha256 over every tagged file (path, mode, size, bytes) and the build args, in a fixed order."""
        h = hashlib.sha256()
        for f in sorted(self.files, key=lambda f: f.path):
            h.update(f"{f.path}\0{f.mode:o}\0{len(f.data)}\0".encode())
            h.update(f.data)
        for key, value in sorted((build_args or {}).items()):
            h.update(f"arg\0{key}\0{value}\0".encode())
        return h.hexdigest()

    def tag(self, build_args: Mapping[str, str] | None = None) -> str:
        return self.digest(build_args)[:TAG_LENGTH]

    def tar(self) -> bytes:
        """The context as an uncompressed tar, with fixed owners and times (the layer cache keys on them)."""
        buf = io.BytesIO()
        dirs: set[str] = set()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for f in sorted([*self.files, *self.untagged], key=lambda f: f.path):
                for parent in _parents(f.path):
                    if parent not in dirs:
                        dirs.add(parent)
                        tar.addfile(_info(parent + "/", 0, 0o755, tarfile.DIRTYPE))
                tar.addfile(_info(f.path, len(f.data), f.mode, tarfile.REGTYPE), io.BytesIO(f.data))
        return buf.getvalue()

    def ensure_dir(self, path: str) -> None:
        """Make sure `path/` exists in the context even when empty (a `COPY path/` needs it)."""
        self.untagged.append(ContextFile(f"{path}/.keep", b""))


def _parents(path: str) -> Iterable[str]:
    parts = path.split("/")[:-1]
    return ("/".join(parts[: i + 1]) for i in range(len(parts)))


def _info(name: str, size: int, mode: int, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = mode
    info.type = kind
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def ignored(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in IGNORED)


def walk(root: Path) -> list[Path]:
    """Every regular file under `root`, sorted, skipping IGNORED names and symlinks."""
    out: list[Path] = []
    for path in sorted(root.iterdir()):
        if ignored(path.name) or path.is_symlink():
            continue
        if path.is_dir():
            out.extend(walk(path))
        elif path.is_file():
            out.append(path)
    return out
