import math

import pytest

from sparkmlops.config import PromotionConfig
from sparkmlops.promotion import PromotionRule, decide

RULE = PromotionRule.from_config(("rmse", "mae", "r2"), PromotionConfig())
CURRENT = {"rmse": 5.0, "mae": 2.0, "r2": 0.90}


@pytest.mark.parametrize(
    ("name", "current", "candidate", "promote", "outcome", "comparison", "reason_words"),
    [
        ("first model", None, {"rmse": 6.0, "mae": 3.0, "r2": 0.8}, True, "first_model", None, ["first model"]),
        ("3 of 3", CURRENT, {"rmse": 4.0, "mae": 1.5, "r2": 0.95}, True, "promoted",
         {"rmse": "improved", "mae": "improved", "r2": "improved"}, ["promoted", "RMSE, MAE and R² improved"]),
        ("2 of 3", CURRENT, {"rmse": 4.0, "mae": 1.5, "r2": 0.85}, True, "promoted",
         {"rmse": "improved", "mae": "improved", "r2": "worse"}, ["promoted: RMSE and MAE improved, R² worse"]),
        ("1 of 3", CURRENT, {"rmse": 6.0, "mae": 2.5, "r2": 0.95}, False, "rejected",
         {"rmse": "worse", "mae": "worse", "r2": "improved"}, ["kept current", "R² improved", "2 of 3 needed"]),
        ("0 of 3", CURRENT, {"rmse": 6.0, "mae": 2.5, "r2": 0.80}, False, "rejected",
         {"rmse": "worse", "mae": "worse", "r2": "worse"}, ["kept current", "RMSE, MAE and R² worse"]),
        ("equal models", CURRENT, dict(CURRENT), False, "rejected",
         {"rmse": "tie", "mae": "tie", "r2": "tie"}, ["RMSE, MAE and R² tied"]),
        ("one tie, one better", CURRENT, {"rmse": 5.0, "mae": 1.0, "r2": 0.80}, False, "rejected",
         {"rmse": "tie", "mae": "improved", "r2": "worse"}, ["MAE improved", "RMSE tied"]),
        ("NaN candidate metric", CURRENT, {"rmse": 4.0, "mae": 1.0, "r2": math.nan}, False, "rejected",
         {"rmse": "improved", "mae": "improved", "r2": "worse"}, ["R² is not a finite number"]),
        ("NaN current metric", {"rmse": math.nan, "mae": 2.0, "r2": 0.9}, {"rmse": 4.0, "mae": 2.5, "r2": 0.95}, True,
         "promoted", {"rmse": "improved", "mae": "worse", "r2": "improved"}, ["promoted"]),
    ],
)
def test_decision_table(name, current, candidate, promote, outcome, comparison, reason_words):
    decision = decide(current, candidate, RULE)
    assert (decision.promote, decision.outcome) == (promote, outcome), name
    if comparison is not None:
        assert decision.comparison == comparison
    for words in reason_words:
        assert words in decision.reason


def test_min_delta_turns_small_gains_into_ties():
    rule = PromotionRule.from_config(("rmse", "mae", "r2"), PromotionConfig(min_delta={"rmse": 0.1, "mae": 0.1}))
    decision = decide(CURRENT, {"rmse": 4.95, "mae": 1.95, "r2": 0.95}, rule)
    assert decision.comparison == {"rmse": "tie", "mae": "tie", "r2": "improved"}
    assert decision.promote is False


def test_direction_matters_for_r2():
    decision = decide(CURRENT, {"rmse": 4.0, "mae": 2.5, "r2": 0.91}, RULE)
    assert decision.comparison["r2"] == "improved" and decision.promote is True


def test_gate_failure_blocks_even_a_better_candidate_and_a_first_model():
    failures = ["RMSE 12 >= max 10"]
    assert decide(CURRENT, {"rmse": 4.0, "mae": 1.0, "r2": 0.99}, RULE, gate_failures=failures).outcome == "gate_failed"
    first = decide(None, {"rmse": 12.0, "mae": 1.0, "r2": 0.99}, RULE, gate_failures=failures)
    assert first.promote is False and "RMSE 12 >= max 10" in first.reason


def test_force_promotes_whatever_the_metrics_and_gates_say():
    decision = decide(CURRENT, {"rmse": 9.0, "mae": 5.0, "r2": 0.1}, RULE, gate_failures=["R² 0.1 <= min 0.5"], force=True)
    assert (decision.promote, decision.outcome) == (True, "forced")
    assert "RMSE, MAE and R² worse" in decision.reason and "gate failures ignored" in decision.reason
