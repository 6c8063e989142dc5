"""The report contract: typed models of every document under ``reports/<usecase>/``.

``train_report.json`` and ``predict_report.json`` differ by task in their metrics and
error analysis, so each kind is a union discriminated by ``task``; the live-performance
series and the ``latest.json`` index are one model each. The pipeline validates every
document against these models when it writes it, the HTML report and the dashboard read
through them, and ``schemas/`` publishes their JSON Schema for analysts' own tools
(:mod:`sparkmlops.reporting.schema`).

Top-level fields are closed (``extra="forbid"``): a field the pipeline writes and the
contract does not name fails the writer's tests instead of reaching analysts unannounced.
Nested sections that carry open-ended maps (Spark details, config overrides, per-rule
counts) stay open.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 2
Number = Union[int, float, None]
MetricMap = dict[str, Number]


class Open(BaseModel):
    """A section that may carry more fields than the ones named here."""

    model_config = ConfigDict(extra="allow")


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- shared sections ---------------------------------------------------------------------
class RowCounts(Open):
    """Rows read, kept and removed by the cleaning rules, and how many each rule removed."""

    rows_in: int
    rows_out: int
    rows_removed: int
    retention: float | None = None
    failures_by_rule: dict[str, int] = Field(default_factory=dict)


class Window(Open):
    test_month: str
    train_months: list[str]
    requested_train_months: list[str] = Field(default_factory=list)
    missing_train_months: list[str] = Field(default_factory=list)


class FeatureImportance(Open):
    feature: str
    importance: float | None


class CauseLift(Open):
    """How much more often a likely cause appears among the flagged rows than overall."""

    cause: str
    share_in_errors: float | None = None
    share_overall: float | None = None
    lift: float | None = None


class Decision(Open):
    outcome: str
    promoted: bool
    reason: str
    comparison: dict[str, str] = Field(default_factory=dict)
    gate_failures: list[str] = Field(default_factory=list)
    candidate_version: str | None = None
    current_version_before: str | None = None
    current_version_after: str | None = None


class DriftReport(Open):
    """Drift of the month against the model's training window (PSI per feature, shifts)."""

    status: str
    reason: str | None = None
    flagged_features: int | None = None
    flagged: list[dict[str, Any]] = Field(default_factory=list)
    psi: dict[str, float | None] = Field(default_factory=dict)
    prediction: dict[str, Any] | None = None
    thresholds: dict[str, Any] | None = None


class PolicyReport(Open):
    stage: str
    findings: list[dict[str, Any]] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    consider_candidate: list[str] = Field(default_factory=list)
    fail: list[str] = Field(default_factory=list)
    failed: bool = False


class TrackingReport(Open):
    """``ok``, ``off``, ``skipped`` (with ``reason``) or ``failed`` (with ``error``: one line saying why)."""

    status: str
    reason: str | None = None
    error: str | None = None

    @property
    def why(self) -> str:
        return self.error or self.reason or ""


class LiveEntry(Open):
    """The current model on a month it never saw (``status``: scored, no_current_model, out_of_order)."""

    month: str
    status: str
    model_version: str | None = None
    run_id: str | None = None
    promoted_in_month: str | None = None
    promoted_by: str | None = None
    months_in_production: int | None = None
    metrics: MetricMap = Field(default_factory=dict)


class LivePerformanceSection(Open):
    this_month: LiveEntry
    series: list[LiveEntry] = Field(default_factory=list)


# ---- per-task metrics and error analysis -------------------------------------------------
class Evaluation(Open):
    """One model scored on the test month: the task's overall metrics and why any is undefined."""

    overall: MetricMap
    undefined: dict[str, str] = Field(default_factory=dict)


class RegressionEvaluation(Evaluation):
    buckets: dict[str, MetricMap] | None = None


class ConfusionMatrix(Closed):
    tp: int
    fp: int
    fn: int
    tn: int


class CalibrationBin(Open):
    score_from: float
    score_to: float
    rows: int
    mean_score: float | None = None
    positive_rate: float | None = None


class ClassificationEvaluation(Evaluation):
    confusion_matrix: ConfusionMatrix | None = None
    calibration: list[CalibrationBin] = Field(default_factory=list)


class SeriesFigures(Open):
    n: int | None = None
    rmse: float | None = None
    mae: float | None = None
    naive_rmse: float | None = None
    status: str | None = None
    method: str | None = None


class ForecastingEvaluation(Evaluation):
    per_series: dict[str, SeriesFigures] = Field(default_factory=dict)
    not_forecast: list[dict[str, Any]] = Field(default_factory=list)


class Metrics(Open):
    candidate: Evaluation
    current: Evaluation | None = None


class LargeErrors(Open):
    quantile: float | None = None
    threshold: float | None = None
    large_error_rows: int | None = None
    causes: list[CauseLift] = Field(default_factory=list)
    top_causes: list[str] = Field(default_factory=list)


class RegressionErrorAnalysis(Open):
    """Errors by target bucket (e.g. taxi price bands) and the likely causes of the largest ones."""

    by_bucket: dict[str, MetricMap] | None = None
    large_errors: LargeErrors | None = None


class Misclassified(Open):
    flagged_rows: int | None = None
    causes: list[CauseLift] = Field(default_factory=list)
    top_causes: list[str] = Field(default_factory=list)


class ClassificationErrorAnalysis(Open):
    confusion_matrix: ConfusionMatrix | None = None
    calibration: list[CalibrationBin] = Field(default_factory=list)
    misclassified: Misclassified | None = None


class WorstSeries(SeriesFigures):
    series: str


class ForecastingErrorAnalysis(Open):
    """The series (animals) with the largest errors, and those that got no forecast."""

    worst_series: list[WorstSeries] = Field(default_factory=list)
    not_forecast: list[dict[str, Any]] = Field(default_factory=list)


class ForecastingModelAnalysis(Open):
    """Series that failed or fell back to a simpler model, and series on one side only."""

    fallback_and_failed: list[dict[str, Any]] = Field(default_factory=list)
    trained_but_absent_from_test_days: list[str] = Field(default_factory=list)
    on_test_days_without_a_model: list[str] = Field(default_factory=list)


# ---- train reports -----------------------------------------------------------------------
class RunReport(Closed):
    """What train and predict reports share: who wrote them, when, and the monitoring sections."""

    schema_version: int
    usecase: str
    month: str
    written_at: str | None = Field(None, description="UTC time the document was written; null in schema 1")
    run_id: str
    code_version: str | None = None
    drift: DriftReport | None = None
    policy: PolicyReport | None = None
    timings_seconds: dict[str, float] = Field(default_factory=dict)
    tracking: TrackingReport | None = None
    rerun: bool | None = Field(None, description="true when the run found its month already done and changed nothing")


class TrainReportBase(RunReport):
    """Everything a train report says whatever the task."""

    kind: Literal["train"]
    config_file: str | None = None
    config_overrides: dict[str, Any] = Field(default_factory=dict)
    spark: dict[str, Any] | None = None
    window: Window
    rows: dict[str, RowCounts] = Field(description="per split (train, test): rows in/out and failures per cleaning rule")
    rows_trained_on: int | None = None
    rows_tested_on: int | None = None
    data_fingerprint: dict[str, Any] | None = None
    promotion_metrics: list[str]
    decision: Decision
    feature_importance: list[FeatureImportance] | None = None
    comparison_with_current: dict[str, Any] | None = None
    model: dict[str, Any] | None = None
    search: dict[str, Any] | None = None
    live_performance: LivePerformanceSection | None = None


class RegressionMetrics(Metrics):
    candidate: RegressionEvaluation
    current: RegressionEvaluation | None = None


class ClassificationMetrics(Metrics):
    candidate: ClassificationEvaluation
    current: ClassificationEvaluation | None = None


class ForecastingMetrics(Metrics):
    candidate: ForecastingEvaluation
    current: ForecastingEvaluation | None = None


class RegressionTrainReport(TrainReportBase):
    task: Literal["regression"]
    metrics: RegressionMetrics
    error_analysis: RegressionErrorAnalysis | None = None
    model_analysis: dict[str, Any] | None = None


class ClassificationTrainReport(TrainReportBase):
    task: Literal["classification"]
    metrics: ClassificationMetrics
    error_analysis: ClassificationErrorAnalysis | None = None
    model_analysis: dict[str, Any] | None = None


class ForecastingTrainReport(TrainReportBase):
    task: Literal["forecasting"]
    metrics: ForecastingMetrics
    error_analysis: ForecastingErrorAnalysis | None = None
    model_analysis: ForecastingModelAnalysis | None = None


TrainReport = Annotated[Union[RegressionTrainReport, ClassificationTrainReport, ForecastingTrainReport],
                        Field(discriminator="task")]


# ---- predict reports ---------------------------------------------------------------------
class PredictReportBase(RunReport):
    kind: Literal["predict"]
    model_version: str
    model_choice: str | None = None
    predict_key: str | None = None
    input_files: list[str] = Field(default_factory=list)
    rows: RowCounts
    history_rows: RowCounts | None = Field(None, description="day windows: the history days read with the month")
    predictions_uri: str
    post_predict_failures: list[str] = Field(default_factory=list)


class PredictionStats(Open):
    """What was written: rows, and the range of the written predictions (probabilities for classifiers)."""

    rows: int
    min: float | None = None
    max: float | None = None


class RegressionPredictionStats(PredictionStats):
    non_finite: int | None = None
    out_of_range: int | None = None
    clipped: int | None = None
    mean: float | None = None


class ClassificationPredictionStats(PredictionStats):
    non_finite: int | None = None
    predicted_positive: int | None = None
    positive_share: float | None = None
    mean: float | None = None


class ForecastingPredictionStats(PredictionStats):
    series: int | None = None
    missing_forecasts: int | None = None
    failed_series: int | None = None
    fallback_series: int | None = None


class RegressionPredictReport(PredictReportBase):
    task: Literal["regression"]
    prediction_stats: RegressionPredictionStats


class ClassificationPredictReport(PredictReportBase):
    task: Literal["classification"]
    prediction_stats: ClassificationPredictionStats


class ForecastingPredictReport(PredictReportBase):
    task: Literal["forecasting"]
    prediction_stats: ForecastingPredictionStats


PredictReport = Annotated[Union[RegressionPredictReport, ClassificationPredictReport, ForecastingPredictReport],
                          Field(discriminator="task")]


# ---- the use case's series and index -----------------------------------------------------
class LivePerformance(Closed):
    """``reports/<usecase>/live_performance.json``: one entry per test month, by month."""

    schema_version: int
    usecase: str
    written_at: str | None = None
    entries: list[LiveEntry] = Field(default_factory=list)


class IndexEntry(Open):
    month: str
    run_id: str | None = None
    path: str
    written_at: str | None = None


class LatestIndex(Closed):
    """``reports/<usecase>/latest.json``: the newest train and predict report."""

    schema_version: int
    usecase: str
    written_at: str | None = None
    train: IndexEntry | None = None
    predict: IndexEntry | None = None
    latest: IndexEntry | None = None


DOCUMENTS: dict[str, Any] = {  # document kind -> its model (a union for the per-task kinds)
    "train": TrainReport,
    "predict": PredictReport,
    "live_performance": LivePerformance,
    "latest": LatestIndex,
}
