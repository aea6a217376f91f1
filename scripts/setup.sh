#!/usr/bin/env bash
# Set up a machine for gymbox, from nothing; every step is skipped when already done. Sourced by
# scripts/demo.sh and scripts/test.sh; run it alone as root on a Debian/Ubuntu host: `bash scripts/setup.sh`.
#
#   1. install docker.io, docker-compose, debootstrap and chromium if missing (apt)
#   2. start dockerd if it is not answering, and wait for it
#   3. make .venv and install gymbox with its dev extras
#   4. make the offline root image when no python:3.12-slim can be had (skipped when it exists), then
#      build the runtime and example images (content-tagged: unchanged ones are not rebuilt)
#
# Environment: GYMBOX_CA_BUNDLE (default `host`: trust this machine's CA bundle in image builds, for a
# TLS-inspecting proxy in front of PyPI; set it empty to trust nothing extra), GYMBOX_BASE_IMAGE (the
# runtime's BASE; default: python:3.12-slim if present, else the bootstrapped root image).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export GYMBOX_CA_BUNDLE="${GYMBOX_CA_BUNDLE-host}"
export TESTCONTAINERS_RYUK_DISABLED=true  # the reaper image would need a registry
export PIP_DISABLE_PIP_VERSION_CHECK=1

step() { printf '\n==> %s\n' "$*"; }

step "system packages"
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)  # the engine: a machine may ship the CLI alone
command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || missing+=(docker-compose)
command -v debootstrap >/dev/null || missing+=(debootstrap)
[ -x /usr/bin/chromium ] || missing+=(chromium)  # the viewer's browser test drives it (playwright, no download)
if ((${#missing[@]})); then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

step "docker engine"
if ! docker info >/dev/null 2>&1; then
    rm -f /var/run/docker.pid  # a stale pid file from a killed dockerd stops a new one from starting
    nohup dockerd >/tmp/dockerd.log 2>&1 &
    for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || { echo "dockerd did not start:"; tail -n 50 /tmp/dockerd.log; exit 1; }
fi
docker version --format 'engine {{.Server.Version}}'

step "virtual environment"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q -e '.[dev]'

step "images"
.venv/bin/gymbox images bootstrap
.venv/bin/gymbox images bootstrap --suite trixie  # Python 3.13 for NeMo Gym servers (tests/docker/test_nemo_gym.py)
envs=()
for dockerfile in environments/*/Dockerfile; do envs+=(--env "$(basename "$(dirname "$dockerfile")")"); done
.venv/bin/gymbox build "${envs[@]}"

