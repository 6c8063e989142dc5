"""Taxi trip features: what is known when a trip ends, never the fare components.

The derived columns are one SQLTransformer (pure JVM: it persists inside the
PipelineModel and loads fast), so predict reproduces exactly the training features.
All arithmetic is ANSI-safe (``try_divide``) because Spark 4 runs with ANSI mode on.
"""

from __future__ import annotations

from typing import Any

from pyspark.ml.base import Estimator, Transformer
from pyspark.ml.feature import SQLTransformer, VectorAssembler

from sparkmlops.features import FEATURES_COLUMN
from sparkmlops.features.taxi_zones import JFK, LAGUARDIA, MANHATTAN_CORE, NEWARK

PICKUP, DROPOFF = "tpep_pickup_datetime", "tpep_dropoff_datetime"

#: raw columns the features read (the leakage test feeds only these)
INPUT_COLUMNS = [
    "VendorID", PICKUP, DROPOFF, "passenger_count", "trip_distance",
    "RatecodeID", "PULocationID", "DOLocationID", "payment_type",
]

FEATURE_COLUMNS = [
    "f_distance", "f_duration_min", "f_speed_mph", "f_pickup_hour", "f_pickup_weekday",
    "f_is_night", "f_is_rush_hour", "f_pu_jfk", "f_pu_lga", "f_pu_ewr", "f_do_jfk", "f_do_lga",
    "f_do_ewr", "f_pu_manhattan_core", "f_do_manhattan_core", "f_rate_code", "f_payment_type",
    "f_passenger_count", "f_vendor", "f_tariff_estimate",
]


def _in(column: str, zones: tuple[int, ...]) -> str:
    return f"CAST(coalesce({column} IN ({', '.join(str(z) for z in zones)}), false) AS DOUBLE)"


def feature_sql() -> str:
    """The SELECT that derives every feature column from the raw trip columns."""
    duration = f"(unix_timestamp({DROPOFF}) - unix_timestamp({PICKUP})) / 60.0"
    hour = f"hour({PICKUP})"
    weekday = f"dayofweek({PICKUP})"  # 1 = Sunday … 7 = Saturday
    base = f"""
      SELECT *,
        coalesce(trip_distance, 0D) AS f_distance,
        coalesce({duration}, 0D) AS f_duration_min,
        coalesce(try_divide(trip_distance, {duration} / 60.0), 0D) AS f_speed_mph,
        CAST(coalesce({hour}, -1) AS DOUBLE) AS f_pickup_hour,
        CAST(coalesce({weekday}, -1) AS DOUBLE) AS f_pickup_weekday,
        CAST(coalesce({hour} >= 20 OR {hour} < 6, false) AS DOUBLE) AS f_is_night,
        CAST(coalesce({weekday} BETWEEN 2 AND 6 AND {hour} >= 16 AND {hour} < 20, false) AS DOUBLE) AS f_is_rush_hour,
        {_in("PULocationID", (JFK,))} AS f_pu_jfk,
        {_in("PULocationID", (LAGUARDIA,))} AS f_pu_lga,
        {_in("PULocationID", (NEWARK,))} AS f_pu_ewr,
        {_in("DOLocationID", (JFK,))} AS f_do_jfk,
        {_in("DOLocationID", (LAGUARDIA,))} AS f_do_lga,
        {_in("DOLocationID", (NEWARK,))} AS f_do_ewr,
        {_in("PULocationID", MANHATTAN_CORE)} AS f_pu_manhattan_core,
        {_in("DOLocationID", MANHATTAN_CORE)} AS f_do_manhattan_core,
        coalesce(RatecodeID, 99D) AS f_rate_code,
        CAST(coalesce(payment_type, 0) AS DOUBLE) AS f_payment_type,
        coalesce(passenger_count, -1D) AS f_passenger_count,
        CAST(coalesce(VendorID, 0) AS DOUBLE) AS f_vendor
      FROM __THIS__"""
    # The public Dec-2022 tariff applied to distance and time: a domain prior the trees
    # refine (tips by payment type, tolls) instead of having to rediscover the meter.
    return f"""
      SELECT *,
        CASE WHEN f_rate_code = 2 THEN 70.0
             ELSE 3.0 + 3.5 * f_distance + 0.7 * greatest(f_duration_min - 5.0 * f_distance, 0D)
                  + CASE WHEN f_rate_code = 3 THEN 20.0 ELSE 0D END
        END
        + 1.5 + f_is_night * 1.0 + f_is_rush_hour * 2.5
        + greatest(f_pu_manhattan_core, f_do_manhattan_core) * 2.5
        + greatest(f_pu_jfk, f_pu_lga) * 1.75 AS f_tariff_estimate
      FROM ({base}) AS trips"""


def input_columns(params: dict[str, Any] | None = None) -> list[str]:
    return list(INPUT_COLUMNS)


def feature_columns(params: dict[str, Any] | None = None) -> list[str]:
    return list(FEATURE_COLUMNS)


def build_stages(params: dict[str, Any] | None = None) -> list[Estimator | Transformer]:
    """SQLTransformer deriving the features, then the VectorAssembler."""
    return [
        SQLTransformer(statement=feature_sql()),
        VectorAssembler(inputCols=FEATURE_COLUMNS, outputCol=FEATURES_COLUMN, handleInvalid="keep"),
    ]
