"""`gymbox images`: the offline root image (`bootstrap`) and the gymbox images on this engine (`ls`)."""

from __future__ import annotations

from typing import Annotated

import typer

from gymbox.cli.build_cmd import BaseImage, CaBundle

app = typer.Typer(help="Base images: bootstrap the offline root image, list gymbox images.", no_args_is_help=True)


@app.command("bootstrap")
def bootstrap(
    tag: Annotated[str, typer.Option(help="Tag of the root image.")] = "gymbox/root:bookworm",
    mirror: Annotated[
        str | None,
        typer.Option(help="Debian mirror [default: the first bookworm source in this host's apt configuration]."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Make it again even if it exists.")] = False,
) -> None:
    """Make a Debian bookworm root image with debootstrap + docker import (no registry needed; root only).

    Then `gymbox build` uses it as the runtime's BASE when python:3.12-slim is not here.
    """
    from gymbox.docker.bootstrap import bootstrap_root_image

    bootstrap_root_image(tag=tag, mirror=mirror, force=force, log=lambda msg: typer.echo(msg, err=True))


@app.command("prune")
def prune(
    ca_bundle: CaBundle = None,
    base: BaseImage = None,
) -> None:
    """Remove gymbox images with outdated content tags (every source change makes new ones)."""
    from gymbox.cli.build_cmd import build_options
    from gymbox.docker.images import prune as prune_images

    removed = prune_images(build_options(ca_bundle, base))
    for tag in removed:
        typer.echo(f"removed {tag}")
    typer.echo(f"{len(removed)} image(s) removed", err=True)


@app.command("ls")
def ls() -> None:
    """List the images gymbox built (runtime, environments, root)."""
    from gymbox.docker import client

    out = client.docker(
        "image",
        "ls",
        "--filter",
        "reference=gymbox/*",
        "--format",
        "{{.Repository}}:{{.Tag}}\t{{.CreatedSince}}\t{{.Size}}",
    ).stdout
    typer.echo(out.rstrip() or "no gymbox images")
