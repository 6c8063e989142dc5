"""Regression metrics in one aggregation pass, overall and per target bucket."""

from __future__ import annotations

import math

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from sparkmlops.config import Bucket

OTHER_BUCKET = "other"


def bucket_column(label: str, buckets: list[Bucket]) -> Column:
    """Name of the bucket the label falls in ([low, high)); ``other`` outside all."""
    expression = F.lit(OTHER_BUCKET)
    for bucket in reversed(buckets):
        inside = F.col(label) >= bucket.low
        if bucket.high is not None:
            inside = inside & (F.col(label) < bucket.high)
        expression = F.when(inside, F.lit(bucket.name)).otherwise(expression)
    return expression


def _metrics(n: float, sse: float, sae: float, sum_y: float, sum_y2: float, sum_err: float) -> dict:
    if n == 0:
        return {"count": 0, "rmse": math.nan, "mae": math.nan, "r2": math.nan, "bias": math.nan}
    sst = sum_y2 - sum_y * sum_y / n
    return {
        "count": int(n),
        "rmse": math.sqrt(sse / n),
        "mae": sae / n,
        "r2": (1.0 - sse / sst) if sst > 0 else math.nan,
        "bias": sum_err / n,  # mean(prediction - label): > 0 means over-prediction
        "mean_label": sum_y / n,
    }


def evaluate(scored: DataFrame, label: str, prediction: str, buckets: list[Bucket]) -> dict:
    """RMSE, MAE, R² and bias overall and per bucket, from one grouped aggregation.

    Sums are taken per bucket (a handful of rows come back) and added up on the driver
    for the overall figures, so the data is scanned once.
    """
    error = F.col(prediction) - F.col(label)
    rows = (
        scored.select(bucket_column(label, buckets).alias("bucket"), F.col(label).alias("y"), error.alias("e"))
        .groupBy("bucket")
        .agg(
            F.count(F.lit(1)).alias("n"),
            F.sum(F.col("e") * F.col("e")).alias("sse"),
            F.sum(F.abs("e")).alias("sae"),
            F.sum("y").alias("sum_y"),
            F.sum(F.col("y") * F.col("y")).alias("sum_y2"),
            F.sum("e").alias("sum_err"),
        )
        .collect()  # one row per price bucket: bounded
    )
    sums = {row["bucket"]: [float(row[k] or 0.0) for k in ("n", "sse", "sae", "sum_y", "sum_y2", "sum_err")] for row in rows}
    totals = [sum(values[i] for values in sums.values()) for i in range(6)]
    per_bucket = {}
    for bucket in [b.name for b in buckets] + [OTHER_BUCKET]:
        if bucket in sums:
            metrics = _metrics(*sums[bucket])
            metrics.pop("r2")  # within one narrow bucket R² says little
            per_bucket[bucket] = metrics
    return {"overall": _metrics(*totals), "buckets": per_bucket}
