"""mypy --strict on environment folders, each checked as the package gymbox imports it as.

gymbox loads `environments/<name>/` as the package `gymbox_env_<name>` (gymbox.registry.load_environment),
which is what lets `app.py` write `from . import checks`. A folder's own name is no package name to check
it under (`math` would shadow the standard library's), so this links each folder as `gymbox_env_<name>`
under `.mypy_cache/`, runs one mypy over all of them (app, tests, data scripts), and prints mypy's
findings with the folders' real paths. The exit status is mypy's.

    .venv/bin/python scripts/mypy_environments.py                 # every folder under environments/
    .venv/bin/python scripts/mypy_environments.py path/to/my_env  # the folders given
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def environment_folders(arguments: list[str]) -> list[Path]:
    if arguments:
        return [Path(argument).resolve() for argument in arguments]
    return sorted(path.parent for path in (ROOT / "environments").glob("*/app.py"))


def check(folders: list[Path]) -> int:
    cache = ROOT / ".mypy_cache"
    # A fixed folder per set of environments, not a fresh temporary one: mypy's cache remembers the paths
    # it reported, and a path that changes between runs would show up in later runs' messages.
    digest = hashlib.sha256("\0".join(sorted(map(str, folders))).encode()).hexdigest()[:12]
    links = cache / "environment_packages" / digest
    shutil.rmtree(links, ignore_errors=True)
    links.mkdir(parents=True)
    (cache / ".gitignore").write_text("*\n")  # as mypy itself marks its cache
    packages: dict[str, Path] = {}
    for folder in folders:
        package = f"gymbox_env_{folder.name}"
        (links / package).symlink_to(folder, target_is_directory=True)
        packages[package] = folder
    command = [sys.executable, "-m", "mypy", "--strict", "--config-file", str(ROOT / "pyproject.toml")]
    command += ["--cache-dir", str(cache / "environments")]
    for package in packages:
        command += ["-p", package]
    env = {**os.environ, "MYPYPATH": str(links)}
    try:
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    finally:
        shutil.rmtree(links, ignore_errors=True)
    output = result.stdout + result.stderr
    # Longest names first: gymbox_env_math is a prefix of gymbox_env_math_v2.
    for package in sorted(packages, key=len, reverse=True):
        folder = packages[package]
        shown = folder.relative_to(ROOT) if folder.is_relative_to(ROOT) else folder
        for prefix in (links, links.relative_to(ROOT)):  # mypy names files relative to cwd when it can
            output = output.replace(f"{prefix}/{package}/", f"{shown}/")
    sys.stdout.write(output)
    return result.returncode


if __name__ == "__main__":
    sys.exit(check(environment_folders(sys.argv[1:])))
