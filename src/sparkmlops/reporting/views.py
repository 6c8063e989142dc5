"""The views analysts read, built once for both surfaces (HTML report and dashboard).

Every function takes the typed reports (:mod:`.history`) and returns sections of tables,
charts and notes (:mod:`.blocks`); nothing here recomputes a run or knows how the result
is shown. Numbers are the report files' own.
"""

from __future__ import annotations

from sparkmlops.reporting import charts, task_views
from sparkmlops.reporting.blocks import Badge, Block, Cell, Figure, Note, Section, Table
from sparkmlops.reporting.history import MonthReports, UseCaseHistory

GOOD_OUTCOMES = {"first_model", "promoted", "forced", "policy_promoted"}
BAD_OUTCOMES = {"gate_failed", "policy_failed"}
DRIFT_ROWS = 12  # features in the drift heatmap: the ones that moved most
IMPORTANCE_ROWS = 20
SPLITS = (("train", "training window"), ("test", "test month"))


def _outcome_cell(outcome: str) -> Cell:
    return Cell(outcome, tone="good" if outcome in GOOD_OUTCOMES else "bad" if outcome in BAD_OUTCOMES else "warn")


# ---- warnings ------------------------------------------------------------------------------
def badges(history: UseCaseHistory) -> list[Badge]:
    """Problems of the newest month: failed gates, drift past its thresholds, failed tracking or policy."""
    found: list[Badge] = [Badge("schema", problem) for problem in history.problems]
    if not history.months:
        return found
    newest = history.months[-1]
    found += [Badge("schema", problem) for problem in newest.problems]
    for stage, report in (("train", newest.train), ("predict", newest.predict)):
        if report is None:
            continue
        failures = report.decision.gate_failures if stage == "train" else report.post_predict_failures
        if failures or (stage == "train" and report.decision.outcome == "gate_failed"):
            found.append(Badge("gate", f"{stage} {newest.month}: gate failed ({'; '.join(failures) or report.decision.reason})"))
        drift = report.drift
        if drift and drift.flagged_features:
            found.append(Badge("drift", f"{stage} {newest.month}: drift in {drift.flagged_features} feature(s)"))
        if report.tracking and report.tracking.status == "failed":
            found.append(Badge("tracking", f"{stage} {newest.month}: MLflow tracking failed ({report.tracking.why})"))
        if report.policy and report.policy.failed:
            found.append(Badge("policy", f"{stage} {newest.month}: monitoring policy failed ({'; '.join(report.policy.fail)})"))
    return found


# ---- the index of use cases -------------------------------------------------------------
def index_table(histories: list[UseCaseHistory], links: dict[str, str] | None = None) -> Table:
    """One row per use case: its current model, its last decision and its warnings."""
    rows = []
    for history in histories:
        latest = history.latest_train
        current = history.registry.current if history.registry else None
        current_version = (current or {}).get("version") or (latest.decision.current_version_after if latest else None)
        warnings = badges(history)
        rows.append([
            Cell(history.usecase, link=(links or {}).get(history.usecase)),
            history.task or "—",
            current_version or "no model yet",
            latest.month if latest else "no runs yet",
            _outcome_cell(latest.decision.outcome) if latest else Cell("—"),
            latest.decision.reason if latest else "",
            Cell(" · ".join(f"{b.kind}: {b.text}" for b in warnings) or "none", tone="bad" if warnings else "good"),
        ])
    return Table.build("usecases", ["use case", "task", "current model", "last month", "last decision", "reason", "warnings"],
                       rows)


# ---- one use case over its months --------------------------------------------------------
def summary_section(history: UseCaseHistory) -> Section:
    latest, registry = history.latest_train, history.registry
    current = (registry.current if registry else None) or {}
    candidate = (registry.candidate if registry else None) or {}
    rows = [["task", history.task or "—"],
            ["current model", current.get("version") or (latest.decision.current_version_after if latest else None) or "none"],
            ["current model promoted at", current.get("promoted_at")],
            ["candidate slot", candidate.get("version") or "empty"],
            ["months reported", len(history.months)]]
    if latest:
        rows += [["last decision", f"{latest.month}: {latest.decision.outcome}"], ["reason", latest.decision.reason]]
    blocks: list[Block] = [Table.build("summary", ["", "value"], rows)]
    if registry and registry.problem:
        blocks.append(Note(f"The registry could not be read: {registry.problem}", "warn"))
    blocks += [Note(f"{b.kind}: {b.text}", "bad") for b in badges(history)]
    if not history.months:
        blocks.append(Note(f"No runs of {history.usecase} yet: run `sparkmlops train --usecase {history.usecase}` "
                           "(or ./run_pipeline.sh) and render this report again."))
    return Section("summary", history.usecase, blocks)


def decisions_section(history: UseCaseHistory) -> Section:
    """Per month: the decision, its reason, and candidate against current on the promotion metrics."""
    trained = history.trained
    if not trained:
        return Section("decisions", "Decisions by month", [Note("No train reports yet.")])
    metrics = list(dict.fromkeys(name for report in trained for name in report.promotion_metrics))
    columns = ["month", "outcome", "reason", "candidate", "current after"]
    columns += [f"{name} {side}" for name in metrics for side in ("candidate", "current")]
    rows = []
    for report in trained:
        current = report.metrics.current.overall if report.metrics.current else {}
        verdict = report.decision.comparison
        row: list = [report.month, _outcome_cell(report.decision.outcome), report.decision.reason,
                     report.decision.candidate_version, report.decision.current_version_after]
        for name in metrics:
            tone = {"better": "good", "worse": "bad"}.get(verdict.get(name, ""))
            row += [Cell.of(report.metrics.candidate.overall.get(name), tone), Cell.of(current.get(name))]
        rows.append(row)
    months = [report.month for report in trained]
    panels = {name: {"candidate": [r.metrics.candidate.overall.get(name) for r in trained],
                     "current": [(r.metrics.current.overall if r.metrics.current else {}).get(name) for r in trained]}
              for name in metrics}
    return Section("decisions", "Decisions by month", [
        Figure("decisions-chart", "Candidate and current model by month", lambda: charts.lines_by_month(months, panels),
               "the promotion metrics of the candidate and of the current model on each test month"),
        Table.build("decisions", columns, rows, "Each month's candidate and current model scored on the same test month."),
    ], intro="A candidate is promoted when at least 2 of the 3 promotion metrics improve on the same test month.")


def live_section(history: UseCaseHistory) -> Section:
    """The current model on months it never saw: is it getting worse while in production?"""
    entries = history.live.entries if history.live else (history.latest_train.live_performance.series
                                                          if history.latest_train and history.latest_train.live_performance else [])
    scored = [e for e in entries if e.status == "scored"]
    if not scored:
        return Section("live", "Live performance", [Note("No month has been scored by a model in production yet.")])
    names = list(dict.fromkeys(name for entry in scored for name in entry.metrics))
    months = [e.month for e in scored]
    panels = {name: {"current model": [e.metrics.get(name) for e in scored]} for name in names}
    rows = [[e.month, e.status, e.model_version, e.promoted_in_month, e.months_in_production,
             *[e.metrics.get(name) for name in names]] for e in entries]
    return Section("live", "Live performance", [
        Figure("live-chart", "The model in production on each new month", lambda: charts.lines_by_month(months, panels),
               "the promotion metrics of the model in production on each month it had not seen"),
        Table.build("live", ["month", "status", "model", "promoted in", "months in production", *names], rows),
    ])


def _drift_of(entry: MonthReports):
    """The month's drift as scored in production (predict), else as measured at train."""
    for report in (entry.predict, entry.train):
        if report is not None and report.drift is not None and report.drift.status == "ok":
            return report.drift
    return None


def drift_section(history: UseCaseHistory) -> Section:
    measured = [(entry.month, _drift_of(entry)) for entry in history.months]
    measured = [(month, drift) for month, drift in measured if drift is not None]
    rows = []
    for entry in history.months:
        for stage, report in (("train", entry.train), ("predict", entry.predict)):
            drift = report.drift if report is not None else None
            if drift is None:
                if report is not None:
                    rows.append([entry.month, stage, "not measured", None, "", None, None])
                continue
            flagged = [item.get("feature", "?") for item in drift.flagged]
            top = max((v for v in drift.psi.values() if v is not None), default=None)
            rows.append([entry.month, stage, Cell(drift.status, tone="good" if drift.status == "ok" else "warn"),
                         drift.flagged_features, ", ".join(flagged), (drift.prediction or {}).get("psi"), top])
    blocks: list[Block] = []
    if measured:
        months = [month for month, _ in measured]
        features = sorted({name for _, drift in measured for name in drift.psi},
                          key=lambda name: -max((d.psi.get(name) or 0) for _, d in measured))[:DRIFT_ROWS]
        grid = [[d.psi.get(name) for _, d in measured] for name in features]
        grid.append([(d.prediction or {}).get("psi") for _, d in measured])
        limit = max((d.thresholds or {}).get("psi_threshold") or 0.2 for _, d in measured) * 2
        blocks.append(Figure("drift-chart", "Population stability index by month",
                             lambda: charts.heatmap([*features, "prediction"], months, grid, "PSI (the month against the "
                                                    "model's training window)", limit),
                             f"PSI of the {len(features)} features that moved most and of the predictions, per month"))
    blocks.append(Table.build("drift", ["month", "run", "status", "flagged features", "which", "prediction PSI",
                                        "largest feature PSI"], rows))
    return Section("drift", "Drift", blocks or [Note("Drift has not been measured yet.")],
                   intro="PSI above 0.2 is a large shift; a flagged feature crossed its threshold in the YAML.")


def cleaning_section(history: UseCaseHistory) -> Section:
    """How many rows each cleaning rule removed, for each month's training window, test month and predict run."""
    counted = []
    for entry in history.months:
        if entry.train is not None:
            counted += [(entry.month, label, entry.train.rows[split]) for split, label in SPLITS if split in entry.train.rows]
        if entry.predict is not None:
            counted.append((entry.month, "predict", entry.predict.rows))
    if not counted:
        return Section("cleaning", "Rows and cleaning rules", [Note("No rows counted yet.")])
    rules = list(dict.fromkeys(rule for _, _, rows in counted for rule in rows.failures_by_rule))
    table = Table.build("cleaning", ["month", "rows of", "rows in", "rows out", "retention", *rules],
                        [[month, label, rows.rows_in, rows.rows_out, rows.retention,
                          *[rows.failures_by_rule.get(rule) for rule in rules]] for month, label, rows in counted])
    blocks: list[Block] = []
    tested = [(month, rows) for month, label, rows in counted if label == "test month"]
    if rules and tested:
        months = [month for month, _ in tested]
        parts = {rule: [rows.failures_by_rule.get(rule, 0) for _, rows in tested] for rule in rules}
        blocks.append(Figure("cleaning-chart", "Rows removed per rule", lambda: charts.stacked_bars(
            months, parts, "Rows of the test month removed by each rule"), "rows removed by each cleaning rule per month"))
    return Section("cleaning", "Rows and cleaning rules", [*blocks, table])


# ---- one month ---------------------------------------------------------------------------
def _metrics_table(report, key: str) -> Table:
    current = report.metrics.current.overall if report.metrics.current else {}
    promoted = report.promotion_metrics
    names = promoted + [n for n in report.metrics.candidate.overall if n not in promoted]
    verdict = report.decision.comparison
    rows = [[name, Cell.of(report.metrics.candidate.overall.get(name), {"better": "good", "worse": "bad"}.get(verdict.get(name, ""))),
             current.get(name), verdict.get(name, "")] for name in names]
    return Table.build(key, ["metric", "candidate", "current", "candidate is"], rows,
                       "Promotion metrics first; both models scored on the same test month.")


def _importance_blocks(report, key: str) -> list[Block]:
    ranked = sorted((f for f in report.feature_importance or [] if f.importance is not None), key=lambda f: -f.importance)
    if not ranked:
        return []
    shown = ranked[:IMPORTANCE_ROWS]
    names, values = [f.feature for f in shown], [f.importance for f in shown]
    return [Figure(f"{key}-importance", "Feature importance", lambda: charts.horizontal_bars(names, values, "Feature importance"),
                   f"the {len(shown)} most important features of the candidate"),
            Table.build(f"{key}-importance-table", ["feature", "importance"], [[n, v] for n, v in zip(names, values)],
                        f"Top {len(shown)} of {len(ranked)} features.")]


def _predict_blocks(report, key: str) -> list[Block]:
    stats = report.prediction_stats.model_dump()
    plain = {name: value for name, value in stats.items() if isinstance(value, (int, float, str)) or value is None}
    blocks: list[Block] = [Table.build(f"{key}-predictions", ["", "value"], [["model", report.model_version],
                                                                        ["written to", report.predictions_uri],
                                                                        *[[n, v] for n, v in plain.items()]])]
    blocks += [Note(f"post-predict gate: {failure}", "bad") for failure in report.post_predict_failures]
    return blocks


def month_section(history: UseCaseHistory, month: str, collapsed: bool = False) -> Section:
    """Everything about one month: metrics, decision, error analysis, importance, predictions, drift."""
    entry = history.month(month)
    key = f"m{month}"
    if entry is None:
        return Section(key, month, [Note(f"No reports for {month}.")], collapsed=collapsed)
    blocks: list[Block] = [Note(problem, "bad") for problem in entry.problems]
    train, predict = entry.train, entry.predict
    if train is not None:
        blocks.append(Note(f"Decision: {train.decision.outcome} — {train.decision.reason}",
                           "info" if train.decision.outcome in GOOD_OUTCOMES else "warn"))
        blocks.append(_metrics_table(train, f"{key}-metrics"))
        blocks += task_views.error_blocks(train, f"{key}-errors")
        blocks += _importance_blocks(train, key)
        if train.search and train.search.get("table"):
            metric = train.search.get("metric")
            blocks.append(Table.build(f"{key}-search", ["parameters", metric or "score"],
                                      [[str(row.get("params")), row.get(metric)] for row in train.search["table"]],
                                      f"Parameter search ({train.search.get('method')}); best: {train.search.get('best_params')}."))
    else:
        blocks.append(Note(f"{month} has no train report."))
    if predict is not None:
        blocks += _predict_blocks(predict, key)
    else:
        blocks.append(Note(f"{month} has no predictions yet: run `sparkmlops predict --usecase {history.usecase} "
                           f"--test-month {month}`."))
    for stage, report in (("train", train), ("predict", predict)):
        if report is None:
            continue
        if report.drift is not None and report.drift.flagged:
            blocks.append(Table.build(f"{key}-{stage}-drift", ["feature", "check", "value", "threshold"],
                                      [[f.get("feature"), f.get("reason") or f.get("kind"), f.get("value"), f.get("threshold")]
                                       for f in report.drift.flagged], f"Drift flagged at {stage}."))
        if report.policy is not None:
            blocks += [Note(f"policy ({stage}): {warning}", "warn") for warning in report.policy.warnings]
        if report.tracking is not None and report.tracking.status == "failed":
            blocks.append(Note(f"MLflow tracking failed at {stage}: {report.tracking.why}", "bad"))
    return Section(key, month, blocks, collapsed=collapsed)


def history_sections(history: UseCaseHistory) -> list[Section]:
    """The use case over its months: summary, decisions, live performance, drift, cleaning."""
    return [summary_section(history), decisions_section(history), live_section(history),
            drift_section(history), cleaning_section(history)]


def usecase_sections(history: UseCaseHistory) -> list[Section]:
    """The whole use case: the history sections, then every month, newest first (older ones folded)."""
    sections = history_sections(history)
    months = [entry.month for entry in reversed(history.months)]
    sections += [month_section(history, month, collapsed=index > 0) for index, month in enumerate(months)]
    return sections
