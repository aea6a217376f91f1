"""`gymbox images bootstrap`: a Debian root image made without any registry.

debootstrap installs a minimal Debian (with python3, venv, pip and CA certificates) from the Debian
mirror this host's apt already uses, and `docker import` turns the directory into an image tagged
`gymbox/root:<suite>`. The runtime image then builds `--base gymbox/root:bookworm` (Python 3.11); NeMo
Gym servers need Python >= 3.12 and build on `gymbox/root:trixie` (Python 3.13). About a minute on a
small machine; skipped when the image exists.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from gymbox.docker import client
from gymbox.docker.images import ROOT_IMAGE, image_exists, root_image
from gymbox.errors import ConfigError, DockerError

SUITE = "bookworm"
# What each suite's python3 is; the suites debootstrap knows and we have tried.
SUITES = {"bookworm": "3.11", "trixie": "3.13"}
PACKAGES = ("python3", "python3-venv", "python3-pip", "ca-certificates")
FALLBACK_MIRROR = "http://deb.debian.org/debian"
APT_SOURCES = Path("/etc/apt")


def host_mirror(apt_dir: Path = APT_SOURCES, suite: str = SUITE) -> str:
    """The first Debian mirror in this host's apt sources that serves `suite` (not -security/-updates),
    else the first one serving any suite (a Debian mirror carries every release: a bookworm host's
    mirror also serves trixie)."""
    usable = [
        (uri, suites)
        for uri, suites in _apt_sources(apt_dir)
        if "security" not in uri and uri.startswith(("http://", "https://", "file:"))
    ]
    for uri, suites in usable:
        if suite in suites:
            return uri.rstrip("/")
    for uri, suites in usable:
        if any(s in SUITES for s in suites):
            return uri.rstrip("/")
    return FALLBACK_MIRROR


def _apt_sources(apt_dir: Path) -> list[tuple[str, list[str]]]:
    """(uri, suites) of every enabled source, from sources.list, *.list and deb822 *.sources files."""
    out: list[tuple[str, list[str]]] = []
    files = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]
    for path in files:
        if not path.is_file():
            continue
        for line in path.read_text(errors="replace").splitlines():
            # deb [options] uri suite components...
            m = re.match(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line)
            if m:
                out.append((m.group(1), [m.group(2)]))
    for path in sorted((apt_dir / "sources.list.d").glob("*.sources")):
        for stanza in re.split(r"\n\s*\n", path.read_text(errors="replace")):
            fields = dict(re.findall(r"^([A-Za-z-]+):\s*(.*)$", stanza, flags=re.M))
            if "deb" not in fields.get("Types", "").split() or fields.get("Enabled", "yes").lower() == "no":
                continue
            for uri in fields.get("URIs", "").split():
                out.append((uri, fields.get("Suites", "").split()))
    return out


def bootstrap_root_image(
    *,
    tag: str | None = None,
    suite: str = SUITE,
    mirror: str | None = None,
    force: bool = False,
    log: Callable[[str], None] = lambda _msg: None,
) -> bool:
    """Make the root image of `suite` (tagged `gymbox/root:<suite>` unless `tag`) unless it exists; True
    when it was made."""
    if suite not in SUITES:
        raise ConfigError(f"suite {suite!r}: choose one of {', '.join(SUITES)}")
    tag = tag or (ROOT_IMAGE if suite == SUITE else root_image(suite))
    if not force and image_exists(tag):
        log(f"{tag} exists; nothing to do (--force rebuilds it)")
        return False
    if shutil.which("debootstrap") is None:
        raise DockerError(
            ["debootstrap"],
            127,
            "debootstrap is not installed; install it (apt-get install debootstrap) and run this as root",
        )
    mirror = mirror or host_mirror(suite=suite)
    with tempfile.TemporaryDirectory(prefix="gymbox-root-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        argv = ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", suite, str(rootfs), mirror]
        log(f"debootstrap {suite} (python {SUITES[suite]}) from {mirror} (about a minute)")
        client.run(argv, timeout=1800)
        # Downloaded packages and apt lists are a third of the tree and useless in an image.
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for path in (rootfs / junk).glob("*"):
                if path.is_file():
                    path.unlink()
        _import(rootfs, tag, suite)
    log(f"made {tag}")
    return True


def _import(rootfs: Path, tag: str, suite: str) -> None:
    """`tar -C rootfs -c . | docker import - tag`, streamed (the tree is ~200 MB)."""
    tar_argv = ["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."]
    import_argv = [
        "docker",
        "import",
        "--change",
        "ENV LANG=C.UTF-8",
        "--change",
        'CMD ["/bin/bash"]',
        "--message",
        f"gymbox root image: debootstrap {suite}",
        "-",
        tag,
    ]
    client.echo_command(tar_argv)
    with subprocess.Popen(tar_argv, stdout=subprocess.PIPE) as tar:
        assert tar.stdout is not None
        try:
            client.run(import_argv, stdin=tar.stdout, timeout=1800)
        finally:
            tar.stdout.close()
            tar_code = tar.wait()
    if tar_code != 0:
        raise DockerError(tar_argv, tar_code, "tar of the debootstrapped tree failed")
