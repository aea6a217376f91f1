"""code_exec's sandbox in its real, hardened container: hostile submissions score 0 and harm nothing.

Each hostile answer below is written so that it would earn reward 1.0 if the sandbox let it do what it
tries (reach another container, write outside /tmp): a 0 then proves the containment, not a bug in
the code. Then a right answer that signals the server and every process it may (SIGTERM, SIGINT,
SIGKILL) still earns 1.0, and so does an honest one, from the same sandbox container, which has not
restarted and has nothing left running.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gymbox.docker.client import docker
from gymbox.docker.stack import Stack
from tests.docker.conftest import ROOT, gymbox

pytestmark = pytest.mark.docker

CONFIG = str(ROOT / "environments/code_exec/configs/code_exec.yaml")
AGENT = "code_exec_simple_agent"
CORRECT = "def add(a, b):\n    return a + b\n"
HOSTILE = {
    "infinite_loop": "def add(a, b):\n    while True:\n        pass\n",
    "fork_bomb": "import os\ndef add(a, b):\n    while True:\n        try:\n            os.fork()\n"
    "        except OSError:\n            pass\n",
    "memory_hog": "def add(a, b):\n    hog = []\n    while True:\n        hog.append(bytearray(10**7))\n",
    "network_by_name": "import socket\ndef add(a, b):\n"
    "    socket.create_connection(('policy_model', 8000), timeout=3).close()\n    return a + b\n",
    "network_by_address": "import socket\ndef add(a, b):\n"
    "    socket.create_connection(('{agent_ip}', 8000), timeout=3).close()\n    return a + b\n",
    "write_outside_tmp": "def add(a, b):\n    for path in ('/srv/pwned', '/home/gymbox/pwned', '/pwned'):\n"
    "        open(path, 'w').write('x')\n    return a + b\n",
}

# Signals to the server (the harness's parent, PID 1) and to every process the run's user may signal
# (-1). The function itself is right: it earns 1.0 only if the server lived through it.
KILLER = (
    "import os, signal\ndef add(a, b):\n    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGKILL):\n"
    "        for pid in (os.getppid(), 1, -1):\n            try:\n                os.kill(pid, sig)\n"
    "            except OSError:\n                pass\n    return a + b\n"
)

# Right, if the sandbox can import math-verify: only an environment's image (math's) has it.
NEEDS_MATH_VERIFY = "import math_verify\ndef add(a, b):\n    return a + b\n"


def row(task_id: str, code: str) -> dict:
    answer = f"```python\n{code}```"
    return {
        "id": task_id,
        "entry_point": "add",
        "tests": [{"args": [1, 2], "expected": 3}, {"args": [20, 22], "expected": 42}],
        "responses_create_params": {
            "input": [{"role": "user", "content": "Write add(a, b)."}],
            "tools": [],
            "metadata": {"gymbox_script": json.dumps([{"say": answer}])},
        },
    }


def container(stack: str, instance: str) -> dict:
    """The instance's one container, as `docker inspect` has it (HostConfig included)."""
    ids = [c.id for c in Stack(stack).containers() if c.instance == instance]
    assert len(ids) == 1, ids
    return json.loads(docker("inspect", ids[0]).stdout)[0]


def sandbox_python(stack: str, code: str) -> str:
    return docker("exec", container(stack, "code_sandbox")["Id"], "python", "-c", code).stdout


def collect(stack: str, rows: list[dict], tmp_path: Path, name: str, env: dict[str, str]) -> dict[str, dict]:
    source, out = tmp_path / f"{name}.jsonl", tmp_path / f"{name}_rollouts.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    gymbox(
        "rollout",
        "--stack",
        stack,
        "--agent",
        AGENT,
        "-i",
        str(source),
        "-o",
        str(out),
        "--concurrency",
        "8",
        env=env,
        timeout=600,
    )
    return {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}


def test_hostile_code_is_contained_and_scored_zero_without_harming_the_sandbox(
    stack_name: str, gymbox_env: dict[str, str], tmp_path: Path
) -> None:
    gymbox("up", "-c", CONFIG, "-m", "scripted", "--name", stack_name, env=gymbox_env, timeout=900)
    agent = container(stack_name, AGENT)
    agent_ip = next(iter(agent["NetworkSettings"]["Networks"].values()))["IPAddress"]
    sandbox = container(stack_name, "code_sandbox")
    assert list(sandbox["NetworkSettings"]["Networks"]) == [f"gymbox-{stack_name}_code_sandbox-net"]

    hostile = {name: row(name, code.replace("{agent_ip}", agent_ip)) for name, code in HOSTILE.items()}
    results = collect(stack_name, list(hostile.values()), tmp_path, "hostile", gymbox_env)
    for name in HOSTILE:
        result = results[name]
        assert result["status"] == "ok", (name, result.get("error"))
        assert result["reward"] == 0.0, name
        assert result["loaded"] == 1.0, name  # it ran: the zero comes from what it tried, not a syntax error

    killer = collect(stack_name, [row("killer", KILLER)], tmp_path, "killer", gymbox_env)["killer"]
    assert killer["status"] == "ok", killer.get("error")
    assert killer["reward"] == 1.0

    honest = collect(stack_name, [row("honest", CORRECT)], tmp_path, "honest", gymbox_env)["honest"]
    assert honest["status"] == "ok"
    assert honest["reward"] == 1.0
    # The runtime image has the standard library and gymbox's dependencies, no more.
    importer = collect(stack_name, [row("importer", NEEDS_MATH_VERIFY)], tmp_path, "importer", gymbox_env)["importer"]
    assert (importer["reward"], importer["loaded"]) == (0.0, 0.0)

    after = container(stack_name, "code_sandbox")
    assert after["Id"] == sandbox["Id"]
    assert after["RestartCount"] == 0
    assert after["State"]["Status"] == "running"
    status = json.loads(
        sandbox_python(
            stack_name,
            ("import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8000/status').read().decode())"),
        )
    )
    assert status["running"] == 0
    assert status["leftovers_killed"] > 0  # the fork bomb's children, killed when its run ended
    # Nothing of any run is left: every process is the server (PID 1), a health probe or this `docker exec`.
    listing = sandbox_python(
        stack_name,
        (
            "import os\nfor p in filter(str.isdigit, os.listdir('/proc')):\n"
            "    print(p, open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()[0],"
            " open(f'/proc/{p}/cmdline').read().replace(chr(0), ' '))"
        ),
    )
    runs = [line for line in listing.splitlines() if "main.py" in line or " Z " in line]
    assert runs == [], listing
    # The container-level settings the per-run limits stand on.
    host_config = after["HostConfig"]
    assert host_config["ReadonlyRootfs"] is True
    assert host_config["PidsLimit"] == 512
    assert host_config["CapDrop"] == ["ALL"]
    assert after["Config"]["User"] == "10002:10002"


def test_a_sandbox_in_an_environments_image_can_import_its_requirements(
    stack_name: str, gymbox_env: dict[str, str], tmp_path: Path
) -> None:
    gymbox(
        "up",
        "-c",
        CONFIG,
        "-m",
        "scripted",
        "--name",
        stack_name,
        "--set",
        "code_sandbox.sandboxes.python_sandbox.environment=math",
        env=gymbox_env,
        timeout=900,
    )
    sandbox = container(stack_name, "code_sandbox")
    assert sandbox["Config"]["Image"].startswith("gymbox/env-math:")
    assert sandbox["HostConfig"]["ReadonlyRootfs"] is True
    result = collect(stack_name, [row("importer", NEEDS_MATH_VERIFY)], tmp_path, "importer", gymbox_env)["importer"]
    assert (result["status"], result["reward"], result["loaded"]) == ("ok", 1.0, 1.0)
