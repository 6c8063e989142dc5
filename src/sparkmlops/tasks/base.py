"""The task seam: one object per use case run that knows what its task needs.

A task is built from the use case's config and answers the pipeline's questions:
the label column, extra input checks counted in the cleaning pass, how to fit (with the
YAML's search), how to score rows, which metrics (in one aggregation) and error analysis,
what the post-train and post-predict gates check, and what predict writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import ClassVar

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from sparkmlops.config import UsecaseConfig
from sparkmlops.features import feature_module
from sparkmlops.gates import threshold_failures
from sparkmlops.models import search
from sparkmlops.models.artifact import ModelArtifact
from sparkmlops.models.estimators import LABEL_COLUMN, PREDICTION_COLUMN, feature_importance
from sparkmlops.monitoring.profile import DriftColumns
from sparkmlops.quality import SPLIT_COLUMN
from sparkmlops.tasks.catalog import METRICS
from sparkmlops.tasks.error_spec import ErrorSpec

_NUMERIC_TYPES, _CATEGORICAL_TYPES = ("long", "int", "double"), ("string", "boolean")

#: name -> function of the "row is kept" column giving one aggregate (counted with cleaning)
InputChecks = dict[str, Callable[[Column], Column]]


def fit_metadata(model, summary: dict | None) -> dict:
    """What a fit learned besides the model: the search's best parameters and the features kept/dropped."""
    metadata = {}
    if summary:
        metadata["search_best_params"] = summary["best_params"]
    features = [stage.fit_summary for stage in model.stages if hasattr(stage, "fit_summary")]
    if features:
        metadata["features"] = features[0]
    return metadata


class Task:
    """What regression and classification share; subclasses fill in the rest."""

    name: ClassVar[str]

    def __init__(self, config: UsecaseConfig) -> None:
        self.config = config
        self.metric_directions = METRICS[config.task]

    # ---- inputs ----------------------------------------------------------------------
    def label(self) -> Column:
        """The double ``label`` the estimator learns, from the target column."""
        raise NotImplementedError

    def input_checks(self) -> InputChecks:
        """Aggregates counted in the same pass as the cleaning rules (none by default)."""
        return {}

    def check_inputs(self, rows: Mapping[str, dict]) -> None:
        """Raise DataError when the counted inputs cannot train or test this task."""

    def with_label(self, frame: DataFrame) -> DataFrame:
        return frame.withColumn(LABEL_COLUMN, self.label())

    def input_columns(self) -> list[str]:
        """The raw columns a model reads to predict (what predict loads from the lake)."""
        return list(feature_module(self.config.features.module).input_columns(self.config.features.params))

    # ---- training and scoring ----------------------------------------------------------
    def fit(self, train_rows: DataFrame, rows: Mapping[str, dict]) -> tuple[ModelArtifact, dict | None]:
        """Fit on the cleaned, labelled training rows; returns the artifact and the search summary."""
        model, summary = search.fit(self.config, train_rows)
        return ModelArtifact(model, fit_metadata(model, summary)), summary

    def scoring_rows(self, clean: DataFrame) -> DataFrame:
        """What :meth:`score` needs from the cleaned window: the test rows (forecasting: also the history)."""
        return clean.filter(F.col(SPLIT_COLUMN) == "test")

    def score(self, artifact: ModelArtifact, rows: DataFrame) -> DataFrame:
        """Rows with the model's ``prediction`` (and, for classification, ``score``)."""
        return artifact.model.transform(rows)

    def load_model(self, spark, path: str) -> ModelArtifact:
        return ModelArtifact.load(spark, path)

    def model_summary(self, artifact: ModelArtifact) -> dict:
        """What the report and registry say about a fitted model."""
        model = self.config.model
        return {"type": model.type, "params": model.params.model_dump(), **artifact.metadata}

    def feature_importance(self, artifact: ModelArtifact, scored: DataFrame) -> list | None:
        return feature_importance(artifact.model, scored.schema)

    def evaluate(self, scored: DataFrame, artifact: ModelArtifact) -> dict:
        """``{"overall": {metric: value, count, …}, "undefined": {metric: why}, …task sections}`` in one pass."""
        raise NotImplementedError

    def error_analysis(self, scored: DataFrame, evaluation: dict) -> dict:
        raise NotImplementedError

    def model_analysis(self, artifact: ModelArtifact, test_rows: DataFrame) -> dict | None:
        """What the fitted model itself tells the report (forecasting: failed and fallback series)."""
        return None

    def compare(self, candidate: dict, current: dict | None) -> dict | None:
        """A finer comparison of the two evaluations than the promotion metrics (None: nothing to add)."""
        return None

    # ---- drift -------------------------------------------------------------------------
    def drift_columns(self) -> DriftColumns:
        """The raw input columns whose drift is measured: numeric and string ones by their
        type in ``data.columns`` (timestamps are skipped: every month has new ones)."""
        types = self.config.data.columns
        inputs = [name for name in self.input_columns() if name in types]
        return DriftColumns(numeric=tuple(n for n in inputs if types[n] in _NUMERIC_TYPES),
                            categorical=tuple(n for n in inputs if types[n] in _CATEGORICAL_TYPES))

    def drift_prediction_column(self) -> str:
        """The column of :meth:`score`'s rows whose distribution is the prediction drift."""
        return PREDICTION_COLUMN

    def written_prediction_column(self) -> str:
        """The same quantity in the rows :meth:`prediction_frame` writes."""
        return PREDICTION_COLUMN

    def drift_reference_rows(self, artifact: ModelArtifact, train_rows: DataFrame, column: str) -> DataFrame:
        """The training rows with, in ``column``, what the scored month's predictions are compared
        with: by default the model's own predictions on its training window."""
        return self.score(artifact, train_rows).withColumn(column, F.col(self.drift_prediction_column()))

    # ---- gates -------------------------------------------------------------------------
    def post_train_failures(self, evaluation: dict) -> list[str]:
        return threshold_failures(evaluation["overall"], self.config.gates, evaluation.get("undefined", {}))

    # ---- predict ----------------------------------------------------------------------
    def observed_columns(self, input_columns: list[str]) -> list[str]:
        """The target written beside the inputs (predict reads it, null where the month has none)."""
        target = self.config.data.target
        return [] if target in input_columns else [target]

    def prediction_frame(self, scored: DataFrame, input_columns: list[str]) -> DataFrame:
        """The columns predict writes: inputs, the observed target, then the task's prediction columns."""
        raise NotImplementedError

    def prediction_error_spec(self) -> ErrorSpec:
        """How a row of the written predictions gives its error (the report's largest errors)."""
        raise NotImplementedError

    def prediction_stats(self, written: DataFrame, input_columns: list[str]) -> dict:
        raise NotImplementedError

    def post_predict_failures(self, stats: dict) -> list[str]:
        raise NotImplementedError

    def predict_warning(self, stats: dict) -> str | None:
        """A line for the console when predictions are odd but the run goes on (None: nothing to say)."""
        return None
