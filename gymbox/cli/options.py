"""The options several commands share, declared once: configs, builds, which stack, JSON output.

Every option names its value with a readable metavar (FILE, KEY=VALUE, NAME) rather than typer's
`<list[Path]>`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

# ------------------------------------------------------------------------------------------ configs

ConfigFiles = Annotated[
    list[Path] | None,
    typer.Option("--config", "-c", metavar="FILE", help="Config YAML file; repeatable, merged left to right."),
]
SetOverrides = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="KEY=VALUE",
        help="Override one value: key.path=value, or Hydra's +key=value, ++key=value, ~key (repeatable, applied last).",
    ),
]
TrailingOverrides = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="KEY=VALUE",
        show_default=False,
        help="Overrides as NeMo Gym command lines give them (key.path=value, +key=value, ++key=value, ~key); "
        "the same as --set, applied after it.",
    ),
]
ModelName = Annotated[
    str | None,
    typer.Option("--model", "-m", metavar="MODEL", help="Add the built-in policy_model: scripted, openai or vllm."),
]
EnvFile = Annotated[
    Path | None,
    typer.Option(
        "--env-file", metavar="FILE", help="Local values and secrets, merged after the configs [default: ./env.yaml]."
    ),
]

# ------------------------------------------------------------------------------------------ builds

CaBundle = Annotated[
    str | None,
    typer.Option(
        "--ca-bundle",
        envvar="GYMBOX_CA_BUNDLE",
        metavar="PEM|host",
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
        metavar="IMAGE",
        show_default=False,
        help="BASE of the runtime image [default: python:3.12-slim, or gymbox/root:bookworm when "
        "only that one is here].",
    ),
]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Stream docker build output.")]

# ------------------------------------------------------------------------------------------ stacks
# Which stack a command means (gymbox.cli.stack_choice): a command that makes one (`up`, `render`) names
# it after its first config file; a command that uses one takes --name, else the one stack made here.

NewStackName = Annotated[
    str | None,
    typer.Option(
        "--name", "-n", metavar="NAME", help="Stack name [default: the first config file's name, e.g. `math`]."
    ),
]
StackName = Annotated[
    str | None,
    typer.Option(
        "--name",
        "-n",
        metavar="NAME",
        help="Stack name [default: the one stack made from this directory, i.e. with a folder in "
        "compose/ here; with none or several, the command asks for --name].",
    ),
]

# ------------------------------------------------------------------------------------------ output

JsonOutput = Annotated[
    bool, typer.Option("--json", help="Print one JSON document on stdout instead of tables (for scripts).")
]

# ------------------------------------------------------------------------------------------ engines
# Where a stack runs (gymbox.cli.swarm_engine): this machine's compose, or a Docker Swarm.

Engine = Annotated[
    str,
    typer.Option(
        "--engine",
        envvar="GYMBOX_ENGINE",
        metavar="compose|swarm",
        help="compose: this machine's engine; swarm: `docker stack deploy` on a Swarm (see --swarm-host).",
    ),
]
SwarmHost = Annotated[
    str | None,
    typer.Option(
        "--swarm-host",
        envvar="GYMBOX_SWARM_HOST",
        metavar="URL",
        show_default=False,
        help="Docker host of a Swarm manager (tcp://HOST:2375, ssh://USER@HOST) [default: this machine's "
        "engine, which must then be a manager].",
    ),
]
Registry = Annotated[
    str | None,
    typer.Option(
        "--registry",
        envvar="GYMBOX_REGISTRY",
        metavar="HOST:PORT",
        show_default=False,
        help="Registry every node pulls from; `up --engine swarm` pushes the stack's images there first.",
    ),
]
