"""A pinned nemo-gym release's files: its wheel from PyPI, unpacked once into gymbox's cache.

The wheel holds `resources_servers/<name>/` (app.py, configs/, requirements.txt, data/) next to the
`nemo_gym` package, so a config can name a server of a release (`nemo_gym: {server: NAME, version: V}`)
without a NeMo Gym checkout. The unpacked tree is `$GYMBOX_CACHE_DIR/nemo-gym/<version>/` (default
`~/.cache/gymbox`); it is never fetched again once there.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from gymbox.errors import ConfigError

PACKAGE = "nemo-gym"
# nemo-gym needs Python >= 3.12; pip on an older host fetches the wheel for this one (it is pure Python).
TARGET_PYTHON = "3.13"
_VERSION = re.compile(r"^[0-9][0-9A-Za-z.+!-]*$")


def cache_dir() -> Path:
    return Path(os.environ.get("GYMBOX_CACHE_DIR") or Path.home() / ".cache" / "gymbox")


def release_root(version: str) -> Path:
    """The unpacked wheel of nemo-gym `version`, fetched with pip on first use."""
    if not _VERSION.match(version):
        raise ConfigError(f"nemo-gym version {version!r} is not a version number (e.g. 0.4.0)")
    root = cache_dir() / "nemo-gym" / version
    if (root / "nemo_gym").is_dir():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gymbox-nemo-", dir=root.parent) as tmp:
        wheel = _download_wheel(version, Path(tmp))
        unpacked = Path(tmp) / "tree"
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(unpacked)
        if root.exists():  # another process finished first
            return root
        unpacked.rename(root)
    return root


def _download_wheel(version: str, dest: Path) -> Path:
    argv = [
        sys.executable,
        "-m",
        "pip",
        "download",
        f"{PACKAGE}=={version}",
        "--no-deps",
        "--only-binary=:all:",
        "--python-version",
        TARGET_PYTHON,
        "--disable-pip-version-check",
        "-q",
        "-d",
        str(dest),
    ]
    result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600)
    wheels = sorted(dest.glob("nemo_gym-*.whl"))
    if result.returncode != 0 or not wheels:
        tail = "\n".join(result.stderr.strip().splitlines()[-5:])
        raise ConfigError(
            f"could not download {PACKAGE}=={version} from PyPI: {tail or 'no wheel'}\n"
            "Hint: check the version exists (`pip index versions nemo-gym`), or point the config at a "
            "NeMo Gym server folder with `nemo_gym: {path: DIR}`"
        )
    return wheels[0]


def version_of_tree(folder: Path) -> str | None:
    """The nemo-gym version of the tree holding `folder`: its wheel's dist-info, else its
    `nemo_gym/package_info.py` (a source checkout). None when neither is above `folder`."""
    for parent in [folder, *folder.parents]:
        for info in sorted(parent.glob("nemo_gym-*.dist-info")):
            return info.name.removeprefix("nemo_gym-").removesuffix(".dist-info")
        package_info = parent / "nemo_gym" / "package_info.py"
        if package_info.is_file():
            return _version_from_package_info(package_info.read_text())
    return None


def _version_from_package_info(text: str) -> str | None:
    parts = {k: v for k, v in re.findall(r'^(MAJOR|MINOR|PATCH|PRE_RELEASE)\s*=\s*"?([^"\n]*)"?\s*$', text, re.M)}
    if not {"MAJOR", "MINOR", "PATCH"} <= parts.keys():
        return None
    return f"{parts['MAJOR']}.{parts['MINOR']}.{parts['PATCH']}{parts.get('PRE_RELEASE', '')}"
