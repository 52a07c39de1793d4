#!/usr/bin/env bash
# Python side of the project: numpy, torch (CPU wheels are enough), pytest, and the phasesweep
# client from clients/python, for the command-trainer tests and examples/pytorch. Installs only
# what is missing, from the configured package index.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PHASESWEEP_PYTHON:-python3}
if ! command -v "$PY" >/dev/null 2>&1; then
  echo "python-setup: $PY not found; command-trainer tests need Python 3 with pip" >&2
  exit 1
fi
if ! "$PY" -c 'import numpy, torch, pytest' >/dev/null 2>&1; then
  echo "python-setup: installing clients/python/requirements.txt with pip" >&2
  "$PY" -m pip install --quiet --disable-pip-version-check -r clients/python/requirements.txt >&2
fi
# The client itself, from this checkout (reinstalled when its version or files changed).
if ! "$PY" -c 'import phasesweep, sys; sys.exit(0 if phasesweep.__file__.startswith(sys.argv[1]) else 1)' \
  "$(pwd)/clients/python" >/dev/null 2>&1; then
  echo "python-setup: installing the phasesweep client (clients/python) in editable mode" >&2
  "$PY" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e clients/python >&2
fi
