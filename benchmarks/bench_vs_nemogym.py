"""gymbox beside NeMo Gym 0.4.0: the weather environment, the same rows, the same zero-latency policy.

    python benchmarks/bench_vs_nemogym.py [--levels 16 64 256 1024] [--rows 2000] [--paths nemo proxy scripted]
                                          [--repeats 1]

At each level (rollouts in flight) every path gets a fresh stack, started, timed and torn down in turn:
- `nemo`: NeMo Gym in one container of the nemo-gym layer image (gymbox/nemo/images.py), as `ng_run`
  starts it there: its head server, simple_agent, example_single_tool_call and openai_model, pointed at
  the policy; then `ng_collect_rollouts` in the same container.
- `proxy`: `gymbox up -m openai` (the `openai_model` proxy) pointed at the same policy; `gymbox rollout`.
- `scripted`: `gymbox up -m scripted` (no policy); `gymbox rollout`.

The policy is benchmarks/zero_latency_policy.py in a container of its own, on each stack's network.
Printed per run: rollouts/s over the collector command's wall time (whole) and from its first row to its
last (steady); CPU ms per rollout of each component, read from each container's cgroup (cpuacct) and
from /proc for the collector and docker-proxy, over the collection only; host CPU busy (/proc/stat)
over the same window; the collector's peak RSS; time from start to ready (`gymbox up`'s wall time;
`docker run` to ng_run's "servers ready"). `--repeats N` runs the whole sweep N times and sums each run
up, then lists each path's worst level in every run: that share moves by several per cent from run to run
on a small VM. The last figure takes each level's median over the runs first. Each phase is bounded by
--phase-timeout; everything this script starts carries the label bench=<run id> and is removed at the end,
also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = "environments/example_single_tool_call/configs/example_single_tool_call.yaml"
ROWS_SOURCE = ROOT / "environments/example_single_tool_call/data/example.jsonl"
AGENT = "example_single_tool_call_simple_agent"
NEMO_VERSION = "0.4.0"
POLICY_ALIAS = "policy"
POLICY_URL = f"http://{POLICY_ALIAS}:8000/v1"
CPUACCT = Path("/sys/fs/cgroup/cpuacct/docker")  # cgroup v1, cgroupfs driver (this VM)
ROLES = {"responses_api_agents": "agent", "responses_api_models": "model", "resources_servers": "environment"}
TICK_S = 1 / os.sysconf("SC_CLK_TCK")

# ng_run makes a venv per server with uv unless one is there: point each at the layer's own /opt/venv.
NEMO_START = """
SP=$(python -c 'import nemo_gym, os; print(os.path.dirname(os.path.dirname(nemo_gym.__file__)))')
for d in resources_servers/example_single_tool_call responses_api_agents/simple_agent responses_api_models/openai_model
do mkdir -p /tmp/venvs/$d && ln -s /opt/venv /tmp/venvs/$d/.venv; done
C1=$SP/resources_servers/example_single_tool_call/configs/example_single_tool_call.yaml
C2=$SP/responses_api_models/openai_model/configs/openai_model.yaml
cd /tmp && exec ng_run "+config_paths=[$C1,$C2]" +uv_venv_dir=/tmp/venvs +skip_venv_if_present=true \
+policy_base_url={url} +policy_api_key=bench +policy_model_name=policy
"""
NEMO_READY = "servers ready!"
# Runs the collector as a child so that its own peak RSS and CPU time can be reported.
RUSAGE_WRAPPER = (
    "import subprocess, resource, sys; rc = subprocess.call(sys.argv[1:]); "
    "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
    "print('BENCH_RUSAGE', u.ru_maxrss, u.ru_utime + u.ru_stime); sys.exit(rc)"
)


def sh(*args: str, timeout: float = 120, check: bool = True) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise SystemExit(f"{' '.join(args[:3])} ... failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return proc.stdout


def logs(container: str, tail: str = "all") -> str:
    """A container's output, stdout and stderr together (ng_run writes to both)."""
    return subprocess.run(
        ["docker", "logs", "--tail", tail, container], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ).stdout


def gymbox(*args: str, timeout: float) -> None:
    env = {**os.environ, "GYMBOX_CA_BUNDLE": os.environ.get("GYMBOX_CA_BUNDLE", "host")}
    proc = subprocess.run(
        [sys.executable, "-m", "gymbox.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env
    )
    if proc.returncode != 0:
        raise SystemExit(f"gymbox {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")


def cgroup_cpu_s(container_id: str) -> float:
    return int((CPUACCT / container_id / "cpuacct.usage").read_text()) / 1e9


def proc_cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) * TICK_S  # utime, stime


def host_busy() -> tuple[int, int]:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def docker_proxy_pids(host_ports: set[str]) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"docker-proxy") and b"-host-port" in argv:
            if argv[argv.index(b"-host-port") + 1].decode() in host_ports:
                pids.append(int(entry.name))
    return pids


@dataclass
class Meter:
    """CPU seconds of named containers and host processes, and host busy time, between start and stop."""

    containers: dict[str, list[str]]  # component -> container ids
    pids: dict[str, list[int]] = field(default_factory=dict)

    def read(self) -> dict[str, float]:
        out = {name: sum(cgroup_cpu_s(c) for c in ids) for name, ids in self.containers.items()}
        out.update({name: sum(proc_cpu_s(p) for p in pids) for name, pids in self.pids.items()})
        return out

    def start(self) -> None:
        self._cpu, self._host = self.read(), host_busy()

    def stop(self) -> tuple[dict[str, float], float]:
        cpu, host = self.read(), host_busy()
        busy = (host[0] - self._host[0]) / max(1, host[1] - self._host[1])
        return {name: cpu[name] - self._cpu[name] for name in cpu}, busy


class LineWatch(threading.Thread):
    """Counts the lines of a growing file; remembers when the first appeared and when `n` were there."""

    def __init__(self, path: Path, n: int) -> None:
        super().__init__(daemon=True)
        self.path, self.n = path, n
        self.first: float | None = None
        self.last: float | None = None
        self.halt = threading.Event()

    def run(self) -> None:
        count, offset = 0, 0
        while not self.halt.wait(0.1):
            try:
                with self.path.open("rb") as handle:
                    handle.seek(offset)
                    chunk = handle.read()
            except FileNotFoundError:
                continue
            offset += len(chunk)
            count += chunk.count(b"\n")
            now = time.monotonic()
            if count and self.first is None:
                self.first = now
            if count >= self.n:
                self.last = now
                return


@dataclass
class Result:
    path: str
    level: int
    ready_s: float
    whole: float
    steady: float
    written: int
    cpu_ms: dict[str, float]
    host_busy: float
    collector_rss_mib: float

    def total_ms(self, *, policy: bool) -> float:
        return sum(v for k, v in self.cpu_ms.items() if policy or k != "policy")


def write_rows(path: Path, n: int) -> None:
    examples = [json.loads(line) for line in ROWS_SOURCE.read_text().splitlines()]
    with path.open("w") as handle:
        for i in range(n):
            handle.write(json.dumps({**examples[i % len(examples)], "bench_id": i}) + "\n")
    path.chmod(0o644)


def container_ids(label: str) -> list[str]:
    return sh("docker", "ps", "-q", "--no-trunc", "--filter", f"label={label}").split()


def nemo_layer_image() -> str:
    from gymbox.docker.images import BuildOptions, image_exists
    from gymbox.nemo.images import layer_spec

    tag = layer_spec(NEMO_VERSION, BuildOptions()).tag
    if not image_exists(tag):
        raise SystemExit(f"{tag} is not built; `gymbox up` a stack with a NeMo Gym {NEMO_VERSION} server first")
    return tag


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args, self.work = args, work
        self.run_id = f"vsng-{uuid.uuid4().hex[:6]}"
        self.label = f"bench={self.run_id}"
        self.rows = work / "rows.jsonl"
        write_rows(self.rows, args.rows)
        self.image = nemo_layer_image()
        self.policy = f"{self.run_id}-policy"
        self.network = f"{self.run_id}-net"

    def start_policy(self) -> None:
        sh("docker", "network", "create", "--label", self.label, self.network)
        sh(
            "docker", "run", "-d", "--name", self.policy, "--label", self.label, "--network", self.network,
            "--network-alias", POLICY_ALIAS, "-v", f"{ROOT / 'benchmarks/zero_latency_policy.py'}:/policy.py:ro",
            "--entrypoint", "python", self.image, "/policy.py",
        )  # fmt: skip
        self.policy_id = sh("docker", "inspect", "-f", "{{.Id}}", self.policy).strip()

    def teardown(self) -> None:
        for name in sh("docker", "ps", "-aq", "--filter", f"label={self.label}", check=False).split():
            sh("docker", "rm", "-f", name, check=False)
        sh("docker", "network", "rm", self.network, check=False)

    def run_nemo(self, level: int) -> Result:
        name = f"{self.run_id}-nemo-{level}"
        out_dir = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.work))  # one per run of the level (--repeats)
        out_dir.chmod(0o777)  # the container's user (10001) writes the rollouts there
        started = time.monotonic()
        sh(
            "docker", "run", "-d", "--name", name, "--label", self.label, "--network", self.network,
            "--shm-size", "1g", "-v", f"{self.rows}:/bench/rows.jsonl:ro",
            "-v", f"{out_dir}:/bench/out", "--entrypoint", "bash", self.image, "-c", NEMO_START.format(url=POLICY_URL),
        )  # fmt: skip
        try:
            while NEMO_READY not in logs(name):
                if time.monotonic() - started > self.args.phase_timeout:
                    raise SystemExit(f"NeMo Gym not ready after {self.args.phase_timeout:g} s")
                if sh("docker", "inspect", "-f", "{{.State.Running}}", name, check=False).strip() != "true":
                    raise SystemExit(f"NeMo Gym exited:\n{logs(name, '60')}")
                time.sleep(1)
            ready_s = time.monotonic() - started
            container = sh("docker", "inspect", "-f", "{{.Id}}", name).strip()
            meter = Meter({"nemo servers": [container], "policy": [self.policy_id]})
            command = [
                "docker", "exec", "-w", "/tmp", name, "python", "-c", RUSAGE_WRAPPER, "ng_collect_rollouts",
                f"+agent_name={AGENT}", "+input_jsonl_fpath=/bench/rows.jsonl",
                "+output_jsonl_fpath=/bench/out/rollouts.jsonl", f"+num_samples_in_parallel={level}",
            ]  # fmt: skip
            whole, steady, written, cpu, busy, text = self._collect(command, meter, out_dir / "rollouts.jsonl")
            rss_kib, collector_s = next(
                (int(w[1]), float(w[2])) for line in text.splitlines() if (w := line.split())[:1] == ["BENCH_RUSAGE"]
            )
            # The collector ran in the servers' container: its own CPU is counted apart.
            cpu["nemo servers"] -= collector_s
            cpu["collector"] = collector_s
            return self._result("nemo", level, ready_s, whole, steady, written, cpu, busy, rss_kib / 1024)
        finally:
            sh("docker", "rm", "-f", name, check=False)

    def run_gymbox(self, path: str, level: int) -> Result:
        stack = f"{self.run_id}-{path}-{level}"
        model = ["-m", "scripted"] if path == "scripted" else ["-m", "openai"]
        overrides = (
            [f"policy_base_url={POLICY_URL}", "policy_api_key=bench", "policy_model_name=policy"]
            if path == "proxy"
            else []
        )
        # Images are content-tagged: a checkout edited since the last build rebuilds here, not in `up`'s time.
        gymbox("build", "-c", CONFIG, "-m", "scripted", timeout=self.args.phase_timeout)
        started = time.monotonic()
        try:
            gymbox("up", "-c", CONFIG, *model, "--name", stack, *overrides, timeout=self.args.phase_timeout)
            ready_s = time.monotonic() - started
            if path == "proxy":
                sh("docker", "network", "connect", "--alias", POLICY_ALIAS, f"gymbox-{stack}_default", self.policy)
            containers: dict[str, list[str]] = {}
            ports: set[str] = set()
            for cid in container_ids(f"gymbox.stack={stack}"):
                info = json.loads(sh("docker", "inspect", cid))[0]
                role = ROLES.get(info["Config"]["Labels"].get("gymbox.role", ""), "other")
                containers.setdefault(role, []).append(info["Id"])
                for bindings in (info["NetworkSettings"]["Ports"] or {}).values():
                    ports.update(b["HostPort"] for b in bindings or [])
            if path == "proxy":
                containers["policy"] = [self.policy_id]
            meter = Meter(containers, {"docker-proxy": docker_proxy_pids(ports)})
            out = self.work / f"{stack}.jsonl"
            out.unlink(missing_ok=True)  # an earlier run of the same level (--repeats)
            command = [
                sys.executable, "-c", RUSAGE_WRAPPER, sys.executable, "-m", "gymbox.cli", "rollout",
                "--stack", stack, "--agent", AGENT, "-i", str(self.rows), "-o", str(out), "-j", str(level),
                "--timeout", "120",
            ]  # fmt: skip
            whole, steady, written, cpu, busy, text = self._collect(command, meter, out)
            rss_kib, collector_s = next(
                (int(w[1]), float(w[2])) for line in text.splitlines() if (w := line.split())[:1] == ["BENCH_RUSAGE"]
            )
            cpu["collector"] = collector_s
            return self._result(path, level, ready_s, whole, steady, written, cpu, busy, rss_kib / 1024)
        finally:
            if path == "proxy":
                sh("docker", "network", "disconnect", "-f", f"gymbox-{stack}_default", self.policy, check=False)
            gymbox("down", "--name", stack, timeout=180)

    def _collect(
        self, command: list[str], meter: Meter, out: Path
    ) -> tuple[float, float, int, dict[str, float], float, str]:
        watch = LineWatch(out, self.args.rows)
        watch.start()
        meter.start()
        started = time.monotonic()
        try:
            proc = subprocess.run(
                command, cwd=ROOT, capture_output=True, text=True, timeout=self.args.phase_timeout, check=False
            )
        finally:
            watch.halt.set()
        elapsed = time.monotonic() - started
        cpu, busy = meter.stop()
        if proc.returncode != 0:
            raise SystemExit(f"collector failed ({proc.returncode}):\n{proc.stderr[-3000:]}\n{proc.stdout[-2000:]}")
        written = sum(1 for _ in out.open())
        first, last = watch.first or started, watch.last or started + elapsed
        steady = (written - 1) / max(1e-3, last - first)
        return written / elapsed, steady, written, cpu, busy, proc.stdout + proc.stderr

    def _result(
        self,
        path: str,
        level: int,
        ready_s: float,
        whole: float,
        steady: float,
        written: int,
        cpu: dict[str, float],
        busy: float,
        rss: float,
    ) -> Result:
        cpu_ms = {k: 1000 * v / written for k, v in cpu.items()}
        result = Result(path, level, ready_s, whole, steady, written, cpu_ms, busy, rss)
        parts = " ".join(f"{k}={v:.2f}" for k, v in sorted(cpu_ms.items()))
        print(
            f"{path:>8} {level:>5}  ready {ready_s:6.1f} s  whole {whole:6.1f}/s  steady {steady:6.1f}/s  "
            f"cpu {result.total_ms(policy=False):5.2f} ms/rollout (+policy {cpu_ms.get('policy', 0):.2f})  "
            f"[{parts}]  host busy {100 * busy:3.0f}%  collector {rss:5.1f} MiB"
            + ("" if written == self.args.rows else f"  ({written} written)"),
            flush=True,
        )
        return result


def summary(results: list[Result]) -> None:
    by = {(r.path, r.level): r for r in results}
    levels = sorted({r.level for r in results})
    print("\n| in flight | path | whole /s | steady /s | CPU ms/rollout (policy apart) | vs NeMo whole / steady |")
    print("|---|---|---|---|---|---|")
    for level in levels:
        nemo = by.get(("nemo", level))
        for path in ("nemo", "scripted", "proxy"):
            r = by.get((path, level))
            if r is None:
                continue
            ratio = f"{r.whole / nemo.whole:.1f}x / {r.steady / nemo.steady:.1f}x" if nemo and path != "nemo" else "—"
            print(
                f"| {level} | {path} | {r.whole:.0f} | {r.steady:.0f} | {r.total_ms(policy=False):.1f} "
                f"(+{r.cpu_ms.get('policy', 0):.1f}) | {ratio} |"
            )
    for path in ("nemo", "scripted", "proxy"):
        rows = [by[(path, level)] for level in levels if (path, level) in by]
        if rows:
            worst, share = worst_level(rows)
            ready = sorted(r.ready_s for r in rows)[len(rows) // 2]
            print(
                f"{path}: worst level {worst.level} at {100 * share:.0f}% of the best (whole); "
                f"median start to ready {ready:.1f} s; collector peak {max(r.collector_rss_mib for r in rows):.0f} MiB"
            )


def worst_level(rows: list[Result]) -> tuple[Result, float]:
    """One path's levels in one run: the slowest over the whole command, and its share of the fastest."""
    worst = min(rows, key=lambda r: r.whole)
    return worst, worst.whole / max(r.whole for r in rows)


def spread(runs: list[list[Result]]) -> None:
    """With --repeats: each path's worst level in every run, since one run moves by several per cent; then
    the worst level of each level's median over the runs."""
    print(f"\nworst level against the best, over the whole command, in each of {len(runs)} runs:")
    for path in ("nemo", "scripted", "proxy"):
        shares = []
        for results in runs:
            rows = [r for r in results if r.path == path]
            if rows:
                worst, share = worst_level(rows)
                shares.append(f"{100 * share:.0f}% ({worst.level})")
        if shares:
            mine = [r for results in runs for r in results if r.path == path]
            medians = {
                level: statistics.median(r.whole for r in mine if r.level == level) for level in {r.level for r in mine}
            }
            slowest = min(medians, key=medians.__getitem__)
            print(
                f"{path}: {', '.join(shares)}; each level's median: worst {slowest} at "
                f"{100 * medians[slowest] / max(medians.values()):.0f}%"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", type=int, nargs="+", default=[16, 64, 256, 1024])
    parser.add_argument("--rows", type=int, default=2000, help="rollouts per run")
    parser.add_argument(
        "--paths", nargs="+", choices=["nemo", "proxy", "scripted"], default=["nemo", "proxy", "scripted"]
    )
    parser.add_argument("--phase-timeout", type=float, default=600, help="seconds each start or collection may take")
    parser.add_argument("--repeats", type=int, default=1, help="whole runs, one after another; each is summed up")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs at start", flush=True)
    with tempfile.TemporaryDirectory(prefix="vsng-") as tmp:
        bench = Bench(args, Path(tmp))
        runs: list[list[Result]] = []
        try:
            bench.start_policy()
            for _ in range(args.repeats):
                runs.append([])
                for level in args.levels:
                    for path in args.paths:
                        runs[-1].append(bench.run_nemo(level) if path == "nemo" else bench.run_gymbox(path, level))
        finally:
            bench.teardown()
            for results in runs:
                summary(results)
            if len(runs) > 1:
                spread(runs)
            print(f"load average {os.getloadavg()[0]:.1f} at the end", flush=True)


if __name__ == "__main__":
    main()
