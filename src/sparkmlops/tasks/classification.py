"""Binary classification: a two-valued target, probability scores and a decision threshold.

The target's two values come from ``data.labels`` (compared as numbers when the target
column is numeric, else as text). The model's probability of the positive class is the
``score``; a row is predicted positive when its score is at or above the threshold — the
YAML's, or the one tuned on a validation slice of the training window and saved with
the model. All metrics come from one aggregation (:mod:`sparkmlops.tasks.binary_metrics`).
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.ml.functions import vector_to_array
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from sparkmlops import gates
from sparkmlops.analysis.errors import cause_lift
from sparkmlops.errors import DataError
from sparkmlops.models import search
from sparkmlops.models.artifact import ModelArtifact
from sparkmlops.models.estimators import LABEL_COLUMN, PREDICTION_COLUMN, PROBABILITY_COLUMN, WEIGHT_COLUMN
from sparkmlops.tasks import binary_metrics
from sparkmlops.tasks.base import InputChecks, Task, fit_metadata
from sparkmlops.tasks.catalog import CLASSIFICATION
from sparkmlops.tasks.error_spec import ErrorSpec

SCORE_COLUMN = "score"  # P(positive class)
PREDICTED_LABEL_COLUMN = "predicted_label"
PROBABILITY_WRITTEN = "probability"  # the score's name in the written predictions
_NUMERIC = ("long", "int", "double")
_EPS = 1e-15


class ClassificationTask(Task):
    name = CLASSIFICATION

    def __init__(self, config) -> None:
        super().__init__(config)
        self.labels = config.data.labels
        self.target = config.data.target
        self.numeric_target = config.data.columns[self.target] in _NUMERIC

    # ---- inputs ----------------------------------------------------------------------
    def _is(self, value: str) -> Column:
        column = F.col(self.target)
        return column.cast("double") == float(value) if self.numeric_target else column.cast("string") == value

    def label(self) -> Column:
        return F.when(self._is(self.labels.positive), 1.0).when(self._is(self.labels.negative), 0.0)

    def input_checks(self) -> InputChecks:
        target = F.col(self.target)
        unexpected = target.isNotNull() & ~F.coalesce(self._is(self.labels.positive) | self._is(self.labels.negative), F.lit(False))
        positive, negative = self._is(self.labels.positive), self._is(self.labels.negative)
        return {
            "unexpected_labels": lambda keep: F.sum(F.when(unexpected, 1).otherwise(0)),
            "unexpected_label_example": lambda keep: F.first(F.when(unexpected, target.cast("string")), ignorenulls=True),
            "positives_kept": lambda keep: F.sum(F.when(keep & positive, 1).otherwise(0)),
            "negatives_kept": lambda keep: F.sum(F.when(keep & negative, 1).otherwise(0)),
        }

    def check_inputs(self, rows: Mapping[str, dict]) -> None:
        allowed = f"'{self.labels.positive}' (positive) and '{self.labels.negative}' (negative)"
        for split, stats in sorted(rows.items()):
            checks = stats.get("checks", {})
            if checks.get("unexpected_labels"):
                raise DataError(
                    f"The target {self.target} has the value '{checks['unexpected_label_example']}' in "
                    f"{checks['unexpected_labels']:,} {split} row(s); the allowed values are {allowed}.",
                    "A classification target must hold one of data.labels' two values (or be missing, "
                    "which a cleaning rule removes).",
                    "Fix the source data and re-ingest the month, or fix data.labels in the YAML.",
                )
        for split, stats in sorted(rows.items()):
            checks = stats.get("checks", {})
            positives, negatives = checks.get("positives_kept", 0), checks.get("negatives_kept", 0)
            if stats.get("rows_out", 0) and (not positives or not negatives):
                present = self.labels.positive if positives else self.labels.negative
                raise DataError(
                    f"The {split} rows after cleaning hold only one class of {self.target} ('{present}', "
                    f"{positives + negatives:,} rows).",
                    "A classifier cannot be trained or judged on one class: ROC AUC, recall and the threshold "
                    "are undefined.",
                    "Choose another --test-month or more --train-months, or check the month's data.",
                )

    # ---- training and scoring ----------------------------------------------------------
    def class_weights(self, rows: Mapping[str, dict]) -> dict[str, float]:
        """Balanced weights from the training counts: n / (2 · n_class), so each class weighs the same."""
        checks = rows["train"]["checks"]
        positives, negatives = checks["positives_kept"], checks["negatives_kept"]
        total = positives + negatives
        return {"positive": total / (2 * positives), "negative": total / (2 * negatives)}

    def fit(self, train_rows: DataFrame, rows: Mapping[str, dict]) -> tuple[ModelArtifact, dict | None]:
        """Fit (with the YAML's search and class weights) and tune the threshold on a held-out slice."""
        model_config = self.config.model
        metadata: dict = {}
        weighted = model_config.class_weight == "balanced"
        if weighted:
            weights = metadata["class_weights"] = self.class_weights(rows)
            train_rows = train_rows.withColumn(
                WEIGHT_COLUMN, F.when(F.col(LABEL_COLUMN) == 1.0, weights["positive"]).otherwise(weights["negative"]))
        tuning = model_config.threshold
        if tuning.tune == "none":
            model, summary = search.fit(self.config, train_rows, weighted)
            metadata["threshold"] = tuning.value
        else:
            seed = model_config.search.seed if model_config.search else 42
            fit_rows, validation_rows = train_rows.randomSplit([1 - tuning.validation_fraction, tuning.validation_fraction], seed)
            model, summary = search.fit(self.config, fit_rows, weighted)
            hist = self.histogram(self._with_score(model, validation_rows), tuning.value)
            threshold, value = binary_metrics.best_threshold(hist, tuning.tune)
            metadata["threshold"] = threshold
            metadata["threshold_tuning"] = {"objective": tuning.tune, "value_on_validation": value,
                                            "validation_rows": sum(hist.totals()),
                                            "validation_fraction": tuning.validation_fraction}
        return ModelArtifact(model, {**metadata, **fit_metadata(model, summary)}), summary

    def threshold(self, artifact: ModelArtifact) -> float:
        return float(artifact.metadata.get("threshold", self.config.model.threshold.value))

    @staticmethod
    def _with_score(model, rows: DataFrame) -> DataFrame:
        return model.transform(rows).withColumn(SCORE_COLUMN, vector_to_array(PROBABILITY_COLUMN)[1])

    def score(self, artifact: ModelArtifact, rows: DataFrame) -> DataFrame:
        scored = self._with_score(artifact.model, rows)
        return scored.withColumn(PREDICTION_COLUMN, (F.col(SCORE_COLUMN) >= self.threshold(artifact)).cast("double"))

    def drift_prediction_column(self) -> str:
        return SCORE_COLUMN  # the positive-class probability, not the thresholded 0/1

    def written_prediction_column(self) -> str:
        return PROBABILITY_WRITTEN

    # ---- metrics -------------------------------------------------------------------------
    def histogram(self, scored: DataFrame, threshold: float) -> binary_metrics.Histogram:
        """The per-class score histogram and exact confusion counts of ``scored``, in one aggregation."""
        score = F.col(SCORE_COLUMN)
        finite = score.isNotNull() & ~F.isnan(score)
        bins = binary_metrics.BINS
        bin_of = F.when(finite, F.least(F.greatest(F.floor(score * bins), F.lit(0)), F.lit(bins - 1))).otherwise(-1)
        clipped = F.least(F.greatest(score, F.lit(_EPS)), F.lit(1 - _EPS))
        y = F.col(LABEL_COLUMN)
        loss = -(y * F.log(clipped) + (1 - y) * F.log(1 - clipped))
        rows = (
            scored.groupBy(y.cast("int").alias("c"), bin_of.cast("int").alias("b"))
            .agg(F.count(F.lit(1)).alias("n"), F.sum(F.when(finite, score)).alias("s"),
                 F.sum(F.when(finite, score * score)).alias("s2"), F.sum(F.when(finite, loss)).alias("loss"),
                 F.sum(F.when(finite & (score >= threshold), 1).otherwise(0)).alias("predicted"))
            .collect()  # at most 2 x (BINS + 1) rows: bounded
        )
        hist = binary_metrics.Histogram(threshold=threshold)
        for row in rows:
            if row["b"] < 0 or row["c"] is None:
                hist.non_finite += int(row["n"])
                continue
            c, b = int(row["c"]), int(row["b"])
            hist.count[c][b] += int(row["n"])
            hist.score_sum[c][b] += float(row["s"] or 0.0)
            hist.score_sq_sum[c][b] += float(row["s2"] or 0.0)
            hist.log_loss_sum += float(row["loss"] or 0.0)
            hist.predicted_positive[c] += int(row["predicted"] or 0)
        return hist

    def evaluate(self, scored: DataFrame, artifact: ModelArtifact) -> dict:
        """ROC AUC, PR AUC, threshold metrics, log loss, Brier, confusion matrix and calibration."""
        result = binary_metrics.metrics(self.histogram(scored, self.threshold(artifact)), self.config.evaluation.calibration_bins)
        overall = result["overall"]
        overall["majority_class_accuracy"] = max(overall["positives"], overall["negatives"]) / overall["count"] \
            if overall["count"] else float("nan")  # what always predicting the larger class scores
        return result

    def error_analysis(self, scored: DataFrame, evaluation: dict) -> dict:
        """The confusion matrix, calibration, and causes over-represented among misclassified rows."""
        analysis = {"confusion_matrix": evaluation["confusion_matrix"], "calibration": evaluation["calibration"]}
        causes = self.config.evaluation.error_causes
        if causes:
            analysis["misclassified"] = cause_lift(scored, F.col(PREDICTION_COLUMN) != F.col(LABEL_COLUMN), causes)
        return analysis

    # ---- predict ----------------------------------------------------------------------
    def prediction_frame(self, scored: DataFrame, input_columns: list[str]) -> DataFrame:
        """Inputs, the observed target (as in the lake), ``probability`` (of the positive class),
        ``prediction`` (1/0) and ``predicted_label``."""
        predicted = F.when(F.col(PREDICTION_COLUMN) == 1.0, F.lit(self.labels.positive)).otherwise(F.lit(self.labels.negative))
        return scored.select(*input_columns, *self.observed_columns(input_columns),
                             F.col(SCORE_COLUMN).alias(PROBABILITY_WRITTEN), PREDICTION_COLUMN,
                             predicted.alias(PREDICTED_LABEL_COLUMN))

    def prediction_error_spec(self) -> ErrorSpec:
        """|probability − y| with y = 1 where the target is the positive label, else 0."""
        return ErrorSpec(target=self.target, prediction=PROBABILITY_WRITTEN, positive_label=self.labels.positive)

    def prediction_stats(self, written: DataFrame, input_columns: list[str]) -> dict:
        """Rows, non-finite and out-of-[0, 1] probabilities, predicted-positive share, probability min/mean/max."""
        p = F.col(PROBABILITY_WRITTEN)
        finite = p.isNotNull() & ~F.isnan(p)
        row = written.agg(
            F.count(F.lit(1)).alias("rows"),
            F.sum(F.when(~finite, 1).otherwise(0)).alias("non_finite"),
            F.sum(F.when(finite & ((p < 0) | (p > 1)), 1).otherwise(0)).alias("outside_unit_interval"),
            F.sum(F.when(F.col(PREDICTION_COLUMN) == 1.0, 1).otherwise(0)).alias("predicted_positive"),
            F.min(F.when(finite, p)).alias("min"), F.max(F.when(finite, p)).alias("max"), F.avg(F.when(finite, p)).alias("mean"),
        ).first().asDict()
        stats = {key: (value if value is not None else 0) for key, value in row.items()}
        stats["positive_share"] = stats["predicted_positive"] / stats["rows"] if stats["rows"] else 0.0
        return stats

    def post_predict_failures(self, stats: dict) -> list[str]:
        return gates.probability_predict_failures(stats, self.config.gates)
