#!/usr/bin/env bash
# Static checks, the same locally and in CI (scripts/test.sh runs this before the tests):
# formatting, lint, and mypy --strict on gymbox/ and on every environment.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
step() { printf '\n==> %s\n' "$*"; }

step "ruff format --check"
.venv/bin/ruff format --check .
step "ruff check"
.venv/bin/ruff check .
step "mypy --strict gymbox"
.venv/bin/mypy --strict gymbox
step "mypy --strict on every environment, each as its package gymbox_env_<name>"
.venv/bin/python scripts/mypy_environments.py
