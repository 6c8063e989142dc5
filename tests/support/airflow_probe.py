"""Run by tests in the Airflow venv (.venv-airflow), never in the project's: prints JSON.

    python airflow_probe.py inspect DAGS_FOLDER START [START ...]
        Load the folder in a real DagBag; for each DAG its settings, its task's, and for each
        START date (YYYY-MM-DD) the scheduled run whose data interval starts there (or the
        first one after it): its run date, its interval and the task's rendered bash_command.
    python airflow_probe.py run DAGS_FOLDER RUN_DATE DAG_ID [DAG_ID ...]
        Run each DAG once with dag.test() as a manual trigger on RUN_DATE would (needs an
        AIRFLOW_HOME whose database `airflow db migrate` created); print each run's outcome.
"""

from __future__ import annotations

import importlib.util
import json
import sys

import pendulum
from airflow.dag_processing.dagbag import DagBag
from airflow.serialization.encoders import coerce_to_core_timetable
from airflow.timetables.base import TimeRestriction


def load(folder: str) -> DagBag:
    return DagBag(dag_folder=folder)


def inspect(folder: str, starts: list[str]) -> dict:
    bag = load(folder)
    dags = {}
    for dag_id, dag in sorted(bag.dags.items()):
        timetable = coerce_to_core_timetable(dag.timetable)
        tasks = []
        for task in dag.tasks:
            runs = []
            for start in starts:
                restriction = TimeRestriction(earliest=pendulum.parse(start), latest=None, catchup=True)
                info = timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
                interval = info.data_interval
                context = {"data_interval_start": interval.start, "data_interval_end": interval.end,
                           "logical_date": interval.start}
                runs.append({"start": start, "run_after": info.run_after.isoformat(),
                             "interval_start": interval.start.isoformat(), "interval_end": interval.end.isoformat(),
                             "command": task.render_template(task.bash_command, context)})
            tasks.append({
                "task_id": task.task_id,
                "classes": [cls.__name__ for cls in type(task).__mro__],
                "retries": task.retries,
                "retry_delay_seconds": task.retry_delay.total_seconds(),
                "depends_on_past": task.depends_on_past,
                "skip_on_exit_code": list(task.skip_on_exit_code),
                "execution_timeout_seconds": task.execution_timeout.total_seconds() if task.execution_timeout else None,
                "runs": runs,
            })
        dags[dag_id] = {
            "timetable": type(timetable).__name__,
            "schedule": timetable.summary,
            "timezone": str(timetable._timezone.name),
            "periodic": timetable.periodic,
            "max_active_runs": dag.max_active_runs,
            "catchup": dag.catchup,
            "start_date": dag.start_date.isoformat(),
            "tasks": tasks,
        }
    return {"import_errors": {str(k): str(v) for k, v in bag.import_errors.items()}, "dags": dags,
            # the DAG file must not need the project's packages: this venv does not have them
            "venv_has": {name: importlib.util.find_spec(name) is not None for name in ("sparkmlops", "pyspark")}}


def run(folder: str, run_date: str, *dag_ids: str) -> dict:
    bag = load(folder)
    outcomes = {}
    for dag_id in dag_ids:
        # dag.test() infers the data interval from the date the way a manual trigger does:
        # the last complete interval before it.
        dagrun = bag.get_dag(dag_id).test(logical_date=pendulum.parse(run_date))
        outcomes[dag_id] = {
            "state": str(dagrun.state),
            "data_interval_start": dagrun.data_interval_start.isoformat(),
            "tasks": {ti.task_id: {"state": str(ti.state), "try_number": ti.try_number}
                      for ti in dagrun.get_task_instances()},
        }
    return outcomes


if __name__ == "__main__":
    mode, folder, *rest = sys.argv[1:]
    result = inspect(folder, rest) if mode == "inspect" else run(folder, *rest)
    print("PROBE-JSON " + json.dumps(result))
