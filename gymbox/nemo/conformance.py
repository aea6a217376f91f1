"""Replaying a nemo-gym release's recorded rollouts against its own servers, each in its own container.

For every resources server of the release, its `data/example_rollouts.jsonl` is played back: the server
runs unchanged in a gymbox stack, gymbox's `simple_agent` drives it, `replay_model` (outside the stack, in
this process, reached through a `url:` instance) answers each model call with the recorded turn, the
tools run live, and `gymbox rollout` collects. A server conforms when the rewards it gives equal the
recorded ones. Servers are brought up in batches so a small machine can hold them.

A server whose verifier asks a judge model is run when its recording holds the judge's answers: its
model references (`judge_model_server: {type: responses_api_models, name: ...}`) name `url:` instances at
`replay_model`, which plays the recorded judge calls (matched by input) or the recorded judge text (of
the episode played last: rows are collected one at a time). Its prompt, verdict parsing and reward run
live.

A server whose config drives it with NeMo's own agent (gymnasium_agent, tool_simulation_agent, ...) runs
with that agent in the stack, as the config gives it (its fields; `nemo_gym: {server, version}`), its
`model_server` the `url:` instance at `replay_model`, published on a free host port; `gymbox rollout
--url` collects from it. A server is skipped, with the reason, when it needs something else from outside (a model its
recording does not answer for, an API key, a requirement from outside PyPI, a GPU) or has no usable
recording. `benchmarks/nemo_replay_all.py`
runs every server; `tests/docker/test_nemo_replay.py` a representative few.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gymbox.config import server_refs
from gymbox.errors import ConfigError
from gymbox.model_servers.replay_model import input_key, judge_record, read_rollouts, task_row
from gymbox.nemo.images import declared_requirements
from gymbox.nemo.release import release_root
from gymbox.nemo.runtime import HEAD_SERVER_PORT
from gymbox.nemo.servers import ROLE
from gymbox.protocol import input_items

REPLAY_INSTANCE = "replay_policy"
AGENTS = "responses_api_agents"
PARAMS = "responses_create_params"
MODELS = "responses_api_models"
JUDGED = {
    "calls": "judge replayed from its recorded calls",
    "prompts": "judge replayed from its recorded prompts and texts",
    "text": "judge replayed from its recorded text",
}
_OUTSIDE_REQUIREMENT = re.compile(r"git\+|https?://|\s@\s", re.IGNORECASE)
# A setting of a key or endpoint that is given (not null): `max_output_tokens` or a literal token is none.
_SECRET_SETTING = re.compile(r"(api_key|access_token|auth_token|base_url)\w*: (?!null$)", re.MULTILINE)
# Requirements that mean a GPU-sized model stack or a model download at start-up.
_HEAVY_REQUIREMENTS = ("torch", "unbabel-comet", "transformers", "vllm", "swebench")
# What these need from outside, found by reading their code (their configs and requirements do not say).
_NEEDS_OUTSIDE = {
    "cvdp": "its verifier runs each task's test harness in Apptainer containers of registry images "
    "(oss_sim_image): containers inside its container",
    "scicode": "its verifier needs SciCode's test_data.h5 (test_data_fpath), which the release does not ship",
    "labbench2_vlm": "NeMo's labbench2_vlm_agent embeds each row's figures from the server's data/ "
    "(media_base_dir), which the agent's image (its own folder only) does not hold",
}


@dataclass
class ServerCase:
    name: str
    folder: Path
    fields: dict[str, Any] = field(default_factory=dict)  # its resources-server fields from its own config
    skip: str = ""  # why it is not run
    models: list[str] = field(default_factory=list)  # model instances its fields name (its judge)
    judged: str = ""  # how replay_model answers its judge: "calls", "prompts", "text" (see replay_model)
    agent: str = ""  # NeMo's own agent that drives it ("": gymbox's simple_agent, served by the harness)
    agent_fields: dict[str, Any] = field(default_factory=dict)  # that agent's fields from the config
    agent_port: int = 0  # the host port its NeMo agent is published on (set per batch)


@dataclass
class ServerResult:
    name: str
    built: bool | None = None
    healthy: bool | None = None
    rows: int = 0  # recorded rollouts with a reward
    matched: int = 0
    reason: str = ""
    judged: str = ""  # "calls" / "text": its judge was played back by replay_model

    @property
    def match_rate(self) -> float:
        return self.matched / self.rows if self.rows else 0.0


def release_cases(version: str, names: list[str] | None = None) -> list[ServerCase]:
    """Every resources server of the release (or those named), each with its fields or why it is skipped."""
    root = release_root(version) / ROLE
    folders = sorted(p for p in root.iterdir() if (p / "app.py").is_file())
    if names is not None:
        folders = [p for p in folders if p.name in names]
    return [_case(folder) for folder in folders]


def _case(folder: Path) -> ServerCase:
    case = ServerCase(folder.name, folder)
    config = _own_config(folder)
    if config is None:
        case.skip = "no config of its own"
        return case
    instance = next((k for k, e in config.items() if isinstance(e, dict) and folder.name in e.get(ROLE, {})), None)
    if instance is None:
        case.skip = "its config names no resources server of this folder"
        return case
    case.fields = dict(config[instance][ROLE][folder.name] or {})
    case.models = sorted({ref.name for _, ref in server_refs(case.fields) if ref.type == MODELS})
    # Model instances (a judge's vLLM, ...) are not run here, nor the top-level values only they read:
    # their settings are no reason to skip.
    text = yaml.safe_dump({k: v for k, v in config.items() if isinstance(v, dict) and MODELS not in v})
    requirements = declared_requirements(folder)  # what its image installs: requirements.txt or pyproject.toml
    rollouts = folder / "data" / "example_rollouts.jsonl"
    case.agent, case.agent_fields = _nemo_agent(config, instance)
    agent_folder = folder.parent.parent / AGENTS / case.agent
    if case.agent and agent_folder.is_dir():  # its image installs them too
        requirements += "\n" + declared_requirements(agent_folder)
    if case.agent and not (agent_folder / "app.py").is_file():
        case.skip = f"driven by NeMo's own {case.agent}, which this release does not ship"
    elif folder.name in _NEEDS_OUTSIDE:
        case.skip = _NEEDS_OUTSIDE[folder.name]
    elif _needs_model(config) and not (case.models and _judge_recorded(case, rollouts)):
        recorded = case.models and rollouts.is_file() and _has_rollouts(rollouts)
        case.skip = "needs a judge; its recording lacks the judge's answers" if recorded else _NEEDS_MODEL
    elif "???" in text or _SECRET_SETTING.search(text):
        case.skip = "needs an API key or endpoint"
    elif any(_OUTSIDE_REQUIREMENT.search(line.split("#", 1)[0]) for line in requirements.splitlines()):
        case.skip = "a requirement from outside PyPI (git or URL)"
    elif any(re.match(rf"\s*{pkg}\b", line) for line in requirements.splitlines() for pkg in _HEAVY_REQUIREMENTS):
        case.skip = "needs torch/transformers models (GPU-sized, downloads at start-up)"
    elif not rollouts.is_file():
        case.skip = "no example_rollouts.jsonl"
    else:
        try:
            rows = [row for _, row in read_rollouts(rollouts) if _reward(row) is not None]
        except ConfigError as exc:  # a placeholder or git-lfs pointer file
            case.skip = f"example_rollouts.jsonl is not rollouts ({str(exc)[:60]})"
            return case
        if not rows:
            case.skip = "no recorded rollout with a reward"
    return case


_NEEDS_MODEL = "needs a judge or other model server"


def _nemo_agent(config: dict[str, Any], instance: str) -> tuple[str, dict[str, Any]]:
    """(implementation, fields) of NeMo's own agent the config drives the server with; ("", {}) where
    that is a simple_agent, which gymbox has (one that names the server first)."""
    found = [
        (impl, dict(fields or {}))
        for body in config.values()
        if isinstance(body, dict) and isinstance(body.get(AGENTS), dict)
        for impl, fields in body[AGENTS].items()
    ]
    found.sort(key=lambda agent: (agent[1].get("resources_server") or {}).get("name") != instance)
    if not found or found[0][0] == "simple_agent":
        return "", {}
    return found[0]


def _has_rollouts(path: Path) -> bool:
    try:
        return any(True for _ in read_rollouts(path))
    except ConfigError:
        return False


def _judge_recorded(case: ServerCase, rollouts: Path) -> bool:
    """Whether the recording holds its judge's answers, so replay_model can play them (sets `judged`)."""
    try:
        case.judged = judge_record(row for _, row in read_rollouts(rollouts)) if rollouts.is_file() else ""
    except ConfigError:
        return False
    return bool(case.judged)


def _own_config(folder: Path) -> dict[str, Any] | None:
    configs = sorted((folder / "configs").glob("*.yaml"))
    preferred = [c for c in configs if c.stem == folder.name] or configs
    if not preferred:
        return None
    loaded = yaml.safe_load(preferred[0].read_text())
    return loaded if isinstance(loaded, dict) else None


def _needs_model(config: dict[str, Any]) -> bool:
    """A reference to a model server from anything but an agent (a judge), or a model instance besides
    the policy model."""
    for body in config.values():
        if not isinstance(body, dict):
            continue
        if "responses_api_models" in body:
            return True
        if ROLE in body and "'responses_api_models'" in repr(body[ROLE]):
            return True
    return False


def _reward(row: dict[str, Any]) -> float | None:
    value = row.get("reward")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


# ------------------------------------------------------------------------------------------ a batch


def servers_config(
    cases: list[ServerCase], version: str, replay_url: str, *, head_port: int | None = None
) -> dict[str, Any]:
    """A gymbox config of the servers (and so their Ray head): each in its own container. A server that
    crashes stays down (`restart: "no"`), so it is seen failed at once. The model instances their fields
    name (judges) are `url:` instances at `replay_url`, outside the stack. A server driven by NeMo's own
    agent gets that agent in the stack too, published on the host at its `agent_port`, its model the
    `url:` instance REPLAY_INSTANCE; the stack's NeMo head server is then published on `head_port`."""
    judges = sorted({m for case in cases for m in case.models})
    nemo_agents = [case for case in cases if case.agent]
    config: dict[str, Any] = {
        name: {MODELS: {"replay_model": {"url": replay_url, "rollouts": []}}}
        for name in [*judges, *([REPLAY_INSTANCE] if nemo_agents else [])]
    }
    for case in cases:
        fields = {**case.fields, "nemo_gym": {"server": case.name, "version": version}, "restart": "no"}
        config[case.name] = {ROLE: {case.name: fields}}
    for case in nemo_agents:
        agent = {
            **case.agent_fields,
            "resources_server": {"type": ROLE, "name": case.name},
            "model_server": {"type": MODELS, "name": REPLAY_INSTANCE},
            "nemo_gym": {"server": case.agent, "version": version},
            "port": case.agent_port,
            "restart": "no",
        }
        config[agent_name(case.name)] = {AGENTS: {case.agent: agent}}
    if nemo_agents:
        config["head_server"] = {"port": head_port or HEAD_SERVER_PORT}
    return config


def agents_config(servers: dict[str, str], replay_url: str, rollouts: list[Path]) -> dict[str, Any]:
    """gymbox's agents for servers at {name: url}, each playing `replay_url`'s recordings."""
    config: dict[str, Any] = {
        REPLAY_INSTANCE: {
            "responses_api_models": {"replay_model": {"url": replay_url, "rollouts": [str(p) for p in rollouts]}}
        }
    }
    for name, url in servers.items():
        config[name] = {ROLE: {name: {"url": url}}}
        config[agent_name(name)] = {
            "responses_api_agents": {
                "simple_agent": {
                    "resources_server": {"type": ROLE, "name": name},
                    "model_server": {"type": "responses_api_models", "name": REPLAY_INSTANCE},
                    "max_steps": 100,
                }
            }
        }
    return config


def agent_name(server: str) -> str:
    return f"{server}_agent"


def task_rows(case: ServerCase) -> list[dict[str, Any]]:
    """The rows to collect: each recorded rollout's task row.

    That is the data row it was collected from, when example.jsonl has it (recorded rollouts of older
    releases keep only the input, not the task fields a server seeds from); of several data rows with
    the same input, the one whose task fields the rollout echoes; else the data row its `_ng_task_index`
    names, if the rollout's input extends that row's (an agent such as NeMo's gymnasium_agent records its
    first observation as part of the input). Else the rollout without its outcome,
    and, where example.jsonl has rows, only the fields they have: a verifier that adds `verdict` to its
    answer (`**body, verdict=...`) fails on a task row that already holds one.
    """
    examples: dict[str, list[dict[str, Any]]] = {}
    in_order: list[dict[str, Any]] = []
    example_file = case.folder / "data" / "example.jsonl"
    if example_file.is_file():
        for line in example_file.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
                examples.setdefault(_row_key(row), []).append(row)
                in_order.append(row)
            except (json.JSONDecodeError, AttributeError, TypeError, KeyError):
                continue
    task_fields = {k for rows in examples.values() for row in rows for k in row} | {PARAMS, "agent_ref"}
    rows = []
    used: set[int] = set()
    for _, rollout in read_rollouts(case.folder / "data" / "example_rollouts.jsonl"):
        if _reward(rollout) is None:
            continue
        candidates = examples.get(_row_key(rollout), []) or _indexed_row(in_order, rollout)
        echoed = [c for c in candidates if all(rollout.get(k, v) == v for k, v in c.items() if k != PARAMS)]
        unused = [c for c in echoed or candidates if id(c) not in used]  # same input: each data row once
        own = task_row(rollout)
        own = {k: v for k, v in own.items() if k in task_fields} if examples else own
        chosen = (unused or echoed or candidates or [own])[0]
        used.add(id(chosen))
        rows.append(chosen)
    return rows


def _row_key(row: dict[str, Any]) -> str:
    return input_key(input_items(row["responses_create_params"].get("input")))


def _indexed_row(rows: list[dict[str, Any]], rollout: dict[str, Any]) -> list[dict[str, Any]]:
    """[the data row at the rollout's `_ng_task_index`] when the rollout's input starts with its input."""
    index = rollout.get("_ng_task_index")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(rows):
        return []
    own = input_items(rows[index][PARAMS].get("input"))
    recorded = input_items(rollout[PARAMS].get("input"))
    return [rows[index]] if input_key(own) == input_key(recorded[: len(own)]) else []


def compare(case: ServerCase, collected: list[dict[str, Any]]) -> tuple[int, int]:
    """(recorded rows with a reward, rows whose reward was reproduced). Rows sharing an input are
    compared as a multiset, since which of them played which recording is not fixed."""
    recorded: dict[str, list[float]] = {}
    for _, rollout in read_rollouts(case.folder / "data" / "example_rollouts.jsonl"):
        reward = _reward(rollout)
        if reward is not None:
            recorded.setdefault(_row_key(rollout), []).append(reward)
    got: dict[str, list[float]] = {}
    for row in collected:
        reward = _reward(row)
        if reward is not None and row.get("status") in ("ok", "model_error"):
            got.setdefault(_row_key(row), []).append(reward)
    matched = 0
    for key, rewards in recorded.items():
        remaining = Counter(_rounded(r) for r in got.get(key, []))
        for reward in rewards:
            if remaining[_rounded(reward)] > 0:
                remaining[_rounded(reward)] -= 1
                matched += 1
    return sum(len(r) for r in recorded.values()), matched


def _rounded(value: float) -> float:
    return round(value, 6) if math.isfinite(value) else value


def collect(agent_url: str, case: ServerCase, work: Path, *, timeout_s: float = 600) -> list[dict[str, Any]]:
    """Run `gymbox rollout` for one server's tasks; the rows it wrote (failures included, as rows)."""
    inputs = work / f"{case.name}_tasks.jsonl"
    inputs.write_text("".join(json.dumps(row) + "\n" for row in task_rows(case)), encoding="utf-8")
    out = work / f"{case.name}_rollouts.jsonl"
    argv = [
        sys.executable,
        "-m",
        "gymbox.cli",
        "rollout",
        "--url",
        agent_url,
        "--agent",
        agent_name(case.name),
        "-i",
        str(inputs),
        "-o",
        str(out),
        "--concurrency",
        "1",  # in file order: rows that share an input replay their recordings in order
        "--max-attempts",
        "1",
        "--max-failures",
        "1000000",  # failures are counted by the comparison, not by the exit code
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
    (work / f"{case.name}_rollout.log").write_text(done.stdout + done.stderr, encoding="utf-8")
    if not out.is_file():
        return []
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines() if line.strip()]


def markdown_table(results: list[ServerResult]) -> str:
    """The table the README shows: server, built, healthy, rows, rewards matched, reason skipped."""

    def mark(value: bool | None) -> str:
        return "-" if value is None else ("yes" if value else "no")

    lines = ["| server | built | healthy | rows | rewards matched | reason skipped |", "|---|---|---|---|---|---|"]
    for r in sorted(results, key=lambda r: r.name):
        matched = f"{r.matched}/{r.rows}" if r.rows else "-"
        reason = "; ".join(part for part in (JUDGED.get(r.judged, ""), r.reason) if part)
        lines.append(f"| `{r.name}` | {mark(r.built)} | {mark(r.healthy)} | {r.rows or '-'} | {matched} | {reason} |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------ the run


def host_address() -> str:
    """This host's address on Docker's default bridge, which containers of any stack can reach."""
    import os

    if os.environ.get("GYMBOX_HOST_ADDRESS"):
        return os.environ["GYMBOX_HOST_ADDRESS"]
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "docker0"], capture_output=True, text=True, check=False)
    found = re.search(r"inet (\d+\.\d+\.\d+\.\d+)/", out.stdout)
    return found.group(1) if found else "172.17.0.1"


def run_release(
    version: str,
    work: Path,
    *,
    names: list[str] | None = None,
    batch_size: int = 10,
    stack_prefix: str = "nemo-replay",
    log: Any = print,
) -> list[ServerResult]:
    """Build, start and replay every (or each named) server of a release; one result per server."""
    import socket

    from gymbox.docker.images import BuildOptions, build, resolve_ca_bundle
    from gymbox.errors import DockerError
    from gymbox.model_servers.replay_model import ReplayModelConfig, ReplayModelServer
    from gymbox.nemo.images import layer_spec, server_spec
    from gymbox.nemo.servers import NemoServer
    from gymbox.testing import serve_app

    work.mkdir(parents=True, exist_ok=True)
    cases = release_cases(version, names)
    results = {c.name: ServerResult(c.name, reason=c.skip, judged=c.judged) for c in cases}
    runnable = [c for c in cases if not c.skip]
    options = BuildOptions(ca_bundle=resolve_ca_bundle(None), log=log)
    layer = build(layer_spec(version, options), options)
    for case in runnable:
        spec = server_spec(NemoServer(case.name, case.name, case.folder, "app.py", version), layer)
        try:
            build(spec, options)
            results[case.name].built = True
        except DockerError as exc:
            results[case.name].built = False
            results[case.name].reason = "build failed: " + _last_error_line(exc.stderr)
    runnable = [c for c in runnable if results[c.name].built]

    replay = ReplayModelServer(
        ReplayModelConfig(rollouts=[str(c.folder / "data" / "example_rollouts.jsonl") for c in runnable])
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host_address(), 0))
    with serve_app(replay.build_app(), sock) as replay_url:
        for start in range(0, len(runnable), batch_size):
            batch = runnable[start : start + batch_size]
            _run_batch(batch, version, replay_url, f"{stack_prefix}-{start // batch_size}", work, results, log)
    return [results[c.name] for c in cases]


def _run_batch(
    batch: list[ServerCase],
    version: str,
    replay_url: str,
    stack: str,
    work: Path,
    results: dict[str, ServerResult],
    log: Any,
) -> None:
    """Start the batch's servers, one container each; drive each healthy one with gymbox's agent (in this
    process, reaching the server at its container address); take the stack down."""
    from gymbox.config import load_config
    from gymbox.docker.deploy import build_and_render
    from gymbox.docker.images import BuildOptions, resolve_ca_bundle
    from gymbox.docker.stack import Stack

    for case in batch:
        case.agent_port = _free_port() if case.agent else 0
    head_port = _free_port() if any(case.agent for case in batch) else None
    config_file = work / f"{stack}.yaml"
    config_file.write_text(
        yaml.safe_dump(servers_config(batch, version, replay_url, head_port=head_port), sort_keys=False)
    )
    config = load_config([config_file], env_file=Path("/dev/null"))
    log(f"{stack}: starting {len(batch)} servers: {', '.join(c.name for c in batch)}")
    _, rendered = build_and_render(config, stack, BuildOptions(ca_bundle=resolve_ca_bundle(None)))
    running = Stack(stack, rendered.directory)
    with running.teardown_on_error():
        proc = running.start(work / f"{stack}-compose.log")
        nemo_agents = {agent_name(c.name): c.name for c in batch if c.agent}
        names = [*(c.name for c in batch), *nemo_agents]
        settled = _settle(running, names, timeout_s=SETTLE_TIMEOUT_S, needs=nemo_agents)
        proc.wait(timeout=300)
        addresses: dict[str, str] = {}  # servers driven by gymbox's agent: their container URLs
        agent_urls: dict[str, str] = {}  # servers driven by NeMo's agent: that agent's URL on the host
        for case in batch:
            state = settled[case.name]
            if case.agent and state.startswith("http://") and not settled[agent_name(case.name)].startswith("http"):
                state = f"NeMo's {case.agent} {settled[agent_name(case.name)]}"
            results[case.name].healthy = state.startswith("http://")
            if not results[case.name].healthy:
                results[case.name].reason = state
                log(f"{case.name}: {state}")
            elif case.agent:
                agent_urls[case.name] = f"http://127.0.0.1:{case.agent_port}"
            else:
                addresses[case.name] = state
        _replay(batch, addresses, agent_urls, replay_url, work, results, log)
    running.down()


SETTLE_TIMEOUT_S = 1200.0
RAY_CLIENT_RETRIES = 4
_RAY_CLIENT_FLAKE = re.compile(r"Starting Ray client server failed|Initialization failure from server")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _settle(stack: Any, names: list[str], *, timeout_s: float, needs: dict[str, str] | None = None) -> dict[str, str]:
    """{server: its URL once healthy, else why not} once every server is healthy or has failed.
    `needs`: {agent: its server}; compose does not start an agent whose server failed, and gives up on
    it when the server, started again here, was not healthy in time: it is started once that server is."""
    import time

    from gymbox.docker.client import compose, docker
    from gymbox.docker.service import CONTAINER_PORT

    settled: dict[str, str] = {}
    starts: dict[str, int] = {}
    restarted: set[str] = set()  # servers started again, whose agents compose may have given up on
    deadline = time.monotonic() + timeout_s
    while len(settled) < len(names) and time.monotonic() < deadline:
        containers = stack.containers()
        for container in containers:
            name = container.instance
            if name not in names or name in settled:
                continue
            if container.health == "healthy" and container.ip_addresses:
                settled[name] = f"http://{container.ip_addresses[0]}:{CONTAINER_PORT}"
            elif container.failed:
                logs = stack.logs(container, tail=40)
                exited = container.state.status == "exited"
                if exited and _RAY_CLIENT_FLAKE.search(logs) and starts.get(name, 0) < RAY_CLIENT_RETRIES:
                    # A loaded host can keep the Ray head from answering a new client in time: start it again.
                    starts[name] = starts.get(name, 0) + 1
                    docker("start", container.id, check=False)
                    restarted.add(name)
                    continue
                settled[name] = "did not start: " + _last_error_line(logs)
        present = {container.instance for container in containers}
        for name, server in (needs or {}).items():
            if name not in settled and not settled.get(server, "http").startswith("http"):
                settled[name] = f"not started: {server} did not start"
            elif name not in present and server in restarted and settled.get(server, "").startswith("http"):
                up = ("up", "--detach", "--no-build", "--no-deps", name)
                compose(stack.project, [str(stack.compose_file)], *up, check=False, timeout=300)
                restarted.discard(server)
        time.sleep(2)
    for name in names:
        settled.setdefault(name, f"not healthy within {timeout_s:.0f} s")
    return settled


def _replay(
    batch: list[ServerCase],
    addresses: dict[str, str],
    agent_urls: dict[str, str],
    replay_url: str,
    work: Path,
    results: dict[str, ServerResult],
    log: Any,
) -> None:
    """Serve gymbox's agent here for each server at `addresses` (NeMo's agents are at `agent_urls`, in the
    stack), collect each one's recorded tasks, compare the rewards."""
    from contextlib import ExitStack

    from gymbox.config import load_config
    from gymbox.registry import build_app
    from gymbox.testing import serve_app

    with ExitStack() as serving:
        agents = dict(agent_urls)
        if addresses:
            rollouts = [c.folder / "data" / "example_rollouts.jsonl" for c in batch if c.name in addresses]
            config_file = work / "agents.yaml"
            config_file.write_text(yaml.safe_dump(agents_config(addresses, replay_url, rollouts), sort_keys=False))
            config = load_config([config_file], env_file=Path("/dev/null"), assign_ports=False)
            for name in addresses:
                agents[name] = serving.enter_context(serve_app(build_app(config, agent_name(name))))
        for case in batch:
            if case.name not in agents:
                continue
            rows = collect(agents[case.name], case, work)
            results[case.name].rows, results[case.name].matched = compare(case, rows)
            results[case.name].reason = _rejected(work / f"{case.name}_rollouts_rejects.jsonl") or _failed(
                work / f"{case.name}_rollouts_failures.jsonl"
            )
            log(f"{case.name}: {results[case.name].matched}/{results[case.name].rows} rewards matched")


def _rejected(rejects: Path) -> str:
    """Why rows could not be replayed at all: the server refused the task rows the recording holds."""
    lines = _records(rejects)
    if not lines:
        return ""
    missing = re.findall(r'"loc": \["body", "([^"]+)"\], "msg": "Field required"', str(lines[0].get("error")))
    why = f"its task rows lack {', '.join(sorted(set(missing)))}" if missing else _last_error_line(str(lines[0]))
    return f"{len(lines)} row(s) refused by the server: {why} (the recording does not hold them)"


def _failed(failures: Path) -> str:
    """Why rows failed: the first failure's error; a replayed episode that left its recording says so."""
    lines = _records(failures)
    if not lines:
        return ""
    error = str(lines[0].get("error", ""))
    inner = re.search(r'calling an inner server: .*?"detail":\s*"([^"]+)"', error)  # a NeMo agent's peer's answer
    if "no recorded rollout has this input" in error:
        why = "the model was asked with an input no recording has (the environment answered otherwise than recorded)"
    elif inner:
        why = f"the resources server answered {inner.group(1)!r}"
    else:
        why = _last_error_line(error)
    return f"{len(lines)} row(s) failed: {why}".replace("|", "/")  # a table cell


def _records(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of a collector's side file (rejects, failures); none when it was not written."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _last_error_line(text: str) -> str:
    """The most telling line of a failure's output: the last that names an error."""
    lines = [line.strip(" |") for line in text.splitlines() if line.strip(" |")]
    errors = [line for line in lines if re.search(r"error|exception|not found|failed", line, re.IGNORECASE)]
    line = (errors or lines or ["(no output)"])[-1]
    return line[:160].replace("|", "/")
