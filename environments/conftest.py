"""Host runs of the environments' tests.

Each environment pins its own dependencies, and two environments may pin different versions of one
package, so no single venv can hold them all. On the host, an environment whose
`requirements.txt` this venv does not satisfy is not collected here; it is tested inside its own image
by `gymbox test-env NAME`, which tests/docker/test_test_env.py runs for every environment.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

HERE = Path(__file__).parent


def unmet_requirements(env_dir: Path) -> list[str]:
    """The lines of `env_dir/requirements.txt` this interpreter does not satisfy."""
    path = env_dir / "requirements.txt"
    unmet = []
    for line in path.read_text().splitlines() if path.is_file() else []:
        text = line.split("#", 1)[0].strip()
        if not text or text.startswith("-"):
            continue
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            unmet.append(text)
            continue
        try:
            version = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            unmet.append(text)
            continue
        if requirement.specifier and not requirement.specifier.contains(version, prereleases=True):
            unmet.append(f"{text} (found {version})")
    return unmet


_SKIPPED = {d.name: unmet for d in sorted(HERE.iterdir()) if d.is_dir() and (unmet := unmet_requirements(d))}
collect_ignore = [name for name in _SKIPPED]


def pytest_report_header() -> list[str]:
    return [
        f"environments tested only in their images (gymbox test-env): {name} needs {', '.join(unmet)}"
        for name, unmet in _SKIPPED.items()
    ]
