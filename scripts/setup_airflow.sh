#!/usr/bin/env bash
# Create .venv-airflow: Apache Airflow 3.3.2 in a venv of its own, apart from the project's
# .venv (Airflow pins its own SQLAlchemy, pydantic, pendulum …). The DAGs in dags/ run in it;
# their task calls run_pipeline.sh, which uses the project's .venv.
# Idempotent: does nothing when the venv already holds this Airflow version installed with
# the current constraints file (0.3 s). Measured here: 30–65 s on a busy 2-core machine, with
# an empty or a warm pip cache alike (unpacking and compiling ~130 packages dominates).
#   SPARKMLOPS_AIRFLOW_VENV   where to create it (default: ./.venv-airflow)
#   PYTHON                    the interpreter to build it from (default: python3.11)
set -euo pipefail
cd "$(dirname "$0")/.."
AIRFLOW_VERSION=3.3.2
# Airflow's own constraints file lives on GitHub (not reachable here): ours is the measured
# resolution of this version, so every machine gets the same dependency versions.
CONSTRAINTS=scripts/airflow-constraints.txt
VENV=${SPARKMLOPS_AIRFLOW_VENV:-$PWD/.venv-airflow}
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

stamp="$VENV/.installed-airflow-$AIRFLOW_VERSION-$(sha256sum "$CONSTRAINTS" | cut -c1-16)"
installed() {
  "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('apache-airflow') != '$AIRFLOW_VERSION')" 2>/dev/null
}
if [ -f "$stamp" ] && installed; then
  exit 0
fi
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet "apache-airflow==$AIRFLOW_VERSION" --constraint "$CONSTRAINTS"
installed || { echo "error: $VENV does not hold apache-airflow $AIRFLOW_VERSION after pip install." >&2; exit 1; }
rm -f "$VENV"/.installed-airflow-*; touch "$stamp"
echo "Airflow $AIRFLOW_VERSION ready: $VENV/bin/airflow" >&2
