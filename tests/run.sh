#!/usr/bin/env bash
# The whole test suite: exported package in sync, notebook tests, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
export JAX_PLATFORMS=cpu TF_CPP_MIN_LOG_LEVEL=3

echo "== scivid/ must be exactly what nbdev_export makes of nbs/"
nbdev_export
if [ -d .git ] && [ -n "$(git status --porcelain -- scivid)" ]; then
  git status --porcelain -- scivid
  echo "scivid/ is out of sync with nbs/: run nbdev_export and commit the result." >&2
  exit 1
fi

echo "== notebook tests (nbdev_test)"
nbdev_test --n_workers 2 --timing

echo "== pytest"
python -m pytest -q tests "$@"
