"""`gymbox images`: the offline root image (`bootstrap`) and the gymbox images on this engine (`ls`)."""

from __future__ import annotations

from typing import Annotated

import typer

from gymbox.cli.options import BaseImage, CaBundle, JsonOutput

app = typer.Typer(help="Base images: bootstrap the offline root image, list gymbox images.", no_args_is_help=True)


@app.command("bootstrap")
def bootstrap(
    suite: Annotated[
        str, typer.Option(help="Debian release: bookworm (Python 3.11) or trixie (Python 3.13, for NeMo Gym servers).")
    ] = "bookworm",
    tag: Annotated[str | None, typer.Option(help="Tag of the root image [default: gymbox/root:SUITE].")] = None,
    mirror: Annotated[
        str | None,
        typer.Option(help="Debian mirror [default: the first Debian source in this host's apt configuration]."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Make it again even if it exists.")] = False,
) -> None:
    """Make a Debian root image with debootstrap + docker import (no registry needed; root only).

    `gymbox build` uses gymbox/root:bookworm as the runtime's BASE when python:3.12-slim is not here;
    NeMo Gym server images use gymbox/root:trixie when python:3.13-slim is not here.
    """
    from gymbox.docker.bootstrap import bootstrap_root_image

    bootstrap_root_image(tag=tag, suite=suite, mirror=mirror, force=force, log=lambda msg: typer.echo(msg, err=True))


@app.command("prune")
def prune(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only list the images that would be removed; remove nothing.")
    ] = False,
    ca_bundle: CaBundle = None,
    base: BaseImage = None,
    json_output: JsonOutput = False,
) -> None:
    """Remove the images this checkout built whose content tags are outdated (every source change makes
    new ones). Images other checkouts built are never touched."""
    from gymbox.cli.common import build_options, print_json
    from gymbox.docker.images import prune as prune_images

    tags = prune_images(build_options(ca_bundle, base), dry_run=dry_run)
    if json_output:
        print_json({"dry_run": dry_run, "images": tags})
        return
    for tag in tags:
        typer.echo(f"{'would remove' if dry_run else 'removed'} {tag}")
    typer.echo(f"{len(tags)} image(s) {'would be removed (dry run)' if dry_run else 'removed'}", err=True)


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
