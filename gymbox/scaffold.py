"""`gymbox build-env`: a new environment folder, rendered from the templates in `gymbox/templates/environment/`.

    created = scaffold_environment("trivia", ["search"], Path("environments"))
    created.path, created.files          # environments/trivia, [Path("app.py"), ...]

The templates give `app.py`, `Dockerfile`, `requirements.txt`, `configs/<name>.yaml`, `tests/test_app.py`
and `README.md`. `data/example.jsonl` is written afterwards from the rendered app itself: its rows carry the
server's `tool_definitions()`, and their expected answers are what its tools return, run in-process, so the
rows cannot drift from the code. Everything is written into a hidden staging folder beside the target and
renamed into place at the end: a failure leaves nothing behind, and an existing folder is never touched.
"""

from __future__ import annotations

import asyncio
import json
import keyword
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gymbox.errors import ConfigError

if TYPE_CHECKING:
    from jinja2 import Environment

DEFAULT_TOOLS = ("lookup",)
# Lower-case snake_case: a Python identifier, a compose service and a Docker repository name all at once.
NAME_PATTERN = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
MAX_ENV_NAME = 40  # `<name>_simple_agent` must fit a 63-character DNS label (compose service name)
MAX_TOOL_NAME = 64  # the Responses API's limit on a function name
RESERVED_ENV_NAMES = frozenset({"policy_model"})  # instance names the config needs for something else
SCRIPT_LIMIT = 512  # OpenAI's limit on a metadata value: `metadata.gymbox_script` must fit
LINE_LIMIT = 120  # the generated code keeps to the repository's line length
TEMPLATES = "templates/environment"
MAX_STEPS = 8

ARGUMENT = "query"  # every placeholder tool's one argument (the templates spell it out)
# The example rows' queries, none of them a placeholder word (row 3 answers with its query and must be wrong).
QUERIES = ("alpha", "bravo", "charlie", "delta", "echo")


@dataclass(frozen=True)
class ToolSpec:
    name: str  # lookup
    camel: str  # Lookup: prefix of LookupArgs, LookupResult
    wrap: bool  # its `async def` line would pass LINE_LIMIT: the template breaks it


@dataclass
class ScaffoldedEnvironment:
    name: str
    path: Path  # the new folder
    class_name: str  # the ResourcesServer subclass in app.py
    tools: list[str]
    files: list[Path] = field(default_factory=list)  # relative to `path`, sorted
    example_rewards: list[float] = field(default_factory=list)  # by row id: what each example row earns


# ------------------------------------------------------------------------------------------ names


def check_name(name: str, what: str) -> None:
    """Raise ConfigError unless `name` is lower-case snake_case, not a keyword, and short enough."""
    limit = MAX_ENV_NAME if what == "environment" else MAX_TOOL_NAME
    if not NAME_PATTERN.fullmatch(name):
        raise ConfigError(
            f"{what} name {name!r} is not lower-case snake_case: start with a letter, then "
            "letters, digits and single underscores between them (e.g. 'my_env', 'lookup2')"
        )
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise ConfigError(f"{what} name {name!r} is a Python keyword; pick another")
    if len(name) > limit:
        raise ConfigError(f"{what} name {name!r} is {len(name)} characters long; the limit is {limit}")


def check_tool_names(tools: list[str]) -> None:
    """Each tool a valid name, unique, and not a route or attribute the server already has."""
    reserved = _reserved_tool_names()
    seen: dict[str, str] = {}
    for tool in tools:
        check_name(tool, "tool")
        if tool in reserved:
            raise ConfigError(
                f"tool name {tool!r} is taken by the resources server itself (reserved: "
                f"{', '.join(sorted(reserved))}); pick another"
            )
        camel = camel_case(tool)
        if camel in seen:
            what = "is given twice" if seen[camel] == tool else f"and {seen[camel]!r} would share class names"
            raise ConfigError(f"tool {tool!r} {what} ({camel}Args); pick distinct names")
        seen[camel] = tool


def _reserved_tool_names() -> set[str]:
    # A tool is a route and a method: neither may shadow what ResourcesServer serves or holds.
    from gymbox.servers.resources import RESERVED_ROUTES, ResourcesServer

    members = {name for name in dir(ResourcesServer) if not name.startswith("_")}
    return set(RESERVED_ROUTES) | members | set(vars(ResourcesServer()))


def camel_case(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def target_folder(name: str, directory: Path) -> Path:
    """`directory/name`, after checking the name and that nothing is there yet."""
    check_name(name, "environment")
    if name in RESERVED_ENV_NAMES:
        raise ConfigError(f"environment name {name!r} is an instance name the config already uses; pick another")
    target = directory / name
    if target.exists() or target.is_symlink():
        raise ConfigError(
            f"{target} already exists; gymbox build-env never overwrites a folder: "
            "pick another name, or remove it first"
        )
    return target


# ------------------------------------------------------------------------------------------ scaffolding


def scaffold_environment(
    name: str, tools: list[str] | tuple[str, ...] = DEFAULT_TOOLS, directory: Path = Path("environments")
) -> ScaffoldedEnvironment:
    """Create `directory/name/`: a complete environment whose tools and verifier are placeholders."""
    tools = list(tools) or list(DEFAULT_TOOLS)
    check_tool_names(tools)
    target = target_folder(name, directory)
    directory.mkdir(parents=True, exist_ok=True)
    result = ScaffoldedEnvironment(name, target, camel_case(name) + "Server", tools)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".scaffold", dir=directory))
    try:
        rows = _render(result, staging, directory)
        result.example_rewards = [row["reward"] for row in rows]
        if target.exists():  # made while we worked
            raise ConfigError(f"{target} appeared while scaffolding; nothing was written there")
        staging.chmod(0o755)  # mkdtemp makes it 0700, private to its creator
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    result.files = sorted(path.relative_to(target) for path in target.rglob("*") if path.is_file())
    return result


def _render(env: ScaffoldedEnvironment, staging: Path, directory: Path) -> list[dict[str, Any]]:
    """Write every file into `staging`; the example rows' summaries (for the README)."""
    jinja = templates()
    context = template_context(env, directory)
    code = {
        "app.py": "app.py.j2",
        "Dockerfile": "Dockerfile.j2",
        "requirements.txt": "requirements.txt.j2",
        f"configs/{env.name}.yaml": "configs/config.yaml.j2",
    }
    for path, template in code.items():
        _write(staging / path, jinja.get_template(template).render(context))
    rows, summaries = example_rows(env.name, staging)
    _write(staging / "data" / "example.jsonl", "".join(json.dumps(row) + "\n" for row in rows))
    context["example_rewards"] = repr(
        {row["id"]: summary["reward"] for row, summary in zip(rows, summaries, strict=True)}
    )
    _write(staging / "tests" / "test_app.py", jinja.get_template("tests/test_app.py.j2").render(context))
    _write(staging / "README.md", jinja.get_template("README.md.j2").render({**context, "rows": summaries}))
    return summaries


def templates() -> Environment:
    """The scaffold's templates, package data under gymbox/templates/environment/."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    return Environment(
        loader=PackageLoader("gymbox", TEMPLATES),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def template_context(env: ScaffoldedEnvironment, directory: Path) -> dict[str, Any]:
    from gymbox.registry import environments_dir

    tools = [ToolSpec(tool, camel_case(tool), _def_line_length(tool) > LINE_LIMIT) for tool in env.tools]
    where = directory.resolve()
    return {
        "name": env.name,
        "class_name": env.class_name,
        "tools": tools,
        "max_steps": max(MAX_STEPS, len(tools) + 2),
        # Relative to the environments dir's parent, as the examples' are to the repository root (NeMo Gym
        # reads them from there); gymbox also finds them by walking up from the config file.
        "data_path": f"{where.name}/{env.name}/data",
        "env_path": display_path(directory / env.name),
        "env_var": "" if where == environments_dir() else display_path(directory),
    }


def _def_line_length(tool: str) -> int:
    camel = camel_case(tool)
    return len(f"    async def {tool}(self, args: {camel}Args, session: Session) -> {camel}Result:")


def _tool_list(tools: list[str]) -> str:
    return tools[0] if len(tools) == 1 else f"{', '.join(tools[:-1])} and {tools[-1]}"


def display_path(path: Path) -> str:
    """`path` relative to the current directory when it is below it, else absolute."""
    absolute = path.resolve()
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


# ------------------------------------------------------------------------------------------ example rows


def example_rows(name: str, env_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The 5 example rows of the rendered environment in `env_dir`, and a summary of each (README).

    The app is imported for real: `tools` is its `tool_definitions()`, and each expected answer is what its
    tools return for the row's query, so the happy rows earn 1.0 by construction.
    """
    server, definitions = _load(name, env_dir)
    tools = [definition["name"] for definition in definitions]
    rows: list[dict[str, Any]] = []
    summaries: list[dict[str, Any]] = []
    for index, query in enumerate(QUERIES):
        results = [_call_tool(server, tool, query) for tool in tools]
        turns, description, reward = _script(index, tools, query)
        script = json.dumps(turns, separators=(",", ":"))
        if len(script) > SCRIPT_LIMIT:
            raise ConfigError(
                f"the example script for {len(tools)} tools is {len(script)} characters, over the "
                f"{SCRIPT_LIMIT} a metadata value may hold; scaffold fewer tools (or shorter names) "
                "and add the others to app.py by hand"
            )
        rows.append(
            {
                "responses_create_params": {
                    "input": [{"role": "user", "content": _prompt(tools, query)}],
                    "tools": definitions,
                    "metadata": {"gymbox_script": script},
                },
                "id": index,
                "expected_answer": " ".join(results),
            }
        )
        summaries.append({"id": index, "description": description, "reward": reward})
    return rows, summaries


def _load(name: str, env_dir: Path) -> tuple[Any, list[dict[str, Any]]]:
    """An instance of the environment's server and its tool definitions; leaves no module or bytecode behind."""
    from gymbox.registry import load_environment

    module_name = f"gymbox_env_{name}"
    previous = sys.modules.get(module_name)
    try:
        cls = load_environment(name, env_dir)
        return cls(), cls.tool_definitions()
    finally:
        if previous is None:
            sys.modules.pop(module_name, None)
        else:
            sys.modules[module_name] = previous
        shutil.rmtree(env_dir / "__pycache__", ignore_errors=True)


def _call_tool(server: Any, tool: str, query: str) -> str:
    """The `result` of one placeholder tool, called as its route would call it."""
    from pydantic import BaseModel

    from gymbox.servers.resources import args_model
    from gymbox.servers.sessions import Session

    method = getattr(server, tool)
    args = args_model(method).model_validate({ARGUMENT: query})
    output = asyncio.run(method(args, Session(id="scaffold")))
    if isinstance(output, BaseModel):
        output = output.model_dump(mode="json")
    return str(output["result"])


def _prompt(tools: list[str], query: str) -> str:
    if len(tools) == 1:
        return f'Use {tools[0]} on "{query}" and reply with its result, nothing else.'
    return (
        f'Use each of {_tool_list(tools)} on "{query}" and reply with their results, in '
        "that order, separated by spaces, nothing else."
    )


def _script(index: int, tools: list[str], query: str) -> tuple[list[dict[str, Any]], str, float]:
    """Row `index`'s scripted turns, what they do in words, and the reward they earn."""
    calls = [{"name": tool, "arguments": {ARGUMENT: query}} for tool in tools]
    results = " ".join(f"{{{{ outputs[{i}].result }}}}" for i in range(len(tools)))
    call_all = "call the tools in parallel" if len(tools) > 1 else "call the tool"
    the_results = "the results" if len(tools) > 1 else "the result"
    if index == 0:
        return [{"calls": calls}, {"say": results}], f"{call_all}, answer with {the_results}", 1.0
    if index == 1:
        think = {"think": f"I need {', '.join(tools)} for {query}, one at a time."}
        turns = [{**(think if i == 0 else {}), "calls": [call]} for i, call in enumerate(calls)]
        return [*turns, {"say": results}], f"think, one call per turn, answer with {the_results}", 1.0
    if index == 2:
        shouted = "  ".join(f"{{{{ outputs[{i}].result | upper }}}}" for i in range(len(tools)))
        return (
            [{"calls": calls}, {"say": f"  {shouted} "}],
            f"{call_all}, answer with {the_results} upper-cased and padded (still right)",
            1.0,
        )
    if index == 3:
        return [{"calls": calls}, {"say": query}], f"{call_all}, answer with the query instead: **wrong**", 0.0
    return [{"calls": calls}, {"say": "I could not find it."}], f"{call_all}, give up: **wrong**", 0.0
