"""Synthetic goat herd ("goat_posture"): the share of each 15-minute step a goat stands.

One row per animal and 15-minute step (UTC, aligned to :00/:15/:30/:45) in the lake
layout ``animal_id`` ("goat_0007"), ``date``, ``ratio_debout`` in [0, 1], ``temperature``
(°C) and ``rain`` (mm in the step). DATA_FACTS section 5 describes the source project
(AniMOV: one SARIMAX per animal, a clear 24-hour cycle, weather as exogenous drivers).

The process, every draw a hash of (seed, stream, keys) (``_shared.keyed_uniform``) so a
row is the same whichever months are generated in one call:

* Weather, herd-level (one value per timestamp, the same for every animal)::

      temperature = 12 + 8·cos(2π(doy − 200)/365.25) + 4·cos(2π(hour − 15)/24) + A(t),

  rounded to 0.1 °C, where A(t) is day-to-day weather: a N(0, 3²) draw per UTC day,
  interpolated linearly from one midnight to the next. Rain: a day is wet with
  probability 0.35; on a wet day each step rains with probability 0.3, an amount of
  0.1 + Exp(mean 0.6) mm rounded to 0.1 mm; otherwise 0 (about 90 % of steps are dry).
* Per animal a (hash of seed and animal): night level L ~ U(−2.0, −1.2), activity
  amplitude M ~ U(2.2, 3.6), clock shift φ ~ U(−1.5, 1.5) h and heat sensitivity
  β ~ U(−0.25, −0.10) per °C above 20 °C.
* The true conditional mean, :func:`true_mean`::

      μ = sigmoid(L + M·P(hour − φ) + β·max(0, temperature − 20) + 0.5·min(rain, 2))
      P(h) = exp(2(cos(2π(h − 8)/24) − 1)) + exp(2(cos(2π(h − 17)/24) − 1))

  P is low at night and peaks in the morning (08:00) and the afternoon (17:00) with a
  midday rest; heat above 20 °C makes goats lie (β < 0; below 20 °C temperature has no
  effect), rain makes them stand (they shelter rather than lie on wet ground). Without
  heat or rain, μ is about 0.25 at night and 0.8 at the peaks.
* Observation: ``ratio_debout = μ + T_m(e)``, e ~ N(0, NOISE_SD²) i.i.d. (NOISE_SD =
  0.1), folded (reflected) into [−m, m] with m = min(μ, 1 − μ) by the triangle wave T_m.
  T_m is odd and e symmetric, so the noise stays symmetric about 0: E[ratio_debout |
  animal, time, weather] = μ exactly, μ is also the conditional median, and every value
  lies in [0, 1] without clipping. There is no autocorrelation beyond μ's.

Noise floor: given what a model can know (the animal, the time and the weather columns
at that step), the best predictor of ratio_debout under squared and absolute loss is μ.
The manifest's ``best_possible`` is μ's own RMSE and MAE against the observed values
over the month's rows of the regular (non-pathological) animals, computed exactly in
Spark; its expectation is a little below NOISE_SD, as folding shrinks the noise where μ
is near 0 or 1 (1,000 animals in January 2024: RMSE 0.0966, MAE 0.0777; the MAE of
Gaussian noise would be 0.0798). ``noise_sd`` states NOISE_SD.

Quirks:

* Collar gaps (rows absent): each animal-day starts a gap with probability 0.2, at a
  uniform step of that day, lasting 4–24 steps (1–6 h), possibly into the next day;
  about 2.9 % of steps. ``gap_share`` is the share of steps missing on the animals the
  gaps apply to (all but ``too_short``); :func:`collar_gap` says which.
* Pathological series, when the herd has at least 10 animals (none below, where they
  would be a large share of the herd): three animals chosen from the seed (the same
  every month), one of each kind. ``constant``: the collar fell off and reports 0.0 on
  every row it sends (gaps still apply). ``too_short``: only 16 consecutive steps (4 h)
  of the month, starting at a random step (process values, no gaps). ``all_missing``:
  every row present (gaps apply), ratio_debout null. They are left out of
  ``best_possible``.

Size: animals × 96 × days rows a month, less gaps (``rows_per_month`` is not used). One
Spark select over ``spark.range(animals × steps)``, nothing of the herd in the driver.
Measured with generate_herd on local[2]: 1,000 animals × 31 days (2.89 M rows, 5 Parquet
files) take 12.5–19 s for the write and the manifest's read-back aggregation, while
another Spark job shared the two cores (load average about 6).
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timezone

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from sparkmlops import lake
from sparkmlops.datagen._shared import keyed_uniform, month_bounds, write_months

GENERATOR = "goat_posture"
GENERATOR_VERSION = 1
USECASE = "goat_posture"
DEFAULT_ANIMALS = 50
ROWS_PER_PARTITION = 500_000

COLUMNS = {"animal_id": "string", "date": "timestamp", "ratio_debout": "double", "temperature": "double",
           "rain": "double"}

STEP_SECONDS = 900
STEPS_PER_DAY = 96

# weather (herd-level)
TEMP_MEAN, TEMP_SEASON, TEMP_SEASON_PEAK_DOY = 12.0, 8.0, 200.0
TEMP_DAILY_AMP, TEMP_DAILY_PEAK_HOUR = 4.0, 15.0
TEMP_ANOMALY_SD = 3.0
WET_DAY_P, RAIN_STEP_P, RAIN_MIN_MM, RAIN_MEAN_MM = 0.35, 0.3, 0.1, 0.6

# per-animal ranges (uniform)
LEVEL_RANGE = (-2.0, -1.2)
AMPLITUDE_RANGE = (2.2, 3.6)
SHIFT_HOURS_RANGE = (-1.5, 1.5)
HEAT_RANGE = (-0.25, -0.10)  # logit per °C above HEAT_THRESHOLD
HEAT_THRESHOLD = 20.0
# the daily profile: von Mises bumps in the morning and the afternoon
PEAK_HOURS, PEAK_CONCENTRATION = (8.0, 17.0), 2.0
RAIN_EFFECT, RAIN_CAP_MM = 0.5, 2.0  # logit per mm, up to RAIN_CAP_MM
NOISE_SD = 0.1

# collar gaps
GAP_DAY_P, GAP_STEPS = 0.2, (4, 24)

# pathological series
PATHOLOGICAL_KINDS = ("constant", "too_short", "all_missing")
PATHOLOGICAL_MIN_HERD = 10
CONSTANT_VALUE = 0.0
TOO_SHORT_STEPS = 16


# ---- keyed draws ---------------------------------------------------------------------------
def _u(seed: int, stream: str, *keys: Column) -> Column:
    return keyed_uniform(seed, stream, *keys)


def _normal(seed: int, stream: str, *keys: Column) -> Column:
    """N(0, 1) by Box–Muller from two keyed uniforms."""
    radius = F.sqrt(-2.0 * F.log(_u(seed, stream + ":r", *keys)))
    return radius * F.cos(2 * math.pi * _u(seed, stream + ":a", *keys))


def _between(u: Column, bounds: tuple[float, float]) -> Column:
    return F.lit(bounds[0]) + (bounds[1] - bounds[0]) * u


# ---- the process ---------------------------------------------------------------------------
def animal_index(animal_id: Column) -> Column:
    """``goat_0007`` -> 7."""
    return F.substring_index(animal_id, "_", -1).cast("int")


def animal_name(index: Column) -> Column:
    return F.format_string("goat_%04d", index)


def step_of(date: Column) -> Column:
    """Index of a 15-minute step since 1970-01-01 00:00 UTC."""
    return F.floor(F.unix_seconds(date) / STEP_SECONDS).cast("long")


def animal_parameters(seed: int, animal: Column) -> dict[str, Column]:
    """The animal's level, amplitude, clock shift (hours) and heat sensitivity."""
    return {
        "level": _between(_u(seed, "level", animal), LEVEL_RANGE),
        "amplitude": _between(_u(seed, "amplitude", animal), AMPLITUDE_RANGE),
        "shift": _between(_u(seed, "shift", animal), SHIFT_HOURS_RANGE),
        "heat": _between(_u(seed, "heat", animal), HEAT_RANGE),
    }


def daily_profile(hour: Column) -> Column:
    """P(h): two von Mises bumps (08:00 and 17:00), about 0.17 at 02:00 and 1.0 at the peaks."""
    return sum((F.exp(PEAK_CONCENTRATION * (F.cos(2 * math.pi * (hour - peak) / 24) - 1)) for peak in PEAK_HOURS),
               F.lit(0.0))


def true_mean(seed: int, animal_id: Column, date: Column, temperature: Column, rain: Column) -> Column:
    """E[ratio_debout | animal, date, temperature, rain]: the process's μ (module docstring)."""
    p = animal_parameters(seed, animal_index(animal_id))
    hour = F.pmod(step_of(date), F.lit(STEPS_PER_DAY)) / (STEPS_PER_DAY / 24)
    eta = (p["level"] + p["amplitude"] * daily_profile(hour - p["shift"]) + p["heat"] * F.greatest(temperature - HEAT_THRESHOLD, F.lit(0.0))
           + RAIN_EFFECT * F.least(rain, F.lit(RAIN_CAP_MM)))
    return 1 / (1 + F.exp(-eta))


def fold(noise: Column, half_width: Column) -> Column:
    """The triangle wave T_m: identity on [−m, m], reflected at ±m beyond; odd in ``noise``."""
    r = F.pmod(noise + half_width, 4 * half_width)
    return F.when(r < 2 * half_width, r - half_width).otherwise(3 * half_width - r)


def temperature(seed: int, step: Column) -> Column:
    """Herd temperature (°C) at a step: season + daily cycle + interpolated daily anomaly, to 0.1 °C."""
    day = F.floor(step / STEPS_PER_DAY)
    within = F.pmod(step, F.lit(STEPS_PER_DAY)) / STEPS_PER_DAY
    doy = F.dayofyear(F.date_from_unix_date(day.cast("int")))
    anomaly = TEMP_ANOMALY_SD * ((1 - within) * _normal(seed, "t_anomaly", day) + within * _normal(seed, "t_anomaly", day + 1))
    value = (TEMP_MEAN + TEMP_SEASON * F.cos(2 * math.pi * (doy - TEMP_SEASON_PEAK_DOY) / 365.25)
             + TEMP_DAILY_AMP * F.cos(2 * math.pi * (within * 24 - TEMP_DAILY_PEAK_HOUR) / 24) + anomaly)
    return F.round(value, 1)


def rain(seed: int, step: Column) -> Column:
    """Herd rain (mm in the step): wet days, raining steps, rounded exponential amounts."""
    day = F.floor(step / STEPS_PER_DAY)
    raining = (_u(seed, "wet_day", day) < WET_DAY_P) & (_u(seed, "rain_step", step) < RAIN_STEP_P)
    amount = F.round(RAIN_MIN_MM - RAIN_MEAN_MM * F.log(_u(seed, "rain_mm", step)), 1)
    return F.when(raining, amount).otherwise(F.lit(0.0))


def collar_gap(seed: int, animal: Column, step: Column) -> Column:
    """True when the animal's collar sends nothing at this step (a gap started today or yesterday)."""
    day = F.floor(step / STEPS_PER_DAY)
    covered = []
    for start_day in (day, day - 1):
        has_gap = _u(seed, "gap", animal, start_day) < GAP_DAY_P
        start = start_day * STEPS_PER_DAY + F.floor(_u(seed, "gap_start", animal, start_day) * STEPS_PER_DAY)
        length = GAP_STEPS[0] + F.floor(_u(seed, "gap_length", animal, start_day) * (GAP_STEPS[1] - GAP_STEPS[0] + 1))
        covered.append(has_gap & (step >= start) & (step < start + length))
    return covered[0] | covered[1]


def pathological_animals(animals: int, seed: int) -> dict[int, str]:
    """Animal index -> kind: one of each PATHOLOGICAL_KINDS from the seed, none below PATHOLOGICAL_MIN_HERD."""
    if animals < PATHOLOGICAL_MIN_HERD:
        return {}
    chosen = random.Random(f"goat-pathological:{seed}").sample(range(animals), len(PATHOLOGICAL_KINDS))
    return dict(zip(chosen, PATHOLOGICAL_KINDS))


def _month_steps(month: str) -> tuple[int, int]:
    """First step of the month (since the epoch, UTC) and the month's number of steps."""
    first, last = month_bounds(month)
    start = datetime(first.year, first.month, first.day, tzinfo=timezone.utc).timestamp()
    return int(start) // STEP_SECONDS, ((last - first).days + 1) * STEPS_PER_DAY


def month_frame(spark: SparkSession, month: str, animals: int, seed: int) -> DataFrame:
    """One month of the herd in the lake layout (gaps and pathological series applied)."""
    first_step, steps = _month_steps(month)
    total = animals * steps
    kinds = pathological_animals(animals, seed)
    by_kind = {kind: index for index, kind in kinds.items()}
    grid = spark.range(total, numPartitions=max(1, total // ROWS_PER_PARTITION)).select(
        (F.col("id") / steps).cast("int").alias("_a"),
        (F.lit(first_step) + F.col("id") % steps).alias("_step"),
    )
    is_kind = {kind: F.col("_a") == F.lit(by_kind[kind]) if kind in by_kind else F.lit(False) for kind in PATHOLOGICAL_KINDS}
    if "too_short" in by_kind:
        # the 4 hours it sends: a start step drawn per month (a hash of the month's first step)
        short_start = F.lit(first_step) + F.floor(
            _u(seed, "too_short", F.col("_a"), F.lit(first_step)) * (steps - TOO_SHORT_STEPS + 1))
        in_short = (F.col("_step") >= short_start) & (F.col("_step") < short_start + TOO_SHORT_STEPS)
        keep = F.when(is_kind["too_short"], in_short).otherwise(~collar_gap(seed, F.col("_a"), F.col("_step")))
    else:
        keep = ~collar_gap(seed, F.col("_a"), F.col("_step"))
    weather = grid.filter(keep).select(
        "_a", "_step",
        animal_name(F.col("_a")).alias("animal_id"),
        F.timestamp_seconds(F.col("_step") * STEP_SECONDS).alias("date"),
        temperature(seed, F.col("_step")).alias("temperature"),
        rain(seed, F.col("_step")).alias("rain"),
    )
    mu = true_mean(seed, F.col("animal_id"), F.col("date"), F.col("temperature"), F.col("rain"))
    with_mu = weather.withColumn("_mu", mu)
    noise = NOISE_SD * _normal(seed, "noise", F.col("_a"), F.col("_step"))
    observed = F.col("_mu") + fold(noise, F.least(F.col("_mu"), 1 - F.col("_mu")))
    ratio = (F.when(is_kind["constant"], F.lit(CONSTANT_VALUE))
             .when(is_kind["all_missing"], F.lit(None).cast("double"))
             .otherwise(observed))
    return with_mu.select("animal_id", "date", ratio.alias("ratio_debout"), "temperature", "rain")


def _layout(frame: DataFrame, columns: dict[str, str]) -> DataFrame:
    """The use case's columns, in its order and types."""
    return frame.select(*[F.col(name).cast(kind).alias(name) for name, kind in columns.items()])


def _statistics(spark: SparkSession, base: str, month: str, columns: dict[str, str], animals: int, seed: int) -> dict:
    """Manifest fields from the month as written, read back as the pipeline reads it (one aggregation)."""
    _, steps = _month_steps(month)
    rows, _ = lake.read_month(spark, base, month, columns, {})
    kinds = pathological_animals(animals, seed)
    names = {f"goat_{index:04d}": kind for index, kind in kinds.items()}
    regular = ~F.col("animal_id").isin(list(names)) if names else F.lit(True)
    short = [name for name, kind in names.items() if kind == "too_short"]
    gapped = ~F.col("animal_id").isin(short) if short else F.lit(True)
    mu = true_mean(seed, F.col("animal_id"), F.col("date"), F.col("temperature"), F.col("rain"))
    # a column of its own: inlined into both aggregates, μ would be computed twice a row
    rows = rows.select("animal_id", gapped.alias("_gapped"), F.when(regular, F.col("ratio_debout") - mu).alias("_residual"))
    residual, gapped = F.col("_residual"), F.col("_gapped")
    row = rows.agg(
        F.count(F.lit(1)).alias("rows"),
        F.sum(gapped.cast("long")).alias("gapped_rows"),
        F.count(residual).alias("scored_rows"),
        F.avg(residual**2).alias("mse"),
        F.avg(F.abs(residual)).alias("mae"),
        F.countDistinct("animal_id").alias("animals_seen"),
    ).first()
    scored = bool(row["scored_rows"])
    gapped_steps = (animals - len(short)) * steps
    return {
        "rows": int(row["rows"]),
        "scored_rows": int(row["scored_rows"]),
        "animals_seen": int(row["animals_seen"]),
        "gap_share": round(1 - row["gapped_rows"] / gapped_steps, 9) if gapped_steps else None,
        "best_possible": {"rmse": math.sqrt(row["mse"]) if scored else None, "mae": row["mae"] if scored else None},
    }


def generate_herd(spark: SparkSession, base_path: str, months: list[str], animals: int, seed: int,
                  columns: dict[str, str] | None = None) -> dict:
    """Write each month of the herd to ``lake.month_uri(base, month)`` and its manifest to ``<base>/_manifests/``.

    Args:
        spark: the session.
        base_path: the lake root of the use case.
        months: 'YYYY-MM' months; an existing month folder is overwritten.
        animals: herd size (``goat_0000`` … ).
        seed: the same seed and herd size always write the same rows for a month, whichever
            other months are generated in the same call.
        columns: column -> type of the lake layout (the use case's data.columns); COLUMNS by default.

    Returns:
        ``{"usecase": "goat_posture", "months": {month: manifest}}``.
    """
    if animals < 1:
        raise ValueError(f"a herd needs at least one animal (got {animals})")
    columns = dict(columns or COLUMNS)
    pathological = {f"goat_{index:04d}": kind for index, kind in sorted(pathological_animals(animals, seed).items())}

    def write_month(base: str, month: str) -> dict:
        _layout(month_frame(spark, month, animals, seed), columns).write.mode("overwrite").parquet(lake.month_uri(base, month))
        _, steps = _month_steps(month)
        return {
            "generator": GENERATOR, "generator_version": GENERATOR_VERSION, "seed": seed, "month": month,
            "animals": animals, "steps_per_animal": steps,
            **_statistics(spark, base, month, columns, animals, seed),
            "noise_sd": NOISE_SD,
            "pathological": pathological,
            "rows_per_month_note": "not used: one row per animal and 15-minute step, less collar gaps",
            "process": {
                "temperature": (f"{TEMP_MEAN} + {TEMP_SEASON}*cos(2pi(doy-{TEMP_SEASON_PEAK_DOY})/365.25) + "
                                f"{TEMP_DAILY_AMP}*cos(2pi(hour-{TEMP_DAILY_PEAK_HOUR})/24) + daily N(0, "
                                f"{TEMP_ANOMALY_SD}^2) anomaly interpolated between midnights, rounded to 0.1; herd-level"),
                "rain": {"wet_day_p": WET_DAY_P, "rain_step_p": RAIN_STEP_P, "min_mm": RAIN_MIN_MM,
                         "exponential_mean_mm": RAIN_MEAN_MM, "herd_level": True},
                "mean": ("mu = sigmoid(level + amplitude*P(hour - shift) + heat*max(0, temperature - 20) + 0.5*min(rain, 2)), "
                         "P(h) = sum over peaks of exp(2(cos(2pi(h - peak)/24) - 1))"),
                "peak_hours": list(PEAK_HOURS), "level": list(LEVEL_RANGE), "amplitude": list(AMPLITUDE_RANGE),
                "shift_hours": list(SHIFT_HOURS_RANGE), "heat_per_degree_above": list(HEAT_RANGE),
                "heat_threshold": HEAT_THRESHOLD,
                "rain_effect_per_mm": RAIN_EFFECT, "rain_cap_mm": RAIN_CAP_MM,
                "observation": "mu + N(0, noise_sd^2) folded into [-m, m], m = min(mu, 1 - mu): mean and median mu",
                "collar_gaps": {"day_p": GAP_DAY_P, "steps": list(GAP_STEPS)},
                "pathological": {"constant": f"ratio_debout = {CONSTANT_VALUE} on every row sent",
                                 "too_short": f"{TOO_SHORT_STEPS} consecutive steps of the month",
                                 "all_missing": "ratio_debout null on every row",
                                 "min_herd": PATHOLOGICAL_MIN_HERD},
            },
            "floor_note": (
                "E[ratio_debout | animal, date, temperature, rain] = mu (sparkmlops.datagen.goat.true_mean), and the "
                "folded noise is symmetric about 0, so mu is the best predictor under squared and absolute loss. "
                "best_possible is mu's RMSE and MAE against ratio_debout over the month's rows of the non-pathological "
                "animals (scored_rows); its expectation is at most noise_sd. gap_share is the share of the steps of "
                "the animals other than too_short that collar gaps removed."
            ),
        }

    return write_months(spark, base_path, USECASE, months, write_month)


def generate(spark: SparkSession, config, months: list[str], rows_per_month: int, seed: int) -> dict:
    """The package contract: :func:`generate_herd` with the use case's lake, columns and herd size.

    Args:
        config: the goat_posture use case (``data.base_path``, ``data.columns`` and
            ``data.generator_options["animals"]``, DEFAULT_ANIMALS when absent).
        rows_per_month: not used: a month has one row per animal and step, less collar gaps.
    """
    options = getattr(config.data, "generator_options", None) or {}
    result = generate_herd(spark, config.data.base_path, months, int(options.get("animals", DEFAULT_ANIMALS)), seed,
                           dict(config.data.columns))
    return {**result, "usecase": config.usecase}
