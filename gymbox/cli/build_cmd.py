"""`gymbox build`: the runtime image and every environment image a config needs, tagged by content."""

from __future__ import annotations

from typing import Annotated

import typer

from gymbox.cli.options import BaseImage, CaBundle, ConfigFiles, EnvFile, ModelName, SetOverrides, Verbose


def build(
    config: ConfigFiles = None,
    set_: SetOverrides = None,
    model: ModelName = None,
    env_file: EnvFile = None,
    env: Annotated[
        list[str] | None,
        typer.Option(
            "--env", "-e", metavar="NAME", help="An environment to build (repeatable), besides those the config needs."
        ),
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
    from gymbox.cli.common import build_options, load_stack
    from gymbox.docker.images import EnvImage, build_images, environment_images

    stack = load_stack(config, set_, model, env_file) if (config or model) else None
    options = build_options(ca_bundle, base, stack=stack, no_cache=no_cache, verbose=verbose)
    envs: list[str | EnvImage] = [*(env or []), *(environment_images(stack) if stack else [])]
    images = build_images(options, envs)
    typer.echo(images.runtime)
    for tag in images.environments.values():
        typer.echo(tag)
