"""Pre-train gate: the window and the cleaned data are good enough to train on."""

from sparkmlops.gates import pre_train_failures


def test_window_has_test_month_and_at_least_two_train_months_or_days(artifact):
    window = artifact["window"]
    assert window["test_month"], "no test month"
    if window.get("unit") == "day":
        assert window["test_days"], "no test day"
        assert len(window["train_days"]) >= 2, f"train days: {window['train_days']}"
    else:
        assert len(window["train_months"]) >= 2, f"train months: {window['train_months']}"


def test_every_split_keeps_enough_rows_after_cleaning(artifact, usecase_config):
    failures = pre_train_failures(artifact, usecase_config.cleaning.min_retention)
    assert failures == [], "; ".join(failures)
