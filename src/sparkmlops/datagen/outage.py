"""Synthetic nuclear unit outages ("arrêts de tranche"): the source study's process.

One row per outage, dated by its start inside the month. The study's formula
(DATA_FACTS section 2), on top of a base length::

    duration_days = BASE_DAYS + 5·corrective + 2·complexity − 0.1·staff + 10·(1 − resources) + N(0, 5²)

with maintenance type 70 % preventive / 30 % corrective, complexity 1–9, staff 5–49 and
resources uniform on [0, 1]. Plant, unit, start date and ``similar_outages`` (earlier
outages of the same kind on the unit) are recorded but do not enter the formula.

The study's formula alone goes negative for about 5 % of outages; the base length
(BASE_DAYS, a refuelling outage's order of magnitude) keeps the smallest mean duration at
BASE_DAYS − 2.9 = 8.4 noise standard deviations above zero, so the cleaning rule
``duration_days > 0`` would remove a clean outage with probability below 2e-17 and the
noise is, to double precision, untruncated: every clean row's conditional variance given
the features is 5², the best possible RMSE is 5 and the R² ceiling is
1 − 25 / Var(duration_days) over the month's clean rows (about 0.63).

A few data-entry quirks (unfinished outages without a duration, a missing maintenance
type, an unassessed complexity of 0, resources coded −1 for unknown, a late-registered
outage dated in the previous month) each make a row fail one cleaning rule; they never
touch the rows the floor is computed on.
"""

from __future__ import annotations

import math

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from sparkmlops import lake, quality
from sparkmlops.config import UsecaseConfig
from sparkmlops.datagen._shared import month_bounds, stream_seed, write_months

GENERATOR = "outage_duration"
GENERATOR_VERSION = 1
ROWS_PER_PARTITION = 250_000

# The study's process (DATA_FACTS section 2).
P_CORRECTIVE = 0.3
COMPLEXITY_RANGE = (1, 9)
STAFF_RANGE = (5, 49)
NOISE_SD = 5.0
COEFFICIENTS = {"corrective": 5.0, "complexity": 2.0, "staff": -0.1, "missing_resources": 10.0}
BASE_DAYS = 45.0
SMALLEST_MEAN = BASE_DAYS + COMPLEXITY_RANGE[0] * COEFFICIENTS["complexity"] + STAFF_RANGE[1] * COEFFICIENTS["staff"]
SIMILAR_OUTAGES_P = 0.25  # geometric: P(k) = p (1 - p)^k, mean 3

# EDF's fleet: plant -> its unit numbers (Bugey's start at 2, Flamanville 3 is the EPR).
PLANTS = {
    "Belleville": (1, 2), "Blayais": (1, 2, 3, 4), "Bugey": (2, 3, 4, 5), "Cattenom": (1, 2, 3, 4),
    "Chinon": (1, 2, 3, 4), "Chooz": (1, 2), "Civaux": (1, 2), "Cruas": (1, 2, 3, 4), "Dampierre": (1, 2, 3, 4),
    "Flamanville": (1, 2, 3), "Golfech": (1, 2), "Gravelines": (1, 2, 3, 4, 5, 6), "Nogent": (1, 2),
    "Paluel": (1, 2, 3, 4), "Penly": (1, 2), "Saint-Alban": (1, 2), "Saint-Laurent": (1, 2),
    "Tricastin": (1, 2, 3, 4),
}
UNITS = tuple((plant, f"{plant} {number}") for plant, numbers in PLANTS.items() for number in numbers)

# Data-entry quirks; each fails one cleaning rule of outage_duration.yaml.
QUIRK_RATES = {
    "open_outage": 0.01,               # still running at extraction: no duration yet
    "unrecorded_type": 0.005,          # maintenance_type missing
    "unassessed_complexity": 0.003,    # complexity recorded as 0
    "unknown_resources": 0.005,        # resources coded -1
    "late_registration": 0.003,        # dated in the previous month
}
QUIRK_NAMES = list(QUIRK_RATES)

UNIFORM_STREAMS = ("corrective", "complexity", "staff", "resources", "unit", "day", "hour", "similar",
                   *[f"q_{name}" for name in QUIRK_NAMES], "late_day")
NORMAL_STREAMS = ("noise",)


def _u(stream: str) -> Column:
    return F.col(f"_u_{stream}")


def expected_duration(corrective: Column, complexity: Column, staff: Column, resources: Column) -> Column:
    """E[duration_days | features]: the study's formula plus the base length."""
    c = COEFFICIENTS
    return (BASE_DAYS + c["corrective"] * corrective + c["complexity"] * complexity + c["staff"] * staff
            + c["missing_resources"] * (1 - resources))


def draw(spark: SparkSession, month: str, rows: int, seed: int) -> DataFrame:
    """``id`` plus one uniform (``_u_<stream>``) or normal (``_z_<stream>``) column per random stream.

    Each stream is its own column used only through that column, so it advances once per
    row whatever branch a later expression takes.
    """
    partitions = max(1, rows // ROWS_PER_PARTITION)
    return spark.range(rows, numPartitions=partitions).select(
        "id",
        *[F.rand(stream_seed(seed, month, name)).alias(f"_u_{name}") for name in UNIFORM_STREAMS],
        *[F.randn(stream_seed(seed, month, "n:" + name)).alias(f"_z_{name}") for name in NORMAL_STREAMS],
    )


def _integer_between(u: Column, low: int, high: int) -> Column:
    return (u * (high - low + 1)).cast("int") + low


def build_outages(draws: DataFrame, month: str) -> DataFrame:
    """Clean outages in the real layout plus ``_q_<quirk>`` flags (quirks not applied yet)."""
    first, last = month_bounds(month)
    unit_index = (_u("unit") * len(UNITS)).cast("int") + 1
    start = F.make_timestamp(F.lit(first.year), F.lit(first.month), _integer_between(_u("day"), 1, last.day),
                             _integer_between(_u("hour"), 0, 23), F.lit(0), F.lit(0).cast("decimal(8,6)"))
    corrective = (_u("corrective") < P_CORRECTIVE).cast("int")
    outages = draws.select(
        "*",
        F.format_string("AT-%s-%06d", F.lit(month.replace("-", "")), F.col("id")).alias("outage_id"),
        F.element_at(F.array(*[F.lit(plant) for plant, _ in UNITS]), unit_index).alias("plant"),
        F.element_at(F.array(*[F.lit(unit) for _, unit in UNITS]), unit_index).alias("unit"),
        start.cast("timestamp").alias("start_date"),
        F.when(corrective == 1, "corrective").otherwise("preventive").alias("maintenance_type"),
        corrective.alias("_corrective"),
        _integer_between(_u("complexity"), *COMPLEXITY_RANGE).alias("complexity"),
        _integer_between(_u("staff"), *STAFF_RANGE).alias("staff"),
        _u("resources").alias("resources"),
        F.least(F.floor(F.log(_u("similar")) / F.log(F.lit(1 - SIMILAR_OUTAGES_P))), F.lit(30)).cast("int")
        .alias("similar_outages"),
        *[(_u(f"q_{name}") < rate).alias(f"_q_{name}") for name, rate in QUIRK_RATES.items()],
    )
    mean = expected_duration(F.col("_corrective"), F.col("complexity"), F.col("staff"), F.col("resources"))
    return outages.withColumn("duration_days", mean + NOISE_SD * F.col("_z_noise"))


def add_quirks(outages: DataFrame, month: str) -> DataFrame:
    """Apply the data-entry quirks; the rows keep their ``_q_`` flags for the counts."""
    first, _ = month_bounds(month)
    q = {name: F.col(f"_q_{name}") for name in QUIRK_NAMES}
    # a late-registered outage started in the last week of the previous month
    late = F.timestamp_seconds(F.unix_timestamp(F.lit(first.isoformat()).cast("timestamp"))
                               - (F.floor(_u("late_day") * 7) + 1) * 86400 + F.hour("start_date") * 3600)
    return outages.withColumns({
        "duration_days": F.when(q["open_outage"], F.lit(None).cast("double")).otherwise(F.col("duration_days")),
        "maintenance_type": F.when(q["unrecorded_type"], F.lit(None).cast("string")).otherwise(F.col("maintenance_type")),
        "complexity": F.when(q["unassessed_complexity"], F.lit(0)).otherwise(F.col("complexity")),
        "resources": F.when(q["unknown_resources"], F.lit(-1.0)).otherwise(F.col("resources")),
        "start_date": F.when(q["late_registration"], late).otherwise(F.col("start_date")),
    })


def real_layout(frame: DataFrame, config: UsecaseConfig) -> DataFrame:
    """The use case's columns, in the YAML's order and types."""
    return frame.select(*[F.col(name).cast(kind).alias(name) for name, kind in config.data.columns.items()])


def month_frame(spark: SparkSession, month: str, rows: int, seed: int) -> DataFrame:
    """One month's outages: real columns plus helper columns (``_q_*``, ``_corrective``)."""
    return add_quirks(build_outages(draw(spark, month, rows, seed), month), month)


# How each quirk shows in the written rows (no clean row looks like this).
QUIRK_SIGNS = {
    "open_outage": "duration_days IS NULL",
    "unrecorded_type": "maintenance_type IS NULL",
    "unassessed_complexity": "complexity = 0",
    "unknown_resources": "resources = -1",
    "late_registration": f"date_format(start_date, 'yyyy-MM') != {lake.MONTH_COLUMN}",
}


def _statistics(spark: SparkSession, config: UsecaseConfig, base: str, month: str) -> dict:
    """Manifest fields from the month as written, read back as the pipeline reads it.

    One aggregation; the cleaning rules are evaluated as the pipeline does (a NULL
    predicate fails). Every clean row has Var(duration | features) = NOISE_SD², so the
    floor is NOISE_SD and the ceiling is 1 − NOISE_SD² / Var(duration) over the same rows.
    Not an ``Observation`` on the write: in Spark 4.1.1, once a session has used one, its
    ObservationManager makes the session unserialisable, and scoring with a fitted
    RandomForestClassificationModel (whose training summary holds the session) then fails
    with "Task not serializable" in that session.
    """
    rows, _ = lake.read_month(spark, base, month, config.data.columns, config.data.column_aliases)
    keep = quality.keep_expression(config.cleaning.rules)
    clean_duration = F.when(keep, F.col("duration_days"))
    corrective = (F.col("maintenance_type") == "corrective").cast("int")
    residual = clean_duration - expected_duration(corrective, F.col("complexity"), F.col("staff"), F.col("resources"))
    row = rows.agg(
        F.count(F.lit(1)).alias("rows"),
        F.count(clean_duration).alias("clean_rows"),
        F.var_pop(clean_duration).alias("var_duration"),
        F.min(clean_duration).alias("min_duration"),
        F.avg(residual**2).alias("oracle_mse"),
        F.avg(F.abs(residual)).alias("oracle_mae"),
        F.avg((F.col("maintenance_type") == "corrective").cast("double")).alias("corrective_share"),
        *[F.sum(F.coalesce(F.expr(sign), F.lit(False)).cast("long")).alias(f"q_{name}") for name, sign in QUIRK_SIGNS.items()],
    ).first().asDict()
    variance, clean = row["var_duration"], bool(row["clean_rows"])
    floor = NOISE_SD if clean else None
    ceiling = round(1 - NOISE_SD**2 / variance, 6) if variance else None
    return {
        "rows": int(row["rows"]),
        "clean_rows": int(row["clean_rows"]),
        "noise_floor_rmse": floor,
        "r2_ceiling": ceiling,
        # the mean is also the median of Gaussian noise, whose E|e| is sd * sqrt(2 / pi)
        "best_possible": {"rmse": floor, "mae": round(NOISE_SD * math.sqrt(2 / math.pi), 6) if clean else None,
                          "r2": ceiling},
        # what the formula itself scores on these rows: the floor plus this month's luck
        "oracle_on_these_rows": {
            "rmse": round(math.sqrt(row["oracle_mse"]), 6) if clean else None,
            "mae": round(row["oracle_mae"], 6) if clean else None,
            "r2": round(1 - row["oracle_mse"] / variance, 6) if variance else None,
        },
        "corrective_share": round(row["corrective_share"], 6) if row["corrective_share"] is not None else None,
        "min_clean_duration": row["min_duration"],
        "quirk_counts": {name: int(row[f"q_{name}"] or 0) for name in QUIRK_NAMES},
    }


def generate(spark: SparkSession, config: UsecaseConfig, months: list[str], rows_per_month: int, seed: int) -> dict:
    """Write each month to ``lake.month_uri(base, month)`` and its manifest to ``<base>/_manifests/``.

    The month's statistics are one aggregation over the month read back from the lake.

    Args:
        spark: the session.
        config: the outage_duration use case (``data.columns``, ``data.base_path`` and
            ``cleaning.rules`` are used).
        months: 'YYYY-MM' months to write; an existing month folder is overwritten.
        rows_per_month: outages per month.
        seed: the same seed, months and rows always write the same rows.

    Returns:
        ``{"usecase": …, "months": {month: manifest}}``.
    """
    def write_month(base: str, month: str) -> dict:
        real_layout(month_frame(spark, month, rows_per_month, seed), config).write.mode("overwrite").parquet(
            lake.month_uri(base, month))
        return {
            "generator": GENERATOR, "generator_version": GENERATOR_VERSION, "seed": seed, "month": month,
            **_statistics(spark, config, base, month),
            "process": {
                "formula": "duration_days = base_days + 5*corrective + 2*complexity - 0.1*staff + 10*(1 - resources) + N(0, noise_sd^2)",
                "base_days": BASE_DAYS, "noise_sd": NOISE_SD, "p_corrective": P_CORRECTIVE,
                "complexity": list(COMPLEXITY_RANGE), "staff": list(STAFF_RANGE), "resources": [0.0, 1.0],
                "not_in_formula": ["plant", "unit", "start_date", "similar_outages"],
            },
            "quirk_rates": QUIRK_RATES,
            "floor_note": (
                "Every row that passes cleaning.rules has Var(duration_days | features) = noise_sd^2, so "
                "noise_floor_rmse = sqrt(mean conditional variance) = noise_sd, the best MAE is "
                "noise_sd * sqrt(2/pi) (Gaussian noise) and r2_ceiling = 1 - noise_sd^2 / Var(duration_days) "
                "over those rows; oracle_on_these_rows is the formula's own score on them, which a model can "
                "beat by luck on one month but not on average. The smallest mean duration is "
                f"{SMALLEST_MEAN:g} days ({SMALLEST_MEAN / NOISE_SD:.1f} noise sd above 0), so the rule "
                "duration_days > 0 truncates the noise with probability below 2e-17: the floor is exact "
                "to double precision. Quirky rows fail a cleaning rule and are not part of the floor."
            ),
        }

    return write_months(spark, config.data.base_path, config.usecase, months, write_month)
