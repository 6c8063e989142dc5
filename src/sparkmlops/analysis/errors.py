"""Error analysis: which likely causes are over-represented among the largest errors."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def large_error_causes(
    scored: DataFrame, label: str, prediction: str, causes: dict[str, str], quantile: float, top: int = 3
) -> dict:
    """Share of each cause among the largest absolute errors versus among all rows.

    Two passes: an approximate quantile of |error| sets the "large" threshold, then one
    aggregation counts every cause overall and among large errors. ``lift`` > 1 means
    the cause is over-represented where the model errs most.
    """
    abs_error = F.abs(F.col(prediction) - F.col(label))
    with_error = scored.withColumn("_abs_error", abs_error)
    threshold = with_error.approxQuantile("_abs_error", [quantile], 0.001)
    if not threshold:
        return {"quantile": quantile, "threshold": None, "large_error_rows": 0, "causes": [], "top_causes": []}
    limit = threshold[0]
    large = F.col("_abs_error") >= F.lit(limit)
    aggregates = [F.count(F.lit(1)).alias("n"), F.sum(F.when(large, 1).otherwise(0)).alias("n_large")]
    for name, expression in causes.items():
        hit = F.coalesce(F.expr(expression), F.lit(False))
        aggregates.append(F.sum(F.when(hit, 1).otherwise(0)).alias(f"all__{name}"))
        aggregates.append(F.sum(F.when(hit & large, 1).otherwise(0)).alias(f"large__{name}"))
    row = with_error.agg(*aggregates).first().asDict()
    n, n_large = int(row["n"]), int(row["n_large"] or 0)
    ranked = []
    for name in causes:
        share_all = (row[f"all__{name}"] or 0) / n if n else 0.0
        share_large = (row[f"large__{name}"] or 0) / n_large if n_large else 0.0
        lift = share_large / share_all if share_all > 0 else None
        ranked.append({"cause": name, "share_in_large_errors": round(share_large, 4), "share_overall": round(share_all, 4), "lift": None if lift is None else round(lift, 2)})
    ranked.sort(key=lambda item: (-(item["share_in_large_errors"] * (item["lift"] or 0)), item["cause"]))
    top_causes = [item["cause"] for item in ranked if (item["lift"] or 0) > 1.0 and item["share_in_large_errors"] > 0][:top]
    return {"quantile": quantile, "threshold": round(float(limit), 4), "large_error_rows": n_large, "causes": ranked, "top_causes": top_causes}
