"""code_exec's sandbox in its real, hardened container: hostile code harms nothing and honest code scores.

One stack serves the tests in file order, so each attack is followed by the honest runs it would have
spoiled. Hostile answers scored through the collector are written so that they would earn reward 1.0 if
the sandbox let them do what they try (reach another container, write outside their folders): a 0
then proves the containment, not a bug in the code. Attacks that need two runs at once, or a look at
what a run saw, are sent straight to the sandbox's /execute from the environment's container (the only
one on its network). docs/sandbox.md describes each defence these tests exercise.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gymbox.docker.client import docker
from gymbox.docker.stack import Stack
from tests.docker.conftest import ROOT, gymbox

pytestmark = pytest.mark.docker

CONFIG = str(ROOT / "environments/code_exec/configs/code_exec.yaml")
AGENT = "code_exec_simple_agent"
SANDBOX = "code_sandbox"
SETTINGS = ("tmpfs_mb=32", "disk_mb=16")  # small shared /tmp and run folders: quick to fill
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
    # The environment's server shares the sandbox's network: only the runs' missing sockets keep it out.
    "network_to_the_environment": "import socket\ndef add(a, b):\n"
    "    socket.create_connection(('code_exec', 8000), timeout=3).close()\n    return a + b\n",
    "write_outside_tmp": "def add(a, b):\n    for path in ('/srv/pwned', '/home/gymbox/pwned', '/pwned'):\n"
    "        open(path, 'w').write('x')\n    return a + b\n",
    # A process that outlives the run, in a session of its own: killed once the harness has exited.
    "daemon_left_behind": "import os, time\ndef add(a, b):\n    if os.fork() == 0:\n        os.setsid()\n"
    "        time.sleep(600)\n    return None\n",
}

# Signals to the server (the harness's parent, PID 1) and to every process the run's user may signal
# (-1). The function itself is right: it earns 1.0 only if the server lived through it.
KILLER = (
    "import os, signal\ndef add(a, b):\n    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGKILL):\n"
    "        for pid in (os.getppid(), 1, -1):\n            try:\n                os.kill(pid, sig)\n"
    "            except OSError:\n                pass\n    return a + b\n"
)

# A wrong answer that leaves what once made cleanup raise (a 500, an infra_error instead of its 0):
# folders without permissions, a FIFO, a socket, deep nesting; in its folder and in /tmp.
LOCKED_WRONG = """
import os, socket
for base in ('.', '/tmp/locked-' + str(os.getpid())):
    os.makedirs(base + '/locked/inner', exist_ok=True)
    open(base + '/locked/inner/file', 'w').write('x')
    os.mkfifo(base + '/locked/fifo')
    socket.socket(socket.AF_UNIX).bind(base + '/locked/sock')
    deep = base + '/locked/deep'
    os.makedirs(deep)
    here = os.getcwd()
    os.chdir(deep)
    for _ in range(2000):
        os.mkdir('d'); os.chdir('d')
    os.chdir(here)
    os.chmod(base + '/locked/inner', 0)
    os.chmod(base + '/locked', 0)
def add(a, b):
    return a - b
"""

# Fills every place a run may write (its folder, /tmp, /dev/shm), file after file past RLIMIT_FSIZE,
# and reports the errno that stopped it: 28 (ENOSPC) proves the place was full.
FILL = """
import os
def fill(folder):
    for i in range(10_000):
        try:
            with open(os.path.join(folder, f'fill-{os.getpid()}-{i}'), 'wb') as f:
                while True:
                    f.write(b'x' * 2**20)
        except OSError as exc:
            if exc.errno != 27:  # EFBIG: this file is at its limit, start the next one
                return exc.errno
for folder in ('.', '/tmp', '/dev/shm'):
    print(folder, fill(folder))
"""

# What a run leaves behind for the next one: files, a FIFO named like the old output files.
PLANT = """
import os
for folder in ('.', '/tmp', '/dev/shm'):
    open(os.path.join(folder, 'planted'), 'w').write('left behind')
    os.makedirs(os.path.join(folder, 'io'), exist_ok=True)
    os.mkfifo(os.path.join(folder, 'io', 'stdout'))
    os.chmod(os.path.join(folder, 'io'), 0o777)
print('planted')
"""
LOOK = """
import os
print(sorted(os.listdir('.')), sorted(os.listdir('/tmp')), sorted(os.listdir('/dev/shm')))
"""

# Every way the old sandbox let one run reach another or the server: write its stdout (files in a
# shared folder, /proc/PID/fd/1), signal, trace or open the memory of any process it can see.
ATTACKER = r"""
import ctypes, glob, os, signal, time
libc = ctypes.CDLL(None, use_errno=True)
me, mine = os.getpid(), os.getcwd()
done = {'forged': 0, 'signalled': 0, 'traced': 0, 'memory': 0}
end = time.monotonic() + 3
while time.monotonic() < end:
    for path in glob.glob('/sandbox/*/**', recursive=True) + glob.glob('/tmp/**', recursive=True):
        if path.startswith(mine):
            continue
        try:
            with open(path, 'w') as f:
                f.write('FORGED BY ANOTHER RUN\n'); done['forged'] += 1
        except OSError:
            pass
    for pid in [int(p) for p in os.listdir('/proc') if p.isdigit() and int(p) != me]:
        try:
            with open(f'/proc/{pid}/fd/1', 'w') as f:
                f.write('FORGED BY ANOTHER RUN\n'); done['forged'] += 1
        except OSError:
            pass
        try:
            with open(f'/proc/{pid}/mem', 'r+b'):
                done['memory'] += 1
        except OSError:
            pass
        if libc.ptrace(0x4206, pid, 0, 0) == 0:  # PTRACE_SEIZE
            done['traced'] += 1
        try:
            os.kill(pid, signal.SIGSTOP); done['signalled'] += 1
        except OSError:
            pass
    time.sleep(0.05)
print(done)
"""
VICTIM = "import time\nprint('mine', flush=True)\ntime.sleep(2)\nprint('still mine')\n"

# The server's memory and threads: the old sandbox let a run open /proc/1/mem and seize all of them.
TRACER = r"""
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
try:
    open('/proc/1/mem', 'r+b'); print('memory open', flush=True)
except OSError as exc:
    print('memory', exc.errno, flush=True)
try:
    tids = os.listdir('/proc/1/task')
except OSError:
    tids = ['1']
seized = [libc.ptrace(0x4206, int(tid), 0, 0) == 0 for tid in tids]
print('seized', sum(seized), 'of', len(seized), flush=True)  # flushed: SIGKILL ends this run
time.sleep(60)
"""

NETWORK = """
import socket
def attempt(what, make):
    try:
        make(); print(what, 'open')
    except OSError as exc:
        print(what, exc.errno)
attempt('inet', lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))
attempt('inet6', lambda: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM))
attempt('packet', lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW))
attempt('netlink', lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW))
for host in ('code_exec', '127.0.0.1', '{gateway}'):
    attempt(host, lambda: socket.create_connection((host, 8000), timeout=3))
"""

# Asks the sandbox for several runs at once, from inside the environment's container.
EXECUTE_ALL = r"""
import json, sys, threading, urllib.error, urllib.request
bodies = json.load(sys.stdin)
results = [None] * len(bodies)
def post(i, body):
    request = urllib.request.Request('http://code_sandbox:8000/execute', json.dumps(body).encode(),
                                     {'content-type': 'application/json'})
    try:
        with urllib.request.urlopen(request, timeout=300) as answer:
            results[i] = [answer.status, json.load(answer)]
    except urllib.error.HTTPError as exc:
        results[i] = [exc.code, json.load(exc)]
threads = [threading.Thread(target=post, args=(i, body)) for i, body in enumerate(bodies)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps(results))
"""

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
    return docker("exec", container(stack, SANDBOX)["Id"], "python", "-c", code).stdout


def execute(stack: str, *bodies: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """POST each body to the sandbox's /execute at the same time; (HTTP status, answer) for each."""
    env = container(stack, "code_exec")["Id"]
    out = docker("exec", "-i", env, "python", "-c", EXECUTE_ALL, input=json.dumps(bodies), timeout=600).stdout
    return [(status, answer) for status, answer in json.loads(out)]


def execute_one(stack: str, code: str, **body: Any) -> dict[str, Any]:
    [(status, answer)] = execute(stack, {"code": code, **body})
    assert status == 200, answer
    return answer


def collect(
    stack: str, rows: list[dict], tmp_path: Path, name: str, env: dict[str, str], concurrency: int = 8
) -> tuple[dict[str, dict], dict[str, dict]]:
    """(scored rollouts by id, failed rollouts by id)."""
    source, out = tmp_path / f"{name}.jsonl", tmp_path / f"{name}_rollouts.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    argv = ["rollout", "--stack", stack, "--agent", AGENT, "-i", str(source), "-o", str(out)]
    argv += ["--concurrency", str(concurrency), "--max-attempts", "2"]
    gymbox(*argv, env=env, timeout=600, check=False)
    failures = tmp_path / f"{name}_rollouts_failures.jsonl"

    def lines(path: Path) -> list[dict]:
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    # A failure row names its input line, not the row's fields.
    return {r["id"]: r for r in lines(out)}, {rows[r["line"] - 1]["id"]: r for r in lines(failures)}


def scored(
    stack: str, rows: list[dict], tmp_path: Path, name: str, env: dict[str, str], concurrency: int = 8
) -> dict[str, dict]:
    results, failures = collect(stack, rows, tmp_path, name, env, concurrency)
    assert not failures, failures
    return results


def assert_honest_runs_score(stack: str, tmp_path: Path, name: str, env: dict[str, str], count: int = 5) -> None:
    rows = [row(f"{name}-{i}", CORRECT) for i in range(count)]
    results = scored(stack, rows, tmp_path, name, env)
    assert [(r["status"], r["reward"]) for r in results.values()] == [("ok", 1.0)] * count


@pytest.fixture(scope="module")
def stack(gymbox_env: dict[str, str], docker_engine: None) -> Iterator[str]:
    name = f"test-sbx-{uuid.uuid4().hex[:8]}"
    sets = [arg for setting in SETTINGS for arg in ("--set", f"{SANDBOX}.sandboxes.python_sandbox.{setting}")]
    try:
        gymbox("up", "-c", CONFIG, "-m", "scripted", "--name", name, *sets, env=gymbox_env, timeout=900)
        yield name
    finally:
        Stack(name).down()


def test_hostile_code_is_contained_and_scored_zero(stack: str, gymbox_env: dict[str, str], tmp_path: Path) -> None:
    agent = container(stack, AGENT)
    agent_ip = next(iter(agent["NetworkSettings"]["Networks"].values()))["IPAddress"]
    sandbox = container(stack, SANDBOX)
    assert list(sandbox["NetworkSettings"]["Networks"]) == [f"gymbox-{stack}_{SANDBOX}-net"]

    hostile = {name: row(name, code.replace("{agent_ip}", agent_ip)) for name, code in HOSTILE.items()}
    # One at a time: a run starved by a neighbour is run again alone, which would blur what this test checks
    # (test_an_honest_run_starved_by_a_neighbour_scores_what_it_earns_alone checks that).
    results = scored(stack, list(hostile.values()), tmp_path, "hostile", gymbox_env, concurrency=1)
    for name in HOSTILE:
        assert results[name]["status"] == "ok", name
        assert results[name]["reward"] == 0.0, name
        assert results[name]["loaded"] == 1.0, name  # it ran: the zero comes from what it tried, not a syntax error

    killer = scored(stack, [row("killer", KILLER)], tmp_path, "killer", gymbox_env)["killer"]
    assert (killer["status"], killer["reward"]) == ("ok", 1.0)
    assert_honest_runs_score(stack, tmp_path, "after-hostile", gymbox_env)
    # The runtime image has the standard library and gymbox's dependencies, no more.
    importer = scored(stack, [row("importer", NEEDS_MATH_VERIFY)], tmp_path, "importer", gymbox_env)["importer"]
    assert (importer["reward"], importer["loaded"]) == (0.0, 0.0)


def test_runs_reach_no_network_address(stack: str) -> None:
    networks = container(stack, SANDBOX)["NetworkSettings"]["Networks"]
    gateway = next(iter(networks.values()))["Gateway"] or "172.17.0.1"  # the host, on the sandbox's bridge
    result = execute_one(stack, NETWORK.replace("{gateway}", gateway))
    errors = dict(line.rsplit(" ", 1) for line in result["stdout"].splitlines())
    # EACCES from the filter for every socket; a name cannot even be looked up (DNS needs a socket too).
    assert errors.pop("code_exec") != "open"
    assert errors == dict.fromkeys(["inet", "inet6", "packet", "netlink", "127.0.0.1", gateway], "13")


def test_a_run_cannot_trace_the_server_and_ends_at_its_wall_time(stack: str) -> None:
    result = execute_one(stack, TRACER, limits={"wall_s": 2})
    memory, seized = result["stdout"].splitlines()
    assert memory == "memory 13"
    assert seized.startswith("seized 0 of ")
    assert result["status"] == "timeout"
    assert result["wall_s"] < 4  # the server was never stopped: its deadline held
    assert execute_one(stack, "print('after')")["stdout"] == "after\n"


def test_concurrent_runs_cannot_forge_signal_trace_or_read_each_other(stack: str) -> None:
    (a_status, attacker), (v_status, victim) = execute(stack, {"code": ATTACKER}, {"code": VICTIM})
    assert (a_status, v_status) == (200, 200)
    assert (victim["status"], victim["stdout"]) == ("ok", "mine\nstill mine\n")
    assert attacker["stdout"] == "{'forged': 0, 'signalled': 0, 'traced': 0, 'memory': 0}\n", attacker


def test_what_a_run_leaves_is_gone_before_the_next_run(stack: str) -> None:
    assert execute_one(stack, PLANT)["stdout"] == "planted\n"
    # More runs than slots, so every slot's next run is looked at.
    looks = execute(stack, *[{"code": LOOK}] * 6)
    for status, answer in looks:
        assert status == 200, answer
        assert (answer["status"], answer["stdout"]) == ("ok", "['main.py'] [] []\n"), answer


def test_filling_every_writable_place_costs_later_honest_runs_nothing(
    stack: str, gymbox_env: dict[str, str], tmp_path: Path
) -> None:
    result = execute_one(stack, FILL)
    assert result["stdout"] == ". 28\n/tmp 28\n/dev/shm 28\n", result  # each place was full
    assert_honest_runs_score(stack, tmp_path, "after-fill", gymbox_env)


def test_a_wrong_answer_that_locks_its_folders_scores_zero_not_an_infra_error(
    stack: str, gymbox_env: dict[str, str], tmp_path: Path
) -> None:
    locked = scored(stack, [row("locked", LOCKED_WRONG)], tmp_path, "locked", gymbox_env)["locked"]
    assert (locked["status"], locked["reward"], locked["loaded"]) == ("ok", 0.0, 1.0)
    assert_honest_runs_score(stack, tmp_path, "after-locked", gymbox_env)


HOG_ALIVE = (  # prints True for each process of the hog, which the loop's body may then kill
    "import os\nfor p in filter(str.isdigit, os.listdir('/proc')):\n  try:\n"
    "    cmd = open(f'/proc/{p}/cmdline').read()\n  except OSError:\n    continue\n"
    "  if 'slot-' + 'hog' in cmd and int(p) != os.getpid():\n    print(True)"
)
FREE_BLOCKS = "import glob, os\nfor slot in sorted(glob.glob('/sandbox/slot-*')): print(os.statvfs(slot).f_bavail)"


def test_a_sandbox_that_cannot_run_honestly_gives_infra_errors_not_zeros(
    stack: str, gymbox_env: dict[str, str], tmp_path: Path
) -> None:
    # Outside any run (a root process of the container's own, as a failing disk or a stuck cleanup
    # would): fill every slot's folder with a file it keeps open, so deleting it frees nothing.
    hog = (
        "# slot-hog\nimport glob, os, sys, time\nfiles = []\nfor slot in glob.glob('/sandbox/slot-*'):\n"
        "    f = open(slot + '/hog', 'wb')\n    try:\n        while True: f.write(b'x' * 2**20)\n"
        "    except OSError:\n        f.flush()\n    files.append(f)\nprint('full', flush=True)\ntime.sleep(600)\n"
    )
    sandbox = container(stack, SANDBOX)["Id"]
    hog_proc = docker("exec", "-d", "-u", "0", sandbox, "python", "-c", hog)
    assert hog_proc.returncode == 0
    try:
        for _ in range(100):
            if sandbox_python(stack, FREE_BLOCKS).split() == ["0"] * 4:
                break
        [(status, answer)] = execute(stack, {"code": "print(1)"})
        assert status == 503, answer
        assert "cannot run code honestly" in answer["error"]
        results, failures = collect(stack, [row("refused", CORRECT)], tmp_path, "refused", gymbox_env)
        assert results == {}
        assert failures["refused"]["status"] == "infra_error"
        assert "cannot run code honestly" in failures["refused"]["error"]
    finally:
        sandbox_python(stack, HOG_ALIVE + "\n    os.kill(int(p), 9)")
    for _ in range(100):  # the killed process lets go of its files
        if "True" not in sandbox_python(stack, HOG_ALIVE):
            break
    # Once the disk is free again, the slots set aside are cleaned and used again: more runs at once
    # than slots, so that every slot is tried.
    recovered = execute(stack, *[{"code": "print(1)"}] * 6)
    assert [status for status, _ in recovered] == [200] * 6, recovered
    assert_honest_runs_score(stack, tmp_path, "after-refused", gymbox_env)


# Processes that spin in sessions of their own (Linux shares the CPU between sessions), three a core, then a
# sleep. code_exec allows a run 16 processes, enough to starve a run on up to 4 cores.
SPINNERS = 3 * (os.cpu_count() or 1)
STARVER = (
    f"import os, time\ndef add(a, b):\n    for _ in range({min(SPINNERS, 14)}):\n        if os.fork() == 0:\n"
    "            os.setsid()\n            while True:\n                pass\n    time.sleep(60)\n"
)
# Right, at 1.5 s of CPU a call: inside the 2 s budget of each, and inside the run's 7 s with a core to itself.
SLOW_BUT_RIGHT = (
    "import time\ndef add(a, b):\n    end = time.process_time() + 1.5\n    while time.process_time() < end:\n"
    "        pass\n    return a + b\n"
)


def sandbox_status(stack: str) -> dict[str, int]:
    status = "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8000/status').read().decode())"
    return json.loads(sandbox_python(stack, status))  # type: ignore[no-any-return]


@pytest.mark.skipif(
    SPINNERS > 14, reason="starving a run takes more processes than code_exec allows one on this many cores"
)
def test_an_honest_run_starved_by_a_neighbour_scores_what_it_earns_alone(
    stack: str, gymbox_env: dict[str, str], tmp_path: Path
) -> None:
    reruns = sandbox_status(stack)["reruns_alone"]
    rows = [row("starver", STARVER), row("slow_but_right", SLOW_BUT_RIGHT)]
    results = scored(stack, rows, tmp_path, "starved", gymbox_env, concurrency=2)
    assert (results["slow_but_right"]["status"], results["slow_but_right"]["reward"]) == ("ok", 1.0)
    assert results["starver"]["reward"] == 0.0
    assert sandbox_status(stack)["reruns_alone"] > reruns  # it timed out beside the starver, then ran alone


def test_the_sandbox_is_intact_after_every_attack(stack: str) -> None:
    sandbox = container(stack, SANDBOX)
    assert sandbox["RestartCount"] == 0
    assert sandbox["State"]["Status"] == "running"
    status = sandbox_status(stack)
    assert status["running"] == 0
    assert status["isolated_users"] == 1
    assert status["slots_set_aside"] == 0
    assert status["leftovers_killed"] > 0  # the daemons left behind, killed when their runs ended
    # Nothing of any run is left: every process is the server (PID 1), a health probe or this `docker exec`.
    listing = sandbox_python(
        stack,
        "import os\nfor p in filter(str.isdigit, os.listdir('/proc')):\n"
        "    print(p, open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()[0],"
        " open(f'/proc/{p}/cmdline').read().replace(chr(0), ' '))",
    )
    runs = [line for line in listing.splitlines() if "main.py" in line or " Z " in line]
    assert runs == [], listing
    # The container-level settings the per-run isolation stands on.
    host_config = sandbox["HostConfig"]
    assert host_config["ReadonlyRootfs"] is True
    assert host_config["PidsLimit"] == 512
    assert host_config["CapDrop"] == ["ALL"]
    assert sorted(host_config["CapAdd"]) == ["CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL", "SETGID", "SETUID"]
    assert "no-new-privileges:true" in host_config["SecurityOpt"]


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
        f"{SANDBOX}.sandboxes.python_sandbox.environment=math",
        env=gymbox_env,
        timeout=900,
    )
    sandbox = container(stack_name, SANDBOX)
    assert sandbox["Config"]["Image"].startswith("gymbox/env-math:")
    assert sandbox["HostConfig"]["ReadonlyRootfs"] is True
    result = scored(stack_name, [row("importer", NEEDS_MATH_VERIFY)], tmp_path, "importer", gymbox_env)["importer"]
    assert (result["status"], result["reward"], result["loaded"]) == ("ok", 1.0, 1.0)
