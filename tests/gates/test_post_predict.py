"""Post-predict gate: the task's checks on the written predictions.

Regression: predictions exist and are finite, few enough fall outside the YAML range
(gates.prediction_out_of_range_tolerance), clipping matches gates.prediction_clip.
Classification: probabilities exist, are finite and in [0, 1], and the share predicted
positive is within gates.positive_share.
"""

from sparkmlops.tasks import get_task


def test_predictions_pass_the_tasks_checks(artifact, usecase_config):
    failures = get_task(usecase_config).post_predict_failures(artifact["prediction_stats"])
    assert failures == [], "; ".join(failures)


def test_every_kept_row_was_predicted(artifact):
    assert artifact["prediction_stats"]["rows"] == artifact["rows"]["rows_out"]
