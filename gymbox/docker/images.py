"""The images a stack runs: what they are built from, their content tags, and building the missing ones.

    gymbox/runtime:<hash12>      base_images/runtime/Dockerfile + pyproject.toml + gymbox/   (agents, models)
    gymbox/env-<name>:<hash12>   environments/<name>/ FROM the runtime image                (resources servers)
    gymbox/nemo-<name>:<hash12>  a NeMo Gym server FROM the shared NeMo Gym layer           (gymbox.nemo.images)

A tag is the hash of exactly what `docker build` receives (files, build args, target), so an image whose
tag exists is up to date and is never rebuilt. The runtime's tag is a build arg of every environment
image, so a gymbox change rebuilds them too.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from gymbox.config import ResolvedConfig, ServerInstance
from gymbox.docker import client
from gymbox.docker.context import BuildContext
from gymbox.errors import ConfigError, DockerError
from gymbox.roles import Role

if TYPE_CHECKING:
    from gymbox.nemo.servers import NemoServer

DEFAULT_BASE = "python:3.12-slim"
ROOT_IMAGE = "gymbox/root:bookworm"  # what `gymbox images bootstrap` makes
BASE_VAR = "GYMBOX_BASE_IMAGE"
CA_VAR = "GYMBOX_CA_BUNDLE"
CA_CONFIG_KEY = "gymbox_ca_bundle"  # a top-level config variable naming the bundle
HOST_CA = "host"  # `--ca-bundle host`: this machine's system bundle
RUNTIME_REPO = "gymbox/runtime"
CHECKOUT_LABEL = "gymbox.checkout"  # the source checkout an image was built from
ENV_TARGET = "env"
TEST_TARGET = "test"
# Environment images start FROM the runtime; their Dockerfile reads this build arg.
RUNTIME_ARG = "RUNTIME_IMAGE"
# The runtime image does not need README edits: a stub keeps docs changes from rebuilding it.
_README_STUB = b"gymbox runtime image: see the project's README.\n"


@dataclass
class ImageSpec:
    repo: str  # gymbox/runtime, gymbox/env-<name>
    context: BuildContext
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    dockerfile: str = "Dockerfile"
    # What else decides the image without being a build arg (the base image's ID).
    tag_inputs: dict[str, str] = field(default_factory=dict)

    @property
    def tag(self) -> str:
        args = {**self.build_args, **{f"input:{k}": v for k, v in self.tag_inputs.items()}}
        if self.target:
            args["--target"] = self.target
        return f"{self.repo}:{self.context.tag(args)}"


@dataclass
class BuildOptions:
    base: str | None = None  # BASE of the runtime image; None: pick (see resolve_base)
    ca_bundle: Path | None = None
    nemo_base: str | None = None  # BASE of the NeMo Gym layer; None: see gymbox.nemo.images.resolve_base
    no_cache: bool = False
    quiet: bool = True  # capture build output (shown on failure) instead of streaming it
    log: Callable[[str], None] = lambda _msg: None


# ------------------------------------------------------------------------------------------ sources


def source_root() -> Path:
    """The gymbox checkout that holds base_images/ (the package's parent in an editable install)."""
    import gymbox

    candidates = [Path(os.environ["GYMBOX_SOURCE_DIR"])] if os.environ.get("GYMBOX_SOURCE_DIR") else []
    candidates.append(Path(gymbox.__file__).resolve().parent.parent)
    for root in candidates:
        if (root / "base_images" / "runtime" / "Dockerfile").is_file():
            return root
    raise ConfigError(
        f"cannot find base_images/runtime/Dockerfile next to the gymbox package ({candidates[-1]}); "
        "images build from a gymbox source checkout: install it with `pip install -e .`, "
        "or set GYMBOX_SOURCE_DIR to the checkout"
    )


def resolve_ca_bundle(option: str | None, stack: ResolvedConfig | None = None) -> Path | None:
    """--ca-bundle, else $GYMBOX_CA_BUNDLE, else the config's `gymbox_ca_bundle`; `host` = system bundle."""
    value = option or os.environ.get(CA_VAR) or (stack.variables.get(CA_CONFIG_KEY) if stack else None)
    if not value:
        return None
    if value == HOST_CA:
        value = ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt"
    path = Path(str(value)).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"CA bundle {path} not found (from --ca-bundle, ${CA_VAR} or {CA_CONFIG_KEY}); "
            "pass a PEM file, or `host` for this machine's bundle"
        )
    return path


def root_image(suite: str) -> str:
    """The tag `gymbox images bootstrap --suite SUITE` makes."""
    return f"gymbox/root:{suite}"


def image_exists(ref: str) -> bool:
    return client.docker("image", "inspect", "--format", "{{.Id}}", ref, check=False).returncode == 0


def resolve_base(option: str | None) -> str:
    """--base, else $GYMBOX_BASE_IMAGE, else python:3.12-slim, or the bootstrapped root image on a
    machine that has it but cannot have python:3.12-slim (no registry)."""
    explicit = option or os.environ.get(BASE_VAR)
    if explicit:
        return explicit
    if not image_exists(DEFAULT_BASE) and image_exists(ROOT_IMAGE):
        return ROOT_IMAGE
    return DEFAULT_BASE


def base_image_id(base: str) -> str:
    """The base's image ID (pulled if missing), so a re-bootstrapped or updated base changes the tag."""
    if not image_exists(base):
        try:
            client.docker("pull", base, timeout=600)
        except DockerError as exc:
            raise DockerError(
                exc.command,
                exc.returncode,
                f"{exc.stderr.strip()}\nHint: no registry here? Run `gymbox images bootstrap` "
                f"(an offline Debian root image) and build with --base {ROOT_IMAGE}",
            ) from None
    return client.docker("image", "inspect", "--format", "{{.Id}}", base).stdout.strip()


def runtime_spec(options: BuildOptions) -> ImageSpec:
    root = source_root()
    base = resolve_base(options.base)
    ctx = BuildContext()
    ctx.add_file(root / "base_images" / "runtime" / "Dockerfile", "Dockerfile")
    ctx.add_file(root / "pyproject.toml", "pyproject.toml")
    ctx.add_bytes("README.md", _README_STUB)
    ctx.add_tree(root / "gymbox", "gymbox")
    add_ca(ctx, options.ca_bundle)
    return ImageSpec(RUNTIME_REPO, ctx, {"BASE": base}, tag_inputs={"base_id": base_image_id(base)})


def add_ca(ctx: BuildContext, bundle: Path | None) -> None:
    """`ca/` in the context, holding the extra CA bundle if any (untagged: see BuildContext)."""
    ctx.ensure_dir("ca")
    if bundle is not None:
        ctx.add_bytes("ca/extra.crt", bundle.read_bytes(), tagged=False)


def env_dir(name: str) -> Path:
    from gymbox.registry import environments_dir

    path = environments_dir() / name
    if not (path / "Dockerfile").is_file():
        raise ConfigError(
            f"environment {name!r}: {path / 'Dockerfile'} not found (every environment "
            "folder needs a Dockerfile starting `FROM ${RUNTIME_IMAGE}`; set "
            "GYMBOX_ENVIRONMENTS_DIR to the folder that holds it)"
        )
    return path


def env_spec(
    name: str, runtime_tag: str, *, target: str = ENV_TARGET, build_args: Mapping[str, str] | None = None
) -> ImageSpec:
    ctx = BuildContext()
    ctx.add_tree(env_dir(name), "")
    return ImageSpec(f"gymbox/env-{name}", ctx, {**(build_args or {}), RUNTIME_ARG: runtime_tag}, target=target)


@dataclass(frozen=True)
class EnvImage:
    """An environment image: its folder, and the build args a resources server's `build_args` gives it."""

    name: str
    build_args: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        """`math`, or `math[MATH_VERIFY_VERSION=0.7.0]`: its key in `StackImages.environments`."""
        args = ",".join(f"{k}={v}" for k, v in self.build_args)
        return f"{self.name}[{args}]" if args else self.name


def env_image(inst: ServerInstance) -> EnvImage:
    """The image a (gymbox) resources server runs: its environment folder, built with its `build_args`."""
    raw = inst.config.extra_fields().get("build_args") or {}
    if not isinstance(raw, dict) or not all(isinstance(v, str | int | float) for v in raw.values()):
        raise ConfigError(
            f"{inst.source}: {inst.name}: build_args must map the Dockerfile's ARG names to values, "
            "e.g. build_args: {MATH_VERIFY_VERSION: '0.7.0'}"
        )
    return EnvImage(inst.implementation, tuple(sorted((str(k), str(v)) for k, v in raw.items())))


def test_spec(name: str, runtime_tag: str) -> ImageSpec:
    """The environment's `test` target (its image plus pytest), as `gymbox/test-<name>`."""
    spec = env_spec(name, runtime_tag, target=TEST_TARGET)
    spec.repo = f"gymbox/test-{name}"
    return spec


def environment_images(stack: ResolvedConfig) -> list[EnvImage]:
    """The environment images a stack runs: its resources servers' (one per folder and build args), and
    those of the environments its sandboxes borrow an image from (`environment:`)."""
    from gymbox.nemo.servers import is_nemo_server

    found = {
        env_image(inst)
        for inst in stack.by_role(Role.RESOURCES_SERVERS)
        if not is_nemo_server(inst) and "container" not in inst.config.extra_fields()  # gymbox.docker.any_image
    }
    found |= {
        EnvImage(str(env))
        for inst in stack.by_role(Role.SANDBOXES)
        if (env := inst.config.extra_fields().get("environment"))
    }
    return sorted(found, key=lambda image: image.key)


def environments_of(stack: ResolvedConfig) -> list[str]:
    """The keys of `environment_images(stack)`: environment names, with build args where given."""
    return [image.key for image in environment_images(stack)]


# ------------------------------------------------------------------------------------------ building


def build(spec: ImageSpec, options: BuildOptions) -> str:
    """Build `spec` unless its tag exists; return the tag."""
    tag = spec.tag
    if not options.no_cache and image_exists(tag):
        options.log(f"{tag} is up to date")
        return tag
    # --force-rm: the legacy builder otherwise leaves a failed step's container behind.
    argv = [
        "docker",
        "build",
        "--force-rm",
        "--tag",
        tag,
        "--file",
        spec.dockerfile,
        "--label",
        "gymbox.image=" + spec.repo,
        # Which checkout built it: `gymbox images prune` removes only its own checkout's images.
        "--label",
        f"{CHECKOUT_LABEL}={source_root()}",
    ]
    for key, value in spec.build_args.items():
        argv += ["--build-arg", f"{key}={value}"]
    if spec.target:
        argv += ["--target", spec.target]
    if options.no_cache:
        argv.append("--no-cache")
    argv.append("-")  # the context is the tar on stdin
    options.log(f"building {tag}")
    result = client.run(argv, input=spec.context.tar(), capture=options.quiet, timeout=3600, check=False)
    if result.returncode != 0:
        # The legacy builder writes step output to stdout and only the verdict to stderr: show both.
        tail = (
            "\n".join((result.stdout + result.stderr).splitlines()[-40:]) if options.quiet else "(build output above)"
        )
        hint = (
            (
                "Hint: pip could not reach PyPI over TLS? Pass --ca-bundle host (or set "
                f"{CA_VAR}) to trust this machine's CA bundle in builds."
            )
            if "SSL" in tail
            else ""
        )
        raise DockerError([*argv[:-1], "- <context>"], result.returncode, f"{tail}\n{hint}".strip())
    options.log(f"built {tag}")
    return tag


@dataclass
class StackImages:
    runtime: str
    environments: dict[str, str]  # EnvImage.key (the environment's name, plus build args if any) -> tag
    nemo: dict[str, str] = field(default_factory=dict)  # NeMo Gym server instance name -> tag


def build_images(options: BuildOptions, envs: Iterable[str | EnvImage] = ()) -> StackImages:
    """The runtime image, then the images of environments `envs` (names, or EnvImages), in parallel."""
    runtime = build(runtime_spec(options), options)
    images = {image.key: image for image in (EnvImage(e) if isinstance(e, str) else e for e in envs)}
    specs = {
        key: env_spec(image.name, runtime, build_args=dict(image.build_args)) for key, image in sorted(images.items())
    }
    # docker does the work; threads only wait on it. A few builds at a time keep a small machine usable.
    with ThreadPoolExecutor(max_workers=max(1, min(len(specs), 3))) as pool:
        futures = {name: pool.submit(build, spec, options) for name, spec in specs.items()}
        tags = {name: fut.result() for name, fut in futures.items()}
    return StackImages(runtime=runtime, environments=tags)


def build_stack_images(stack: ResolvedConfig, options: BuildOptions) -> StackImages:
    """Every image `stack` runs."""
    images = build_images(options, environment_images(stack))
    servers = nemo_servers_of(stack)
    if servers:
        from gymbox.nemo.images import build_servers

        images.nemo = build_servers(servers, options)
    return images


def planned_images(stack: ResolvedConfig, options: BuildOptions) -> StackImages:
    """The tags a stack needs, without building anything (for `gymbox render`)."""
    runtime = runtime_spec(options).tag
    images = StackImages(
        runtime,
        {
            image.key: env_spec(image.name, runtime, build_args=dict(image.build_args)).tag
            for image in environment_images(stack)
        },
    )
    servers = nemo_servers_of(stack)
    if servers:
        from gymbox.nemo.images import planned_servers

        images.nemo = planned_servers(servers, options)
    return images


def nemo_instances(stack: ResolvedConfig) -> list[str]:
    """The names of the stack's NeMo Gym servers, of any role (no folder lookup)."""
    from gymbox.nemo.servers import is_nemo_server

    return [inst.name for inst in stack.instances.values() if is_nemo_server(inst)]


def nemo_servers_of(stack: ResolvedConfig) -> list[NemoServer]:
    """The stack's NeMo Gym servers (gymbox.nemo.servers), which run in their own images."""
    from gymbox.nemo.servers import nemo_server

    return [nemo_server(stack.instances[name]) for name in nemo_instances(stack)]


def prune(options: BuildOptions, *, dry_run: bool = False) -> list[str]:
    """Remove the images this checkout built that are no longer current (older content tags); return
    their tags. `dry_run`: only return what would be removed.

    Current: the runtime for today's sources and base, and the images of every environment folder.
    Only runtime, environment and test images are pruned. Images another checkout built (label
    `gymbox.checkout`), or built before that label existed, are never touched; nor are images a
    container still uses (docker refuses to remove them).
    """
    from gymbox.registry import environments_dir

    runtime = runtime_spec(options).tag
    keep = {runtime, ROOT_IMAGE}
    for path in sorted(environments_dir().glob("*/Dockerfile")):
        name = path.parent.name
        keep.update((env_spec(name, runtime).tag, test_spec(name, runtime).tag))
    mine = f"label={CHECKOUT_LABEL}={source_root()}"
    listed = client.docker("image", "ls", "--filter", mine, "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    # Only the kinds whose current tags `keep` knows: other images (copies pushed to a registry, other
    # image kinds) are never taken for stale.
    prunable = (f"{RUNTIME_REPO}:", "gymbox/env-", "gymbox/test-")
    stale = [tag for tag in listed if tag.startswith(prunable) and tag not in keep and not tag.endswith(":<none>")]
    if dry_run:
        return stale
    removed = []
    for tag in stale:
        if client.docker("image", "rm", tag, check=False).returncode == 0:
            removed.append(tag)
    return removed
