"""`gymbox push`: the stack's content-tagged images into a registry every node of a cluster can pull from.

    pushed = push_images(build_stack_images(config, options), "registry.example:5000")
    render(config, "weather", pushed)        # the stack files name registry.example:5000/gymbox/...

A tag is a content hash, so a tag the registry already holds is the same image: docker push skips the
layers it has, and nothing is rebuilt.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from gymbox.docker import client
from gymbox.docker.images import StackImages
from gymbox.errors import ConfigError

# host[:port][/path], as docker names a registry in an image reference.
_REGISTRY = re.compile(r"^[A-Za-z0-9.-]+(:\d{1,5})?(/[a-z0-9._/-]+)?$")


def check_registry(registry: str) -> str:
    registry = registry.rstrip("/")
    if "://" in registry or not _REGISTRY.match(registry):
        raise ConfigError(f"registry {registry!r}: give host[:port][/path], e.g. 127.0.0.1:5000 (no scheme)")
    return registry


def registry_ref(ref: str, registry: str) -> str:
    return f"{registry}/{ref}"


def push_images(images: StackImages, registry: str, log: Callable[[str], None] = lambda _msg: None) -> StackImages:
    """Tag every image of the stack under `registry`, push it, and return the stack's images by those names."""
    registry = check_registry(registry)
    refs = {images.runtime, *images.environments.values(), *images.nemo.values()}

    def push(ref: str) -> None:
        target = registry_ref(ref, registry)
        client.docker("tag", ref, target)
        log(f"pushing {target}")
        client.docker("push", target, timeout=1800)

    # Pushes wait on the network and the registry, not on this machine: a few at a time.
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(push, sorted(refs)))
    return StackImages(
        runtime=registry_ref(images.runtime, registry),
        environments={name: registry_ref(ref, registry) for name, ref in images.environments.items()},
        nemo={name: registry_ref(ref, registry) for name, ref in images.nemo.items()},
    )
