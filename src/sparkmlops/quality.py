"""Cleaning rules as Spark SQL predicates: counted per rule, then applied.

A row is kept when every rule's predicate is true (NULL counts as a failure). The
failures of each rule are counted in one aggregation per split and go to the report;
nothing is dropped silently.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from sparkmlops.errors import DataError, UsageError

SPLIT_COLUMN = "_split"


def _predicate(name: str, expression: str) -> Column:
    try:
        return F.coalesce(F.expr(expression), F.lit(False))
    except Exception as error:
        raise UsageError(
            f"Cleaning rule '{name}' ({expression}) is not a valid Spark SQL predicate.",
            str(error).splitlines()[0],
            "Fix cleaning.rules in the use case YAML.",
        ) from None


def rules_over(rules: dict[str, str], allowed: set[str], data_columns: set[str]) -> dict[str, str]:
    """The rules whose data columns are all in ``allowed`` (e.g. no target at predict time)."""

    def referenced(expression: str) -> set[str]:
        without_literals = re.sub(r"'[^']*'", "", expression)
        return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", without_literals)) & data_columns

    return {name: expr for name, expr in rules.items() if referenced(expr) <= allowed}


def count_failures(
    frame: DataFrame,
    rules: dict[str, str],
    group_column: str = SPLIT_COLUMN,
    checks: dict[str, Callable[[Column], Column]] | None = None,
) -> dict[str, dict]:
    """Rows in, rows out and failures per rule for each value of ``group_column``.

    One aggregation pass. A row failing several rules counts once in ``rows_removed``
    and once under each rule it fails.

    Args:
        checks: name -> function of the "row is kept" column giving one more aggregate
            (the task's input checks, e.g. unexpected labels); results under ``checks``.
    """
    predicates = {name: _predicate(name, expression) for name, expression in rules.items()}
    keep_all = keep_expression(rules)
    aggregates = [F.count(F.lit(1)).alias("rows_in"), F.sum(F.when(keep_all, 1).otherwise(0)).alias("rows_out")]
    aggregates += [F.sum(F.when(~p, 1).otherwise(0)).alias(f"rule__{name}") for name, p in predicates.items()]
    checks = checks or {}
    aggregates += [check(keep_all).alias(f"check__{name}") for name, check in checks.items()]
    try:
        rows = frame.groupBy(group_column).agg(*aggregates).collect()  # one row per split: bounded
    except Exception as error:
        if "UNRESOLVED_COLUMN" in str(error) or "AnalysisException" in type(error).__name__:
            raise UsageError(
                "A cleaning rule names a column the data does not have.",
                str(error).splitlines()[0],
                "Fix cleaning.rules in the use case YAML.",
            ) from None
        raise
    counts = {}
    for row in rows:
        values = row.asDict()
        per_rule = {name: int(values[f"rule__{name}"] or 0) for name in rules}
        rows_in, rows_out = int(values["rows_in"]), int(values["rows_out"] or 0)
        counts[values[group_column]] = {
            "rows_in": rows_in,
            "rows_out": rows_out,
            "rows_removed": rows_in - rows_out,
            "retention": (rows_out / rows_in) if rows_in else 0.0,
            "failures_by_rule": per_rule,
        }
        if checks:
            counts[values[group_column]]["checks"] = {name: values[f"check__{name}"] or 0 for name in checks}
    return counts


def sum_counts(groups: list[dict]) -> dict:
    """Add up :func:`count_failures` entries (e.g. the months of a split) into one entry."""
    rows_in = sum(group["rows_in"] for group in groups)
    rows_out = sum(group["rows_out"] for group in groups)
    rules = list(dict.fromkeys(name for group in groups for name in group["failures_by_rule"]))
    summed = {
        "rows_in": rows_in,
        "rows_out": rows_out,
        "rows_removed": rows_in - rows_out,
        "retention": (rows_out / rows_in) if rows_in else 0.0,
        "failures_by_rule": {name: sum(group["failures_by_rule"].get(name, 0) for group in groups) for name in rules},
    }
    checks = [group["checks"] for group in groups if "checks" in group]
    if checks:  # counts add up; a text (an example value) is the first one found
        summed["checks"] = {}
        for name in checks[0]:
            values = [check.get(name) for check in checks]
            numbers = [value for value in values if isinstance(value, (int, float))]
            summed["checks"][name] = sum(numbers) if len(numbers) == len(values) else next((v for v in values if v), None)
    return summed


def keep_expression(rules: dict[str, str]) -> Column:
    """True for a row that passes every rule (a NULL predicate counts as a failure)."""
    keep_all = F.lit(True)
    for name, expression in rules.items():
        keep_all = keep_all & _predicate(name, expression)
    return keep_all


def apply_rules(frame: DataFrame, rules: dict[str, str]) -> DataFrame:
    return frame.filter(keep_expression(rules))


def check_retention(counts: dict[str, dict], min_retention: float) -> None:
    """Stop the run when a split is empty or cleaning removed more than allowed."""
    for split, stats in sorted(counts.items()):
        if stats["rows_in"] == 0:
            raise DataError(
                f"The {split} data has no rows.",
                "An empty month cannot train or score a model.",
                "Check the lake month folders (re-ingest or regenerate them).",
            )
        if stats["retention"] < min_retention:
            worst = max(stats["failures_by_rule"].items(), key=lambda item: item[1])
            raise DataError(
                f"Cleaning kept only {stats['retention']:.1%} of the {split} rows "
                f"({stats['rows_out']} of {stats['rows_in']}), below the minimum of {min_retention:.0%}.",
                f"The rule removing most rows is '{worst[0]}' ({worst[1]} rows); training on what is left "
                "would hide a data problem.",
                "Inspect that month's data, fix the source or the rule, or lower cleaning.min_retention in the YAML.",
            )
