"""`gymbox serve`: run one server instance of the resolved config (what each container runs)."""

from __future__ import annotations

from typing import Annotated

import typer

from gymbox.cli.options import ConfigFiles, EnvFile, ModelName, SetOverrides, TrailingOverrides


def serve(
    name: Annotated[str, typer.Option("--name", "-n", metavar="INSTANCE", help="The instance of the config to serve.")],
    config: ConfigFiles = None,
    set_: SetOverrides = None,
    model: ModelName = None,
    env_file: EnvFile = None,
    host: Annotated[
        str | None, typer.Option(metavar="ADDRESS", help="Bind address [default: the instance's host].")
    ] = None,
    port: Annotated[int | None, typer.Option(metavar="PORT", help="Port [default: the instance's port].")] = None,
    log_level: Annotated[str, typer.Option(metavar="LEVEL", help="uvicorn log level.")] = "info",
    overrides: TrailingOverrides = None,
) -> None:
    """Serve one instance with uvicorn; peers are reached at the host:port the config gives them."""
    import uvicorn

    from gymbox.cli.common import load_stack
    from gymbox.cpu_policy import prefer_throughput
    from gymbox.docker.swarm import load_mounted_secrets
    from gymbox.gc_tuning import settle_after_startup
    from gymbox.http_client import SERVER_KEEP_ALIVE_S
    from gymbox.open_files import raise_soft_limit
    from gymbox.registry import build_app
    from gymbox.servers.http_protocol import BufferedHttpToolsProtocol

    prefer_throughput()  # before any thread or child process starts: they inherit it
    load_mounted_secrets()  # on a Swarm, this instance's secrets are files in /run/secrets

    # serving=name: in a stack, this container holds only its own instance's secrets
    stack = load_stack(config, [*(set_ or []), *(overrides or [])], model, env_file, serving=name)
    inst = stack.instance(name)
    app = build_app(stack, name)
    settle_after_startup()
    raise_soft_limit()  # every peer's connection is an open file: as many as the hard limit allows
    # One process per instance: episode state lives in memory, so scale with replicas, not workers.
    uvicorn.run(
        app,
        host=host or inst.config.host,
        port=port or inst.config.port or 8000,
        log_level=log_level,
        access_log=False,
        http=BufferedHttpToolsProtocol,  # an answer's head and body in one send
        proxy_headers=False,  # peers talk to it directly: no X-Forwarded-* to read on every request
        server_header=False,
        timeout_graceful_shutdown=5,
        timeout_keep_alive=SERVER_KEEP_ALIVE_S,
    )
