"""Synthetic NYC yellow-taxi months: the real TLC schema and quirks, a known process.

``total_amount`` follows the Dec-2022 tariff (metered fare from distance and slow
minutes, surcharges by hour and zone, JFK flat rate, Newark surcharge, airport fee,
tolls, card tips; cash tips unrecorded) plus N(0, 0.5²). Given the features the pipeline
may use (distance, duration, hour, weekday, night/rush flags, airport and Manhattan-core
flags of both zones, RatecodeID, payment_type, passenger_count, VendorID), the random
parts (tip share, toll draw, negotiated fare, hidden rate code, noise) have a known
conditional variance, so the best achievable RMSE (the noise floor) is computed exactly
per row and written, averaged over the rows that pass cleaning, to the month's manifest.

Everything runs in Spark: ``spark.range`` rows and one seeded ``rand``/``randn`` column
per random stream, so a (seed, month, rows) triple always writes the same rows.
"""

from __future__ import annotations

import calendar
import json
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from sparkmlops import lake, quality
from sparkmlops.config import UsecaseConfig
from sparkmlops.features.taxi_zones import JFK, LAGUARDIA, MANHATTAN, MANHATTAN_CORE, NEWARK, UNKNOWN_ZONES
from sparkmlops.window import shift_month

GENERATOR = "taxi_fare"
GENERATOR_VERSION = 2
ROWS_PER_PARTITION = 250_000

# Dec-2022 tariff (DATA_FACTS section 1).
INITIAL, PER_MILE, PER_SLOW_MINUTE, SLOW_MINUTES_PER_MILE = 3.00, 3.50, 0.70, 5.0  # 5 min/mile = 12 mph
JFK_FLAT, NEWARK_SURCHARGE = 70.00, 20.00
NIGHT, RUSH, MTA_TAX, IMPROVEMENT = 1.00, 2.50, 0.50, 1.00
CONGESTION, AIRPORT_FEE, TOLL = 2.50, 1.75, 6.94
# Random parts of the price.
NOISE_SD = 0.5
TIP_ZERO_SHARE, TIP_LOW, TIP_HIGH = 0.2, 0.15, 0.30
NEGOTIATED_LOW, NEGOTIATED_HIGH = 20.0, 120.0
TOLL_P_AIRPORT_CORE, TOLL_P_OTHER = 0.5, 0.03
# Rate codes: a base draw, then the zone rules (JFK<->core flat for most trips, DO Newark).
RATE_SHARES = ((5.0, 0.005), (4.0, 0.003), (6.0, 0.001))  # the rest is 1 (standard)
P_NEGOTIATED = RATE_SHARES[0][1]
P_JFK_FLAT = 0.9

AIRPORTS = (JFK, LAGUARDIA, NEWARK)
_UPPER_MANHATTAN = tuple(zone for zone in MANHATTAN if zone not in MANHATTAN_CORE)
# Share of pickups (and dropoffs) per kind of zone; "outer" is any zone 1-263.
# With P_JFK_FLAT this gives ~4% JFK flat-rate trips and ~94% RatecodeID 1.
ZONE_MIX = (("core", 0.80), ("upper", 0.05), ("jfk", 0.03), ("lga", 0.025), ("ewr", 0.005), ("outer", 0.09))
# Pickups per hour of day (NYC yellow taxi shape: night trough, evening peak).
HOUR_WEIGHTS = (2.8, 1.9, 1.3, 0.9, 0.6, 0.6, 1.4, 2.6, 3.5, 3.9, 4.2, 4.6,
                5.0, 5.2, 5.6, 5.8, 6.0, 6.9, 7.2, 6.5, 5.8, 5.7, 5.4, 4.3)
VENDOR_SHARES = ((1, 0.27), (2, 0.728), (6, 0.002))
PASSENGER_SHARES = ((1.0, 0.74), (2.0, 0.14), (3.0, 0.04), (4.0, 0.02), (5.0, 0.03), (6.0, 0.03))
# payment_type 0 rows are the null passenger/rate block of the real files.
PAYMENT_SHARES = ((0, 0.03), (1, 0.70), (2, 0.245), (3, 0.01), (4, 0.015))

# Quirk rates, as seen in the real files (null_passenger_block comes from payment_type 0).
QUIRK_RATES = {
    "null_passenger_block": PAYMENT_SHARES[0][1],
    "zero_passengers": 0.015,
    "zero_distance": 0.015,
    "absurd_distance": 0.0001,
    "dropoff_not_after_pickup": 0.003,
    "out_of_month_pickup": 0.0005,
    "refund": 0.01,
    "unknown_zone": 0.01,
    "null_total_amount": 0.0005,
}
QUIRK_NAMES = list(QUIRK_RATES)

# Independent random streams, one Spark column each, grouped by the step that consumes
# them; each step drops its streams so later steps carry narrow rows.
TRIP_STREAMS = ("vendor", "day", "hour", "second", "pu_kind", "pu_zone", "do_kind", "do_zone", "speed",
                "passengers", "payment", "store_fwd", "q_unknown_zone", "q_unknown_side")
PRICE_STREAMS = ("rate", "jfk_flat", "tip_zero", "tip_share", "toll", "negotiated")
QUIRK_STREAMS = ("q_zero_passengers", "q_zero_distance", "q_absurd_distance", "q_absurd_size", "q_dropoff",
                 "q_dropoff_size", "q_out_of_month", "q_out_of_month_kind", "q_refund", "q_null_total")
UNIFORM_STREAMS = TRIP_STREAMS + PRICE_STREAMS + QUIRK_STREAMS
TRIP_NORMALS, PRICE_NORMALS = ("distance", "speed"), ("noise",)
NORMAL_STREAMS = TRIP_NORMALS + PRICE_NORMALS

AMOUNT_COLUMNS = (
    "fare_amount", "extra", "mta_tax", "tip_amount", "tolls_amount", "improvement_surcharge",
    "total_amount", "congestion_surcharge", "airport_fee",
)


def stream_seed(seed: int, month: str, stream: str) -> int:
    """Seed of one random stream: a hash of (seed, month, stream), stable across runs."""
    return zlib.crc32(f"{seed}:{month}:{stream}".encode()) & 0x7FFFFFFF


def airport_fee_column(month: str) -> str:
    """The real files spell the fee both ways; alternate so readers must handle both."""
    return "airport_fee" if int(month[-2:]) % 2 == 0 else "Airport_fee"


def _streams(uniforms: Sequence[str], normals: Sequence[str] = ()) -> list[str]:
    return [f"_u_{name}" for name in uniforms] + [f"_z_{name}" for name in normals]


def _u(stream: str) -> Column:
    return F.col(f"_u_{stream}")


def _z(stream: str) -> Column:
    return F.col(f"_z_{stream}")


def _pick(u: Column, shares: Sequence[tuple[object, float]]) -> Column:
    """Categorical draw from a uniform column: ``[(value, probability), …]``."""
    expression, cumulative = None, 0.0
    for value, share in shares[:-1]:
        cumulative += share
        value_column = value if isinstance(value, Column) else F.lit(value)
        expression = (F.when(u < cumulative, value_column) if expression is None
                      else expression.when(u < cumulative, value_column))
    last = shares[-1][0]
    last_column = last if isinstance(last, Column) else F.lit(last)
    return last_column if expression is None else expression.otherwise(last_column)


def _from_list(u: Column, zones: Sequence[int]) -> Column:
    """Uniform choice of one zone id from a list."""
    return F.element_at(F.array(*[F.lit(zone) for zone in zones]), (u * len(zones)).cast("int") + 1)


def _zone(kind: Column, which: Column) -> Column:
    choices = {
        "core": _from_list(which, MANHATTAN_CORE), "upper": _from_list(which, _UPPER_MANHATTAN),
        "jfk": F.lit(JFK), "lga": F.lit(LAGUARDIA), "ewr": F.lit(NEWARK),
        "outer": (which * 263).cast("int") + 1,
    }
    return _pick(kind, [(choices[name], share) for name, share in ZONE_MIX]).cast("long")


def _core(zone: Column) -> Column:
    return zone.isin(*MANHATTAN_CORE)


def _airport(zone: Column) -> Column:
    return zone.isin(*AIRPORTS)


def draw(spark: SparkSession, month: str, rows: int, seed: int) -> DataFrame:
    """Rows with every random stream materialised as its own column.

    Each ``rand``/``randn`` appears exactly once in the plan and is used only through its
    column, so it advances once per row; a rand inside a CASE branch would advance only
    when that branch runs and silently correlate the streams.

    Args:
        spark: the session.
        month: 'YYYY-MM'; part of every stream's seed.
        rows: number of trips.
        seed: user seed.

    Returns:
        ``id`` plus ``_u_<stream>`` uniforms in [0, 1) and ``_z_<stream>`` standard normals.
    """
    partitions = max(1, rows // ROWS_PER_PARTITION)
    return spark.range(rows, numPartitions=partitions).select(
        "id",
        *[F.rand(stream_seed(seed, month, name)).alias(f"_u_{name}") for name in UNIFORM_STREAMS],
        *[F.randn(stream_seed(seed, month, "n:" + name)).alias(f"_z_{name}") for name in NORMAL_STREAMS],
    )


def build_trips(draws: DataFrame, month: str) -> DataFrame:
    """Clean trips: when, where, how far, how long, who and how paid (no amounts yet).

    Unknown zones (264/265) are set here, before pricing, so their price stays a function
    of the features like every other clean row.
    """
    year, mm = (int(part) for part in month.split("-"))
    days = calendar.monthrange(year, mm)[1]
    hour = _pick(_u("hour"), [(h, w / sum(HOUR_WEIGHTS)) for h, w in enumerate(HOUR_WEIGHTS)])
    second_of_hour = (_u("second") * 3600).cast("int")
    unknown = _u("q_unknown_zone") < QUIRK_RATES["unknown_zone"]
    # the side comes from which third q_unknown_side falls in, 264 vs 265 from its finer digits
    unknown_id = F.when(_u("q_unknown_side") * 10 % 1 < 0.5, UNKNOWN_ZONES[0]).otherwise(UNKNOWN_ZONES[1]).cast("long")
    pu = F.when(unknown & (_u("q_unknown_side") < 2 / 3), unknown_id).otherwise(_zone(_u("pu_kind"), _u("pu_zone")))
    do = F.when(unknown & (_u("q_unknown_side") >= 1 / 3), unknown_id).otherwise(_zone(_u("do_kind"), _u("do_zone")))
    trips = draws.select(
        "*",
        _pick(_u("vendor"), VENDOR_SHARES).cast("long").alias("VendorID"),
        F.make_timestamp(
            F.lit(year), F.lit(mm), (_u("day") * days).cast("int") + 1, hour,
            (second_of_hour / 60).cast("int"), (second_of_hour % 60).cast("decimal(8,6)"),
        ).cast("timestamp").alias("tpep_pickup_datetime"),
        _pick(_u("passengers"), PASSENGER_SHARES).alias("passenger_count"),
        pu.alias("PULocationID"),
        do.alias("DOLocationID"),
        _pick(_u("payment"), PAYMENT_SHARES).cast("long").alias("payment_type"),
        F.when(_u("store_fwd") < 0.005, "Y").otherwise("N").alias("store_and_fwd_flag"),
        unknown.alias("_q_unknown_zone"),
    )
    airport_trip = _airport(F.col("PULocationID")) | _airport(F.col("DOLocationID"))
    # lognormal miles: median ~1.8 in town, ~11 to or from an airport
    log_miles = F.when(airport_trip, F.lit(2.4) + _z("distance") * 0.35).otherwise(F.lit(0.6) + _z("distance") * 0.8)
    # mostly 5-25 mph; the +60 s is boarding and alighting
    speed = F.greatest(F.lit(2.5), F.least(F.lit(45.0), 5 + _u("speed") * 20 + _z("speed") * 1.5))
    trips = trips.withColumn("trip_distance", F.greatest(F.lit(0.01), F.round(F.exp(log_miles), 2)))
    duration_seconds = (F.col("trip_distance") / speed * 3600).cast("long") + 60
    return trips.withColumn(
        "tpep_dropoff_datetime",
        F.timestamp_seconds(F.unix_timestamp("tpep_pickup_datetime") + duration_seconds),
    ).drop(*_streams(TRIP_STREAMS, TRIP_NORMALS))


def _duration_minutes() -> Column:
    # the same expression the taxi features use
    return (F.unix_timestamp("tpep_dropoff_datetime") - F.unix_timestamp("tpep_pickup_datetime")) / 60.0


def price_trips(trips: DataFrame) -> DataFrame:
    """Rate code, tariff components, ``total_amount`` and ``_cond_var`` per trip.

    Args:
        trips: output of :func:`build_trips`.

    Returns:
        The trips with ``RatecodeID``, the TLC amount columns (canonical ``airport_fee``
        spelling) and ``_cond_var``; the price's random streams are dropped.
    """
    pu, do = F.col("PULocationID"), F.col("DOLocationID")
    jfk_core = ((pu == JFK) & _core(do)) | ((do == JFK) & _core(pu))
    base_rate = _pick(_u("rate"), [*RATE_SHARES, (1.0, 1.0 - sum(share for _, share in RATE_SHARES))])
    rate = (F.when(base_rate == 5.0, 5.0).when(jfk_core & (_u("jfk_flat") < P_JFK_FLAT), 2.0)
            .when(do == NEWARK, 3.0).otherwise(base_rate))
    distance = F.col("trip_distance")
    # the meter charges distance, plus time when slower than 12 mph
    metered = INITIAL + PER_MILE * distance + PER_SLOW_MINUTE * F.greatest(
        _duration_minutes() - SLOW_MINUTES_PER_MILE * distance, F.lit(0.0))
    hour = F.hour("tpep_pickup_datetime")
    weekday = F.dayofweek("tpep_pickup_datetime").between(2, 6)  # 1 = Sunday
    share = F.when(_u("tip_zero") < TIP_ZERO_SHARE, 0.0).otherwise(TIP_LOW + _u("tip_share") * (TIP_HIGH - TIP_LOW))
    toll_p = F.when((_airport(pu) & _core(do)) | (_airport(do) & _core(pu)), TOLL_P_AIRPORT_CORE).otherwise(TOLL_P_OTHER)
    priced = trips.select(
        "*",
        rate.alias("RatecodeID"),
        metered.alias("_metered"),
        jfk_core.alias("_jfk_core"),
        toll_p.alias("_toll_p"),
        (F.when((hour >= 20) | (hour < 6), NIGHT).otherwise(0.0)
         + F.when(weekday & (hour >= 16) & (hour < 20), RUSH).otherwise(0.0)).alias("extra"),
        F.lit(MTA_TAX).alias("mta_tax"),
        F.lit(IMPROVEMENT).alias("improvement_surcharge"),
        F.when(_core(pu) | _core(do), CONGESTION).otherwise(0.0).alias("congestion_surcharge"),
        F.when(pu.isin(JFK, LAGUARDIA), AIRPORT_FEE).otherwise(0.0).alias("airport_fee"),
        F.when(_u("toll") < toll_p, TOLL).otherwise(0.0).alias("tolls_amount"),
        share.alias("_tip_share"),
    )
    negotiated = NEGOTIATED_LOW + _u("negotiated") * (NEGOTIATED_HIGH - NEGOTIATED_LOW)
    fare = (F.when(F.col("RatecodeID") == 2.0, JFK_FLAT).when(F.col("RatecodeID") == 3.0, F.col("_metered") + NEWARK_SURCHARGE)
            .when(F.col("RatecodeID") == 5.0, negotiated).otherwise(F.col("_metered")))
    priced = priced.withColumn("fare_amount", fare).withColumn(
        "tip_amount", F.when(F.col("payment_type") == 1, F.col("fare_amount") * F.col("_tip_share")).otherwise(0.0))
    components = ["fare_amount", "extra", "mta_tax", "tip_amount", "tolls_amount", "improvement_surcharge",
                  "congestion_surcharge", "airport_fee"]
    total = sum((F.col(name) for name in components), F.lit(0.0)) + _z("noise") * NOISE_SD
    priced = priced.withColumn("total_amount", total).withColumn("_cond_var", conditional_variance())
    return priced.drop("_metered", "_jfk_core", "_toll_p", "_tip_share", *_streams(PRICE_STREAMS, PRICE_NORMALS))


def _fare_moments() -> tuple[Column, Column]:
    """E[fare | features] and E[fare² | features].

    RatecodeID is a feature, except on the payment_type 0 rows where the real files leave
    it null: there the rate is a mixture over what the zones allow.
    """
    metered = F.col("_metered")
    neg_mean = (NEGOTIATED_LOW + NEGOTIATED_HIGH) / 2
    neg_square = (NEGOTIATED_HIGH - NEGOTIATED_LOW) ** 2 / 12 + neg_mean**2
    rate = F.col("RatecodeID")
    known_mean = F.when(rate == 2.0, JFK_FLAT).when(rate == 3.0, metered + NEWARK_SURCHARGE).when(rate == 5.0, neg_mean).otherwise(metered)
    known_square = F.when(rate == 5.0, neg_square).otherwise(known_mean**2)
    # hidden rate: negotiated with P_NEGOTIATED, else the zone rule (JFK flat with P_JFK_FLAT, Newark, meter)
    other_mean = (F.when(F.col("_jfk_core"), P_JFK_FLAT * JFK_FLAT + (1 - P_JFK_FLAT) * metered)
                  .when(F.col("DOLocationID") == NEWARK, metered + NEWARK_SURCHARGE).otherwise(metered))
    other_square = (F.when(F.col("_jfk_core"), P_JFK_FLAT * JFK_FLAT**2 + (1 - P_JFK_FLAT) * metered**2)
                    .when(F.col("DOLocationID") == NEWARK, (metered + NEWARK_SURCHARGE) ** 2).otherwise(metered**2))
    hidden = F.col("payment_type") == 0
    mean = F.when(hidden, P_NEGOTIATED * neg_mean + (1 - P_NEGOTIATED) * other_mean).otherwise(known_mean)
    square = F.when(hidden, P_NEGOTIATED * neg_square + (1 - P_NEGOTIATED) * other_square).otherwise(known_square)
    return mean, square


def tip_share_moments() -> tuple[float, float]:
    """E[S] and E[S²] of the card tip share S (0 with TIP_ZERO_SHARE, else uniform)."""
    mean = (1 - TIP_ZERO_SHARE) * (TIP_LOW + TIP_HIGH) / 2
    square = (1 - TIP_ZERO_SHARE) * (((TIP_LOW + TIP_HIGH) / 2) ** 2 + (TIP_HIGH - TIP_LOW) ** 2 / 12)
    return mean, square


def conditional_variance() -> Column:
    """Var(total_amount | pipeline features) per row.

    total = fare·(1 + S·card) + tolls + noise + deterministic surcharges, with fare, S,
    the toll draw and the noise independent given the features, so
    Var = E[fare²]·E[(1+S·card)²] − (E[fare]·E[1+S·card])² + p(1−p)·TOLL² + NOISE_SD².
    """
    fare_mean, fare_square = _fare_moments()
    s_mean, s_square = tip_share_moments()
    card = F.col("payment_type") == 1
    factor_mean = F.when(card, 1 + s_mean).otherwise(1.0)
    factor_square = F.when(card, 1 + 2 * s_mean + s_square).otherwise(1.0)
    fare_and_tip = F.greatest(fare_square * factor_square - (fare_mean * factor_mean) ** 2, F.lit(0.0))
    tolls = F.col("_toll_p") * (1 - F.col("_toll_p")) * TOLL**2
    return fare_and_tip + tolls + NOISE_SD**2


def _shift_pickup(month: str) -> Column:
    """Out-of-month pickup: the previous month (most) or an absurd year such as 2002."""
    previous = shift_month(month, -1)
    pickup = F.col("tpep_pickup_datetime")

    def at(year: int, mm: int) -> Column:
        return F.make_timestamp(F.lit(year), F.lit(mm), F.least(F.dayofmonth(pickup), F.lit(28)), F.hour(pickup),
                                F.minute(pickup), F.second(pickup).cast("decimal(8,6)")).cast("timestamp")

    return F.when(_u("q_out_of_month_kind") < 0.7, at(int(previous[:4]), int(previous[5:]))).otherwise(at(2002, int(month[5:])))


def add_quirks(priced: DataFrame, month: str) -> DataFrame:
    """Real-file quirks on priced trips; one boolean ``_q_<name>`` column per quirk.

    The payment_type 0 block (null passenger_count, RatecodeID, store_and_fwd_flag,
    congestion_surcharge, airport fee) and unknown zones keep rows clean; every other
    quirk makes the row fail one of the cleaning rules.
    """
    c = F.col
    null_block = c("payment_type") == 0
    zero_distance = _u("q_zero_distance") < QUIRK_RATES["zero_distance"]
    flags = {
        "null_passenger_block": null_block,
        "zero_passengers": ~null_block & (_u("q_zero_passengers") < QUIRK_RATES["zero_passengers"]),
        "zero_distance": zero_distance,
        "absurd_distance": ~zero_distance & (_u("q_absurd_distance") < QUIRK_RATES["absurd_distance"]),
        "dropoff_not_after_pickup": _u("q_dropoff") < QUIRK_RATES["dropoff_not_after_pickup"],
        "out_of_month_pickup": _u("q_out_of_month") < QUIRK_RATES["out_of_month_pickup"],
        "refund": _u("q_refund") < QUIRK_RATES["refund"],
        "null_total_amount": _u("q_null_total") < QUIRK_RATES["null_total_amount"],
    }
    flagged = priced.select("*", *[flag.alias(f"_q_{name}") for name, flag in flags.items()])
    q = {name: c(f"_q_{name}") for name in QUIRK_NAMES}
    # clock errors: a shifted pickup keeps its duration; a bad dropoff is at or before the pickup
    duration_seconds = F.unix_timestamp("tpep_dropoff_datetime") - F.unix_timestamp("tpep_pickup_datetime")
    shifted = flagged.withColumn("_duration_s", duration_seconds).withColumn(
        "tpep_pickup_datetime", F.when(q["out_of_month_pickup"], _shift_pickup(month)).otherwise(c("tpep_pickup_datetime")))
    # 30% of the bad dropoffs equal the pickup, the rest are up to ~10 minutes before it
    dropoff_offset = F.when(
        q["dropoff_not_after_pickup"], -F.floor(F.greatest(_u("q_dropoff_size") - 0.3, F.lit(0.0)) * 900)
    ).otherwise(c("_duration_s"))
    refund = q["refund"]
    negate = {name: F.when(refund, F.lit(0.0) - c(name)).otherwise(c(name)) for name in AMOUNT_COLUMNS}  # 0 - x: no -0.0
    negate["total_amount"] = F.when(q["null_total_amount"], F.lit(None).cast("double")).otherwise(negate["total_amount"])
    null_double = F.lit(None).cast("double")
    # withColumns evaluates every replacement against the rows before the quirks
    return shifted.withColumns({
        "tpep_dropoff_datetime": F.timestamp_seconds(F.unix_timestamp("tpep_pickup_datetime") + dropoff_offset),
        "passenger_count": F.when(null_block, null_double).when(q["zero_passengers"], 0.0).otherwise(c("passenger_count")),
        "trip_distance": F.when(q["zero_distance"], 0.0)
        .when(q["absurd_distance"], F.round(1000 * F.exp(_u("q_absurd_size") * 4.6), 2))  # 1,000 to 100,000 miles
        .otherwise(c("trip_distance")),
        "RatecodeID": F.when(null_block, null_double).otherwise(c("RatecodeID")),
        "store_and_fwd_flag": F.when(null_block, F.lit(None).cast("string")).otherwise(c("store_and_fwd_flag")),
        # refunds show up as disputes in the real files
        "payment_type": F.when(refund & ~null_block, F.lit(4).cast("long")).otherwise(c("payment_type")),
        **negate,
        "congestion_surcharge": F.when(null_block, null_double).otherwise(negate["congestion_surcharge"]),
        "airport_fee": F.when(null_block, null_double).otherwise(negate["airport_fee"]),
    }).drop("id", "_duration_s", *_streams(QUIRK_STREAMS))


def real_layout(frame: DataFrame, month: str) -> DataFrame:
    """The TLC yellow-taxi columns in the real files' order and types."""
    doubles = ("passenger_count", "trip_distance", "RatecodeID")
    longs = ("VendorID", "PULocationID", "DOLocationID", "payment_type")
    order = ("VendorID", "tpep_pickup_datetime", "tpep_dropoff_datetime", "passenger_count", "trip_distance",
             "RatecodeID", "store_and_fwd_flag", "PULocationID", "DOLocationID", "payment_type", *AMOUNT_COLUMNS)
    columns = []
    for name in order:
        kind = ("double" if name in doubles or name in AMOUNT_COLUMNS else "long" if name in longs
                else "string" if name == "store_and_fwd_flag" else "timestamp")
        alias = airport_fee_column(month) if name == "airport_fee" else name
        columns.append(F.col(name).cast(kind).alias(alias))
    return frame.select(*columns)


def _statistics_columns(config: UsecaseConfig) -> list[Column]:
    """Aggregates of one month: rows, clean rows, floor inputs, quirk counts.

    The cleaning rules are evaluated exactly as the pipeline does (a NULL predicate
    fails) over rows that carry ``_lake_month``.
    """
    keep = quality.keep_expression(config.cleaning.rules)
    clean_var = F.when(keep, F.col("_cond_var"))
    return [
        F.count(F.lit(1)).alias("rows"),
        F.count(clean_var).alias("clean_rows"),
        F.avg(clean_var).alias("mean_var"),
        F.var_pop(F.when(keep, F.col("total_amount"))).alias("var_total"),
        *[F.sum(F.col(f"_q_{name}").cast("long")).alias(f"q_{name}") for name in QUIRK_NAMES],
    ]


def _statistics(row: dict) -> dict:
    """Manifest fields from the aggregated row."""
    mean_var, var_total = row["mean_var"], row["var_total"]
    floor = round(mean_var**0.5, 6) if mean_var is not None else None
    ceiling = round(1 - mean_var / var_total, 6) if mean_var is not None and var_total else None
    return {
        "rows": int(row["rows"]),
        "clean_rows": int(row["clean_rows"]),
        "noise_floor_rmse": floor,
        "r2_ceiling": ceiling,
        "best_possible": {"rmse": floor, "r2": ceiling},
        "quirk_counts": {name: int(row[f"q_{name}"] or 0) for name in QUIRK_NAMES},
    }


def month_frame(spark: SparkSession, month: str, rows: int, seed: int) -> DataFrame:
    """One month's generated rows: real columns (canonical fee name) plus helper columns."""
    return add_quirks(price_trips(build_trips(draw(spark, month, rows, seed), month)), month)


@contextmanager
def _jit_sized_codegen(spark: SparkSession) -> Iterator[None]:
    """Let Spark skip whole-stage codegen where the fused method would be too big to JIT.

    The generator's single fused stage compiles to one method far above HotSpot's 8,000-byte
    JIT limit and then runs interpreted, 2-3x slower; ``hugeMethodLimit`` = 8000 makes
    Spark fall back to per-operator code for that subtree only. Restored afterwards.
    """
    key, limit = "spark.sql.codegen.hugeMethodLimit", 8000
    previous = spark.conf.get(key)  # the default (65535) when never set
    spark.conf.set(key, str(min(limit, int(previous))))
    try:
        yield
    finally:
        spark.conf.set(key, previous)


def generate(spark: SparkSession, config: UsecaseConfig, months: list[str], rows_per_month: int, seed: int) -> dict:
    """Write each month to ``lake.month_uri(base, month)`` and its manifest to ``<base>/_manifests/``.

    The month's statistics are one aggregation observed while the Parquet is written, so
    the rows are generated once and never held in memory.

    Args:
        spark: the session.
        config: the taxi use case (``data.base_path`` and ``cleaning.rules`` are used).
        months: 'YYYY-MM' months to write; an existing month folder is overwritten.
        rows_per_month: trips per month.
        seed: the same seed, months and rows always write the same rows.

    Returns:
        ``{"usecase": …, "months": {month: manifest}}``.
    """
    base = lake.normalize_uri(config.data.base_path)
    lake.check_store(spark, base)
    manifests = {}
    with _jit_sized_codegen(spark):
        for month in months:
            observation = Observation()  # unnamed: a unique name per write
            frame = month_frame(spark, month, rows_per_month, seed).withColumn(lake.MONTH_COLUMN, F.lit(month))
            observed = frame.observe(observation, *_statistics_columns(config))
            real_layout(observed, month).write.mode("overwrite").parquet(lake.month_uri(base, month))
            manifest = {
                "generator": GENERATOR, "generator_version": GENERATOR_VERSION, "seed": seed, "month": month,
                **_statistics(observation.get),
                "noise_sd": NOISE_SD, "airport_fee_column": airport_fee_column(month),
                "quirk_rates": QUIRK_RATES,
                "floor_note": ("noise_floor_rmse = sqrt(mean Var(total_amount | pipeline features)) over the rows that "
                               "pass cleaning.rules; r2_ceiling = 1 - floor^2 / Var(total_amount) over the same rows"),
            }
            lake.write_text(spark, f"{base}/_manifests/{month}.json", json.dumps(manifest, indent=2))
            manifests[month] = manifest
    return {"usecase": config.usecase, "months": manifests}
