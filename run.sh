#!/usr/bin/env bash
# One entry point for a fresh machine: `bash run.sh demo` or `bash run.sh test`.
# Creates .venv when missing and installs the pinned dependencies, then runs the job.
set -euo pipefail
cd "$(dirname "$0")"
VENV=.venv
STAMP="$VENV/.installed-$(cat pyproject.toml requirements/constraints.txt | sha256sum | cut -c1-16)"
if [ ! -f "$STAMP" ]; then
  [ -x "$VENV/bin/python" ] || python3.11 -m venv "$VENV" 2>/dev/null || python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade "pip==26.3"
  "$VENV/bin/python" -m pip install --quiet -c requirements/constraints.txt -e ".[dev,spark]"
  rm -f "$VENV"/.installed-* && touch "$STAMP"
fi
cmd="${1:-demo}"; shift || true
case "$cmd" in
  demo) exec "$VENV/bin/deepcredit" demo "$@" ;;
  # two worker processes (pytest-xdist), each module's tests on one of them so its fixtures are built once;
  # DEEPCREDIT_TEST_WORKERS=0 runs them in this process
  test) "$VENV/bin/ruff" check src tests scripts && "$VENV/bin/mypy" &&
        exec "$VENV/bin/python" -m pytest -n "${DEEPCREDIT_TEST_WORKERS:-2}" --dist loadscope "$@" ;;
  *)    exec "$VENV/bin/deepcredit" "$cmd" "$@" ;;
esac
