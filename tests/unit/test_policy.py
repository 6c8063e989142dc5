"""The monitoring policy (warn / consider_candidate / fail), its effect on the promotion
decision, its config validation, and the live performance series (no Spark)."""

from __future__ import annotations

import json

import pytest

from sparkmlops import config as config_module
from sparkmlops.config import DriftPolicy, LiveMetricsPolicy, PromotionConfig, Threshold
from sparkmlops.errors import EXIT_POLICY, UsageError
from sparkmlops.monitoring import live, policy
from sparkmlops.promotion import PromotionRule, decide

RULE = PromotionRule.from_config("classification", ("roc_auc", "pr_auc", "f1"), PromotionConfig())
CURRENT = {"roc_auc": 0.62, "pr_auc": 0.40, "f1": 0.50}
WORSE_ON_TWO = {"roc_auc": 0.64, "pr_auc": 0.35, "f1": 0.45}  # the 2-of-3 rule keeps the current model
LOW_AUC = "current model's ROC AUC 0.62 <= min 0.7 on 2023-05"


def live_finding(action: str, roc_auc: float = 0.62):
    rules = LiveMetricsPolicy(thresholds={"roc_auc": Threshold(min=0.7)}, action=action)
    return policy.live_metrics_finding({"overall": {"roc_auc": roc_auc}}, rules, "2023-05")


def test_live_metrics_below_the_threshold_is_a_finding_with_a_readable_message():
    assert live_finding("consider_candidate") == policy.Finding("live_metrics", "consider_candidate", LOW_AUC)
    assert live_finding("warn", roc_auc=0.8) is None
    assert policy.live_metrics_finding(None, LiveMetricsPolicy(thresholds={"roc_auc": Threshold(min=0.7)}), "2023-05") is None


def test_drift_finding_counts_distinct_flagged_features():
    drift = {"status": "ok", "flagged_features": 2, "flagged": [
        {"feature": "x", "reason": "psi"}, {"feature": "x", "reason": "missing_rate"}, {"feature": "prediction"}]}
    finding = policy.drift_finding(drift, DriftPolicy(max_flagged_features=1, action="fail"), "2023-05")
    assert finding.action == "fail" and finding.message.startswith("2 drifted feature(s) on 2023-05 (prediction, x)")
    assert policy.drift_finding(drift, DriftPolicy(max_flagged_features=2), "2023-05") is None
    assert policy.drift_finding({"status": "no_reference"}, DriftPolicy(), "2023-05") is None


def test_warn_only_warns_and_leaves_the_rule_alone():
    result = policy.PolicyResult((live_finding("warn"),), "train")
    assert result.warnings == [LOW_AUC] and result.consider == [] and result.fail == []
    decision = decide(CURRENT, WORSE_ON_TWO, RULE, consider=result.consider, hold=result.fail)
    assert decision.outcome == "rejected" and not decision.promote


def test_consider_candidate_promotes_what_the_rule_would_keep_out():
    result = policy.PolicyResult((live_finding("consider_candidate"),), "train")
    decision = decide(CURRENT, WORSE_ON_TWO, RULE, consider=result.consider)
    assert decision.promote and decision.outcome == "policy_promoted"
    assert decision.reason.startswith(f"promoted by policy: {LOW_AUC} (the rule alone would keep the current model: "
                                      "only ROC AUC improved")
    better = {"roc_auc": 0.7, "pr_auc": 0.5, "f1": 0.6}
    assert decide(CURRENT, better, RULE, consider=result.consider).outcome == "promoted"  # the rule itself promotes


def test_the_gate_and_an_unmeasurable_candidate_still_win_over_consider_candidate():
    consider = [LOW_AUC]
    gated = decide(CURRENT, WORSE_ON_TWO, RULE, gate_failures=["F1 0.45 <= min 0.5"], consider=consider)
    assert gated.outcome == "gate_failed" and not gated.promote
    unmeasurable = decide(CURRENT, {**WORSE_ON_TWO, "f1": float("nan")}, RULE, consider=consider)
    assert unmeasurable.outcome == "rejected" and not unmeasurable.promote


def test_fail_holds_the_candidate_even_a_first_model_and_force_overrides_it():
    result = policy.PolicyResult((live_finding("fail"),), "train")
    assert result.fail == [LOW_AUC]
    for current in (CURRENT, None):
        held = decide(current, {"roc_auc": 0.9, "pr_auc": 0.9, "f1": 0.9}, RULE, hold=result.fail)
        assert held.outcome == "policy_failed" and not held.promote and LOW_AUC in held.reason
    forced = policy.PolicyResult((live_finding("fail"),), "train", forced=True)
    assert forced.fail == [] and forced.warnings == [f"{LOW_AUC} (action fail overridden by --force)"]


def test_consider_candidate_means_nothing_on_predict_and_says_so():
    result = policy.PolicyResult((policy.Finding("drift", "consider_candidate", "3 drifted feature(s)"),), "predict")
    report = result.as_report()
    assert report["consider_candidate"] == [] and not report["failed"]
    assert "no effect on predict" in report["warnings"][0] and "train runs only" in report["note"]


def test_policy_error_exits_5_with_one_paragraph():
    error = policy.policy_error("secom_defect", "2023-05", "train", [LOW_AUC], "the report is written.")
    assert error.exit_code == EXIT_POLICY == 5
    assert str(error).startswith(f"The monitoring policy of secom_defect failed the train run of 2023-05: {LOW_AUC}.")


def _raw(usecase: str) -> dict:
    import yaml

    return yaml.safe_load((config_module.conf_dir() / "usecases" / f"{usecase}.yaml").read_text())


def test_monitoring_defaults_and_validation():
    raw = _raw("rain_tomorrow")
    raw.pop("monitoring", None)
    defaults = config_module.validate(raw, "rain.yaml").monitoring
    assert defaults.drift.bins == 10 and defaults.policy.drift.action == "warn"
    assert defaults.policy.live_metrics.thresholds == {}
    raw["monitoring"] = {"policy": {"live_metrics": {"thresholds": {"rmse": {"max": 3}}}}}
    with pytest.raises(UsageError, match="monitoring.policy.live_metrics.thresholds names rmse, not a metric of task "
                                         "classification") as error:
        config_module.validate(raw, "rain.yaml")
    assert error.value.exit_code == 2
    raw["monitoring"] = {"policy": {"drift": {"action": "retrain"}}}
    with pytest.raises(UsageError, match="monitoring.policy.drift.action"):
        config_module.validate(raw, "rain.yaml")


@pytest.mark.parametrize("usecase", ["taxi_fare", "outage_duration", "rain_tomorrow", "secom_defect", "goat_posture"])
def test_every_shipped_yaml_sets_a_monitoring_policy(usecase):
    monitoring = config_module.load(usecase).monitoring
    assert monitoring.policy.live_metrics.thresholds and monitoring.policy.drift.action == "warn"


def test_live_entry_counts_months_in_production_and_reruns_replace_their_month(tmp_path):
    state = {"current": {"version": "v0002", "promoted_at": "2023-05-03T00:00:00+00:00"}, "history": [
        {"version": "v0001", "promoted": True, "test_month": "2023-03", "outcome": "first_model"},
        {"version": "v0002", "promoted": True, "test_month": "2023-04", "outcome": "policy_promoted"}]}
    evaluation = {"overall": {"roc_auc": 0.8, "pr_auc": 0.5, "f1": 0.4, "count": 100, "note": "text"}, "undefined": {}}
    entry = live.live_entry("2023-06", state, evaluation, ["roc_auc", "pr_auc", "f1"], "run-1")
    assert entry["model_version"] == "v0002" and entry["promoted_in_month"] == "2023-04"
    assert entry["months_in_production"] == 2 and entry["promoted_by"] == "policy_promoted"
    assert entry["metrics"] == {"roc_auc": 0.8, "pr_auc": 0.5, "f1": 0.4} and "note" not in entry["overall"]
    first = live.live_entry("2023-03", {"current": None, "history": []}, None, ["roc_auc"], "run-0")
    assert first["status"] == "no_current_model" and first["model_version"] is None
    live.record(str(tmp_path), "rain", entry)
    live.record(str(tmp_path), "rain", first)
    series = live.record(str(tmp_path), "rain", {**entry, "run_id": "run-2"})
    assert [e["month"] for e in series] == ["2023-03", "2023-06"] and series[1]["run_id"] == "run-2"
    assert json.loads((tmp_path / "rain" / live.LIVE_FILE).read_text())["entries"] == series
