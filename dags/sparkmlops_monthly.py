"""Airflow DAGs: one monthly DAG per use case YAML in ``conf/usecases/`` (``sparkmlops_<usecase>``).

Each DAG has one task that runs ``run_pipeline.sh`` for the month its data interval covers.
The timetable is a *data interval* one: the run for June has the interval
2023-06-01 → 2023-07-01, starts on July 1st 00:00 UTC and trains ``--test-month 2023-06`` —
the same month the README's cron line (06:00 on the 1st, default test month = previous
complete month) trains that day. ``schedule="@monthly"`` would not do this in Airflow 3:
cron strings become a ``CronTriggerTimetable`` whose interval starts on the run date, so
the July 1st run would name July.

Months run one at a time and in order (``max_active_runs=1``, ``depends_on_past``); a month
fails the task if ``run_pipeline.sh`` exits non-zero **or** its result marker
``runs/<usecase>/<month>/result.json`` does not say success. Exit codes a retry cannot fix
(2 usage/config, 4 gate failed, 5 monitoring policy failed) fail at once; the others
(3 data missing — the month may still be landing —, 1 anything else, signals) are retried.

This file imports neither sparkmlops nor pyspark: it runs in Airflow's own venv
(``scripts/setup_airflow.sh``); the task calls the project's ``run_pipeline.sh``, which
uses the project's venv. Settings, read when the DAG file is parsed:

- ``SPARKMLOPS_HOME``: the project checkout (default: the checkout this file lives in).
- ``SPARKMLOPS_PIPELINE_ARGS``: extra ``run_pipeline.sh`` flags for every use case, e.g.
  ``--master spark://host:7077``; ``SPARKMLOPS_PIPELINE_ARGS_<USECASE>`` (e.g.
  ``SPARKMLOPS_PIPELINE_ARGS_TAXI_FARE="--data-base-path s3a://nyc-interim/yellow"``) for one.
- ``SPARKMLOPS_AIRFLOW_START``: first month to run, ``YYYY-MM`` (default 2023-01).
- ``SPARKMLOPS_AIRFLOW_CATCHUP``: ``true`` creates a run for every month since the start
  (default ``false``: only the latest complete month; older ones with ``airflow backfill create``).
- ``SPARKMLOPS_AIRFLOW_RETRIES`` (default 3), ``SPARKMLOPS_AIRFLOW_RETRY_DELAY_MINUTES``
  (default 60), ``SPARKMLOPS_AIRFLOW_TIMEOUT_HOURS`` (default 12; a hung Spark job would
  otherwise hold every later month back).
"""

from __future__ import annotations

import os
import shlex
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, CronDataIntervalTimetable
from airflow.sdk.exceptions import AirflowException, AirflowFailException

HOME = Path(os.environ.get("SPARKMLOPS_HOME") or Path(__file__).resolve().parents[1])
# 00:00 UTC on the 1st, the end of the month's interval; see the module docstring.
SCHEDULE = "0 0 1 * *"
# The month the run trains and tests: its data interval's start.
MONTH = "{{ data_interval_start.strftime('%Y-%m') }}"
# run_pipeline.sh exit codes that fail the task without a retry: rerunning the same month
# with the same config, data and code gives the same answer; a person has to act.
NOT_RETRIED = {2: "bad usage or config", 4: "a gate failed", 5: "monitoring policy failed"}

COMMAND = """\
cd {home} || exit 2
marker=${{SPARKMLOPS_RUNS_DIR:-runs}}/{usecase}/{month}/result.json
rm -f "$marker"  # a marker left by an earlier try must not vouch for this one
./run_pipeline.sh --usecase {usecase} --test-month {month}{args}
code=$?
if [ "$code" -eq 0 ] && ! grep -q '"status": "success"' "$marker" 2>/dev/null; then
  echo "sparkmlops: run_pipeline.sh exited 0 but $marker does not say success; failing the task." >&2
  code=1
fi
exit "$code"
"""


class PipelineOperator(BashOperator):
    """A BashOperator that fails without retrying when the exit code says a retry cannot help."""

    def execute(self, context):
        try:
            return super().execute(context)
        except AirflowException as error:
            process = self.subprocess_hook.sub_process
            code = process.returncode if process is not None else None
            if code in NOT_RETRIED:
                raise AirflowFailException(
                    f"run_pipeline.sh exited {code} ({NOT_RETRIED[code]}); not retried: a rerun would give "
                    f"the same answer. Read the task log and runs/<usecase>/<month>/, fix, then clear the task."
                ) from error
            raise


def pipeline_args(usecase: str) -> str:
    """Extra run_pipeline.sh flags from the environment, re-quoted so the shell sees them as given."""
    raw = f"{os.environ.get('SPARKMLOPS_PIPELINE_ARGS', '')} {os.environ.get('SPARKMLOPS_PIPELINE_ARGS_' + usecase.upper(), '')}"
    args = shlex.split(raw)
    return " " + shlex.join(args) if args else ""


def usecases(home: Path) -> list[str]:
    """The use case names: the YAML file names in conf/usecases/ (the name must match the file's)."""
    names = sorted(path.stem for path in (home / "conf" / "usecases").glob("*.yaml"))
    if not names:  # an import error in the UI rather than DAGs silently gone
        raise FileNotFoundError(f"No use case YAML in {home / 'conf' / 'usecases'}: set SPARKMLOPS_HOME to the "
                                f"sparkmlops checkout (the folder holding run_pipeline.sh and conf/usecases/).")
    return names


def monthly_dag(usecase: str) -> DAG:
    start = pendulum.from_format(os.environ.get("SPARKMLOPS_AIRFLOW_START", "2023-01"), "YYYY-MM", tz="UTC")
    with DAG(
        dag_id=f"sparkmlops_{usecase}",
        description=f"Monthly retrain, gates and predict of sparkmlops use case {usecase} (run_pipeline.sh)",
        schedule=CronDataIntervalTimetable(SCHEDULE, timezone="UTC"),
        start_date=start,
        catchup=os.environ.get("SPARKMLOPS_AIRFLOW_CATCHUP", "false").lower() in ("1", "true", "yes"),
        max_active_runs=1,  # one month at a time: each run reads the registry the previous one wrote
        tags=["sparkmlops", usecase],
        doc_md=__doc__,
    ) as dag:
        PipelineOperator(
            task_id="run_pipeline",
            bash_command=COMMAND.format(home=shlex.quote(str(HOME)), usecase=usecase, month=MONTH,
                                        args=pipeline_args(usecase)),
            skip_on_exit_code=None,  # no exit code means "skipped"; every non-zero one is a failure
            depends_on_past=True,  # a month waits until the month before succeeded
            retries=int(os.environ.get("SPARKMLOPS_AIRFLOW_RETRIES", "3")),
            retry_delay=timedelta(minutes=float(os.environ.get("SPARKMLOPS_AIRFLOW_RETRY_DELAY_MINUTES", "60"))),
            execution_timeout=timedelta(hours=float(os.environ.get("SPARKMLOPS_AIRFLOW_TIMEOUT_HOURS", "12"))),
        )
    return dag


for _usecase in usecases(HOME):
    globals()[f"sparkmlops_{_usecase}"] = monthly_dag(_usecase)
