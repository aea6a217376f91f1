"""Which stack a command means, by one rule.

- A command that makes a stack (`up`, `render`) names it `--name`, else after its first config file.
- A command that uses one (`rollout`, `ps`, `logs`, `down`) takes `--name`; without it, the one stack
  made from this directory: it has a folder `compose/<name>/` here ($GYMBOX_COMPOSE_DIR) and something
  on the engine, and its containers were started from that folder's compose file. With none or several,
  the command stops and lists them rather than guess: another checkout's stack on a shared engine is
  never picked for you.
"""

from __future__ import annotations

from pathlib import Path

from gymbox.errors import StackError

# Set by compose (v1.26+ and v2) on every container it creates: the files it was started from.
COMPOSE_FILES_LABEL = "com.docker.compose.project.config_files"


def stacks_made_here() -> list[str]:
    """Stacks with something on the engine that were made from this directory's compose folder."""
    from gymbox.docker.render import COMPOSE_FILE, compose_root
    from gymbox.docker.stack import Stack, all_stack_names

    root = compose_root()
    names = [name for name in all_stack_names() if (root / name / COMPOSE_FILE).is_file()]
    return [name for name in names if _started_from(Stack(name).compose_file, name)]


def _started_from(compose_file: Path, name: str) -> bool:
    """No container says it came from another compose file (a stack of the same name elsewhere)."""
    from gymbox.docker.stack import Stack

    here = str(compose_file.resolve())
    for container in Stack(name).containers():
        files = container.labels.get(COMPOSE_FILES_LABEL)
        if files and here not in {str(Path(f).resolve()) for f in files.split(",")}:
            return False
    return True


def choose_stack(name: str | None, command: str) -> str:
    """`name`, or the one stack made from this directory; otherwise a StackError listing the candidates."""
    if name:
        return name
    from gymbox.docker.render import compose_root
    from gymbox.docker.stack import all_stack_names

    here = stacks_made_here()
    if len(here) == 1:
        return here[0]
    if here:
        raise StackError(
            f"{len(here)} stacks were made from this directory ({', '.join(here)}); "
            f"say which: `gymbox {command} --name {here[0]}`"
        )
    elsewhere = all_stack_names()
    where = f"{compose_root()}/ here"
    if not elsewhere:
        raise StackError(f"no gymbox stack exists. Hint: start one with `gymbox up -c CONFIG` ({where} gets its files)")
    raise StackError(
        f"no stack on this engine was made from this directory ({where} holds none of them); "
        f"stacks made elsewhere: {', '.join(elsewhere)}. If you mean one of those, name it: "
        f"`gymbox {command} --name {elsewhere[0]}`"
    )
