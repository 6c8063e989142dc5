"""Helpers the generators share: keyed random streams, month bounds, exact AUCs, manifests.

Keyed streams matter when a row must be the same whichever months are generated in one
call (rain's RainTomorrow is the next day's RainToday, even across a month boundary):
``rand(seed)`` depends on a row's position in its partition, a hash of (seed, stream,
keys) does not.
"""

from __future__ import annotations

import calendar
import json
import zlib
from datetime import date

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from sparkmlops import lake

_MANTISSA = (1 << 53) - 1  # a double holds 53 bits of a 64-bit hash exactly


def stream_seed(seed: int, month: str, stream: str) -> int:
    """Seed of one ``rand``/``randn`` stream: a hash of (seed, month, stream), stable across runs."""
    return zlib.crc32(f"{seed}:{month}:{stream}".encode()) & 0x7FFFFFFF


def stream_code(stream: str) -> int:
    """A stable integer for a stream name (part of a keyed hash)."""
    return zlib.crc32(stream.encode())


def keyed_uniform(seed: int, stream: str, *keys: Column) -> Column:
    """A uniform draw in (0, 1) that is a function of (seed, stream, keys) only.

    Args:
        seed: the user's seed.
        stream: names the random quantity (two streams never share draws).
        keys: columns that identify the draw (e.g. location and day).

    Returns:
        A double column strictly between 0 and 1 (safe for ``log`` and ``logit``).
    """
    hashed = F.xxhash64(F.lit(seed), F.lit(stream_code(stream)), *keys)
    return (hashed.bitwiseAND(F.lit(_MANTISSA)) + 0.5) / float(_MANTISSA + 1)


def month_bounds(month: str) -> tuple[date, date]:
    """First and last day of a 'YYYY-MM' month."""
    year, mm = (int(part) for part in month.split("-"))
    return date(year, mm, 1), date(year, mm, calendar.monthrange(year, mm)[1])


def exact_auc(frame: DataFrame, score: str, label: str) -> dict:
    """Exact ROC AUC and PR AUC (average precision) of a score column against a 0/1 label.

    Rows with the same score are one threshold (ties count half in ROC AUC, and a tied
    group adds its recall at its precision), as in :mod:`sparkmlops.tasks.binary_metrics`
    but without its score bins. The distinct scores of the frame are ordered in one
    partition: meant for a month of generated rows (thousands), not for a whole lake.

    Returns:
        ``{"roc_auc", "pr_auc", "positives", "negatives"}``; AUCs are None when a class is absent.
    """
    grouped = frame.groupBy(score).agg(
        F.sum(F.col(label).cast("long")).alias("_pos"),
        F.sum((1 - F.col(label)).cast("long")).alias("_neg"),
    )
    # one constant partition, said out loud (a window without one logs a warning on every call)
    above = (Window.partitionBy(F.lit(0)).orderBy(F.col(score).desc())
             .rowsBetween(Window.unboundedPreceding, Window.currentRow))
    cumulative = grouped.select("*", F.sum("_pos").over(above).alias("_tp"), F.sum("_neg").over(above).alias("_fp"))
    row = cumulative.agg(
        F.sum("_pos").alias("positives"),
        F.sum("_neg").alias("negatives"),
        # a negative outranks the positives above its score and ties with half of its own group
        F.sum(F.col("_neg") * (F.col("_tp") - F.col("_pos") / 2.0)).alias("roc_sum"),
        F.sum(F.col("_pos") * F.col("_tp") / (F.col("_tp") + F.col("_fp"))).alias("ap_sum"),
    ).first()
    positives, negatives = int(row["positives"] or 0), int(row["negatives"] or 0)
    both = positives > 0 and negatives > 0
    return {
        "roc_auc": row["roc_sum"] / (positives * negatives) if both else None,
        "pr_auc": row["ap_sum"] / positives if both else None,
        "positives": positives,
        "negatives": negatives,
    }


def write_months(spark: SparkSession, base_path: str, usecase: str, months: list[str], write_month) -> dict:
    """The loop every generator shares: check the store, write each month, then its manifest.

    Args:
        base_path: the use case's lake root.
        write_month: ``(base, month) -> manifest``; writes the month's rows under ``base``.

    Returns:
        ``{"usecase": usecase, "months": {month: manifest}}``.
    """
    base = lake.normalize_uri(base_path)
    lake.check_store(spark, base)
    manifests = {}
    for month in months:
        manifests[month] = write_month(base, month)
        write_manifest(spark, base, month, manifests[month])
    return {"usecase": usecase, "months": manifests}


def write_manifest(spark: SparkSession, base: str, month: str, manifest: dict) -> None:
    """``<base>/_manifests/<month>.json``."""
    lake.write_text(spark, f"{lake.normalize_uri(base)}/_manifests/{month}.json", json.dumps(manifest, indent=2))
