"""MLflow tracking: an optional mirror of the reports and the JSON registry.

Three hooks, each a no-op when tracking is off, and none able to fail the run:

* :func:`track_train` (end of a train run that decided something; a rerun of a decided
  month never gets here): one run in experiment ``sparkmlops/<usecase>`` with params,
  candidate and current metrics, tags, the grid search as nested runs, the report and log as
  artifacts and the candidate model, registered as a new version of ``sparkmlops-<usecase>``;
  then the aliases follow the JSON registry.
* :func:`track_predict`: a small run with the prediction statistics and the predict report.
* :func:`sync_registry` (after ``registry rollback`` / ``promote --force``): aliases only.

The JSON registry stays the source of truth; MLflow is never read to decide anything. What
happened is the report's ``tracking`` section: ``ok`` (uri, experiment and run ids, model
version, aliases), ``off`` (switched off, and by what), ``skipped`` (mlflow not installed) or
``failed`` (one line, credentials removed) — then one warning line on the console, exit 0.
"""

from __future__ import annotations

import contextlib
import logging
import time
import traceback
import uuid
import warnings
from pathlib import Path
from typing import Callable, Iterator

from sparkmlops import reports
from sparkmlops.logs import get_logger, log_file, write_to_log_file
from sparkmlops.tracking import content
from sparkmlops.tracking.settings import Target, http_limits, one_line, resolve, scrub

__all__ = ["target_of", "track_train", "track_predict", "sync_registry"]


def target_of(config) -> Target:
    return resolve(config.paths.tracking, config.run.tracking)


def track_train(spark, config, ctx, registry, candidate, report: dict, timer) -> dict:
    """Log a decided train run and its candidate model, then rewrite the report with ``tracking``."""
    target = target_of(config)
    month = report["window"]["test_month"]

    def work(tracker, known: dict) -> dict:
        store, steps = _store(), _Steps()
        with steps("experiment"):
            experiment_id = known["experiment_id"] = tracker.experiment_id()
            run_id = known["run_id"] = tracker.start_run(experiment_id, f"{config.usecase} {month}",
                                                         content.train_tags(report, config.usecase))
        try:
            with steps("params_metrics"):
                tracker.log(run_id, content.train_params(report), content.train_metrics(report))
            with steps("search_runs"):
                for child in content.search_children(report):
                    child_id = tracker.start_run(experiment_id, child["name"], {
                        "best": str(child["best"]).lower(), "sparkmlops.kind": "search"}, parent=run_id)
                    tracker.log(child_id, child["params"], child["metrics"])
                    tracker.finish(child_id)
            decision = report["decision"]
            version = decision["candidate_version"]
            with steps("model"):
                _log_candidate(tracker, spark, config, registry, candidate, run_id, version, report)
            with steps("register_and_aliases"):
                model_version = tracker.register(run_id, {
                    store.VERSION_TAG: version, store.RUN_TAG: report["run_id"], "test_month": month,
                    "decision": decision["outcome"]}, decision["reason"])
                synced = tracker.sync_aliases(registry.state())
                tracker.set_tags(run_id, {"mlflow_model_version": model_version})
            section = {"experiment_id": experiment_id, "experiment": content.experiment_name(config.usecase),
                       "run_id": run_id, "model_name": tracker.model_name, "model_version": model_version, **synced}
            report["tracking"] = {"status": "ok", "uri": target.shown_uri, **section}
            with steps("report_artifacts"):
                path = reports.write_report(ctx.reports_dir, config.usecase, month, "train", report)
                tracker.log_files(run_id, _run_files(path), "reports")  # the copy holds the tracking section
                tracker.finish(run_id)
        except BaseException:
            tracker.finish_quietly(run_id)
            raise
        finally:
            steps.log()
        return {**section, "seconds_by_step": steps.seconds}

    if target.enabled:
        with timer.stage("tracking"):
            report["tracking"] = _guarded(target, config.usecase, "train", work)
    else:
        report["tracking"] = _guarded(target, config.usecase, "train", work)
    reports.write_report(ctx.reports_dir, config.usecase, month, "train", report)
    return report["tracking"]


def track_predict(config, ctx, registry, month: str, report: dict) -> dict:
    """Log a predict run (prediction statistics, the predict report) and rewrite the report."""
    target = target_of(config)

    def work(tracker, known: dict) -> dict:
        experiment_id = known["experiment_id"] = tracker.experiment_id()
        run_id = known["run_id"] = tracker.start_run(experiment_id, f"{config.usecase} {month} predict",
                                                     content.predict_tags(report, config.usecase, month))
        try:
            model_version = tracker.find_version(_trained_entry(registry, report.get("model_version")))
            params = {"model_version": str(report.get("model_version")), "mlflow_model_version": str(model_version)}
            tracker.log(run_id, params, content.predict_metrics(report))
            section = {"experiment_id": experiment_id, "experiment": content.experiment_name(config.usecase),
                       "run_id": run_id, "model_name": tracker.model_name, "model_version": model_version}
            report["tracking"] = {"status": "ok", "uri": target.shown_uri, **section}
            path = reports.write_report(ctx.reports_dir, config.usecase, month, "predict", report)
            tracker.log_files(run_id, _run_files(path), "reports")
            tracker.finish(run_id)
        except BaseException:
            tracker.finish_quietly(run_id)
            raise
        return section

    report["tracking"] = _guarded(target, config.usecase, "predict", work)
    reports.write_report(ctx.reports_dir, config.usecase, month, "predict", report)
    return report["tracking"]


def sync_registry(config, registry) -> dict:
    """After a rollback or forced promotion: move the aliases to what the JSON registry now says."""
    target = target_of(config)
    section = _guarded(target, config.usecase, "alias update", lambda tracker, known: tracker.sync_aliases(registry.state()))
    if section["status"] == "ok":
        shown = ", ".join(f"{alias} -> {'MLflow version ' + a['version'] + ' (' + a['sparkmlops_version'] + ')' if a else 'none'}"
                          for alias, a in section["aliases"].items())
        get_logger().info(f"MLflow aliases of {content.model_name(config.usecase)}: {shown}")
    return section


# ---- helpers ---------------------------------------------------------------------------
def _store():
    from sparkmlops.tracking import store

    return store


def _guarded(target: Target, usecase: str, what: str, work: Callable) -> dict:
    """Run ``work(tracker, known)`` against MLflow; never raise, say what happened."""
    log = get_logger()
    if not target.enabled:
        return {"status": "off", "reason": f"switched off by {target.source}"}
    started = time.perf_counter()
    try:
        with warnings.catch_warnings():  # MLflow's import-time warnings are not the user's business
            warnings.simplefilter("ignore")
            store = _store()  # imports mlflow (1.5-2 s), only now that tracking is on
    except Exception as error:  # noqa: BLE001 - ImportError, or a broken mlflow install
        reason = (f"mlflow is not installed ({one_line(error)}); install the tracking extra "
                  "(pip install 'sparkmlops[tracking]') or pass --no-tracking")
        log.info(f"MLflow tracking skipped: {reason}")
        return {"status": "skipped", "reason": reason}
    known: dict = {}
    with http_limits(), _third_party_logs_to_run_log(target.uri), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = work(store.Tracker(target, usecase), known)
        except Exception as error:  # noqa: BLE001 - tracking must never fail the run
            text = one_line(error, target.uri)
            log.warning(f"MLflow tracking of the {what} failed at {target.shown_uri} ({text}); the run itself "
                        f"succeeded and its report says tracking failed")
            # the traceback for the log file only, without credentials (MLflow's messages repeat the URI)
            write_to_log_file(scrub("".join(traceback.format_exception(error)), target.uri), logging.WARNING)
            return {"status": "failed", "error": text, "uri": target.shown_uri, **known,
                    "seconds": round(time.perf_counter() - started, 3)}
    return {"status": "ok", "uri": target.shown_uri, **result, "seconds": round(time.perf_counter() - started, 3)}


def _log_candidate(tracker, spark, config, registry, candidate, run_id: str, version: str, report: dict) -> None:
    from sparkmlops.models.artifact import SERIES_TABLE
    from sparkmlops.tasks import get_task

    metadata = {"sparkmlops": {**candidate.metadata, "artifact_kind": candidate.kind, "registry_version": version,
                               "run_id": report["run_id"], "code_version": report.get("code_version"),
                               "loads_with": "the sparkmlops package (its feature stages and loaders)"}}
    if candidate.kind == SERIES_TABLE:
        folder = str(registry.store.uri(f"archive/{version}/model"))  # the copy the registry just archived
        tracker.log_folder_model(run_id, spark, folder, metadata, candidate.kind)
        return
    inputs = set(get_task(config).input_columns())
    columns = {name: kind for name, kind in config.data.columns.items() if name in inputs}
    with _dfs_tmpdir(registry) as tmpdir:
        tracker.log_spark_model(run_id, candidate.model, columns, metadata, tmpdir)


@contextlib.contextmanager
def _dfs_tmpdir(registry) -> Iterator[str | None]:
    """Where Spark writes the model before MLflow copies it: inside a local registry (a shared
    volume on a cluster, so the driver sees what executors wrote), else MLflow's default."""
    root = registry.store.uri("")
    if not isinstance(root, Path):
        yield None
        return
    folder = root / f".tmp-mlflow-{uuid.uuid4().hex[:8]}"  # .tmp-*: registry repair removes leftovers
    try:
        yield str(folder)
    finally:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


def _trained_entry(registry, version: str | None) -> dict | None:
    """The JSON version and the run that trained it (predict may use another model than current)."""
    record = next((r for r in registry.history() if r.get("version") == version and r.get("run_key")), None)
    return {"version": version, "run_id": record["run_id"]} if record else None


class _Steps:
    """Seconds per tracking step, for the report and one line in the run's log file."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - started, 3)

    def log(self) -> None:
        write_to_log_file("tracking steps: " + ", ".join(f"{k}={v:.2f}s" for k, v in self.seconds.items()), logging.INFO)


def _run_files(report_path: Path) -> list[Path]:
    """The report, and the run's log file when it belongs to this report's month."""
    files = [report_path]
    current_log = log_file()
    if current_log is not None and current_log.parent == report_path.parent and current_log.is_file():
        files.append(current_log)
    return files


class _ScrubbingHandler(logging.Handler):
    """Their lines may repeat the tracking URI: pass them on without its credentials."""

    def __init__(self, targets: list[logging.Handler], uri: str) -> None:
        super().__init__()
        self.targets, self.uri = targets, uri

    def emit(self, record: logging.LogRecord) -> None:
        clean = logging.makeLogRecord(record.__dict__)
        clean.msg, clean.args, clean.exc_info, clean.exc_text = scrub(record.getMessage(), self.uri), None, None, None
        for target in self.targets:
            target.handle(clean)


@contextlib.contextmanager
def _third_party_logs_to_run_log(uri: str) -> Iterator[None]:
    """MLflow's, alembic's and urllib3's (retries) log lines go to the run's log file, not the console."""
    handler = _ScrubbingHandler([h for h in get_logger().handlers if isinstance(h, logging.FileHandler)], uri)
    saved = []
    for name in ("mlflow", "alembic", "urllib3"):
        logger = logging.getLogger(name)
        saved.append((logger, logger.handlers[:], logger.propagate))
        logger.handlers, logger.propagate = [handler], False
    try:
        yield
    finally:
        for logger, old, propagate in saved:
            logger.handlers, logger.propagate = old, propagate
