"""Post-train gate: the candidate's test-month metrics meet the YAML thresholds."""

from sparkmlops.gates import post_train_failures


def test_candidate_metrics_meet_thresholds(artifact, usecase_config):
    metrics = artifact["metrics"]["candidate"]["overall"]
    failures = post_train_failures(metrics, usecase_config.gates)
    assert failures == [], "; ".join(failures)


def test_candidate_was_scored_on_the_rows_it_reports(artifact):
    assert artifact["metrics"]["candidate"]["overall"]["count"] == artifact["rows_tested_on"]


def test_a_failed_gate_never_promoted(artifact):
    decision = artifact["decision"]
    if decision["gate_failures"] and decision["outcome"] != "forced":
        assert decision["promoted"] is False
