"""Error analysis: which likely causes are over-represented among the rows a model got wrong.

"Wrong" is the task's: for regression the largest absolute errors (above a quantile),
for classification the misclassified rows. Causes are SQL predicates from the YAML.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F


def cause_lift(frame: DataFrame, flagged: Column, causes: dict[str, str], top: int = 3) -> dict:
    """Share of each cause among flagged rows versus among all rows, in one aggregation.

    ``lift`` > 1 means the cause is over-represented where the model errs.

    Returns:
        ``flagged_rows``, ``causes`` (one entry per cause, ranked) and ``top_causes``.
    """
    aggregates = [F.count(F.lit(1)).alias("n"), F.sum(F.when(flagged, 1).otherwise(0)).alias("n_flagged")]
    for name, expression in causes.items():
        hit = F.coalesce(F.expr(expression), F.lit(False))
        aggregates.append(F.sum(F.when(hit, 1).otherwise(0)).alias(f"all__{name}"))
        aggregates.append(F.sum(F.when(hit & flagged, 1).otherwise(0)).alias(f"flagged__{name}"))
    row = frame.agg(*aggregates).first().asDict()
    n, n_flagged = int(row["n"]), int(row["n_flagged"] or 0)
    ranked = []
    for name in causes:
        share_all = (row[f"all__{name}"] or 0) / n if n else 0.0
        share_flagged = (row[f"flagged__{name}"] or 0) / n_flagged if n_flagged else 0.0
        lift = share_flagged / share_all if share_all > 0 else None
        ranked.append({"cause": name, "share_in_errors": round(share_flagged, 4), "share_overall": round(share_all, 4),
                       "lift": None if lift is None else round(lift, 2)})
    ranked.sort(key=lambda item: (-(item["share_in_errors"] * (item["lift"] or 0)), item["cause"]))
    top_causes = [item["cause"] for item in ranked if (item["lift"] or 0) > 1.0 and item["share_in_errors"] > 0][:top]
    return {"flagged_rows": n_flagged, "causes": ranked, "top_causes": top_causes}


def large_error_causes(
    scored: DataFrame, label: str, prediction: str, causes: dict[str, str], quantile: float, top: int = 3
) -> dict:
    """Regression: causes among the errors at or above the ``quantile`` of |error|.

    Two passes: an approximate quantile sets the "large" threshold, then :func:`cause_lift`.
    """
    with_error = scored.withColumn("_abs_error", F.abs(F.col(prediction) - F.col(label)))
    threshold = with_error.approxQuantile("_abs_error", [quantile], 0.001)
    if not threshold:
        return {"quantile": quantile, "threshold": None, "large_error_rows": 0, "causes": [], "top_causes": []}
    lifted = cause_lift(with_error, F.col("_abs_error") >= F.lit(threshold[0]), causes, top)
    return {"quantile": quantile, "threshold": round(float(threshold[0]), 4),
            "large_error_rows": lifted.pop("flagged_rows"), **lifted}
