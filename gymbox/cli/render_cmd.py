"""`gymbox render`: write compose/<stack>/ (docker-compose.yaml, stack.yaml, .env) without starting it."""

from __future__ import annotations

from typing import Annotated

import typer

from gymbox.cli.options import (
    BaseImage,
    CaBundle,
    ConfigFiles,
    EnvFile,
    ModelName,
    NewStackName,
    SetOverrides,
    TrailingOverrides,
)


def render(
    config: ConfigFiles = None,
    set_: SetOverrides = None,
    model: ModelName = None,
    env_file: EnvFile = None,
    name: NewStackName = None,
    build: Annotated[bool, typer.Option("--build/--no-build", help="Build missing images first.")] = False,
    ca_bundle: CaBundle = None,
    base: BaseImage = None,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            metavar="compose|k8s",
            help="compose: the compose files only; k8s: also kubernetes.yaml (Deployments, headless Services, "
            "sandbox NetworkPolicies) beside them.",
        ),
    ] = "compose",
    overrides: TrailingOverrides = None,
) -> None:
    """Render the stack's compose file, container config and .env (secrets, mode 600); print the folder.

    Image tags are the content hashes of what the images would be built from; --build builds them.
    """
    if engine not in ("compose", "k8s"):
        raise typer.BadParameter(f"{engine!r}: choose compose or k8s", param_hint="--engine")
    from gymbox.cli.common import build_options, load_stack
    from gymbox.docker.images import build_stack_images, planned_images
    from gymbox.docker.render import default_stack_name
    from gymbox.docker.render import render as render_stack

    stack = load_stack(config, [*(set_ or []), *(overrides or [])], model, env_file)
    options = build_options(ca_bundle, base, stack=stack)
    images = build_stack_images(stack, options) if build else planned_images(stack, options)
    rendered = render_stack(stack, name or default_stack_name(config, model), images)
    if engine == "k8s":
        from gymbox.kubernetes import write_manifests

        typer.echo(str(write_manifests(rendered)))
        return
    typer.echo(str(rendered.directory))
