"""Post-predict gate: predictions exist, are finite and within the YAML bounds."""

from sparkmlops.gates import post_predict_failures


def test_predictions_are_finite_and_within_bounds(artifact, usecase_config):
    failures = post_predict_failures(artifact["prediction_stats"], usecase_config.gates)
    assert failures == [], "; ".join(failures)


def test_every_kept_row_was_predicted(artifact):
    assert artifact["prediction_stats"]["rows"] == artifact["rows"]["rows_out"]
