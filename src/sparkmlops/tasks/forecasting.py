"""Forecasting: one model per series (e.g. per animal), fitted in parallel, judged herd-wide.

The model is a table with one row of parameters and state per series
(:mod:`sparkmlops.models.series`), fitted through ``applyInPandas`` on the train days.
Scoring forecasts the test days of every series from its row after running the stored
parameters over the latest history (the days before the test days; no refit), so the
current model and the candidate are judged on the same days from the same history.
Metrics are over series: the mean, median and 90th percentile of the per-series RMSE and
the mean MAE, next to the seasonal-naive baseline on the same steps.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from sparkmlops import quality
from sparkmlops.config import UsecaseConfig
from sparkmlops.errors import DataError
from sparkmlops.gates import threshold_failures
from sparkmlops.models import series, series_refresh
from sparkmlops.models.artifact import ModelArtifact
from sparkmlops.models.estimators import PREDICTION_COLUMN
from sparkmlops.tasks.base import InputChecks, Task
from sparkmlops.tasks.catalog import FORECASTING
from sparkmlops.tasks.error_spec import ErrorSpec

ACTUAL = "actual"
WORST_SERIES = 10  # how many of the worst series the report lists
LISTED_SERIES = 50  # cap on the failed / fallback / absent series the report names


def series_spec(config: UsecaseConfig) -> series.SeriesSpec:
    """The per-series fitting spec from the use case's data and forecasting sections."""
    f = config.forecasting
    return series.SeriesSpec(
        series_column=config.data.series_column, time_column=config.data.timestamp_column, target=config.data.target,
        exogenous=tuple(f.exogenous), step_minutes=f.step_minutes, resample_minutes=f.resample_minutes,
        method=f.method, order=tuple(f.order), seasonal_order=tuple(f.seasonal_order),
        seasonal_period=f.seasonal_period, fourier_terms=f.fourier_terms, trend=f.trend, regression=f.regression,
        min_points=f.min_points, max_points=f.max_points, clip=tuple(f.clip) if f.clip else None, maxiter=f.maxiter,
    )


class ForecastingTask(Task):
    name = FORECASTING

    def __init__(self, config: UsecaseConfig) -> None:
        super().__init__(config)
        self.spec = series_spec(config)

    # ---- inputs ----------------------------------------------------------------------
    def label(self) -> Column:
        return F.col(self.spec.target).cast("double")

    def input_columns(self) -> list[str]:
        return list(self.spec.input_columns)

    def input_checks(self) -> InputChecks:
        target, key = F.col(self.spec.target), F.col(self.spec.series_column)
        checks: InputChecks = {"series": lambda keep: F.count_distinct(F.when(keep, key))}
        if self.spec.clip is not None:
            low, high = self.spec.clip
            outside = (target < low) | (target > high)
            checks["target_out_of_range"] = lambda keep: F.sum(F.when(keep & outside, 1).otherwise(0))
            checks["target_out_of_range_example"] = lambda keep: F.first(
                F.when(keep & outside, F.concat_ws("=", key.cast("string"), target.cast("string"))), ignorenulls=True)
        return checks

    def check_inputs(self, rows: Mapping[str, dict]) -> None:
        target, key = self.spec.target, self.spec.series_column
        for split, stats in sorted(rows.items()):
            checks = stats.get("checks", {})
            if checks.get("target_out_of_range"):
                low, high = self.spec.clip
                raise DataError(
                    f"{checks['target_out_of_range']:,} {split} row(s) have {target} outside [{low:g}, {high:g}] "
                    f"(e.g. {key} {checks['target_out_of_range_example']}).",
                    f"forecasting.clip says {target} lies in [{low:g}, {high:g}]; values outside it are a sensor or "
                    "export fault, and a model fitted on them would forecast impossible values.",
                    "Fix the source and re-ingest the month, add a cleaning rule that removes such rows, or change "
                    "forecasting.clip in the use case YAML.",
                )
            if not checks.get("series"):
                raise DataError(
                    f"No series has a {split} row after cleaning (the herd is empty on the {split} days).",
                    f"Per-series forecasting needs rows for {key} on the train days and on the test days.",
                    "Check the month's data (generate or ingest it), or choose another --test-month.",
                )

    # ---- training and scoring ----------------------------------------------------------
    def fit(self, train_rows: DataFrame, rows: Mapping[str, dict]) -> tuple[ModelArtifact, dict | None]:
        """One model per series through applyInPandas; the table is cached (the registry saves it)."""
        table = series.fit_herd(train_rows.select(*self.spec.input_columns), self.spec).cache()
        summary = table.agg(
            F.count(F.lit(1)).alias("series"),
            *[F.sum(F.when(F.col("status") == status, 1).otherwise(0)).alias(status)
              for status in (series.STATUS_OK, series.STATUS_FALLBACK, series.STATUS_FAILED)],
            F.percentile_approx("fit_seconds", [0.5, 0.95], 1000).alias("fit_seconds"),
            F.sum("fit_seconds").alias("fit_seconds_total"),
        ).first()
        median, p95 = summary["fit_seconds"] or (None, None)
        metadata = {
            "series": {"count": summary["series"], "ok": summary[series.STATUS_OK],
                       "fallback": summary[series.STATUS_FALLBACK], "failed": summary[series.STATUS_FAILED]},
            "fit_seconds_per_series": {"median": median, "p95": p95, "total": summary["fit_seconds_total"]},
        }
        return ModelArtifact(table, metadata), None

    def drift_reference_rows(self, artifact: ModelArtifact, train_rows: DataFrame, column: str) -> DataFrame:
        """The train days' actual values: a forecast is compared with what the series did, since
        the per-series models do not forecast their own training days."""
        return train_rows.withColumn(column, self.label())

    def model_summary(self, artifact: ModelArtifact) -> dict:
        spec = self.config.forecasting.model_dump(mode="json")
        return {"type": f"per_series_{spec['method']}", "params": spec, **artifact.metadata}

    def feature_importance(self, artifact: ModelArtifact, scored: DataFrame) -> None:
        return None  # per-series models: the parameters are in the model table

    def scoring_rows(self, clean: DataFrame) -> DataFrame:
        """History (train days) and horizon (test days) together: the forecast starts from the history."""
        return clean

    def score(self, artifact: ModelArtifact, rows: DataFrame) -> DataFrame:
        """Forecasts of the test days with the actual values: one row per (series, step)."""
        spec, split = self.spec, F.col(quality.SPLIT_COLUMN)
        history = rows.filter(split == "train").select(*spec.input_columns)
        horizon = rows.filter(split != "train")
        models = series_refresh.refresh_herd(artifact.model, history, spec)
        forecasts = series.forecast_herd(models, horizon.select(*spec.input_columns), spec)
        actuals = horizon.select(F.col(spec.series_column).cast("string").alias(series.SERIES_ID),
                                 F.col(spec.time_column).alias(series.TIME), F.col(spec.target).alias(ACTUAL))
        return forecasts.join(actuals, [series.SERIES_ID, series.TIME], "left").withColumn(
            PREDICTION_COLUMN, F.col("forecast"))

    def _per_series(self, scored: DataFrame) -> DataFrame:
        valid = F.col(ACTUAL).isNotNull() & F.col("forecast").isNotNull() & F.col("naive").isNotNull()
        error, naive_error = F.col("forecast") - F.col(ACTUAL), F.col("naive") - F.col(ACTUAL)
        return scored.groupBy(series.SERIES_ID).agg(
            F.count(F.lit(1)).alias("rows"),
            F.sum(F.when(valid, 1).otherwise(0)).alias("n"),
            F.sqrt(F.avg(F.when(valid, error * error))).alias("rmse"),
            F.avg(F.when(valid, F.abs(error))).alias("mae"),
            F.sqrt(F.avg(F.when(valid, naive_error * naive_error))).alias("naive_rmse"),
            F.avg(F.when(valid, F.abs(naive_error))).alias("naive_mae"),
            F.first("status").alias("status"), F.first("method").alias("method"), F.first("error").alias("error"),
        )

    def evaluate(self, scored: DataFrame, artifact: ModelArtifact) -> dict:
        """Herd metrics over the series' own RMSE / MAE, the naive baseline, and every series' figures.

        One aggregation per series (a Spark job), then one over the series; the per-series
        table that comes back has one row per series, not per step.
        """
        per_series = self._per_series(scored).cache()
        scored_series = F.col("n") > 0
        herd = per_series.agg(
            F.count(F.lit(1)).alias("series"),
            F.sum(F.when(scored_series, 1).otherwise(0)).alias("series_scored"),
            F.avg(F.when(scored_series, F.col("rmse"))).alias("mean_rmse"),
            F.percentile_approx(F.when(scored_series, F.col("rmse")), [0.5, 0.9], 10_000).alias("rmse_quantiles"),
            F.avg(F.when(scored_series, F.col("mae"))).alias("mean_mae"),
            F.avg(F.when(scored_series, F.col("naive_rmse"))).alias("naive_mean_rmse"),
            F.avg(F.when(scored_series, F.col("naive_mae"))).alias("naive_mean_mae"),
            F.avg(F.when(scored_series, (F.col("rmse") < F.col("naive_rmse")).cast("double"))).alias("share_beating_naive"),
            F.sum("n").alias("count"),
            F.sum("rows").alias("rows"),
        ).first()
        median, p90 = herd["rmse_quantiles"] or (None, None)
        overall = {"mean_rmse": herd["mean_rmse"], "median_rmse": median, "mean_mae": herd["mean_mae"], "p90_rmse": p90,
                   "count": herd["count"], "rows": herd["rows"], "series": herd["series"], "series_scored": herd["series_scored"],
                   "naive_mean_rmse": herd["naive_mean_rmse"], "naive_mean_mae": herd["naive_mean_mae"],
                   "share_beating_naive": herd["share_beating_naive"]}
        undefined = {}
        if not herd["series_scored"]:
            undefined = {metric: "no series has a forecast and an actual value on the test days"
                         for metric in self.metric_directions}
        rows = per_series.orderBy(F.col("rmse").desc_nulls_last(), series.SERIES_ID).collect()  # one row per series
        per_series.unpersist()
        return {"overall": overall, "undefined": undefined,
                "per_series": {row[series.SERIES_ID]: {k: row[k] for k in ("n", "rmse", "mae", "naive_rmse", "status", "method")}
                               for row in rows},
                "not_forecast": [{"series": row[series.SERIES_ID], "status": row["status"], "error": row["error"]}
                                 for row in rows if not row["n"]][:LISTED_SERIES]}

    def error_analysis(self, scored: DataFrame, evaluation: dict) -> dict:
        per_series = evaluation["per_series"]
        worst = [{"series": key, **figures} for key, figures in per_series.items() if figures["rmse"] is not None][:WORST_SERIES]
        return {"worst_series": worst, "not_forecast": evaluation["not_forecast"]}

    def model_analysis(self, artifact: ModelArtifact, test_rows: DataFrame) -> dict:
        """Failed and fallback series with their reasons, and series present on one side only."""
        table, key = artifact.model, self.spec.series_column
        flagged = (table.filter(F.col("status") != series.STATUS_OK)
                   .select(series.SERIES_ID, "status", "method", "error").orderBy(series.SERIES_ID)
                   .limit(LISTED_SERIES).collect())
        trained = table.select(series.SERIES_ID)
        tested = test_rows.select(F.col(key).cast("string").alias(series.SERIES_ID)).distinct()
        only_trained = trained.join(tested, series.SERIES_ID, "left_anti").orderBy(series.SERIES_ID).limit(LISTED_SERIES)
        only_tested = tested.join(trained, series.SERIES_ID, "left_anti").orderBy(series.SERIES_ID).limit(LISTED_SERIES)
        return {
            "fallback_and_failed": [row.asDict() for row in flagged],
            "trained_but_absent_from_test_days": [row[0] for row in only_trained.collect()],
            "on_test_days_without_a_model": [row[0] for row in only_tested.collect()],
        }

    def compare(self, candidate: dict, current: dict | None) -> dict | None:
        """Per series: where the candidate's RMSE beats the current model's on the same days."""
        if not current:
            return None
        both = [(c["rmse"], current["per_series"][key]["rmse"]) for key, c in candidate["per_series"].items()
                if key in current["per_series"] and c["rmse"] is not None and current["per_series"][key]["rmse"] is not None]
        wins = sum(1 for new, old in both if new < old)
        return {"series_compared": len(both), "candidate_better": wins,
                "share_candidate_better": wins / len(both) if both else None}

    # ---- gates -------------------------------------------------------------------------
    def post_train_failures(self, evaluation: dict) -> list[str]:
        return threshold_failures(evaluation["overall"], self.config.gates, evaluation.get("undefined", {}))

    # ---- predict ----------------------------------------------------------------------
    def prediction_frame(self, scored: DataFrame, input_columns: list[str]) -> DataFrame:
        spec = self.spec
        return scored.select(
            F.col(series.SERIES_ID).alias(spec.series_column), F.col(series.TIME).alias(spec.time_column),
            F.col(PREDICTION_COLUMN), F.col("naive").alias("naive_forecast"), F.col(ACTUAL).alias(spec.target),
            "method", "status", "error")

    def prediction_error_spec(self) -> ErrorSpec:
        """|prediction − actual|, the actual value written under the target's name."""
        return ErrorSpec(target=self.spec.target, prediction=PREDICTION_COLUMN)

    def prediction_stats(self, written: DataFrame, input_columns: list[str]) -> dict:
        low, high = self.spec.clip or (None, None)
        prediction = F.col(PREDICTION_COLUMN)
        outside = F.lit(False) if low is None else (prediction < low) | (prediction > high)
        row = written.agg(
            F.count(F.lit(1)).alias("rows"),
            F.count_distinct(self.spec.series_column).alias("series"),
            F.sum(F.when(prediction.isNull() | F.isnan(prediction), 1).otherwise(0)).alias("missing_forecasts"),
            F.sum(F.when(outside, 1).otherwise(0)).alias("out_of_range"),
            F.min(prediction).alias("min"), F.max(prediction).alias("max"),
            F.count_distinct(F.when(F.col("status") == series.STATUS_FAILED, F.col(self.spec.series_column))).alias("failed_series"),
            F.count_distinct(F.when(F.col("status") == series.STATUS_FALLBACK, F.col(self.spec.series_column))).alias("fallback_series"),
        ).first().asDict()
        return {**row, "range": [low, high]}

    def post_predict_failures(self, stats: dict) -> list[str]:
        failures = []
        if not stats["rows"]:
            failures.append("no forecast was written")
        elif stats["failed_series"] == stats["series"]:
            failures.append(f"every one of the {stats['series']:,} series failed: no forecast")
        if stats["out_of_range"]:
            failures.append(f"{stats['out_of_range']:,} forecast(s) outside {stats['range']}")
        return failures

    def predict_warning(self, stats: dict) -> str | None:
        if not stats["failed_series"] and not stats["fallback_series"]:
            return None
        return (f"{stats['failed_series']:,} series without a forecast and {stats['fallback_series']:,} forecast "
                "seasonal-naive (fallback); their reasons are in the train report's model_analysis")
