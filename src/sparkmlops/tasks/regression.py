"""Regression: a numeric target; RMSE, MAE, R² per target bucket; a range for predictions."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from sparkmlops import gates, predictions
from sparkmlops.analysis.errors import large_error_causes
from sparkmlops.evaluation import evaluate
from sparkmlops.models.artifact import ModelArtifact
from sparkmlops.models.estimators import LABEL_COLUMN, PREDICTION_COLUMN
from sparkmlops.tasks.base import Task
from sparkmlops.tasks.catalog import REGRESSION
from sparkmlops.tasks.error_spec import ErrorSpec


class RegressionTask(Task):
    name = REGRESSION

    def label(self) -> Column:
        return F.col(self.config.data.target).cast("double")

    def evaluate(self, scored: DataFrame, artifact: ModelArtifact) -> dict:
        """RMSE, MAE, R², bias overall and per ``evaluation.buckets`` of the target, one aggregation."""
        return evaluate(scored, LABEL_COLUMN, PREDICTION_COLUMN, self.config.evaluation.buckets)

    def error_analysis(self, scored: DataFrame, evaluation: dict) -> dict:
        """Errors per target bucket and the likely causes of the largest errors."""
        causes = large_error_causes(scored, LABEL_COLUMN, PREDICTION_COLUMN, self.config.evaluation.error_causes,
                                    self.config.evaluation.large_error_quantile)
        return {"by_bucket": evaluation["buckets"], "large_errors": causes}

    def post_train_failures(self, evaluation: dict) -> list[str]:
        overall = evaluation["overall"]
        return [*super().post_train_failures(evaluation), *gates.error_consistency_failures(overall, self.config.gates)]

    def written_prediction_column(self) -> str:
        return predictions.RAW_COLUMN  # the model's output before any clipping, as at train time

    def prediction_frame(self, scored: DataFrame, input_columns: list[str]) -> DataFrame:
        """Inputs, the observed target, ``prediction`` (clipped when the YAML asks), ``prediction_raw``
        and ``prediction_clipped``."""
        kept = [*input_columns, *self.observed_columns(input_columns)]
        bounded = predictions.with_bounds(scored.select(*kept, PREDICTION_COLUMN), self.config.gates)
        return bounded.select(*kept, PREDICTION_COLUMN, predictions.RAW_COLUMN, predictions.CLIPPED_COLUMN)

    def prediction_error_spec(self) -> ErrorSpec:
        """|prediction − target| on the written ``prediction`` (what consumers read, clipped or not)."""
        return ErrorSpec(target=self.config.data.target, prediction=PREDICTION_COLUMN)

    def prediction_stats(self, written: DataFrame, input_columns: list[str]) -> dict:
        return predictions.prediction_stats(written, self.config.gates, input_columns)

    def post_predict_failures(self, stats: dict) -> list[str]:
        return gates.range_predict_failures(stats, self.config.gates)

    def predict_warning(self, stats: dict) -> str | None:
        """A console line when some predictions fell out of range (within the tolerance or not)."""
        if not gates.out_of_range_count(stats):
            return None
        within = "over" if gates.out_of_range_failures(stats, self.config.gates) else "within"
        return (f"{gates.out_of_range_summary(stats, self.config.gates)}: {within} the tolerance "
                f"{gates.percent(self.config.gates.prediction_out_of_range_tolerance)}; {stats['clipped']:,} clipped; "
                "the farthest rows are in prediction_stats.worst_out_of_range of the predict report")
