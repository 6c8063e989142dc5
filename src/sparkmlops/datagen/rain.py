"""Synthetic Australian daily weather ("weatherAUS"): real schema and quirks, a known Bayes AUC.

One row per station per day for the 49 weatherAUS stations: ``rows_per_month`` is not
used, a month always has 49 × its days rows (the real data's shape; the manifest's
``rows`` says how many).

The process is a hidden Markov model per station. Each day has a weather regime K(d) in
0..4 (dry to wet, wetness x = K/4); a regime lasts until a renewal (probability
RENEWAL_RATE a day) redraws it from REGIME_SHARES, so K is a stationary Markov chain
whose marginal on every day is REGIME_SHARES. Rain today (> 1 mm) happens with
probability ρ_K(station, day of year) — a logistic in the regime, the station's wetness
and its rain season (Darwin's wet summers, Perth's wet winters, calibrated to each
station's share of rain days, ~22 % overall). Morning observations reflect today's
regime; afternoon ones also reflect tomorrow's (humidity rising, pressure falling and
cloud building ahead of rain). Every informative column is a rounded, clipped logistic
draw, so the probability of a recorded value is closed-form:

===================  =========================================
column               depends on (given station and date)
===================  =========================================
RainToday, Rainfall  R(d) ~ Bernoulli(ρ_K(d)); amount given R only
Humidity9am          K(d)
Humidity3pm          K(d), K(d+1)
Pressure9am          K(d)
Pressure3pm          Pressure9am + change; the change from K(d+1)
Cloud9am             K(d)
Cloud3pm             K(d), K(d+1)
WindGustSpeed        K(d), K(d+1)
Sunshine             K(d)
everything else      neither (temperatures, evaporation, winds and directions)
===================  =========================================

RainTomorrow(d) = RainToday(d+1) at the same station (so it is missing when the next
day's rain gauge was not read). Every random draw is a hash of (seed, stream, station,
day) and the regime is found from the last renewal within the previous LOOKBACK_DAYS
(the generator fails rather than guess if there is none; the chance is about 1e-81),
so a day's row is the same whichever months are generated in one call.

What a model can observe is the row itself: Location, Date and the row's recorded
values; a missing value is unknown (missingness is drawn independently of the weather,
per station and column). The best possible score is the AUC of the exact
P(RainTomorrow = Yes | row) = Σ P(K(d), K(d+1) | row) ρ_K(d+1)(station, d+1) over the
month's labelled rows (:func:`bayes_probability`). A model that also used the
neighbouring days' rows could do better; the pipeline's per-row features cannot.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StructField, StructType

from sparkmlops import lake, quality
from sparkmlops.config import UsecaseConfig
from sparkmlops.datagen._shared import exact_auc, keyed_uniform, month_bounds, write_months

GENERATOR = "rain_tomorrow"
GENERATOR_VERSION = 1

COMPASS = ("N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE", "S", "SSW", "SW", "WSW", "W", "WNW", "NW", "NNW")
RAIN_THRESHOLD_MM = 1.0  # RainToday is "Yes" when Rainfall > 1 mm

# Regimes: wetness, share (the chain's marginal), rain logit offset.
REGIME_WETNESS = (0.0, 0.25, 0.5, 0.75, 1.0)
REGIME_SHARES = (0.38, 0.24, 0.17, 0.12, 0.09)
REGIME_RAIN_LOGIT = (-4.0, -2.2, -0.6, 0.9, 2.6)
RENEWAL_RATE = 0.3
LOOKBACK_DAYS = 366
MEAN_WETNESS = sum(x * p for x, p in zip(REGIME_WETNESS, REGIME_SHARES))
DRIZZLE_SHARE = 0.18  # dry days (<= 1 mm) with 0.2-1.0 mm recorded
CLIMATE_HUMIDITY, CLIMATE_CENTRE = 4.0, -0.6  # % humidity per unit of the climate's rain logit, its typical value

# Region climates; stations override a few values. rain_amp/rain_peak: rain season
# (logit amplitude, day of year of the peak).
REGIONS = {
    "tropical": dict(rain_amp=2.8, rain_peak=25, tmax=32.5, tamp=2.0, dtr=9.0, hum9=70, hum3=52,
                     pressure=1010.5, gust=38, sun=8.5, sun_amp=-1.5, evap=7.0, cloud=0.5, wind=11, amount=14),
    "subtropical": dict(rain_amp=0.6, rain_peak=50, tmax=25.5, tamp=4.0, dtr=8.0, hum9=68, hum3=55,
                        pressure=1016.0, gust=38, sun=7.5, sun_amp=1.0, evap=5.0, cloud=0.3, wind=13, amount=10),
    "nsw_coast": dict(rain_amp=0.3, rain_peak=120, tmax=22.5, tamp=4.5, dtr=7.5, hum9=70, hum3=58,
                      pressure=1017.0, gust=42, sun=7.2, sun_amp=1.5, evap=5.0, cloud=0.3, wind=15, amount=9),
    "nsw_inland": dict(rain_amp=0.25, rain_peak=180, tmax=24.0, tamp=7.5, dtr=13.0, hum9=66, hum3=40,
                       pressure=1017.0, gust=38, sun=8.5, sun_amp=2.5, evap=5.5, cloud=-0.3, wind=10, amount=7),
    "alpine": dict(rain_amp=0.2, rain_peak=270, tmax=20.0, tamp=8.0, dtr=13.0, hum9=72, hum3=45,
                   pressure=1018.0, gust=40, sun=7.8, sun_amp=2.5, evap=4.5, cloud=0.0, wind=8, amount=6),
    "victoria": dict(rain_amp=0.5, rain_peak=200, tmax=20.5, tamp=6.0, dtr=10.0, hum9=74, hum3=53,
                     pressure=1018.0, gust=45, sun=6.5, sun_amp=3.0, evap=4.5, cloud=0.5, wind=16, amount=5.5),
    "south_aus": dict(rain_amp=1.0, rain_peak=180, tmax=22.5, tamp=6.5, dtr=10.0, hum9=62, hum3=44,
                      pressure=1018.0, gust=40, sun=7.5, sun_amp=3.0, evap=5.5, cloud=0.0, wind=14, amount=5),
    "west_aus": dict(rain_amp=2.3, rain_peak=180, tmax=24.5, tamp=6.0, dtr=11.0, hum9=65, hum3=46,
                     pressure=1017.0, gust=42, sun=8.5, sun_amp=2.5, evap=6.0, cloud=-0.3, wind=15, amount=7),
    "tasmania": dict(rain_amp=0.2, rain_peak=260, tmax=17.5, tamp=5.0, dtr=8.0, hum9=67, hum3=52,
                     pressure=1014.0, gust=45, sun=6.2, sun_amp=2.8, evap=3.5, cloud=0.5, wind=14, amount=5),
    "arid": dict(rain_amp=0.9, rain_peak=30, tmax=29.0, tamp=8.0, dtr=15.0, hum9=45, hum3=25,
                 pressure=1015.0, gust=40, sun=9.5, sun_amp=1.0, evap=8.5, cloud=-1.0, wind=10, amount=9),
}

# The 49 weatherAUS stations: region, share of days with rain > 1 mm, overrides.
STATIONS = (
    ("Albury", "nsw_inland", 0.21, {}),
    ("BadgerysCreek", "nsw_inland", 0.19, dict(rain_peak=60, tamp=6.0, dtr=12.0, hum9=72, hum3=48)),
    ("Cobar", "nsw_inland", 0.13, dict(rain_peak=30, rain_amp=0.3, hum9=55, hum3=30, tmax=26.0)),
    ("CoffsHarbour", "subtropical", 0.30, dict(rain_peak=60)),
    ("Moree", "nsw_inland", 0.13, dict(rain_peak=30, rain_amp=0.3, hum9=62, hum3=36, tmax=27.0)),
    ("Newcastle", "nsw_coast", 0.26, {}),
    ("NorahHead", "nsw_coast", 0.29, {}),
    ("NorfolkIsland", "subtropical", 0.31, dict(rain_peak=180, rain_amp=0.5, tmax=22.0, tamp=3.0, dtr=5.0, hum3=66)),
    ("Penrith", "nsw_inland", 0.19, dict(rain_peak=60, tamp=6.0, dtr=12.0, hum9=72, hum3=48)),
    ("Richmond", "nsw_inland", 0.19, dict(rain_peak=60, tamp=6.0, dtr=12.0, hum9=72, hum3=48)),
    ("Sydney", "nsw_coast", 0.26, {}),
    ("SydneyAirport", "nsw_coast", 0.25, dict(wind=19)),
    ("WaggaWagga", "nsw_inland", 0.18, {}),
    ("Williamtown", "nsw_coast", 0.23, {}),
    ("Wollongong", "nsw_coast", 0.24, {}),
    ("Canberra", "alpine", 0.18, {}),
    ("Tuggeranong", "alpine", 0.19, {}),
    ("MountGinini", "alpine", 0.30, dict(tmax=12.0, dtr=7.0, hum9=65, hum3=60, gust=55, wind=22)),
    ("Ballarat", "victoria", 0.26, dict(tmax=18.0)),
    ("Bendigo", "victoria", 0.18, dict(tmax=21.5, dtr=12.0, hum9=68, hum3=45)),
    ("Sale", "victoria", 0.23, {}),
    ("MelbourneAirport", "victoria", 0.21, {}),
    ("Melbourne", "victoria", 0.23, {}),
    ("Mildura", "victoria", 0.11, dict(rain_amp=0.35, rain_peak=180, tmax=24.5, tamp=8.0, dtr=13.0, hum9=63, hum3=36)),
    ("Nhil", "victoria", 0.15, dict(tmax=22.5, tamp=7.0, dtr=12.0, hum9=66, hum3=42)),
    ("Portland", "victoria", 0.37, dict(rain_amp=0.6, rain_peak=190, tmax=18.5, hum9=78, hum3=62)),
    ("Watsonia", "victoria", 0.24, {}),
    ("Dartmoor", "victoria", 0.31, dict(rain_amp=0.6, rain_peak=190, tmax=19.5, hum9=78, hum3=58)),
    ("Brisbane", "subtropical", 0.22, {}),
    ("Cairns", "tropical", 0.32, dict(rain_amp=1.6, rain_peak=45, tmax=29.0, tamp=3.5, dtr=8.0)),
    ("GoldCoast", "subtropical", 0.25, dict(rain_peak=60)),
    ("Townsville", "tropical", 0.16, dict(rain_amp=2.0, rain_peak=45, tmax=29.0, tamp=3.5, dtr=8.0)),
    ("Adelaide", "south_aus", 0.21, {}),
    ("MountGambier", "south_aus", 0.30, dict(rain_amp=0.9, rain_peak=190, tmax=19.0, hum9=77, hum3=60)),
    ("Nuriootpa", "south_aus", 0.19, dict(tmax=22.0, dtr=12.0)),
    ("Woomera", "arid", 0.07, dict(rain_amp=0.2, rain_peak=60, tmax=26.5, dtr=13.0, hum9=50, hum3=28, gust=42)),
    ("Albany", "west_aus", 0.30, dict(rain_amp=0.9, rain_peak=190, tmax=20.0, tamp=3.5, dtr=8.0, hum9=75, hum3=63)),
    ("Witchcliffe", "west_aus", 0.30, dict(rain_amp=1.3, rain_peak=185, tmax=21.0, tamp=4.5, hum9=77, hum3=60)),
    ("PearceRAAF", "west_aus", 0.19, {}),
    ("PerthAirport", "west_aus", 0.20, {}),
    ("Perth", "west_aus", 0.20, {}),
    ("SalmonGums", "west_aus", 0.16, dict(rain_amp=0.4, tmax=22.5, dtr=13.0, hum9=60, hum3=40)),
    ("Walpole", "west_aus", 0.33, dict(rain_amp=1.3, rain_peak=185, tmax=21.0, tamp=4.5, hum9=77, hum3=60)),
    ("Hobart", "tasmania", 0.24, {}),
    ("Launceston", "tasmania", 0.22, dict(rain_amp=0.7, rain_peak=200, tmax=18.5, tamp=6.0, dtr=11.0, hum9=78, hum3=55)),
    ("AliceSprings", "arid", 0.08, {}),
    ("Darwin", "tropical", 0.27, {}),
    ("Katherine", "tropical", 0.15, dict(rain_amp=3.2, rain_peak=30, tmax=34.0, dtr=14.0, hum9=62, hum3=38)),
    ("Uluru", "arid", 0.08, dict(tmax=30.0, tamp=9.0)),
)
LOCATIONS = tuple(name for name, *_ in STATIONS)
LOCATION_INDEX = {name: i for i, name in enumerate(LOCATIONS)}

# Stations without an instrument (or an observer) for a column; the column is always
# missing there. With the per-row rates below they give weatherAUS's missing shares.
STATION_GAPS = {
    "Sunshine": ("Albury", "BadgerysCreek", "Newcastle", "NorahHead", "Penrith", "Richmond", "Tuggeranong",
                 "MountGinini", "Ballarat", "Bendigo", "Nhil", "Dartmoor", "GoldCoast", "Adelaide", "Witchcliffe",
                 "SalmonGums", "Walpole", "Launceston", "Uluru", "Katherine", "Wollongong", "PearceRAAF"),
    "Evaporation": ("Albury", "BadgerysCreek", "Newcastle", "NorahHead", "Penrith", "Tuggeranong", "MountGinini",
                    "Ballarat", "Bendigo", "Nhil", "GoldCoast", "Adelaide", "Witchcliffe", "SalmonGums", "Walpole",
                    "Launceston", "Uluru", "Katherine", "Wollongong", "PearceRAAF"),
    "Cloud9am": ("BadgerysCreek", "Penrith", "Tuggeranong", "MountGinini", "Nhil", "Dartmoor", "GoldCoast",
                 "Witchcliffe", "SalmonGums", "Walpole", "Uluru", "Katherine", "PearceRAAF", "Richmond", "NorahHead",
                 "Ballarat", "Bendigo"),
    "Cloud3pm": ("BadgerysCreek", "Penrith", "Tuggeranong", "MountGinini", "Nhil", "Dartmoor", "GoldCoast",
                 "Witchcliffe", "SalmonGums", "Walpole", "Uluru", "Katherine", "PearceRAAF", "Richmond", "NorahHead",
                 "Ballarat", "Bendigo", "Wollongong"),
    "pressure": ("Newcastle", "Penrith", "SalmonGums", "MountGinini"),
    "gust": ("Albany", "Newcastle"),
}
# Per-row missing rates where the station has the instrument. Groups share one draw:
# rain (Rainfall, RainToday), pressure (Pressure9am, Pressure3pm), gust (WindGustDir, WindGustSpeed).
MISSING_RATES = {
    "MinTemp": 0.010, "MaxTemp": 0.009, "rain": 0.022, "Evaporation": 0.040, "Sunshine": 0.056, "gust": 0.031,
    "WindDir9am": 0.023, "WindDir3pm": 0.014, "WindSpeed9am": 0.012, "WindSpeed3pm": 0.021, "Humidity9am": 0.018,
    "Humidity3pm": 0.031, "pressure": 0.024, "Cloud9am": 0.057, "Cloud3pm": 0.064, "Temp9am": 0.012, "Temp3pm": 0.025,
}
MISSING_GROUPS = {"rain": ("Rainfall", "RainToday"), "pressure": ("Pressure9am", "Pressure3pm"),
                  "gust": ("WindGustDir", "WindGustSpeed")}
CALM_SHARE = {"9am": 0.05, "3pm": 0.015}  # calm: speed 0 and no direction recorded
OBSERVABLE = ("Location", "Date", "RainToday", "Humidity9am", "Humidity3pm", "Pressure9am", "Pressure3pm",
              "Cloud9am", "Cloud3pm", "WindGustSpeed", "Sunshine")
_YEAR = 365.25


# ---- parameters shared by the sampler (Spark columns) and the Bayes score (numpy) -------
class _Ops:
    """Station parameters and math functions for one of the two back ends."""

    def __init__(self, param: Callable[[str], Any], cos: Callable, exp: Callable) -> None:
        self.param, self.cos, self.exp = param, cos, exp


def _season(ops: _Ops, day_of_year: Any) -> dict[str, Any]:
    """Seasonal terms in [-1, 1]: the station's rain season, warmth (peak late January), daylight (peak at the solstice)."""
    angle = 2 * math.pi / _YEAR
    return {
        "rain": ops.cos((day_of_year - ops.param("rain_peak")) * angle),
        "warm": ops.cos((day_of_year - 20) * angle),
        "light": ops.cos((day_of_year - 355) * angle),
    }


def _rain_probability(ops: _Ops, season: dict[str, Any], regime_logit: Any) -> Any:
    """ρ: P(rain > 1 mm | regime, station, day of year)."""
    logit = regime_logit + ops.param("rain_b") + ops.param("rain_amp") * season["rain"]
    return 1.0 / (1.0 + ops.exp(-logit))


@dataclass(frozen=True)
class Emission:
    """An informative column: round(mean + scale·Logistic, decimals), clipped to [low, high].

    ``relative_to``: the recorded value is that column's plus this rounded draw (the
    afternoon pressure is the morning's plus a change).
    """

    column: str
    decimals: int
    scale: float
    mean: Callable[[_Ops, dict, Any, Any], Any]
    low: float = -math.inf
    high: float = math.inf
    relative_to: str | None = None

    @property
    def step(self) -> float:
        return 10.0 ** -self.decimals


def _afternoon(x_today: Any, x_tomorrow: Any, weight_tomorrow: float) -> Any:
    return (1 - weight_tomorrow) * x_today + weight_tomorrow * x_tomorrow - MEAN_WETNESS


def _climate(ops: _Ops, season: dict[str, Any]) -> Any:
    """How wet the station's climate is on that day of the year (ρ's logit without the regime), centred.

    Humid places and seasons are the rainy ones: the humidities carry it, as in the real data.
    """
    return ops.param("rain_b") + ops.param("rain_amp") * season["rain"] - CLIMATE_CENTRE


EMISSIONS = (
    Emission("Humidity9am", 0, 7.0, lambda o, s, x0, x1: o.param("hum9") + CLIMATE_HUMIDITY * _climate(o, s)
             + 20 * (x0 - MEAN_WETNESS), 0, 100),
    Emission("Humidity3pm", 0, 5.0, lambda o, s, x0, x1: o.param("hum3") + CLIMATE_HUMIDITY * _climate(o, s)
             + 32 * _afternoon(x0, x1, 0.85), 0, 100),
    Emission("Pressure9am", 1, 2.6, lambda o, s, x0, x1: o.param("pressure") - 3 * s["warm"]
             - 7 * (x0 - MEAN_WETNESS), 975, 1045),
    Emission("Pressure3pm", 1, 0.7, lambda o, s, x0, x1: -2.4 - 4.0 * (x1 - MEAN_WETNESS), relative_to="Pressure9am"),
    Emission("Cloud9am", 0, 1.1, lambda o, s, x0, x1: 3.8 + o.param("cloud") + 8 * (x0 - MEAN_WETNESS), 0, 8),
    Emission("Cloud3pm", 0, 1.1, lambda o, s, x0, x1: 3.8 + o.param("cloud") + 8 * _afternoon(x0, x1, 0.75), 0, 8),
    Emission("WindGustSpeed", 0, 5.2, lambda o, s, x0, x1: o.param("gust") + 3 * (x0 - MEAN_WETNESS)
             + 12 * (x1 - MEAN_WETNESS), 6, 135),
    Emission("Sunshine", 1, 0.9, lambda o, s, x0, x1: (o.param("sun") + o.param("sun_amp") * s["light"])
             * (1.25 - 0.8 * x0), 0, 14.5),
)


@cache
def station_table() -> dict[str, np.ndarray]:
    """Parameter name -> one value per station (LOCATIONS order), ``rain_b`` calibrated.

    ``rain_b`` solves mean over the year of Σ_k share_k ρ_k = the station's rain-day share
    (bisection; ρ increases with it).
    """
    rows = [{**REGIONS[region], **overrides, "rain_share": share} for _, region, share, overrides in STATIONS]
    table = {key: np.array([row[key] for row in rows], dtype=float) for key in rows[0]}
    table["wind_dir"] = np.array([zlib.crc32(name.encode()) % 16 for name in LOCATIONS], dtype=float)
    for column, stations in STATION_GAPS.items():
        table[f"lacks_{column}"] = np.array([name in stations for name in LOCATIONS], dtype=float)
    days = np.arange(1, 366, dtype=float)[None, :, None]
    season = np.cos((days - table["rain_peak"][:, None, None]) * 2 * math.pi / _YEAR)
    offsets, shares = np.array(REGIME_RAIN_LOGIT)[None, None, :], np.array(REGIME_SHARES)[None, None, :]
    low, high = np.full(len(LOCATIONS), -20.0), np.full(len(LOCATIONS), 20.0)
    for _ in range(80):
        middle = (low + high) / 2
        logit = offsets + middle[:, None, None] + table["rain_amp"][:, None, None] * season
        share = (shares / (1 + np.exp(-logit))).sum(axis=2).mean(axis=1)
        too_wet = share > table["rain_share"]
        high, low = np.where(too_wet, middle, high), np.where(too_wet, low, middle)
    table["rain_b"] = (low + high) / 2
    return table


def _spark_ops() -> _Ops:
    table = station_table()

    @cache  # each lookup is a 49-value array literal: build it once per column of parameters
    def param(name: str) -> Column:
        return F.element_at(F.array(*[F.lit(float(v)) for v in table[name]]), F.col("_loc") + 1)

    return _Ops(param, F.cos, F.exp)


def _lookup(values: tuple, index: Column) -> Column:
    return F.element_at(F.array(*[F.lit(v) for v in values]), index + 1)


# ---- the sampler (Spark) ----------------------------------------------------------------
def _u(seed: int, stream: str) -> Column:
    return keyed_uniform(seed, stream, F.col("_loc"), F.col("_day"))


def _logistic(seed: int, stream: str) -> Column:
    u = _u(seed, stream)
    return F.log(u / (1 - u))


def _clip(value: Column, low: float, high: float) -> Column:
    if low > -math.inf:
        value = F.greatest(F.lit(float(low)), value)
    if high < math.inf:
        value = F.least(F.lit(float(high)), value)
    return value


def _regime_days(spark: SparkSession, month: str, seed: int) -> DataFrame:
    """Stations × days from LOOKBACK_DAYS before the month to the day after it, with
    regime ``_k``, tomorrow's ``_k1``, rain ``_rain`` and tomorrow's rain and gauge gap."""
    first, last = month_bounds(month)
    epoch_day = (first - date(1970, 1, 1)).days
    days = spark.range(epoch_day - LOOKBACK_DAYS, epoch_day + (last - first).days + 2).select(F.col("id").cast("int").alias("_day"))
    stations = spark.range(len(LOCATIONS)).select(F.col("id").cast("int").alias("_loc"))
    frame = stations.crossJoin(days).withColumn("_doy", F.dayofyear(F.date_from_unix_date(F.col("_day"))))
    ops = _spark_ops()
    cumulative, draw = 0.0, None
    for k, share in enumerate(REGIME_SHARES[:-1]):
        cumulative += share
        draw = (F.when(_u(seed, "regime") < cumulative, k) if draw is None
                else draw.when(_u(seed, "regime") < cumulative, k))
    draw = draw.otherwise(len(REGIME_SHARES) - 1)
    by_day = Window.partitionBy("_loc").orderBy("_day")
    last_renewal = F.last(F.when(_u(seed, "renewal") < RENEWAL_RATE, draw), ignorenulls=True).over(
        by_day.rowsBetween(-LOOKBACK_DAYS, 0))
    frame = frame.withColumn("_k", last_renewal)
    rho = _rain_probability(ops, _season(ops, F.col("_doy")), _lookup(REGIME_RAIN_LOGIT, F.col("_k")))
    frame = frame.select(
        "*",
        (_u(seed, "rain") < rho).alias("_rain"),
        (_u(seed, "m_rain") < MISSING_RATES["rain"]).alias("_rain_gap"),
    )
    frame = frame.select(
        "*",
        F.lead("_k").over(by_day).alias("_k1"),
        F.lead("_rain").over(by_day).alias("_rain1"),
        F.lead("_rain_gap").over(by_day).alias("_rain_gap1"),
    ).filter(F.col("_day").between(epoch_day, epoch_day + (last - first).days))
    # every day of the month and the next one sees LOOKBACK_DAYS of past: no renewal there
    # (probability ~1e-81) would make the regime depend on where the frame starts
    message = f"rain generator: no regime renewal within {LOOKBACK_DAYS} days (seed {seed}, {month}); try another seed"
    unknown = F.col("_k").isNull() | F.col("_k1").isNull()
    return frame.withColumn("_k", F.when(unknown, F.raise_error(F.lit(message))).otherwise(F.col("_k")))


def _missing(seed: int, name: str, ops: _Ops) -> Column:
    """The column (or group) is missing on this row: the station lacks it, or a per-row gap."""
    gap = _u(seed, f"m_{name}") < MISSING_RATES[name]
    return (ops.param(f"lacks_{name}") > 0) | gap if name in STATION_GAPS else gap


def _or_null(value: Column, missing: Column) -> Column:
    return F.when(missing, F.lit(None)).otherwise(value)


def _informative(seed: int, ops: _Ops) -> dict[str, Column]:
    """The emission columns, before missing values."""
    season = _season(ops, F.col("_doy"))
    x0, x1 = _lookup(REGIME_WETNESS, F.col("_k")), _lookup(REGIME_WETNESS, F.col("_k1"))
    values = {}
    for emission in EMISSIONS:
        raw = emission.mean(ops, season, x0, x1) + emission.scale * _logistic(seed, emission.column)
        value = _clip(F.round(raw, emission.decimals), emission.low, emission.high)
        if emission.relative_to:
            value = F.round(values[emission.relative_to] + value, emission.decimals)
        values[emission.column] = value
    return values


def _uninformative(seed: int, ops: _Ops) -> dict[str, Column]:
    """Columns that depend on the station and the date only (plus their own noise)."""
    season = _season(ops, F.col("_doy"))
    anomaly = 1.6 * _logistic(seed, "t_anomaly")  # one warm or cold day moves all four temperatures
    max_temp = ops.param("tmax") + ops.param("tamp") * season["warm"] + anomaly + 0.8 * _logistic(seed, "t_max")
    min_temp = (ops.param("tmax") - ops.param("dtr") + 0.8 * ops.param("tamp") * season["warm"] + 0.7 * anomaly
                + 1.0 * _logistic(seed, "t_min"))
    calm9, calm3 = _u(seed, "calm9") < CALM_SHARE["9am"], _u(seed, "calm3") < CALM_SHARE["3pm"]
    speed9 = F.when(calm9, 0.0).otherwise(F.greatest(F.lit(1.0), F.round(ops.param("wind") + 3 * _logistic(seed, "ws9"))))
    speed3 = F.when(calm3, 0.0).otherwise(
        F.greatest(F.lit(1.0), F.round(ops.param("wind") + 4.5 + 3 * _logistic(seed, "ws3"))))

    def direction(stream: str, shift: int) -> Column:
        index = F.pmod(ops.param("wind_dir").cast("int") + shift + F.round(2.0 * _logistic(seed, stream)).cast("int"), F.lit(16))
        return F.element_at(F.array(*[F.lit(name) for name in COMPASS]), index + 1)

    return {
        "MinTemp": F.round(min_temp, 1),
        "MaxTemp": F.round(max_temp, 1),
        "Temp9am": F.round(min_temp + 0.45 * (max_temp - min_temp) + 0.5 * _logistic(seed, "t_9am"), 1),
        "Temp3pm": F.round(max_temp - 1.0 + 0.4 * _logistic(seed, "t_3pm"), 1),
        "Evaporation": F.round(F.greatest(F.lit(0.0), ops.param("evap") * (1 + 0.45 * season["warm"])
                                          + 1.0 * _logistic(seed, "evap")), 1),
        "WindSpeed9am": speed9,
        "WindSpeed3pm": speed3,
        "WindDir9am": F.when(calm9, F.lit(None)).otherwise(direction("dir9", 6)),
        "WindDir3pm": F.when(calm3, F.lit(None)).otherwise(direction("dir3", 0)),
        "WindGustDir": direction("dir_gust", 0),
    }


def _rainfall(seed: int, ops: _Ops) -> Column:
    """mm on a 0.2 mm gauge: above 1 mm on rain days (exponential), 0 or drizzle up to 1 mm otherwise."""
    wet = 1.2 + 0.2 * F.floor(-ops.param("amount") * F.log(_u(seed, "amount")) / 0.2)
    drizzle = 0.2 * (F.floor(_u(seed, "drizzle_size") * 5) + 1)
    dry = F.when(_u(seed, "drizzle") < DRIZZLE_SHARE, drizzle).otherwise(0.0)
    return F.round(F.when(F.col("_rain"), wet).otherwise(dry), 1)


def month_frame(spark: SparkSession, month: str, seed: int) -> DataFrame:
    """One month's rows in weatherAUS's columns, plus the hidden ``_k``, ``_k1`` and ``_rain1``."""
    ops = _spark_ops()
    days = _regime_days(spark, month, seed)
    informative, other = _informative(seed, ops), _uninformative(seed, ops)
    missing = {name: _missing(seed, name, ops) for name in MISSING_RATES}
    missing["rain"] = F.col("_rain_gap")  # the same draw that blanks the previous day's RainTomorrow
    for group, columns in MISSING_GROUPS.items():
        for column in columns:
            missing[column] = missing[group]
    rain_today = F.when(F.col("_rain"), "Yes").otherwise("No")
    rain_tomorrow = F.when(F.col("_rain_gap1"), F.lit(None)).when(F.col("_rain1"), "Yes").otherwise("No")
    values = {
        "Date": F.date_from_unix_date(F.col("_day")).cast("timestamp"),
        "Location": _lookup(LOCATIONS, F.col("_loc")),
        **other, **informative,
        "Rainfall": _rainfall(seed, ops),
        "RainToday": rain_today,
    }
    columns = [(_or_null(value, missing[name]) if name in missing else value).alias(name) for name, value in values.items()]
    return days.select("_k", "_k1", "_rain1", *columns, rain_tomorrow.alias("RainTomorrow"))


# ---- the Bayes score (numpy) ---------------------------------------------------------------
def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -x)


def log_pmf(value: np.ndarray, mean: np.ndarray, emission: Emission) -> np.ndarray:
    """log P(recorded value | mean) of a rounded, clipped logistic, computed without cancellation."""
    half = emission.step / 2
    a, b = (value - half - mean) / emission.scale, (value + half - mean) / emission.scale
    # log(S(b) - S(a)) = b + log(1 - e^(a-b)) - log(1 + e^a) - log(1 + e^b)
    inner = b + np.log(-np.expm1(a - b)) - np.logaddexp(0.0, a) - np.logaddexp(0.0, b)
    at_low, at_high = value <= emission.low + half, value >= emission.high - half
    return np.where(at_low, _log_sigmoid(b), np.where(at_high, _log_sigmoid(-a), inner))


def _numpy_ops(locations: np.ndarray) -> _Ops:
    table = station_table()
    return _Ops(lambda name: table[name][locations][:, None], np.cos, np.exp)


def _numbers(rows: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype=float)


def bayes_probability(rows: pd.DataFrame) -> np.ndarray:
    """P(RainTomorrow = Yes | the row), exactly, for rows this generator wrote.

    Sums over the 25 (today's regime, tomorrow's regime) pairs: prior share_k ·
    P(k -> k'), times the probability of each recorded informative value (missing ones
    drop out), normalised, times tomorrow's rain probability ρ_k'(station, date + 1).

    Args:
        rows: at least the OBSERVABLE columns (Date as a timestamp, numbers as floats,
            missing values as None/NaN).

    Returns:
        One probability per row.

    Raises:
        ValueError: a Location is not one of the 49 stations.
    """
    locations = rows["Location"].map(LOCATION_INDEX)
    if locations.isna().any():
        unknown = sorted(set(rows.loc[locations.isna(), "Location"].astype(str)))[:5]
        raise ValueError(f"unknown Location(s) {', '.join(unknown)}: the Bayes score knows the 49 weatherAUS stations")
    ops = _numpy_ops(locations.to_numpy(dtype=int))
    dates = pd.to_datetime(rows["Date"])
    today = _season(ops, dates.dt.dayofyear.to_numpy(dtype=float)[:, None])
    tomorrow = _season(ops, (dates + timedelta(days=1)).dt.dayofyear.to_numpy(dtype=float)[:, None])
    count = len(REGIME_SHARES)
    k0, k1 = np.repeat(np.arange(count), count)[None, :], np.tile(np.arange(count), count)[None, :]
    shares = np.array(REGIME_SHARES)
    transition = (1 - RENEWAL_RATE) * (k0 == k1) + RENEWAL_RATE * shares[k1]
    log_joint = np.log(shares[k0] * transition) + np.zeros((len(rows), 1))
    wetness, rain_logit = np.array(REGIME_WETNESS), np.array(REGIME_RAIN_LOGIT)
    values = {emission.column: _numbers(rows, emission.column) for emission in EMISSIONS}
    for emission in EMISSIONS:
        value = values[emission.column]
        if emission.relative_to:  # the afternoon pressure carries the change since the morning
            value = np.round((value - values[emission.relative_to]) / emission.step) * emission.step
        seen = ~np.isnan(value)
        mean = emission.mean(ops, today, wetness[k0], wetness[k1])
        log_joint += np.where(seen[:, None], log_pmf(np.where(seen, value, 0.0)[:, None], mean, emission), 0.0)
    rain_today = rows["RainToday"].to_numpy(dtype=object)
    rho_today = _rain_probability(ops, today, rain_logit[k0])
    log_joint += np.where((rain_today == "Yes")[:, None], np.log(rho_today), 0.0)
    log_joint += np.where((rain_today == "No")[:, None], np.log1p(-rho_today), 0.0)
    posterior = np.exp(log_joint - log_joint.max(axis=1, keepdims=True))
    posterior /= posterior.sum(axis=1, keepdims=True)
    return (posterior * _rain_probability(ops, tomorrow, rain_logit[k1])).sum(axis=1)


def with_bayes_probability(frame: DataFrame, column: str = "bayes_probability") -> DataFrame:
    """``frame`` plus the exact P(RainTomorrow = Yes | row), computed per Arrow batch (mapInPandas)."""
    schema = StructType([*frame.schema.fields, StructField(column, DoubleType())])

    def score(batches):
        for batch in batches:
            yield batch.assign(**{column: bayes_probability(batch)})

    return frame.mapInPandas(score, schema)


# ---- generate ------------------------------------------------------------------------------
def real_layout(frame: DataFrame, config: UsecaseConfig) -> DataFrame:
    """The use case's columns, in the YAML's order and types."""
    return frame.select(*[F.col(name).cast(kind).alias(name) for name, kind in config.data.columns.items()])


def _statistics(spark: SparkSession, config: UsecaseConfig, base: str, month: str) -> dict:
    """Counts, missing shares, the Yes share and the Bayes AUCs of the month as written.

    The month is read back as the pipeline reads it and cleaned with its rules, so the
    best possible score is over exactly the rows a model is scored on.
    """
    rows, _ = lake.read_month(spark, base, month, config.data.columns, config.data.column_aliases)
    keep = quality.keep_expression(config.cleaning.rules)
    aggregates = [F.count(F.lit(1)).alias("rows"), F.sum(keep.cast("long")).alias("labelled_rows"),
                  F.countDistinct("Location").alias("locations"),
                  F.avg((F.col("RainTomorrow") == "Yes").cast("double")).alias("yes_share"),
                  *[F.avg(F.col(name).isNull().cast("double")).alias(f"missing_{name}") for name in config.data.columns]]
    counts = rows.agg(*aggregates).first().asDict()
    labelled = quality.apply_rules(rows, config.cleaning.rules).select(
        *OBSERVABLE, (F.col("RainTomorrow") == "Yes").cast("int").alias("_yes"))
    scores = exact_auc(with_bayes_probability(labelled), "bayes_probability", "_yes")
    return {
        "rows": counts["rows"],
        "labelled_rows": counts["labelled_rows"],
        "locations": counts["locations"],
        "yes_share": round(counts["yes_share"], 6) if counts["yes_share"] is not None else None,
        "best_possible": {"roc_auc": scores["roc_auc"], "pr_auc": scores["pr_auc"]},
        "missing_shares": {name: round(counts[f"missing_{name}"], 6) for name in config.data.columns},
    }


def generate(spark: SparkSession, config: UsecaseConfig, months: list[str], rows_per_month: int, seed: int) -> dict:
    """Write each month to ``lake.month_uri(base, month)`` and its manifest to ``<base>/_manifests/``.

    Args:
        spark: the session.
        config: the rain_tomorrow use case (``data.columns``, ``data.base_path``, ``cleaning.rules``).
        months: 'YYYY-MM' months to write; an existing month folder is overwritten.
        rows_per_month: not used: a month has one row per station and day (49 × its days).
        seed: the same seed and month always write the same rows, whichever other months
            are generated in the same call.

    Returns:
        ``{"usecase": …, "months": {month: manifest}}``.
    """
    def write_month(base: str, month: str) -> dict:
        real_layout(month_frame(spark, month, seed), config).write.mode("overwrite").parquet(lake.month_uri(base, month))
        return {
            "generator": GENERATOR, "generator_version": GENERATOR_VERSION, "seed": seed, "month": month,
            **_statistics(spark, config, base, month),
            "rows_per_month_note": "not used: one row per station and day (49 stations x the month's days)",
            "process": {
                "regime_wetness": list(REGIME_WETNESS), "regime_shares": list(REGIME_SHARES),
                "regime_rain_logit": list(REGIME_RAIN_LOGIT), "renewal_rate": RENEWAL_RATE,
                "informative": {e.column: ("change since Pressure9am" if e.relative_to else "value") for e in EMISSIONS}
                | {"RainToday": "rain today", "Rainfall": "only through RainToday"},
                "station_gaps": {name: len(stations) for name, stations in STATION_GAPS.items()},
                "missing_rates": MISSING_RATES,
            },
            "observe": ("A model observes one row: Location, Date and the row's recorded values; a missing value is "
                        "unknown (missingness is independent of the weather given the station). Neighbouring days' "
                        "rows are not used."),
            "floor_note": ("best_possible = ROC AUC and PR AUC (average precision, ties grouped) of the exact "
                           "P(RainTomorrow = Yes | row) over the month's rows that pass cleaning.rules (RainTomorrow "
                           "recorded). The probability sums over today's and tomorrow's hidden regimes: prior x "
                           "P(recorded values | regimes) x P(rain tomorrow | tomorrow's regime, station, date + 1); "
                           "see sparkmlops.datagen.rain.bayes_probability."),
        }

    return write_months(spark, config.data.base_path, config.usecase, months, write_month)
