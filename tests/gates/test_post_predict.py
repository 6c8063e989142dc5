"""Post-predict gate: predictions exist and are finite, few enough fall outside the YAML
range (gates.prediction_out_of_range_tolerance), and clipping matches gates.prediction_clip."""

from sparkmlops.gates import clipping_failures, finite_failures, out_of_range_failures


def test_predictions_exist_and_are_finite(artifact):
    failures = finite_failures(artifact["prediction_stats"])
    assert failures == [], "; ".join(failures)


def test_out_of_range_share_is_within_tolerance(artifact, usecase_config):
    failures = out_of_range_failures(artifact["prediction_stats"], usecase_config.gates)
    assert failures == [], "; ".join(failures)


def test_clipped_predictions_match_the_config(artifact, usecase_config):
    failures = clipping_failures(artifact["prediction_stats"], usecase_config.gates)
    assert failures == [], "; ".join(failures)


def test_every_kept_row_was_predicted(artifact):
    assert artifact["prediction_stats"]["rows"] == artifact["rows"]["rows_out"]
