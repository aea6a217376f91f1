"""`gymbox build`: the runtime image and every environment image a config needs, tagged by content."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from gymbox.cli.common import ConfigFiles, EnvFile, ModelName, SetOverrides, load_stack

if TYPE_CHECKING:
    from gymbox.config import ResolvedConfig
    from gymbox.docker.images import BuildOptions

# Shared with `gymbox up`, `render` and `test-env`.
CaBundle = Annotated[
    str | None,
    typer.Option(
        "--ca-bundle",
        envvar="GYMBOX_CA_BUNDLE",
        show_default=False,
        help="Extra CA certificates (PEM) to trust while building, e.g. a TLS proxy's; `host` = "
        "this machine's bundle. Also read from the config's `gymbox_ca_bundle`.",
    ),
]
BaseImage = Annotated[
    str | None,
    typer.Option(
        "--base",
        envvar="GYMBOX_BASE_IMAGE",
        show_default=False,
        help="BASE of the runtime image [default: python:3.12-slim, or gymbox/root:bookworm when "
        "only that one is here].",
    ),
]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Stream docker build output.")]


def build_options(
    ca_bundle: str | None,
    base: str | None,
    *,
    stack: ResolvedConfig | None = None,
    no_cache: bool = False,
    verbose: bool = False,
) -> BuildOptions:
    from gymbox.docker.images import BuildOptions, resolve_ca_bundle

    return BuildOptions(
        base=base,
        ca_bundle=resolve_ca_bundle(ca_bundle, stack),
        no_cache=no_cache,
        quiet=not verbose,
        log=lambda msg: typer.echo(msg, err=True),
    )


def build(
    config: ConfigFiles = None,
    set_: SetOverrides = None,
    model: ModelName = None,
    env_file: EnvFile = None,
    env: Annotated[
        list[str] | None,
        typer.Option("--env", "-e", help="An environment to build (repeatable), besides those the config needs."),
    ] = None,
    ca_bundle: CaBundle = None,
    base: BaseImage = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Rebuild even if the tag exists, without docker's layer cache.")
    ] = False,
    verbose: Verbose = False,
) -> None:
    """Build the runtime image, then the environment images in parallel; skip any whose tag exists.

    Prints the tags. With neither -c nor -e, builds the runtime image only.
    """
    from gymbox.docker.images import build_images, environments_of

    stack = load_stack(config, set_, model, env_file) if (config or model) else None
    options = build_options(ca_bundle, base, stack=stack, no_cache=no_cache, verbose=verbose)
    envs = set(env or []) | set(environments_of(stack) if stack else [])
    images = build_images(options, envs)
    typer.echo(images.runtime)
    for tag in images.environments.values():
        typer.echo(tag)
