"""`gymbox config`: print the fully resolved config, secrets masked."""

from __future__ import annotations

from gymbox.cli.options import ConfigFiles, EnvFile, JsonOutput, ModelName, SetOverrides, TrailingOverrides


def config(
    config: ConfigFiles = None,
    set_: SetOverrides = None,
    model: ModelName = None,
    env_file: EnvFile = None,
    json_output: JsonOutput = False,
    overrides: TrailingOverrides = None,
) -> None:
    """Print the resolved config (all files merged, env.yaml and --set applied), secrets masked."""
    import typer

    from gymbox.cli.common import load_stack, print_json
    from gymbox.registry import check_fields

    stack = load_stack(config, [*(set_ or []), *(overrides or [])], model, env_file)
    check_fields(stack)  # every implementation's own fields, with file:line and "did you mean"
    if json_output:
        print_json(stack.to_dict(mask_secrets=True))
        return
    typer.echo(stack.to_yaml(mask_secrets=True), nl=False)
