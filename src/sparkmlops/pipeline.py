"""train → evaluate → decide → report, and predict, as plain functions.

Each function takes the SparkSession and the validated config; nothing here builds a
session or reads the command line. Data flows one way: window → lake read → cleaning →
features + model → evaluation → drift → monitoring policy → registry decision → reports.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from sparkmlops import __version__, lake, quality, reports, tracking
from sparkmlops.config import UsecaseConfig
from sparkmlops.errors import DataError, UsageError
from sparkmlops.monitoring import drift, live, policy, reference_store
from sparkmlops.executors import ExecutorWatch
from sparkmlops.logs import StageTimer, get_logger
from sparkmlops.promotion import OUT_OF_ORDER, PromotionRule, decide, hold_out_of_order
from sparkmlops.registry import Registry
from sparkmlops.tasks import get_task
from sparkmlops.window import (
    Window,
    check_test_month,
    day_window_months,
    parse_month,
    previous_complete_month,
    resolve_day_window,
    resolve_window,
)

TRAIN, TEST = "train", "test"


def new_run_id(usecase: str) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{usecase}-{stamp}-{uuid.uuid4().hex[:6]}"


def code_version() -> str:
    """Package version plus the git commit when run from a checkout."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            capture_output=True, text=True, timeout=5, cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{__version__}+{sha}" if sha else __version__


@dataclass(frozen=True)
class RunContext:
    """Where a run writes and how it is identified."""

    run_id: str
    registry_root: str
    reports_dir: str
    code_version: str


@dataclass
class Inputs:
    window: Window
    frame: DataFrame  # union of train and test months with the _split column (not cached)
    files: dict[str, list[lake.FileInfo]]
    rows: dict[str, dict]
    fingerprint: dict


def _fingerprint(files: dict[str, list[lake.FileInfo]], rows_per_month: dict[str, int] | None = None) -> dict:
    listing = [{"month": m, "path": f.path, "size": f.size} for m in sorted(files) for f in files[m]]
    digest = hashlib.sha256(json.dumps(listing, sort_keys=True).encode()).hexdigest()
    return {"sha256": digest, "files": listing, "rows_per_month": rows_per_month or {}}


def resolve_run_window(spark: SparkSession, config: UsecaseConfig) -> Window:
    test_month = config.run.test_month or previous_complete_month()
    lake.check_store(spark, config.data.base_path)
    states = lake.month_states(spark, config.data.base_path)
    if config.window.unit == "day":
        return _resolve_day_window(spark, config, test_month, states)
    return resolve_window(
        test_month,
        list(config.run.train_months) if config.run.train_months else None,
        config.window.train_months,
        [month for month, state in states.items() if state == "complete"],
        strict=config.window.strict,
        incomplete=[month for month, state in states.items() if state == "incomplete"],
    )


def _resolve_day_window(spark: SparkSession, config: UsecaseConfig, test_month: str, states: dict[str, str]) -> Window:
    """The days the lake has rows for, in the months the window may read (one small aggregation)."""
    if config.run.train_months:
        raise UsageError(
            f"--train-months does not apply to {config.usecase}: its window is in days (window.unit: day).",
            f"It trains on the {config.window.train_days} days before the last {config.window.test_days} day(s) of --test-month.",
            "Drop --train-months; set window.train_days in the use case YAML to change the window.",
        )
    complete = [month for month, state in states.items() if state == "complete"]
    check_test_month(parse_month(test_month), complete, [m for m, state in states.items() if state == "incomplete"])
    months = [m for m in day_window_months(test_month, config.window.train_days, config.window.test_days) if m in complete]
    stamp = config.data.timestamp_column
    frame, _ = lake.read_months(spark, config.data.base_path, months, {stamp: "timestamp"}, config.data.column_aliases)
    days = [row[0].isoformat() for row in frame.select(F.to_date(stamp)).distinct().collect() if row[0]]  # <= 62 days
    return resolve_day_window(test_month, config.window.train_days, config.window.test_days, days,
                              strict=config.window.strict)


def _days(days: tuple[str, ...]) -> str:
    return f"{days[0]}..{days[-1]}" if len(days) > 1 else ",".join(days)


def _split_column(window: Window, config: UsecaseConfig):
    """train / test for each row (null: outside a day window's days)."""
    if not window.test_days:
        return F.when(F.col(lake.MONTH_COLUMN) == window.test_month, TEST).otherwise(TRAIN)
    day = F.date_format(F.col(config.data.timestamp_column), "yyyy-MM-dd")
    return F.when(day.isin(*window.test_days), TEST).when(day.isin(*window.train_days), TRAIN)


def load_inputs(spark: SparkSession, config: UsecaseConfig, window: Window, timer: StageTimer) -> Inputs:
    """Count rows and cleaning failures per month in one pass; sum them per split.

    The frame is not cached: reading the Parquet again for the fit is cheap, while a
    cached copy of every month would take the storage memory GBT needs for its own
    cached training points (measured in benchmarks/taxi_month: the fit ran ~1.5x slower).
    """
    data = config.data
    with timer.stage("read") as info:
        frame, files = lake.read_months(spark, data.base_path, window.months_to_read, data.columns, data.column_aliases)
        frame = frame.withColumn(quality.SPLIT_COLUMN, _split_column(window, config))
        checks = get_task(config).input_checks()
        if window.test_days:  # rows outside the days are not part of the run
            frame = frame.filter(F.col(quality.SPLIT_COLUMN).isNotNull())
            by_split = quality.count_failures(frame, config.cleaning.rules, checks=checks)
            rows = {split: by_split.get(split) or quality.sum_counts([]) for split in (TRAIN, TEST)}
            per_month = {}
        else:
            by_month = quality.count_failures(frame, config.cleaning.rules, group_column=lake.MONTH_COLUMN, checks=checks)
            rows = {
                TRAIN: quality.sum_counts([by_month[m] for m in window.train_months if m in by_month]),
                TEST: quality.sum_counts([by_month[window.test_month]] if window.test_month in by_month else []),
            }
            per_month = {month: counts["rows_in"] for month, counts in by_month.items()}
        info["rows"] = sum(stats["rows_in"] for stats in rows.values())
    return Inputs(window, frame, files, rows, _fingerprint(files, per_month))


def _digest(material: dict) -> str:
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()[:24]


def run_key(config: UsecaseConfig, window: Window, fingerprint: dict, version: str) -> str:
    """Identity of a training run: same key, same result (reruns change nothing)."""
    return _digest({
        "usecase": config.usecase,
        "window": [window.test_month, list(window.train_months)],
        "data": fingerprint["sha256"],
        "code": version,
        "config": config.model_dump(mode="json", exclude={"run": True, "paths": True, "source_file": True, "data": {"base_path"}}),
    })


def dry_run(spark: SparkSession, config: UsecaseConfig, ctx: RunContext) -> dict:
    """Everything before training: window, schema, cleaning counts, retention. Writes nothing."""
    timer = StageTimer()
    window = resolve_run_window(spark, config)
    inputs = load_inputs(spark, config, window, timer)
    quality.check_retention(inputs.rows, config.cleaning.min_retention)
    get_task(config).check_inputs(inputs.rows)
    return {"run_id": ctx.run_id, "dry_run": True, "window": window.as_dict(), "rows": inputs.rows, "data_fingerprint": inputs.fingerprint, "timings": timer.timings}


def train(spark: SparkSession, config: UsecaseConfig, ctx: RunContext) -> dict:
    """Train a candidate on the window, score it and the current model, decide, report.

    Returns the train report document (or, for a rerun of an already decided run, the
    earlier report with ``rerun: true``).
    """
    log = get_logger()
    timer = StageTimer()
    registry = Registry(ctx.registry_root, config.usecase)
    with ExecutorWatch(spark) as watch:
        window = resolve_run_window(spark, config)
        if window.test_days:
            log.info(f"window test days={_days(window.test_days)} train days={_days(window.train_days)} "
                     f"missing={','.join(window.missing_train_days) or '-'}")
        else:
            log.info(f"window test={window.test_month} train={','.join(window.train_months)} "
                     f"missing={','.join(window.missing_train_months) or '-'}")
        inputs = load_inputs(spark, config, window, timer)
        # Inputs that cannot train stop the run before the registry is touched (not even its lock).
        quality.check_retention(inputs.rows, config.cleaning.min_retention)
        get_task(config).check_inputs(inputs.rows)
        with registry.lock(ctx.run_id):
            return _train_locked(spark, config, ctx, registry, inputs, timer, watch)


def _train_locked(
    spark: SparkSession, config: UsecaseConfig, ctx: RunContext, registry: Registry, inputs: Inputs, timer: StageTimer,
    watch: ExecutorWatch,
) -> dict:
    log = get_logger()
    window, task = inputs.window, get_task(config)
    key = run_key(config, window, inputs.fingerprint, ctx.code_version)
    earlier = registry.find_decision(key)
    if earlier is not None:
        log.info(f"test month {window.test_month} was already decided with the same data, config and code "
                 f"(run {earlier['run_id']}: {earlier['reason']}); nothing changes")
        report = reports.read_json(reports.report_path(ctx.reports_dir, config.usecase, window.test_month, "train")) or {}
        failed = earlier.get("policy", {}).get("fail")
        if failed:  # the same inputs fail the same way: a rerun must not turn a policy failure into success
            raise policy.policy_error(config.usecase, window.test_month, "train", failed,
                                      f"run {earlier['run_id']} recorded this decision: {earlier['reason']}.")
        return {**report, "rerun": True, "decision": report.get("decision", earlier)}
    clean = task.with_label(quality.apply_rules(inputs.frame, config.cleaning.rules))
    train_rows, test_rows = clean.filter(F.col(quality.SPLIT_COLUMN) == TRAIN), clean.filter(F.col(quality.SPLIT_COLUMN) == TEST)

    with timer.stage("fit") as info:
        info["rows"] = inputs.rows[TRAIN]["rows_out"]
        candidate, search_summary = task.fit(train_rows, inputs.rows)

    with timer.stage("evaluate_candidate") as info:
        info["rows"] = inputs.rows[TEST]["rows_out"]
        scoring_rows = task.scoring_rows(clean)
        scored = task.score(candidate, scoring_rows).cache()
        candidate_eval = task.evaluate(scored, candidate)
        analysis = task.error_analysis(scored, candidate_eval)
        importance = task.feature_importance(candidate, scored)
        model_analysis = task.model_analysis(candidate, test_rows)

    with timer.stage("drift"):
        drift_reference, drift_report = drift.measure_at_train(
            spark, task, candidate, train_rows, test_rows, scored, window.as_dict(), config.monitoring.drift,
            train_row_count=inputs.rows[TRAIN]["rows_out"])
    scored.unpersist()

    state_before = registry.state()
    current_eval, current_version = None, state_before.get("current") and state_before["current"]["version"]
    current_path = registry.model_path("current")
    if current_path:
        with timer.stage("evaluate_current"):
            current = task.load_model(spark, current_path)
            current_eval = task.evaluate(task.score(current, scoring_rows), current)

    metrics = config.evaluation.metrics
    candidate_metrics = {m: candidate_eval["overall"][m] for m in metrics}
    current_metrics = None if current_eval is None else {m: current_eval["overall"][m] for m in metrics}
    live_entry = live.live_entry(window.test_month, state_before, current_eval, list(metrics), ctx.run_id)
    policy_result = _policy(config, window.test_month, drift_report, current_eval, "train")
    gate_failures = task.post_train_failures(candidate_eval)
    decision = decide(
        current_metrics, candidate_metrics, PromotionRule.from_config(config.task, metrics, config.promotion),
        gate_failures=gate_failures, force=config.run.force,
        undefined=candidate_eval.get("undefined", {}), consider=policy_result.consider, hold=policy_result.fail,
    )
    decision = hold_out_of_order(decision, window.test_month, registry.newest_decided_month(state_before))
    log.info(f"decision: {decision.reason}")

    fingerprint_summary = {k: inputs.fingerprint[k] for k in ("sha256", "rows_per_month")} | {"files": len(inputs.fingerprint["files"])}
    model_summary = task.model_summary(candidate)
    with timer.stage("register"):
        record = registry.record_run(
            run_key=key,
            run_id=ctx.run_id,
            save_model=lambda path: _save_with_reference(spark, candidate, drift_reference, path),
            entry={
                "run_id": ctx.run_id, "test_month": window.test_month, "train_months": list(window.train_months),
                "metrics": candidate_metrics, "data_fingerprint": fingerprint_summary["sha256"],
                "code_version": ctx.code_version, "model": model_summary,
            },
            decision=decision,
            record_extra={
                "test_month": window.test_month, "train_months": list(window.train_months),
                "metrics": {"candidate": candidate_metrics, "current": current_metrics},
                "current_version_scored": current_version, "gate_failures": gate_failures,
                "data_fingerprint": fingerprint_summary, "code_version": ctx.code_version,
                "policy": policy_result.as_report(), "drift_flagged_features": drift_report.get("flagged_features"),
            },
            fill_candidate_slot=decision.outcome != OUT_OF_ORDER,
        )

    executors = watch.summary()
    if executors["lost"]:
        log.warning(f"executor(s) lost during the run: {', '.join(executors['lost'])}; Spark re-ran their tasks on "
                    f"the remaining executors ({', '.join(executors['at_end']) or 'none'})")
    report = {
        "run_id": ctx.run_id,
        "code_version": ctx.code_version,
        "config_file": config.source_file,
        "config_overrides": config.overrides,
        "task": config.task,
        "spark": {"master": spark.sparkContext.master, "app_id": spark.sparkContext.applicationId, "executors": executors},
        "window": window.as_dict(),
        "rows": inputs.rows,
        "rows_trained_on": inputs.rows[TRAIN]["rows_out"],
        "rows_tested_on": inputs.rows[TEST]["rows_out"],
        "data_fingerprint": inputs.fingerprint,
        "metrics": {"candidate": candidate_eval, "current": current_eval},
        "promotion_metrics": list(metrics),
        "decision": {
            "outcome": decision.outcome, "promoted": decision.promote, "reason": decision.reason,
            "comparison": decision.comparison, "gate_failures": gate_failures,
            "candidate_version": record.get("version"), "current_version_before": current_version,
            "current_version_after": registry.state()["current"]["version"] if registry.state().get("current") else None,
        },
        "feature_importance": importance,
        "error_analysis": analysis,
        "model_analysis": model_analysis,
        "comparison_with_current": task.compare(candidate_eval, current_eval),
        "model": model_summary,
        "search": search_summary,
        "drift": drift_report,
        "live_performance": _live_performance(ctx, config, live_entry, decision),
        "policy": policy_result.as_report(),
        "timings_seconds": timer.timings,
    }
    with timer.stage("report"):
        reports.write_report(ctx.reports_dir, config.usecase, window.test_month, "train", report)
    tracking.track_train(spark, config, ctx, registry, candidate, report, timer)  # rewrites the report with "tracking"
    if policy_result.fail:
        raise policy.policy_error(config.usecase, window.test_month, "train", policy_result.fail,
                                  f"the train report and the registry decision are written ({decision.reason}).")
    return report


def _live_performance(ctx: RunContext, config: UsecaseConfig, entry: dict, decision) -> dict:
    """This month's entry and the series; an out-of-order month is reported but kept out of the series."""
    if decision.outcome == OUT_OF_ORDER:
        return {"this_month": live.out_of_order(entry), "series": live.read(ctx.reports_dir, config.usecase)}
    return {"this_month": entry, "series": live.record(ctx.reports_dir, config.usecase, entry)}


def _save_with_reference(spark: SparkSession, candidate, reference: dict | None, path: str) -> None:
    """The model, then its drift reference in the same folder (the registry copies both)."""
    candidate.save(spark, path)
    if reference is not None:
        reference_store.save(spark, path, reference)


def _policy(config: UsecaseConfig, month: str, drift_report: dict, current_eval: dict | None, stage: str):
    """The monitoring policy's findings for this run; warnings go to the console now."""
    rules = config.monitoring.policy
    checks = (policy.drift_finding(drift_report, rules.drift, month),
              policy.live_metrics_finding(current_eval, rules.live_metrics, month))
    findings = [finding for finding in checks if finding is not None]
    result = policy.PolicyResult(tuple(findings), stage, forced=config.run.force)
    for line in result.warnings:
        get_logger().warning(f"monitoring policy: {line}")
    return result


def _predict_rows(spark: SparkSession, config: UsecaseConfig, month: str, columns: dict[str, str],
                  optional: dict[str, str]) -> tuple[DataFrame, list]:
    """The month to score; a day window also reads the history days before its test days (split train/test)."""
    if config.window.unit != "day":
        frame, files = lake.read_month(spark, config.data.base_path, month, columns, config.data.column_aliases, optional)
        return frame.withColumn(quality.SPLIT_COLUMN, F.lit("predict")), files
    window = resolve_run_window(spark, config.model_copy(update={"run": config.run.model_copy(update={"test_month": month})}))
    frame, files = lake.read_months(spark, config.data.base_path, window.months_to_read, columns,
                                    config.data.column_aliases, optional)
    frame = frame.withColumn(quality.SPLIT_COLUMN, _split_column(window, config)).filter(F.col(quality.SPLIT_COLUMN).isNotNull())
    return frame, [info for month_files in files.values() for info in month_files]


def model_for_month(registry: Registry, month: str) -> tuple[str, str, str] | None:
    """(version, model folder, why) of the model that scores ``month``; None without a current model.

    The current model, except for a month older than the newest decided one (a backfill
    or a re-run of an old month): that month is scored by the model that was current
    right after its own decision, so re-running old months reproduces their predictions
    instead of rewriting history with today's model.
    """
    state = registry.state()
    newest = registry.newest_decided_month(state)
    if newest is not None and month < newest:
        version = registry.current_after(month, state)
        if version is not None:
            return version, registry.version_path(version), (
                f"current after {month}'s own decision (newer months, up to {newest}, were decided since)")
    if not state.get("current"):
        return None
    return state["current"]["version"], registry.model_path("current"), "current"


def predict_key(config: UsecaseConfig, month: str, version: str, files: list, code: str) -> str:
    """Identity of a predict run: same model, data, config and code → the same predictions."""
    return _digest({
        "month": month, "model": version, "code": code, "files": sorted((f.path, f.size) for f in files),
        "config": config.model_dump(mode="json", exclude={"run": True, "paths": True, "source_file": True}),
    })


def predict(spark: SparkSession, config: UsecaseConfig, ctx: RunContext, month: str | None = None) -> dict:
    """Score a lake month with the current model and write predictions + a report.

    Re-running a month with the same model, data, config and code rewrites nothing and
    returns the earlier report with ``rerun: true``.
    """
    log = get_logger()
    timer = StageTimer()
    month = month or config.run.test_month or previous_complete_month()
    registry = Registry(ctx.registry_root, config.usecase)
    chosen = model_for_month(registry, month)
    if chosen is None:
        raise DataError(
            f"There is no current model for {config.usecase} in {ctx.registry_root}.",
            "Predictions need a promoted model.",
            "Run `sparkmlops train` first (or check --model-registry-path).",
        )
    version, model_path, model_choice = chosen
    task = get_task(config)
    inputs_needed = set(task.input_columns())
    columns = {name: kind for name, kind in config.data.columns.items() if name in inputs_needed}
    # The observed target is written beside the predictions (null where the month has none),
    # but the cleaning rules stay those over the inputs: a missing target never drops a row here.
    target = config.data.target
    observed = {} if target in columns else {target: config.data.columns[target]}
    rules = quality.rules_over(config.cleaning.rules, set(columns), set(config.data.columns))
    with timer.stage("read") as info:
        frame, files = _predict_rows(spark, config, month, columns, observed)
        key = predict_key(config, month, version, files, ctx.code_version)
        earlier = reports.read_json(reports.report_path(ctx.reports_dir, config.usecase, month, "predict"))
        if earlier and earlier.get("predict_key") == key and lake.predictions_complete(spark, earlier["predictions_uri"]):
            log.info(f"{month} was already predicted by {version} from the same data, config and code "
                     f"(run {earlier['run_id']}); nothing changes")
            return {**earlier, "rerun": True}
        frame = frame.cache()
        by_split = quality.count_failures(frame, rules)  # "predict", or a day window's "test" and history ("train")
        rows = by_split.get("predict") or by_split.get(TEST) or quality.sum_counts([])
        info["rows"] = rows["rows_in"]
    target_uri = lake.predictions_uri(config.data.base_path, config.usecase, month)
    try:
        quality.check_retention({"predict": rows}, config.cleaning.min_retention)
        with timer.stage("predict") as info:
            clean = quality.apply_rules(frame, rules)
            scored = task.score(task.load_model(spark, model_path), clean)
            out = task.prediction_frame(scored, list(columns)).select(
                "*", F.lit(version).alias("model_version"), F.lit(ctx.run_id).alias("run_id"))
            with lake.store_errors(spark, target_uri):
                out.write.mode("overwrite").parquet(target_uri)
            # statistics of what was written (read back), not of a second model pass
            written = spark.read.parquet(target_uri)
            stats = task.prediction_stats(written, list(columns))
            info["rows"] = stats["rows"]
        with timer.stage("drift"):  # the scored month against the current model's stored reference only
            scored_month = clean.filter(F.col(quality.SPLIT_COLUMN).isin("predict", TEST))
            drift_report = drift.measure_at_predict(
                spark, task, reference_store.load(spark, model_path), scored_month, written,
                config.monitoring.drift, version)
    finally:
        frame.unpersist()
    failures = task.post_predict_failures(stats)
    policy_result = _policy(config, month, drift_report, None, "predict")
    report = {
        "run_id": ctx.run_id, "code_version": ctx.code_version, "task": config.task, "model_version": version,
        "model_choice": model_choice, "predict_key": key,
        "input_files": [f.path for f in files], "rows": rows, "predictions_uri": target_uri,
        "prediction_stats": stats, "post_predict_failures": failures, "drift": drift_report,
        "policy": policy_result.as_report(), "timings_seconds": timer.timings,
    }
    if TRAIN in by_split:
        report["history_rows"] = by_split[TRAIN]
    reports.write_report(ctx.reports_dir, config.usecase, month, "predict", report)
    tracking.track_predict(config, ctx, registry, month, report)  # rewrites the report with "tracking"
    log.info(f"wrote {stats['rows']} predictions to {target_uri}")
    warning = task.predict_warning(stats)
    if warning:
        log.warning(warning)
    if policy_result.fail:
        raise policy.policy_error(config.usecase, month, "predict", policy_result.fail,
                                  f"the predictions ({target_uri}) and the predict report are written.")
    return report
