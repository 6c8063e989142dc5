"""The promotion rule as a decision table (pure function, no Spark, no files)."""

import math

import pytest

from sparkmlops.config import PromotionConfig
from sparkmlops.promotion import MetricRule, PromotionRule, decide
from sparkmlops.tasks.catalog import display

RULE = PromotionRule.from_config("regression", ("rmse", "mae", "r2"), PromotionConfig())
CURRENT = {"rmse": 5.0, "mae": 2.0, "r2": 0.90}
BETTER = {"rmse": 4.0, "mae": 1.5, "r2": 0.95}
WORSE = {"rmse": 9.0, "mae": 5.0, "r2": 0.10}
# min-delta band of 0.5 on RMSE and MAE: values chosen to be exact in binary floating point
DELTA_RULE = PromotionRule.from_config("regression", ("rmse", "mae", "r2"), PromotionConfig(min_delta={"rmse": 0.5, "mae": 0.5}))
GATE = ["RMSE 12.3 >= max 10"]
ALL = ("rmse", "mae", "r2")


def states(rmse, mae, r2):
    return {"rmse": rmse, "mae": mae, "r2": r2}


CASES = [
    # id, current, candidate, rule, gate_failures, force, promote, outcome, comparison, words in the reason
    ("first model", None, {"rmse": 6.0, "mae": 3.0, "r2": 0.8}, RULE, [], False,
     True, "first_model", dict.fromkeys(ALL, "not comparable"),
     ["first model: no current model, candidate passed the post-train gate"]),
    ("3 of 3", CURRENT, BETTER, RULE, [], False,
     True, "promoted", states("improved", "improved", "improved"), ["promoted: RMSE, MAE and R² improved"]),
    ("2 of 3", CURRENT, {"rmse": 4.0, "mae": 1.5, "r2": 0.85}, RULE, [], False,
     True, "promoted", states("improved", "improved", "worse"), ["promoted: RMSE and MAE improved, R² worse"]),
    ("1 of 3", CURRENT, {"rmse": 6.0, "mae": 2.5, "r2": 0.95}, RULE, [], False,
     False, "rejected", states("worse", "worse", "improved"),
     ["kept current: only R² improved (RMSE and MAE worse); 2 of 3 needed"]),
    ("1 of 3 with a tie", CURRENT, {"rmse": 6.0, "mae": 2.0, "r2": 0.95}, RULE, [], False,
     False, "rejected", states("worse", "tie", "improved"),
     ["kept current: only R² improved (RMSE worse, MAE tied); 2 of 3 needed"]),
    ("0 of 3", CURRENT, WORSE, RULE, [], False,
     False, "rejected", states("worse", "worse", "worse"),
     ["kept current: no metric improved (RMSE, MAE and R² worse); 2 of 3 needed"]),
    ("equal models are not promoted", CURRENT, dict(CURRENT), RULE, [], False,
     False, "rejected", states("tie", "tie", "tie"), ["no metric improved", "RMSE, MAE and R² tied"]),
    ("gains within min_delta are ties", CURRENT, {"rmse": 4.5, "mae": 1.75, "r2": 0.95}, DELTA_RULE, [], False,
     False, "rejected", states("tie", "tie", "improved"), ["only R² improved", "RMSE and MAE tied"]),
    ("losses within min_delta are ties", CURRENT, {"rmse": 5.5, "mae": 2.25, "r2": 0.95}, DELTA_RULE, [], False,
     False, "rejected", states("tie", "tie", "improved"), ["RMSE and MAE tied"]),
    ("gains beyond min_delta improve", CURRENT, {"rmse": 4.25, "mae": 1.25, "r2": 0.85}, DELTA_RULE, [], False,
     True, "promoted", states("improved", "improved", "worse"), ["promoted: RMSE and MAE improved, R² worse"]),
    ("NaN candidate metric", CURRENT, {"rmse": 4.0, "mae": 1.0, "r2": math.nan}, RULE, [], False,
     False, "rejected", states("improved", "improved", "worse"),
     ["R² is not a finite number", "never promoted"]),
    ("inf candidate metric", CURRENT, {"rmse": math.inf, "mae": 1.0, "r2": 0.95}, RULE, [], False,
     False, "rejected", states("worse", "improved", "improved"), ["RMSE is not a finite number (inf)"]),
    ("missing candidate metric", CURRENT, {"rmse": 4.0, "mae": 1.0}, RULE, [], False,
     False, "rejected", states("improved", "improved", "worse"), ["R² is not a finite number (missing)"]),
    ("NaN candidate on a first model", None, {"rmse": math.nan, "mae": 1.0, "r2": 0.9}, RULE, [], False,
     False, "rejected", dict.fromkeys(ALL, "not comparable"), ["RMSE is not a finite number"]),
    ("NaN candidate is not promoted even when forced", CURRENT, {"rmse": math.nan, "mae": 1.0, "r2": 0.95}, RULE, [],
     True, False, "rejected", states("worse", "improved", "improved"), ["force ignored", "never promoted"]),
    ("NaN current metric counts as improved", {"rmse": math.nan, "mae": 2.0, "r2": 0.9},
     {"rmse": 4.0, "mae": 2.5, "r2": 0.95}, RULE, [], False,
     True, "promoted", states("improved", "worse", "improved"), ["promoted: RMSE and R² improved, MAE worse"]),
    ("NaN current metric alone is not enough", {"rmse": math.nan, "mae": 2.0, "r2": 0.9},
     {"rmse": 4.0, "mae": 2.5, "r2": 0.85}, RULE, [], False,
     False, "rejected", states("improved", "worse", "worse"), ["only RMSE improved"]),
    ("gate failure blocks a better candidate", CURRENT, BETTER, RULE, GATE, False,
     False, "gate_failed", states("improved", "improved", "improved"),
     ["rejected by post-train gate: RMSE 12.3 >= max 10"]),
    ("gate failure blocks a first model", None, {"rmse": 12.3, "mae": 1.0, "r2": 0.9}, RULE, GATE, False,
     False, "gate_failed", dict.fromkeys(ALL, "not comparable"), ["rejected by post-train gate: RMSE 12.3 >= max 10"]),
    ("force overrides a gate failure", CURRENT, BETTER, RULE, GATE, True,
     True, "forced", states("improved", "improved", "improved"),
     ["forced", "RMSE, MAE and R² improved", "gate failures ignored: RMSE 12.3 >= max 10"]),
    ("force with worse metrics", CURRENT, WORSE, RULE, [], True,
     True, "forced", states("worse", "worse", "worse"), ["forced", "RMSE, MAE and R² worse"]),
    ("force of a first model that fails the gate", None, {"rmse": 12.3, "mae": 1.0, "r2": 0.9}, RULE, GATE, True,
     True, "forced", dict.fromkeys(ALL, "not comparable"), ["forced", "no current model", "gate failures ignored"]),
    ("r2 is higher-is-better", CURRENT, {"rmse": 4.0, "mae": 2.5, "r2": 0.91}, RULE, [], False,
     True, "promoted", states("improved", "worse", "improved"), ["promoted: RMSE and R² improved, MAE worse"]),
    ("lower r2 is worse even with lower errors", CURRENT, {"rmse": 6.0, "mae": 1.5, "r2": 0.80}, RULE, [], False,
     False, "rejected", states("worse", "improved", "worse"), ["only MAE improved (RMSE and R² worse)"]),
]


@pytest.mark.parametrize(
    ("current", "candidate", "rule", "gate_failures", "force", "promote", "outcome", "comparison", "reason_words"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_decision_table(current, candidate, rule, gate_failures, force, promote, outcome, comparison, reason_words):
    decision = decide(current, candidate, rule, gate_failures=gate_failures, force=force)
    assert (decision.promote, decision.outcome) == (promote, outcome), decision.reason
    assert decision.comparison == comparison
    for words in reason_words:
        assert words in decision.reason
    assert "\n" not in decision.reason  # one human line


def test_min_improved_is_configurable():
    one = PromotionRule.from_config("regression", ALL, PromotionConfig(min_improved=1))
    three = PromotionRule.from_config("regression", ALL, PromotionConfig(min_improved=3))
    candidate = {"rmse": 4.0, "mae": 1.5, "r2": 0.85}
    assert decide(CURRENT, {"rmse": 4.0, "mae": 2.5, "r2": 0.85}, one).promote is True
    rejected = decide(CURRENT, candidate, three)
    assert rejected.promote is False and "only RMSE and MAE improved (R² worse); 3 of 3 needed" in rejected.reason


def test_rule_from_config_reads_directions_and_deltas():
    rule = PromotionRule.from_config("regression", ("r2", "rmse", "mae"), PromotionConfig(min_delta={"mae": 0.2}))
    assert rule.metrics == (MetricRule("r2", True, 0.0), MetricRule("rmse", False, 0.0), MetricRule("mae", False, 0.2))
    assert rule.min_improved == 2


@pytest.mark.parametrize(
    "build",
    [
        lambda: MetricRule("rmse", False, -0.1),
        lambda: MetricRule("rmse", False, math.nan),
        lambda: PromotionRule((MetricRule("rmse", False), MetricRule("rmse", False))),
        lambda: PromotionRule((MetricRule("rmse", False),), min_improved=2),
        lambda: PromotionRule.from_config("regression", ("rmse", "auc"), PromotionConfig()),
    ],
    ids=["negative delta", "NaN delta", "duplicate metric", "min_improved above the metric count", "unknown metric"],
)
def test_invalid_rules_are_refused(build):
    with pytest.raises(ValueError):
        build()


def test_display_names():
    assert [display(name) for name in ("rmse", "mae", "r2", "auc")] == ["RMSE", "MAE", "R²", "AUC"]


# --- an old month after a newer one ----------------------------------------------------

def test_an_old_month_is_held_whatever_the_rule_said():
    from sparkmlops.promotion import OUT_OF_ORDER, hold_out_of_order

    promoted = decide({"rmse": 5.0, "mae": 3.0, "r2": 0.8}, {"rmse": 4.0, "mae": 2.0, "r2": 0.9}, RULE)
    held = hold_out_of_order(promoted, "2023-03", "2023-06")
    assert (held.promote, held.outcome) == (False, OUT_OF_ORDER)
    assert "older than 2023-06" in held.reason and "would have been promoted" in held.reason
    assert held.comparison == promoted.comparison


@pytest.mark.parametrize(("month", "newest"), [("2023-06", "2023-06"), ("2023-07", "2023-06"), ("2023-01", None)])
def test_the_newest_or_a_newer_month_is_decided_by_the_rule(month, newest):
    from sparkmlops.promotion import hold_out_of_order

    promoted = decide({"rmse": 5.0, "mae": 3.0, "r2": 0.8}, {"rmse": 4.0, "mae": 2.0, "r2": 0.9}, RULE)
    assert hold_out_of_order(promoted, month, newest) is promoted


def test_a_forced_old_month_stays_forced():
    from sparkmlops.promotion import hold_out_of_order

    forced = decide({"rmse": 5.0, "mae": 3.0, "r2": 0.8}, {"rmse": 6.0, "mae": 4.0, "r2": 0.7}, RULE, force=True)
    assert hold_out_of_order(forced, "2023-01", "2023-06") is forced
