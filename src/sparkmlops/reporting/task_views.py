"""Error analysis per task: what each kind of model gets wrong, as tables and charts.

Chosen by the report's ``task`` (regression, classification, forecasting), never by the
use case: a new YAML use case of a known task gets its error analysis for free.
"""

from __future__ import annotations

from sparkmlops.reporting import charts
from sparkmlops.reporting.blocks import Block, Figure, Note, Table

TOP_SERIES = 15


def _causes_table(key: str, causes, caption: str) -> Table:
    return Table.build(key, ["likely cause", "share of flagged rows", "share of all rows", "lift"],
                       [[c.cause, c.share_in_errors, c.share_overall, c.lift] for c in causes], caption)


def regression(report, key: str) -> list[Block]:
    """Errors per target bucket (candidate against current) and the likely causes of the largest errors."""
    blocks: list[Block] = []
    analysis = report.error_analysis
    candidate = report.metrics.candidate.buckets or (analysis.by_bucket if analysis else None) or {}
    current = (report.metrics.current.buckets if report.metrics.current else None) or {}
    if candidate:
        names = list(candidate)
        blocks.append(Table.build(
            f"{key}-buckets", ["bucket", "rows", "mean target", "RMSE candidate", "RMSE current", "MAE candidate",
                               "MAE current", "bias candidate"],
            [[name, candidate[name].get("count"), candidate[name].get("mean_label"), candidate[name].get("rmse"),
              current.get(name, {}).get("rmse"), candidate[name].get("mae"), current.get(name, {}).get("mae"),
              candidate[name].get("bias")] for name in names],
            "Errors by bucket of the observed target (bias: mean prediction minus target)."))
        series = {"candidate": [candidate[n].get("rmse") for n in names]}
        if current:
            series["current"] = [current.get(n, {}).get("rmse") for n in names]
        blocks.append(Figure(f"{key}-buckets-chart", "RMSE by target bucket",
                             lambda: charts.grouped_bars(names, series, "RMSE by target bucket"),
                             "RMSE of the candidate and the current model in each target bucket"))
    large = analysis.large_errors if analysis else None
    if large and large.causes:
        blocks.append(_causes_table(
            f"{key}-causes", large.causes,
            f"The {large.large_error_rows} rows with an absolute error above {large.threshold} "
            f"(the {large.quantile} quantile): how often each likely cause appears among them."))
    return blocks


def classification(report, key: str) -> list[Block]:
    """Confusion matrix at the tuned threshold, calibration by score bin, causes of misclassification."""
    blocks: list[Block] = []
    analysis = report.error_analysis
    matrix = (analysis.confusion_matrix if analysis else None) or report.metrics.candidate.confusion_matrix
    if matrix:
        blocks.append(Table.build(
            f"{key}-confusion", ["", "predicted positive", "predicted negative"],
            [["actual positive", matrix.tp, matrix.fn], ["actual negative", matrix.fp, matrix.tn]],
            f"Candidate on the test month at threshold {report.metrics.candidate.overall.get('threshold')}."))
    bins = (analysis.calibration if analysis else None) or report.metrics.candidate.calibration
    if bins:
        blocks.append(Figure(f"{key}-calibration", "Calibration",
                             lambda: charts.calibration([b.mean_score for b in bins], [b.positive_rate for b in bins],
                                                        [b.rows for b in bins], "Calibration of the candidate"),
                             "observed positive rate against the mean score in each score bin"))
        blocks.append(Table.build(f"{key}-calibration-table", ["scores", "rows", "mean score", "observed positive rate"],
                                  [[f"{b.score_from:.1f}–{b.score_to:.1f}", b.rows, b.mean_score, b.positive_rate] for b in bins]))
    missed = analysis.misclassified if analysis else None
    if missed and missed.causes:
        blocks.append(_causes_table(f"{key}-causes", missed.causes,
                                    f"The {missed.flagged_rows} misclassified rows: how often each likely cause appears."))
    return blocks


def forecasting(report, key: str) -> list[Block]:
    """Per series (animal): the worst errors against the naive forecast, failures and fallbacks."""
    blocks: list[Block] = []
    analysis, model = report.error_analysis, report.model_analysis
    worst = (analysis.worst_series if analysis else [])[:TOP_SERIES]
    if worst:
        blocks.append(Table.build(f"{key}-series", ["series", "steps", "RMSE", "MAE", "naive RMSE", "status", "method"],
                                  [[s.series, s.n, s.rmse, s.mae, s.naive_rmse, s.status, s.method] for s in worst],
                                  "The series with the largest errors on the test days."))
        names = [s.series for s in worst]
        series = {"model": [s.rmse for s in worst], "naive": [s.naive_rmse for s in worst]}
        blocks.append(Figure(f"{key}-series-chart", "RMSE per series", lambda: charts.grouped_bars(
            names, series, "RMSE per series: model against the naive forecast"), "RMSE of each series' model and its naive forecast"))
    flagged = model.fallback_and_failed if model else []
    if flagged:
        blocks.append(Table.build(f"{key}-fallbacks", ["series", "status", "method", "why"],
                                  [[f.get("series_id") or f.get("series"), f.get("status"), f.get("method"), f.get("error")]
                                   for f in flagged], "Series whose model failed or fell back to a simpler one."))
    not_forecast = analysis.not_forecast if analysis else []
    if not_forecast:
        blocks.append(Table.build(f"{key}-not-forecast", ["series", "status", "why"],
                                  [[f.get("series"), f.get("status"), f.get("error")] for f in not_forecast],
                                  "Series without a forecast on the test days."))
    for label, listed in (("trained but absent from the test days", model.trained_but_absent_from_test_days if model else []),
                         ("on the test days without a model", model.on_test_days_without_a_model if model else [])):
        if listed:
            blocks.append(Note(f"Series {label}: {', '.join(listed)}.", "warn"))
    compared = report.comparison_with_current
    if compared and compared.get("series_compared"):
        blocks.append(Note(f"The candidate beats the current model on {compared['candidate_better']} of "
                           f"{compared['series_compared']} series compared."))
    return blocks


ERROR_VIEWS = {"regression": regression, "classification": classification, "forecasting": forecasting}


def error_blocks(report, key: str) -> list[Block]:
    view = ERROR_VIEWS.get(report.task)
    return view(report, key) if view else [Note(f"No error analysis view for task {report.task}.")]
