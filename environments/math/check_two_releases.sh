#!/usr/bin/env bash
# One stack, two math-verify releases: bring up `math` (configs/math.yaml: the Dockerfile's default
# MATH_VERIFY_VERSION, 0.9.0) and `math_v07` (configs/math_v07.yaml: build_args MATH_VERIFY_VERSION 0.7.0)
# with the scripted model, collect one rollout from each agent, and check that each verify response names
# the release its instance was built with. Run from the repository root:
#
#   GYMBOX_CA_BUNDLE=host bash environments/math/check_two_releases.sh
#
# Prints one line per instance and `OK: ...`, exits 0; exits non-zero on any mismatch. The stack is taken
# down at the end, whatever happens. STACK (default mathboth) names the stack, GYMBOX the CLI.
set -euo pipefail

STACK=${STACK:-mathboth}
GYMBOX=${GYMBOX:-.venv/bin/gymbox}
PYTHON=${PYTHON:-.venv/bin/python}
OUT=$(mktemp -d)
trap '"$GYMBOX" down --name "$STACK" >/dev/null 2>&1 || true; rm -rf "$OUT"' EXIT

"$GYMBOX" up -c environments/math/configs/math.yaml -c environments/math/configs/math_v07.yaml \
    -m scripted --name "$STACK"
for instance in math math_v07; do
    "$GYMBOX" rollout --stack "$STACK" --agent "${instance}_simple_agent" --limit 1 \
        -i environments/math/data/example.jsonl -o "$OUT/$instance.jsonl" >/dev/null
done

"$PYTHON" - "$OUT" <<'PY'
import json, re, sys
from pathlib import Path

import yaml

out = Path(sys.argv[1])
default = re.search(r"^ARG MATH_VERIFY_VERSION=(\S+)$", Path("environments/math/Dockerfile").read_text(), re.M)[1]
seen = {}
for instance in ("math", "math_v07"):
    [row] = [json.loads(line) for line in (out / f"{instance}.jsonl").read_text().splitlines()]
    config = yaml.safe_load(Path(f"environments/math/configs/{instance}.yaml").read_text())
    fields = config[instance]["resources_servers"]["math"]
    built = str(fields.get("build_args", {}).get("MATH_VERIFY_VERSION", default))
    seen[instance] = row["math_verify_version"]
    print(f"{instance:9} agent={row['agent_ref']['name']:22} status={row['status']} reward={row['reward']} "
          f"math_verify_version={seen[instance]} (built with {built})")
    assert row["status"] == "ok", row
    assert seen[instance] == built, f"{instance}: graded by math-verify {seen[instance]}, built with {built}"
assert seen["math"] != seen["math_v07"], seen
print(f"OK: one stack, two math-verify releases ({seen['math']} and {seen['math_v07']})")
PY
