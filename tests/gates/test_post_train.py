"""Post-train gate: the candidate's test-month metrics meet the YAML thresholds (the task's checks)."""

from sparkmlops.tasks import get_task


def test_candidate_metrics_meet_thresholds(artifact, usecase_config):
    failures = get_task(usecase_config).post_train_failures(artifact["metrics"]["candidate"])
    assert failures == [], "; ".join(failures)


def test_candidate_was_scored_on_the_rows_it_reports(artifact):
    overall = artifact["metrics"]["candidate"]["overall"]
    # forecasting: every test row gets a forecast row ("rows"); "count" is the steps with an actual value
    assert overall.get("rows", overall["count"]) == artifact["rows_tested_on"]


def test_a_failed_gate_never_promoted(artifact):
    decision = artifact["decision"]
    if decision["gate_failures"] and decision["outcome"] != "forced":
        assert decision["promoted"] is False
