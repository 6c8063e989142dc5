"""Distribution profiles of many columns in a fixed number of Spark jobs.

A reference profile (built on a model's training window) holds, per numeric column, cut
points at the window's quantiles and the share of rows in each bin, and per string column
the shares of its most frequent values; missing values (null, NaN) are a share of their
own, never a bin. Scoring a month against a reference counts its rows in the same bins and
categories.

Every column goes into the same aggregation: each row is exploded into (column, key)
pairs and grouped once, so the job count does not grow with the number of columns, and
what comes back to the driver is bounded by bins and categories, never by rows. A
reference takes two passes (quantiles, then counts); a scored month takes one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import reduce

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

MISSING, OTHER, UNSEEN = "__missing__", "__other__", "__unseen__"
PREDICTION = "__prediction__"  # the key of the predictions' counts
KNOWN_VALUES = 1000  # values of a string column a reference remembers, to tell unseen values apart
UNSEEN_LISTED = 5  # unseen values a comparison names (the most frequent)
QUANTILE_ACCURACY = 10_000  # percentile_approx: relative error about 1e-4
PROFILE_VERSION = 1


@dataclass(frozen=True)
class DriftColumns:
    """The raw columns whose drift is measured, by kind."""

    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()


@dataclass(frozen=True)
class KeyCounts:
    """Rows of one column per key (bin index, category, MISSING, OTHER) and its unseen values."""

    rows: int
    counts: dict[str, int]
    distinct: int  # distinct keys seen (an unseen value counts once each)
    unseen_rows: int = 0
    unseen_top: tuple[tuple[str, int], ...] = ()


def _col(name: str) -> Column:
    return F.col("`" + name.replace("`", "``") + "`")


def _number(name: str) -> Column:
    """The column as a double; NaN reads as missing (null), like null."""
    value = _col(name).cast("double")
    return F.when(~F.isnan(value), value)


def _text(name: str) -> Column:
    return _col(name).cast("string")


def cut_points(frame: DataFrame, columns: list[str], bins: int) -> dict[str, list[float]]:
    """Inner quantiles of each column (one aggregation), sorted and de-duplicated.

    A discrete or constant column gives fewer distinct cut points than ``bins - 1``: its
    bins are then its values, which is what PSI should compare.
    """
    if not columns:
        return {}
    probabilities = [i / bins for i in range(1, bins)]
    row = frame.agg(*[F.percentile_approx(_number(name), probabilities, QUANTILE_ACCURACY).alias(f"c{i}")
                      for i, name in enumerate(columns)]).first()
    return {name: sorted({float(v) for v in (row[f"c{i}"] or []) if v is not None and math.isfinite(v)})
            for i, name in enumerate(columns)}


def bin_key(name: str, cuts: list[float]) -> Column:
    """Bin index as text: bin i holds values in (cut[i-1], cut[i]]; MISSING for null/NaN."""
    value = _number(name)
    index = reduce(lambda total, cut: total + (value > F.lit(cut)).cast("int"), cuts, F.lit(0))
    return F.when(value.isNull(), F.lit(MISSING)).otherwise(index.cast("string"))


def raw_category_key(name: str) -> Column:
    value = _text(name)
    return F.when(value.isNull(), F.lit(MISSING)).otherwise(value)


def _in(value: Column, values: list[str]) -> Column:
    return value.isin(values) if values else F.lit(False)


def category_key(name: str, reference: dict) -> tuple[Column, Column]:
    """(key, unseen flag) of a string column against its reference: a top value itself,
    OTHER for a value the reference knows, MISSING, or the value with the unseen flag set."""
    value = _text(name)
    known = reference["known_values"]
    known_or_untold = _in(value, known) | F.lit(not reference["known_complete"])
    key = (F.when(value.isNull(), F.lit(MISSING))
           .when(_in(value, list(reference["shares"])), value)
           .when(known_or_untold, F.lit(OTHER))
           .otherwise(value))
    return key, value.isNotNull() & ~known_or_untold


def count_keys(frame: DataFrame, keys: list[tuple[str, Column, Column]], limit: int) -> dict[str, KeyCounts]:
    """Rows per (column, key) for every ``(column, key, unseen flag)`` in one aggregation.

    At most ``limit`` keys per column come back (the most frequent), at most
    :data:`UNSEEN_LISTED` unseen values; the row totals are exact.
    """
    if not keys:
        return {}
    pairs = frame.select(F.explode(F.array(*[
        F.struct(F.lit(i).alias("f"), key.cast("string").alias("k"), unseen.alias("u"))
        for i, (_, key, unseen) in enumerate(keys)])).alias("p")).select("p.*")
    counts = pairs.groupBy("f", "u", "k").agg(F.count(F.lit(1)).alias("n"))
    group = Window.partitionBy("f", "u")
    ranked = counts.select(
        "*", F.row_number().over(group.orderBy(F.desc("n"), "k")).alias("rank"),
        F.sum("n").over(group).alias("group_rows"), F.count(F.lit(1)).over(group).alias("group_keys"))
    rows = ranked.filter(F.col("rank") <= F.when(F.col("u"), F.lit(UNSEEN_LISTED)).otherwise(F.lit(limit))).collect()
    found: dict[int, dict] = {i: {"rows": 0, "counts": {}, "distinct": 0, "unseen_rows": 0, "unseen_top": []}
                              for i in range(len(keys))}
    for row in sorted(rows, key=lambda r: (r["f"], r["rank"])):
        entry = found[row["f"]]
        if row["rank"] == 1:
            entry["rows"] += int(row["group_rows"])
            entry["distinct"] += int(row["group_keys"])
            if row["u"]:
                entry["unseen_rows"] = int(row["group_rows"])
        if row["u"]:
            entry["unseen_top"].append((row["k"], int(row["n"])))
        else:
            entry["counts"][row["k"]] = int(row["n"])
    return {keys[i][0]: KeyCounts(e["rows"], e["counts"], e["distinct"], e["unseen_rows"], tuple(e["unseen_top"]))
            for i, e in found.items()}


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def numeric_shares(counts: KeyCounts, cuts: list[float]) -> list[float] | None:
    """Share of the non-missing rows in each of the ``len(cuts) + 1`` bins (None: no such row)."""
    present = counts.rows - counts.counts.get(MISSING, 0)
    return [counts.counts.get(str(i), 0) / present for i in range(len(cuts) + 1)] if present else None


def build_reference(frame: DataFrame, columns: DriftColumns, prediction: str | None, bins: int,
                    max_categories: int) -> dict:
    """The reference profile of ``frame`` (two aggregations, whatever the number of columns).

    Args:
        frame: the training window's rows (with the prediction column when one is given).
        columns: the numeric and string columns to profile.
        prediction: a numeric column of model predictions to profile as ``prediction``.
        bins: quantile bins of each numeric column.
        max_categories: most frequent values of each string column kept; the rest is ``other``.
    """
    numeric = [*columns.numeric, *([prediction] if prediction else [])]
    cuts = cut_points(frame, numeric, bins)
    keys = [(name, bin_key(name, cuts[name]), F.lit(False)) for name in numeric]
    keys += [(name, raw_category_key(name), F.lit(False)) for name in columns.categorical]
    counted = count_keys(frame, keys, KNOWN_VALUES)

    def numeric_entry(name: str) -> dict:
        found = counted[name]
        return {"cut_points": cuts[name], "shares": numeric_shares(found, cuts[name]),
                "missing_rate": _share(found.counts.get(MISSING, 0), found.rows), "rows": found.rows}

    def categorical_entry(name: str) -> dict:
        found = counted[name]
        present = found.rows - found.counts.get(MISSING, 0)
        values = [(key, n) for key, n in sorted(found.counts.items(), key=lambda kv: (-kv[1], kv[0])) if key != MISSING]
        top = values[:max_categories]
        shares = {key: n / present for key, n in top} if present else {}
        return {"shares": shares, "other_share": (1 - sum(shares.values())) if present else None,
                "missing_rate": _share(found.counts.get(MISSING, 0), found.rows), "rows": found.rows,
                "known_values": [key for key, _ in values], "known_complete": found.distinct <= KNOWN_VALUES}

    profile = {"version": PROFILE_VERSION, "bins": bins, "max_categories": max_categories,
               "numeric": {name: numeric_entry(name) for name in columns.numeric},
               "categorical": {name: categorical_entry(name) for name in columns.categorical}}
    if prediction:
        profile["prediction"] = numeric_entry(prediction)
    profile["rows"] = next(iter(counted.values())).rows if counted else 0
    return profile


def count_against(frame: DataFrame, reference: dict, numeric: list[str], categorical: list[str],
                  prediction: str | None = None) -> dict[str, KeyCounts]:
    """Count ``frame``'s rows in the reference's bins and categories (one aggregation).

    The prediction column, when given, is counted in the reference's prediction bins and
    comes back under the key :data:`PREDICTION`.
    """
    keys = [(name, bin_key(name, reference["numeric"][name]["cut_points"]), F.lit(False)) for name in numeric]
    keys += [(name, *category_key(name, reference["categorical"][name])) for name in categorical]
    if prediction:
        keys.append((PREDICTION, bin_key(prediction, reference["prediction"]["cut_points"]), F.lit(False)))
    return count_keys(frame, keys, max(reference["max_categories"], reference["bins"]) + 2)  # + OTHER, MISSING
