"""Synthetic SECOM months: 590 anonymous sensors, ~6.6 % fails, a known Bayes AUC.

Each row is a production run, time-stamped in order through its month; the columns are
the use case's ``sensor_000`` … ``sensor_589`` (doubles), ``label`` (−1 pass, 1 fail) and
``timestamp``. A layout drawn once from the seed (the same for every month) gives each
sensor a role, like the real line's:

- CONSTANT_COLUMNS sensors hold one value (mostly 0), with a few missing values;
- SPARSE_COLUMNS sensors are missing in 60–92 % of runs;
- INFORMATIVE_BETAS sensors drive the fails; they are rarely missing;
- the rest are noise (Gaussian or skewed), missing from never to a quarter of runs.

A run fails when ``a + Σ β_j z_j + ε > 0``, with z_j the standardised informative
readings and ε ~ N(0, 1) (a probit): ``a`` sets the fail share to FAIL_SHARE. Missing
values are drawn independently of everything, so what a model can observe is the row's
recorded sensors, and the exact P(fail | row) is
Φ((a + Σ_observed β_j z_j) / sqrt(1 + Σ_missing β_j²)) (:func:`bayes_probability`); the
manifest's best possible ROC AUC and PR AUC are that score's over the month's rows.
Readings are written unrounded (the UCI file has up to four decimals) so the score sees
exactly what the process used.

Everything is one Spark select over ``spark.range``: per-row arrays of keyed uniforms and
normals (a hash of seed, month, row and sensor), then one expression per sensor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from statistics import NormalDist

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StructField, StructType

from sparkmlops import lake, quality
from sparkmlops.config import UsecaseConfig
from sparkmlops.datagen._shared import exact_auc, keyed_uniform, month_bounds, write_months

GENERATOR = "secom_defect"
GENERATOR_VERSION = 1
ROWS_PER_PARTITION = 50_000

SENSORS = 590
FAIL_SHARE = 0.066  # 104 of 1,567 runs in the UCI data
CONSTANT_COLUMNS = 116
SPARSE_COLUMNS = 28
SPARSE_MISSING = (0.6, 0.92)
# Effects of the informative sensors on the fail probit; sqrt(Σβ²) = 0.9 puts the Bayes
# ROC AUC near 0.87 (the real line is hard: published models reach ~0.7-0.8).
INFORMATIVE_BETAS = tuple(0.9 * b / math.sqrt(sum(x * x for x in (1.0, 0.8, 0.7, 0.6, 0.5, 0.45, 0.4, 0.35)))
                          for b in (1.0, 0.8, 0.7, 0.6, 0.5, 0.45, 0.4, 0.35))
INTERCEPT = NormalDist().inv_cdf(FAIL_SHARE) * math.sqrt(1 + sum(b * b for b in INFORMATIVE_BETAS))
CONSTANT_VALUES = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 100.0, 1.0, 70.0, 0.5)
LAYOUT_SEED_OFFSET = 590_2008  # the layout's numpy seed is derived from the user's seed


@dataclass(frozen=True)
class Sensor:
    """One column of the layout: ``value = center + scale·z`` (or ``center·exp(scale·z)`` when skewed)."""

    name: str
    role: str  # constant | sparse | informative | noise
    center: float
    scale: float
    missing: float
    skewed: bool = False
    beta: float = 0.0


@cache
def layout(seed: int, names: tuple[str, ...]) -> tuple[Sensor, ...]:
    """Each sensor's role and parameters; a function of the seed only (the same every month)."""
    rng = np.random.default_rng(seed + LAYOUT_SEED_OFFSET)
    order = rng.permutation(len(names))
    roles = ["noise"] * len(names)
    informative = {}
    for rank, index in enumerate(order):
        if rank < CONSTANT_COLUMNS:
            roles[index] = "constant"
        elif rank < CONSTANT_COLUMNS + SPARSE_COLUMNS:
            roles[index] = "sparse"
        elif rank < CONSTANT_COLUMNS + SPARSE_COLUMNS + len(INFORMATIVE_BETAS):
            roles[index] = "informative"
            beta = INFORMATIVE_BETAS[rank - CONSTANT_COLUMNS - SPARSE_COLUMNS]
            informative[index] = beta if rng.random() < 0.5 else -beta  # a high or a low reading fails
    sensors = []
    for index, name in enumerate(names):
        role = roles[index]
        center = float(10 ** rng.uniform(-2, 3.5))
        scale = float(center * rng.uniform(0.01, 0.15))
        kind = rng.random()
        if role == "constant":
            sensors.append(Sensor(name, role, float(rng.choice(CONSTANT_VALUES)), 0.0, float(rng.uniform(0, 0.03))))
        elif role == "sparse":
            sensors.append(Sensor(name, role, center, scale, float(rng.uniform(*SPARSE_MISSING))))
        elif role == "informative":
            sensors.append(Sensor(name, role, center, scale, float(rng.uniform(0.002, 0.01)), beta=informative[index]))
        else:
            missing = (0.0 if kind < 0.3 else rng.uniform(0.001, 0.01) if kind < 0.8
                       else rng.uniform(0.01, 0.05) if kind < 0.95 else rng.uniform(0.05, 0.25))
            skewed = rng.random() < 0.3
            sensors.append(Sensor(name, role, center, float(rng.uniform(0.1, 0.6)) if skewed else scale,
                                  float(missing), skewed=skewed))
    return tuple(sensors)


def sensor_names(config: UsecaseConfig) -> tuple[str, ...]:
    """The sensor columns of the use case (``data.columns`` except the label and timestamp)."""
    return tuple(name for name in config.data.columns if name not in (config.data.target, config.data.timestamp_column))


def _normal(u1: Column, u2: Column) -> Column:
    """Box-Muller: a standard normal from two independent uniforms in (0, 1)."""
    return F.sqrt(-2 * F.log(u1)) * F.cos(2 * math.pi * u2)


def _draws(spark: SparkSession, month: str, rows: int, seed: int, sensors: int) -> DataFrame:
    """``id``, ``_gap`` (a uniform per sensor, for missing values), ``_z`` (a normal per
    sensor), ``_eps`` (the fail noise) and ``_t`` (the run's place in its slot)."""
    key = F.lit(month)

    def uniform(stream: str, j: Column | None = None) -> Column:
        return keyed_uniform(seed, stream, key, F.col("id"), *([j] if j is not None else []))

    indices = F.sequence(F.lit(0), F.lit(sensors - 1))
    partitions = max(1, rows // ROWS_PER_PARTITION)
    return spark.range(rows, numPartitions=partitions).select(
        "id",
        F.transform(indices, lambda j: uniform("gap", j)).alias("_gap"),
        F.transform(indices, lambda j: _normal(uniform("z1", j), uniform("z2", j))).alias("_z"),
        _normal(uniform("eps1"), uniform("eps2")).alias("_eps"),
        uniform("time").alias("_t"),
    )


def _number(value: float) -> str:
    """A double literal that reads back as exactly ``value`` (repr round-trips)."""
    return f"({value!r}D)"


def _reading(sensor: Sensor, z: str) -> str:
    """SQL of a sensor's reading from its standard normal ``z``."""
    if sensor.role == "constant":
        return _number(sensor.center)
    if sensor.skewed:
        return f"{_number(sensor.center)} * exp({_number(sensor.scale)} * {z})"
    return f"{_number(sensor.center)} + {_number(sensor.scale)} * {z}"


def month_frame(spark: SparkSession, config: UsecaseConfig, month: str, rows: int, seed: int) -> DataFrame:
    """One month's runs in the use case's columns and types.

    The 590 sensor expressions are SQL text handed to Spark in one ``selectExpr``: built
    as Column objects they would cost thousands of driver-to-JVM calls.
    """
    sensors = layout(seed, sensor_names(config))
    draws = _draws(spark, month, rows, seed, len(sensors))
    first, last = month_bounds(month)
    # the month's bounds in the session's time zone, so every run falls inside it there
    start = f"unix_timestamp(TIMESTAMP '{first.isoformat()} 00:00:00')"
    end = f"unix_timestamp(TIMESTAMP '{(last + timedelta(days=1)).isoformat()} 00:00:00')"
    latent = " + ".join([_number(INTERCEPT)] + [f"{_number(sensor.beta)} * element_at(_z, {i + 1})"
                                                for i, sensor in enumerate(sensors) if sensor.role == "informative"])
    expressions = {
        sensor.name: f"CASE WHEN element_at(_gap, {i + 1}) < {_number(sensor.missing)} THEN CAST(NULL AS DOUBLE) "
                     f"ELSE CAST({_reading(sensor, f'element_at(_z, {i + 1})')} AS DOUBLE) END"
        for i, sensor in enumerate(sensors)
    }
    expressions[config.data.target] = f"CAST(CASE WHEN {latent} + _eps > 0 THEN 1 ELSE -1 END AS INT)"
    # runs in order through the month, each at a random moment of its own slot
    expressions[config.data.timestamp_column] = (
        f"timestamp_seconds({start} + floor((id + _t) * ({end} - {start}) / {rows}))")
    return draws.selectExpr(*[f"{expressions[name]} AS `{name}`" for name in config.data.columns])


def _phi(x: np.ndarray) -> np.ndarray:
    """Standard normal CDF (math.erfc is exact to double precision; numpy has no erf)."""
    return 0.5 * np.vectorize(math.erfc, otypes=[float])(-x / math.sqrt(2))


def bayes_probability(rows: pd.DataFrame, sensors: tuple[Sensor, ...]) -> np.ndarray:
    """P(fail | the row's recorded sensors), exactly: Φ((a + Σ_obs β z) / sqrt(1 + Σ_missing β²)).

    Args:
        rows: at least the informative sensors' columns (missing as NaN/None).
        sensors: the month's layout (:func:`layout`).
    """
    linear = np.full(len(rows), INTERCEPT)
    hidden = np.ones(len(rows))
    for sensor in (s for s in sensors if s.role == "informative"):
        value = pd.to_numeric(rows[sensor.name], errors="coerce").to_numpy(dtype=float)
        seen = ~np.isnan(value)
        z = (np.log(value / sensor.center) if sensor.skewed else value - sensor.center) / sensor.scale
        linear += np.where(seen, sensor.beta * np.where(seen, z, 0.0), 0.0)
        hidden += np.where(seen, 0.0, sensor.beta**2)
    return _phi(linear / np.sqrt(hidden))


def with_bayes_probability(frame: DataFrame, sensors: tuple[Sensor, ...], column: str = "bayes_probability") -> DataFrame:
    """``frame`` plus the exact P(fail | row), computed per Arrow batch (mapInPandas)."""
    schema = StructType([*frame.schema.fields, StructField(column, DoubleType())])

    def score(batches):
        for batch in batches:
            yield batch.assign(**{column: bayes_probability(batch, sensors)})

    return frame.mapInPandas(score, schema)


def _statistics(spark: SparkSession, config: UsecaseConfig, base: str, month: str, sensors: tuple[Sensor, ...]) -> dict:
    """Counts, the fail share, constant and mostly-missing columns and the Bayes AUCs of the month as written.

    One aggregation gives every column's count, min and max (590 columns, one row).
    """
    rows, _ = lake.read_month(spark, base, month, config.data.columns, config.data.column_aliases)
    target = config.data.target
    keep = quality.keep_expression(config.cleaning.rules)
    head = rows.agg(F.count(F.lit(1)).alias("rows"), F.sum(keep.cast("long")).alias("labelled_rows"),
                    F.avg((F.col(target) == 1).cast("double")).alias("fail_share")).first().asDict()
    # one aggregation as SQL text: 1,770 Column objects would each be a call into the JVM
    profile = rows.selectExpr(*[f"{kind}(`{sensor.name}`) AS {prefix}{i}" for i, sensor in enumerate(sensors)
                                for kind, prefix in (("count", "n"), ("min", "lo"), ("max", "hi"))])
    row = {**head, **profile.first().asDict()}
    total = row["rows"]
    constant = sum(1 for i in range(len(sensors)) if row[f"n{i}"] == 0 or row[f"lo{i}"] == row[f"hi{i}"])
    mostly_missing = sum(1 for i in range(len(sensors)) if total and 1 - row[f"n{i}"] / total > 0.5)
    informative = [sensor.name for sensor in sensors if sensor.role == "informative"]
    labelled = quality.apply_rules(rows, config.cleaning.rules).select(
        *informative, (F.col(target) == 1).cast("int").alias("_fail"))
    scores = exact_auc(with_bayes_probability(labelled, sensors), "bayes_probability", "_fail")
    return {
        "rows": total,
        "labelled_rows": row["labelled_rows"],
        "fail_share": round(row["fail_share"], 6) if row["fail_share"] is not None else None,
        "best_possible": {"roc_auc": scores["roc_auc"], "pr_auc": scores["pr_auc"]},
        "constant_columns": constant,
        "mostly_missing_columns": mostly_missing,
        "missing_share": round(1 - sum(row[f"n{i}"] for i in range(len(sensors))) / (total * len(sensors)), 6) if total else None,
    }


def real_layout(frame: DataFrame, config: UsecaseConfig) -> DataFrame:
    """The use case's columns, in the YAML's order and types (one ``selectExpr``)."""
    return frame.selectExpr(*[f"CAST(`{name}` AS {kind}) AS `{name}`" for name, kind in config.data.columns.items()])


def generate(spark: SparkSession, config: UsecaseConfig, months: list[str], rows_per_month: int, seed: int) -> dict:
    """Write each month to ``lake.month_uri(base, month)`` and its manifest to ``<base>/_manifests/``.

    Args:
        spark: the session.
        config: the secom_defect use case (``data.columns``, ``data.base_path``, ``cleaning.rules``).
        months: 'YYYY-MM' months to write; an existing month folder is overwritten.
        rows_per_month: production runs per month (the real line: ~400).
        seed: the same seed, months and rows always write the same rows.

    Returns:
        ``{"usecase": …, "months": {month: manifest}}``.
    """
    sensors = layout(seed, sensor_names(config))
    roles = {role: sum(1 for s in sensors if s.role == role) for role in ("constant", "sparse", "informative", "noise")}

    def write_month(base: str, month: str) -> dict:
        real_layout(month_frame(spark, config, month, rows_per_month, seed), config).write.mode("overwrite").parquet(
            lake.month_uri(base, month))
        return {
            "generator": GENERATOR, "generator_version": GENERATOR_VERSION, "seed": seed, "month": month,
            **_statistics(spark, config, base, month, sensors),
            "layout": {
                "roles": roles,
                "informative": {s.name: round(s.beta, 6) for s in sensors if s.role == "informative"},
                "intercept": INTERCEPT,
                "design_fail_share": FAIL_SHARE,
            },
            "observe": ("A model observes one row's recorded sensors; missing readings are unknown (missingness is "
                        "independent of everything)."),
            "floor_note": ("best_possible = ROC AUC and PR AUC (average precision, ties grouped) of the exact "
                           "P(fail | row) = Phi((intercept + sum over recorded informative sensors of beta*z) / "
                           "sqrt(1 + sum over missing ones of beta^2)) over the month's rows that pass cleaning.rules; "
                           "z is the sensor's standardised reading (see sparkmlops.datagen.secom.bayes_probability)."),
        }

    return write_months(spark, config.data.base_path, config.usecase, months, write_month)
