"""Synthetic NYC yellow-taxi months: the real TLC schema and quirks, a known process.

``total_amount`` follows the Dec-2022 tariff (metered fare from distance and slow
minutes, surcharges by hour and zone, JFK flat rate, Newark surcharge, airport fee,
tolls, card tips; cash tips unrecorded) plus N(0, 0.5²). Given the features the pipeline
may use, the random parts (tip share, toll draw, negotiated fares, noise) have a known
conditional variance, so the best achievable RMSE (the noise floor) is computed exactly
and written to the month's manifest.
"""

from __future__ import annotations

import json
import zlib

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from sparkmlops import lake, quality
from sparkmlops.config import UsecaseConfig
from sparkmlops.features.taxi_zones import JFK, LAGUARDIA, MANHATTAN, MANHATTAN_CORE, NEWARK

GENERATOR_VERSION = 1
NOISE_SD = 0.5
TOLL = 6.94
TIP_ZERO_SHARE, TIP_LOW, TIP_HIGH = 0.2, 0.15, 0.30
NEGOTIATED_LOW, NEGOTIATED_HIGH = 20.0, 120.0
ROWS_PER_PARTITION = 250_000

# Quirk rates, as seen in the real files.
QUIRKS = {
    "zero_passengers": 0.015, "zero_distance": 0.015, "absurd_distance": 0.0001,
    "dropoff_not_after_pickup": 0.003, "out_of_month_pickup": 0.0005, "refund_negative_amounts": 0.01,
    "unknown_zone": 0.01, "null_total_amount": 0.0005,
}
QUIRK_NAMES = ["null_passenger_block", *QUIRKS]


def _month_seed(seed: int, month: str) -> int:
    return zlib.crc32(f"{seed}:{month}".encode()) % (2**31)


def _pick(u: Column, choices: list[tuple[float, Column | int | float]]) -> Column:
    """Categorical draw from a uniform column: [(cumulative probability, value)…]."""
    expression = F.lit(choices[-1][1]) if not isinstance(choices[-1][1], Column) else choices[-1][1]
    for limit, value in reversed(choices[:-1]):
        expression = F.when(u < limit, value).otherwise(expression)
    return expression


def _zone(u: Column, v: Column) -> Column:
    """A pickup/dropoff zone: mostly Manhattan core, some airports, the rest elsewhere."""
    core = F.element_at(F.array(*[F.lit(z) for z in MANHATTAN_CORE]), (v * len(MANHATTAN_CORE)).cast("int") + 1)
    upper = F.element_at(F.array(*[F.lit(z) for z in MANHATTAN if z not in MANHATTAN_CORE]), (v * 17).cast("int") + 1)
    outer = (v * 263).cast("int") + 1
    return _pick(u, [(0.80, core), (0.85, upper), (0.89, F.lit(JFK)), (0.92, F.lit(LAGUARDIA)), (0.925, F.lit(NEWARK)), (1.0, outer)]).cast("long")


def build_trips(spark: SparkSession, month: str, rows: int, seed: int) -> DataFrame:
    """Clean trips: when, where, how far, how long, how paid (no amounts yet)."""
    s = _month_seed(seed, month)
    start = F.to_timestamp(F.lit(f"{month}-01 00:00:00"))
    days = F.datediff(F.add_months(F.to_date(F.lit(f"{month}-01")), 1), F.to_date(F.lit(f"{month}-01")))
    r = lambda k: F.rand(s + k)  # noqa: E731  one independent uniform stream per attribute
    # busy daytime/evening hours: mix of a uniform day and a 7-23 h bulk
    hour = F.when(r(1) < 0.75, 7 + r(2) * 16).otherwise(r(2) * 24)
    pickup_seconds = F.floor(r(3) * days).cast("long") * 86400 + (hour * 3600).cast("long")
    distance = F.round(F.exp(F.lit(0.6) + F.randn(s + 4) * 0.8), 2)  # lognormal, median ~1.8 mi
    speed = F.greatest(F.lit(3.0), F.least(F.lit(40.0), 5 + r(5) * 20 + F.randn(s + 6) * 2))
    trips = spark.range(rows, numPartitions=max(1, rows // ROWS_PER_PARTITION)).select(
        F.col("id"),
        _pick(r(7), [(0.30, 1), (0.995, 2), (1.0, 6)]).cast("long").alias("VendorID"),
        F.timestamp_seconds(F.unix_timestamp(start) + pickup_seconds).alias("tpep_pickup_datetime"),
        distance.alias("trip_distance"),
        speed.alias("_speed"),
        _pick(r(8), [(0.72, 1.0), (0.87, 2.0), (0.93, 3.0), (0.97, 4.0), (0.985, 5.0), (1.0, 6.0)]).alias("passenger_count"),
        _zone(r(9), r(10)).alias("PULocationID"),
        _zone(r(11), r(12)).alias("DOLocationID"),
        _pick(r(13), [(0.03, 0), (0.73, 1), (0.97, 2), (0.985, 3), (1.0, 4)]).cast("long").alias("payment_type"),
        _pick(r(14), [(0.995, 1.0), (1.0, 5.0)]).alias("_rate_draw"),
        r(15).alias("_u_tip_zero"), r(16).alias("_u_tip_share"), r(17).alias("_u_toll"),
        r(18).alias("_u_negotiated"), F.randn(s + 19).alias("_z_noise"),
        F.when(r(20) < 0.98, "N").otherwise("Y").alias("store_and_fwd_flag"),
    )
    duration_seconds = (F.col("trip_distance") / F.col("_speed") * 3600).cast("long") + 60
    return trips.withColumn("tpep_dropoff_datetime", F.timestamp_seconds(F.unix_timestamp("tpep_pickup_datetime") + duration_seconds))


def price_trips(trips: DataFrame) -> DataFrame:
    """Tariff components, total_amount, and Var(total_amount | features) per trip."""
    pu, do = F.col("PULocationID"), F.col("DOLocationID")
    core = lambda c: c.isin(*MANHATTAN_CORE)  # noqa: E731
    airport = lambda c: c.isin(JFK, LAGUARDIA, NEWARK)  # noqa: E731
    jfk_manhattan = ((pu == JFK) & core(do)) | ((do == JFK) & core(pu))
    rate = (F.when(F.col("_rate_draw") == 5.0, 5.0).when(jfk_manhattan, 2.0).when(do == NEWARK, 3.0).otherwise(F.col("_rate_draw")))
    duration_min = (F.unix_timestamp("tpep_dropoff_datetime") - F.unix_timestamp("tpep_pickup_datetime")) / 60.0
    hour = F.hour("tpep_pickup_datetime")
    weekday = F.dayofweek("tpep_pickup_datetime").between(2, 6)
    metered = 3.0 + 3.5 * F.col("trip_distance") + 0.7 * F.greatest(duration_min - 5.0 * F.col("trip_distance"), F.lit(0.0))
    negotiated = NEGOTIATED_LOW + F.col("_u_negotiated") * (NEGOTIATED_HIGH - NEGOTIATED_LOW)
    fare = (F.when(rate == 2.0, 70.0).when(rate == 3.0, metered + 20.0).when(rate == 5.0, negotiated).otherwise(metered))
    extra = F.when((hour >= 20) | (hour < 6), 1.0).otherwise(0.0) + F.when(weekday & (hour >= 16) & (hour < 20), 2.5).otherwise(0.0)
    toll_probability = F.when((airport(pu) & core(do)) | (airport(do) & core(pu)), 0.5).otherwise(0.03)
    card = F.col("payment_type") == 1
    share = F.when(F.col("_u_tip_zero") < TIP_ZERO_SHARE, 0.0).otherwise(TIP_LOW + F.col("_u_tip_share") * (TIP_HIGH - TIP_LOW))
    priced = trips.select(
        "*",
        rate.alias("RatecodeID"),
        F.round(fare, 2).alias("fare_amount"),
        extra.alias("extra"),
        F.lit(0.5).alias("mta_tax"),
        F.lit(1.0).alias("improvement_surcharge"),
        F.when(core(pu) | core(do), 2.5).otherwise(0.0).alias("congestion_surcharge"),
        F.when(pu.isin(JFK, LAGUARDIA), 1.75).otherwise(0.0).alias("airport_fee"),
        F.when(F.col("_u_toll") < toll_probability, TOLL).otherwise(0.0).alias("tolls_amount"),
        toll_probability.alias("_toll_p"),
    )
    priced = priced.withColumn("tip_amount", F.round(F.when(card, F.col("fare_amount") * share).otherwise(0.0), 2))
    components = ["fare_amount", "extra", "mta_tax", "tip_amount", "tolls_amount", "improvement_surcharge", "congestion_surcharge", "airport_fee"]
    total = sum((F.col(c) for c in components), F.lit(0.0)) + F.col("_z_noise") * NOISE_SD
    return priced.withColumn("total_amount", F.round(total, 2)).withColumn("_cond_var", _conditional_variance(priced, card))


def _conditional_variance(priced: DataFrame, card: Column) -> Column:
    """Var(total_amount | features): tip share, toll draw, negotiated fare, noise."""
    s_mean = (1 - TIP_ZERO_SHARE) * (TIP_LOW + TIP_HIGH) / 2
    s_square = (1 - TIP_ZERO_SHARE) * ((TIP_LOW + TIP_HIGH) ** 2 / 4 + (TIP_HIGH - TIP_LOW) ** 2 / 12)
    s_var = s_square - s_mean**2
    toll = F.col("_toll_p") * (1 - F.col("_toll_p")) * TOLL**2
    # negotiated: fare F ~ U(a, b); card adds F*S, so total varies as F*(1+S)
    f_mean, f_var = (NEGOTIATED_LOW + NEGOTIATED_HIGH) / 2, (NEGOTIATED_HIGH - NEGOTIATED_LOW) ** 2 / 12
    f_square = f_var + f_mean**2
    negotiated_card = f_square * (1 + 2 * s_mean + s_square) - (f_mean * (1 + s_mean)) ** 2
    fare_part = F.when(F.col("RatecodeID") == 5.0, F.when(card, negotiated_card).otherwise(f_var)).otherwise(
        F.when(card, F.col("fare_amount") ** 2 * s_var).otherwise(0.0)
    )
    return fare_part + toll + NOISE_SD**2


def add_quirks(priced: DataFrame, month: str, seed: int) -> DataFrame:
    """Real-file quirks: nulls, zeros, outliers, clock errors, refunds, unknown zones."""
    s = _month_seed(seed, month) + 100
    q = {name: F.rand(s + i) < rate for i, (name, rate) in enumerate(QUIRKS.items())}
    c = F.col
    # payment_type 0 (flex/unknown) rows carry nulls in the passenger/rate block, as in the real files
    null_block = c("payment_type") == 0
    q["null_passenger_block"] = null_block
    out = priced.withColumn("_quirks", F.array(*[F.when(flag, F.lit(name)) for name, flag in q.items()]))
    out = out.select(
        F.when(c("PULocationID").isNotNull() & q["unknown_zone"], F.lit(264).cast("long")).otherwise(c("PULocationID")).alias("PULocationID"),
        F.when(q["unknown_zone"], F.lit(265).cast("long")).otherwise(c("DOLocationID")).alias("DOLocationID"),
        F.when(null_block, None).when(q["zero_passengers"], 0.0).otherwise(c("passenger_count")).alias("passenger_count"),
        F.when(q["zero_distance"], 0.0).when(q["absurd_distance"], 5000.0 + c("trip_distance") * 100).otherwise(c("trip_distance")).alias("trip_distance"),
        F.when(q["out_of_month_pickup"], F.col("tpep_pickup_datetime") - F.expr("INTERVAL 40 DAYS")).otherwise(c("tpep_pickup_datetime")).alias("tpep_pickup_datetime"),
        F.when(q["dropoff_not_after_pickup"], c("tpep_pickup_datetime") - F.expr("INTERVAL 3 MINUTES")).otherwise(c("tpep_dropoff_datetime")).alias("tpep_dropoff_datetime"),
        c("payment_type"),
        F.when(null_block, None).otherwise(c("RatecodeID")).alias("RatecodeID"),
        F.when(null_block, None).otherwise(c("store_and_fwd_flag")).alias("store_and_fwd_flag"),
        *[(F.when(q["refund_negative_amounts"], -c(name)).otherwise(c(name))).alias(name)
          for name in ("fare_amount", "extra", "mta_tax", "tip_amount", "tolls_amount", "improvement_surcharge")],
        F.when(q["null_total_amount"], None).when(q["refund_negative_amounts"], -c("total_amount")).otherwise(c("total_amount")).alias("total_amount"),
        F.when(null_block, None).otherwise(c("congestion_surcharge")).alias("congestion_surcharge"),
        F.when(null_block, None).otherwise(c("airport_fee")).alias("airport_fee"),
        "VendorID", "_cond_var", "_quirks",
    )
    return out


def real_layout(frame: DataFrame, month: str) -> DataFrame:
    """Column order and types of the TLC files; the fee's spelling varies by month."""
    fee_name = "airport_fee" if int(month[-2:]) % 2 == 0 else "Airport_fee"
    return frame.select(
        F.col("VendorID").cast("long"), "tpep_pickup_datetime", "tpep_dropoff_datetime",
        F.col("passenger_count").cast("double"), F.col("trip_distance").cast("double"), F.col("RatecodeID").cast("double"),
        "store_and_fwd_flag", F.col("PULocationID").cast("long"), F.col("DOLocationID").cast("long"),
        F.col("payment_type").cast("long"),
        *[F.col(n).cast("double") for n in ("fare_amount", "extra", "mta_tax", "tip_amount", "tolls_amount", "improvement_surcharge", "total_amount", "congestion_surcharge")],
        F.col("airport_fee").cast("double").alias(fee_name),
    )


def month_statistics(frame: DataFrame, config: UsecaseConfig, month: str) -> dict:
    """Rows, clean rows, quirk counts and the noise floor, in one aggregation."""
    with_month = frame.withColumn(lake.MONTH_COLUMN, F.lit(month))
    keep = quality.keep_expression(config.cleaning.rules)
    clean_var = F.when(keep, F.col("_cond_var"))
    clean_y = F.when(keep, F.col("total_amount"))
    aggregates = [
        F.count(F.lit(1)).alias("rows"), F.count(clean_var).alias("clean_rows"),
        F.avg(clean_var).alias("mean_var"), F.variance(clean_y).alias("var_y"),
        *[F.sum(F.array_contains("_quirks", name).cast("int")).alias(f"q_{name}") for name in QUIRK_NAMES],
    ]
    row = with_month.agg(*aggregates).first().asDict()
    floor = float(row["mean_var"]) ** 0.5
    return {
        "rows": int(row["rows"]), "clean_rows": int(row["clean_rows"]),
        "noise_floor_rmse": round(floor, 4),
        "r2_ceiling": round(1 - row["mean_var"] / row["var_y"], 4) if row["var_y"] else None,
        "quirk_counts": {name: int(row[f"q_{name}"] or 0) for name in QUIRK_NAMES},
    }


def generate(spark: SparkSession, config: UsecaseConfig, months: list[str], rows_per_month: int, seed: int) -> dict:
    """Write each month to ``<base>/YYYY/MM/`` and its manifest to ``<base>/_manifests/``.

    Returns:
        ``{"usecase": …, "months": {month: manifest}}``.
    """
    base = lake.normalize_uri(config.data.base_path)
    manifests = {}
    for month in months:
        frame = add_quirks(price_trips(build_trips(spark, month, rows_per_month, seed)), month, seed).cache()
        try:
            real_layout(frame, month).write.mode("overwrite").parquet(lake.month_uri(base, month))
            stats = month_statistics(frame, config, month)
        finally:
            frame.unpersist()
        manifest = {
            "generator": config.usecase, "generator_version": GENERATOR_VERSION, "seed": seed, "month": month,
            "noise_sd": NOISE_SD, "airport_fee_column": "airport_fee" if int(month[-2:]) % 2 == 0 else "Airport_fee",
            "floor_note": "noise_floor_rmse = sqrt(mean Var(total_amount | pipeline features)) over rows that pass cleaning",
            **stats,
        }
        lake.write_text(spark, f"{base}/_manifests/{month}.json", json.dumps(manifest, indent=2))
        manifests[month] = manifest
    return {"usecase": config.usecase, "months": manifests}

