"""`gymbox push`: build a config's images and push them to a registry every cluster node can pull from."""

from __future__ import annotations

from gymbox.cli.options import BaseImage, CaBundle, ConfigFiles, EnvFile, JsonOutput, ModelName, Registry, SetOverrides


def push(
    registry: Registry = None,
    config: ConfigFiles = None,
    set_: SetOverrides = None,
    model: ModelName = None,
    env_file: EnvFile = None,
    ca_bundle: CaBundle = None,
    base: BaseImage = None,
    json_output: JsonOutput = False,
) -> None:
    """Push the stack's content-tagged images to --registry (unchanged layers are not sent again).

    `gymbox up --engine swarm --registry ...` pushes too; this is for a cluster deployed another way
    (Kubernetes: `gymbox render --engine k8s` after pushing).
    """
    import typer

    from gymbox.cli.common import build_options, load_stack, print_json
    from gymbox.docker.images import build_stack_images
    from gymbox.docker.registry import push_images

    if not registry:
        raise typer.BadParameter("where to? `gymbox push --registry HOST:PORT -c ...`", param_hint="--registry")
    stack = load_stack(config, set_, model, env_file)
    options = build_options(ca_bundle, base, stack=stack)
    options.log = lambda message: typer.echo(message, err=True)
    pushed = push_images(build_stack_images(stack, options), registry, log=options.log)
    refs = {"runtime": pushed.runtime, **pushed.environments, **pushed.nemo}
    if json_output:
        print_json(refs)
        return
    for ref in refs.values():
        typer.echo(ref)
