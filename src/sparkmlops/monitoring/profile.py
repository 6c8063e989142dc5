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


def _long(frame: DataFrame, numeric: list[str], categorical: list[str]) -> DataFrame:
    """One row per (row, column): ``f`` (index, numeric columns first), ``x`` (the number, null
    when missing) or ``t`` (the text). The per-row expression stays small whatever the width."""
    null_text, null_number = F.lit(None).cast("string"), F.lit(None).cast("double")
    cells = [F.struct(F.lit(i).alias("f"), _number(name).alias("x"), null_text.alias("t")) for i, name in enumerate(numeric)]
    cells += [F.struct(F.lit(len(numeric) + j).alias("f"), null_number.alias("x"), _text(name).alias("t"))
              for j, name in enumerate(categorical)]
    return frame.select(F.explode(F.array(*cells)).alias("p")).select("p.*")


def _literal_arrays(values: list[list], kind: str) -> Column:
    """A literal array of arrays (one per column), looked up by column index."""
    return F.array(*[F.array(*[F.lit(v) for v in items]).cast(f"array<{kind}>") for items in values])


def cut_points(frame: DataFrame, columns: list[str], bins: int) -> dict[str, list[float]]:
    """Inner quantiles of each column (one aggregation), sorted and de-duplicated.

    A discrete or constant column gives fewer distinct cut points than ``bins - 1``: its
    bins are then its values, which is what PSI should compare.
    """
    if not columns:
        return {}
    probabilities = [i / bins for i in range(1, bins)]
    rows = _long(frame, columns, []).groupBy("f").agg(
        F.percentile_approx("x", probabilities, QUANTILE_ACCURACY).alias("q")).collect()  # one row per column
    found = {row["f"]: row["q"] or [] for row in rows}
    return {name: sorted({float(v) for v in found.get(i, []) if v is not None and math.isfinite(v)})
            for i, name in enumerate(columns)}


@dataclass(frozen=True)
class CategoryReference:
    """What a comparison needs of a string column's reference (None in a reference pass: raw values)."""

    top: list[str]
    known: list[str]
    known_complete: bool


def _keys(numeric_cuts: list[list[float]], categories: list[CategoryReference | None]) -> tuple[Column, Column]:
    """(key, unseen flag) of each long row: bin index as text for a number (bin i holds values in
    (cut[i-1], cut[i]]), else the category, OTHER, or an unseen value flagged; MISSING for null/NaN."""
    f, x, t = F.col("f"), F.col("x"), F.col("t")
    n = len(numeric_cuts)
    number_key, text_key, unseen = F.lit(None).cast("string"), F.when(t.isNull(), F.lit(MISSING)).otherwise(t), F.lit(False)
    if numeric_cuts:
        cuts = F.element_at(_literal_arrays(numeric_cuts, "double"), F.least(f + 1, F.lit(n)))
        number_key = F.when(x.isNull(), F.lit(MISSING)).otherwise(F.size(F.filter(cuts, lambda cut: cut < x)).cast("string"))
    compared = [c for c in categories if c is not None]
    if compared:
        index = F.greatest(f - n + 1, F.lit(1))
        top = F.element_at(_literal_arrays([c.top for c in compared], "string"), index)
        known = F.element_at(_literal_arrays([c.known for c in compared], "string"), index)
        untold = F.element_at(F.array(*[F.lit(not c.known_complete) for c in compared]), index)
        known_or_untold = F.array_contains(known, t) | untold
        text_key = (F.when(t.isNull(), F.lit(MISSING)).when(F.array_contains(top, t), t)
                    .when(known_or_untold, F.lit(OTHER)).otherwise(t))
        unseen = t.isNotNull() & ~known_or_untold
    numeric_row = f < F.lit(n)
    return F.when(numeric_row, number_key).otherwise(text_key), F.when(numeric_row, F.lit(False)).otherwise(unseen)


def count_keys(frame: DataFrame, numeric: dict[str, list[float]], categorical: dict[str, CategoryReference | None],
               limit: int) -> dict[str, KeyCounts]:
    """Rows per (column, key) of every numeric column (in its bins) and string column, in one aggregation.

    ``categorical`` maps each string column to its reference (all to None for raw values).
    At most ``limit`` keys per column come back (the most frequent), at most
    :data:`UNSEEN_LISTED` unseen values; the row totals are exact.
    """
    names = [*numeric, *categorical]
    if not names:
        return {}
    key, unseen = _keys(list(numeric.values()), list(categorical.values()))
    pairs = _long(frame, list(numeric), list(categorical)).select("f", key.alias("k"), unseen.alias("u"))
    counts = pairs.groupBy("f", "u", "k").agg(F.count(F.lit(1)).alias("n"))
    group = Window.partitionBy("f", "u")
    ranked = counts.select(
        "*", F.row_number().over(group.orderBy(F.desc("n"), "k")).alias("rank"),
        F.sum("n").over(group).alias("group_rows"), F.count(F.lit(1)).over(group).alias("group_keys"))
    rows = ranked.filter(F.col("rank") <= F.when(F.col("u"), F.lit(UNSEEN_LISTED)).otherwise(F.lit(limit))).collect()
    found: dict[int, dict] = {i: {"rows": 0, "counts": {}, "distinct": 0, "unseen_rows": 0, "unseen_top": []}
                              for i in range(len(names))}
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
    return {names[i]: KeyCounts(e["rows"], e["counts"], e["distinct"], e["unseen_rows"], tuple(e["unseen_top"]))
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
    counted = count_keys(frame, cuts, dict.fromkeys(columns.categorical), KNOWN_VALUES)

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
    cuts = {name: reference["numeric"][name]["cut_points"] for name in numeric}
    if prediction:
        cuts[PREDICTION] = reference["prediction"]["cut_points"]
        frame = frame.withColumn(PREDICTION, _col(prediction))
    categories = {name: CategoryReference(list(entry["shares"]), entry["known_values"], entry["known_complete"])
                  for name, entry in ((name, reference["categorical"][name]) for name in categorical)}
    return count_keys(frame, cuts, categories, max(reference["max_categories"], reference["bins"]) + 2)  # + OTHER, MISSING
