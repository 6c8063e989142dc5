#!/usr/bin/env bash
# Build the sparkmlops wheel that spark-submit ships to cluster executors (--py-files)
# and print its path. Rebuilt only when a file under src/ or pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-${SPARKMLOPS_VENV:-$PWD/.venv}/bin/python}
stamp=$(cat pyproject.toml $(find src -name '*.py' | sort) | sha256sum | cut -c1-16)
out="dist/$stamp"
wheel=$(ls "$out"/sparkmlops-*.whl 2>/dev/null | head -1 || true)
if [ -z "$wheel" ]; then
  rm -rf dist/*/ 2>/dev/null || true
  "$PYTHON" -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir "$out" . >&2
  wheel=$(ls "$out"/sparkmlops-*.whl | head -1)
fi
echo "$PWD/$wheel"
