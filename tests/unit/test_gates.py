"""Post-predict gate functions on predict-report statistics: one table of cases."""

from __future__ import annotations

import pytest

from sparkmlops.config import GatesConfig
from sparkmlops import gates as gate_checks

WORST = [
    {"prediction_raw": -23.5, "prediction": 0.0, "prediction_clipped": True, "side": "below", "out_of_range_by": 23.5,
     "inputs": {"trip_distance": 0.38, "RatecodeID": 6.0}},
    {"prediction_raw": -4.97, "prediction": 0.0, "prediction_clipped": True, "side": "below", "out_of_range_by": 4.97,
     "inputs": {"trip_distance": 1.04, "RatecodeID": 99.0}},
]


def stats(rows: int, below: int = 0, above: int = 0, non_finite: int = 0, clipped: int | None = None, **extra) -> dict:
    """prediction_stats as predict writes them (clipped omitted: a report from before clipping)."""
    document = {"rows": rows, "non_finite": non_finite, "below_min": below, "above_max": above,
                "out_of_range": below + above, "worst_out_of_range": WORST[: below + above], **extra}
    if clipped is not None:
        document["clipped"] = clipped
    return document


CASES = [
    # (id, stats, GatesConfig kwargs, expected failure substrings; [] = the gate passes)
    ("within_tolerance_passes", stats(4911, below=1), {"prediction_out_of_range_tolerance": 0.0005}, []),
    ("exactly_at_tolerance_passes", stats(5000, below=1), {"prediction_out_of_range_tolerance": 0.0002}, []),
    ("over_tolerance_fails_with_figures", stats(4911, below=2, above=1), {"prediction_out_of_range_tolerance": 0.0002},
     ["3 of 4,911 predictions (0.061 %) are outside [0, 500) (2 below 0, 1 at or above 500)",
      "the tolerance is 0.020 % (gates.prediction_out_of_range_tolerance)",
      "worst: -23.50 (trip_distance=0.38, RatecodeID=6.0), -4.97 (trip_distance=1.04, RatecodeID=99.0)"]),
    ("strict_default_fails_on_one_row", stats(5000, below=1), {},
     ["1 of 5,000 predictions (0.020 %) are outside [0, 500)", "the tolerance is 0.000 %"]),
    ("above_max_counts_too", stats(1000, above=1), {"prediction_max": 100},
     ["1 of 1,000 predictions (0.100 %) are outside [0, 100) (0 below 0, 1 at or above 100)"]),
    ("nan_fails_whatever_the_tolerance", stats(4911, non_finite=1), {"prediction_out_of_range_tolerance": 1.0},
     ["1 of 4,911 predictions are NaN or infinite"]),
    ("clip_on_every_out_of_range_row_clipped_passes", stats(4911, below=1, clipped=1),
     {"prediction_out_of_range_tolerance": 0.001, "prediction_clip": True}, []),
    ("clip_on_a_row_not_clipped_fails", stats(4911, below=2, clipped=1),
     {"prediction_out_of_range_tolerance": 0.001, "prediction_clip": True},
     ["1 written predictions are flagged as clipped, but with gates.prediction_clip on 2 should be"]),
    ("clip_off_nothing_clipped_passes", stats(4911, below=1, clipped=0), {"prediction_out_of_range_tolerance": 0.001}, []),
    ("clip_off_but_rows_clipped_fails", stats(4911, below=1, clipped=1), {"prediction_out_of_range_tolerance": 0.001},
     ["1 written predictions are flagged as clipped, but with gates.prediction_clip off 0 should be"]),
    # reports written before the tolerance existed: out_of_range and clipped are absent
    ("old_report_counts_below_and_above", {"rows": 100, "non_finite": 0, "below_min": 1, "above_max": 1}, {},
     ["2 of 100 predictions (2.000 %) are outside [0, 500)"]),
]


@pytest.mark.parametrize(("document", "gate_settings", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_post_predict_failures(document, gate_settings, expected):
    failures = gate_checks.range_predict_failures(document, GatesConfig(**gate_settings))
    assert len(failures) == len({_which(fragment) for fragment in expected})  # one message per failed check
    text = " | ".join(failures)
    for fragment in expected:
        assert fragment in text


def _which(fragment: str) -> str:
    """Which gate function a fragment comes from (one failure message each)."""
    if "NaN" in fragment or "no predictions" in fragment:
        return "finite"
    return "clipping" if "clipped" in fragment else "range"


def test_the_three_checks_are_separate_so_the_gate_script_names_the_failed_one():
    gates = GatesConfig(prediction_clip=True)
    document = stats(4911, below=1, non_finite=1, clipped=0)
    assert [len(gate_checks.finite_failures(document)), len(gate_checks.out_of_range_failures(document, gates)),
            len(gate_checks.clipping_failures(document, gates))] == [1, 1, 1]


def test_the_message_lists_at_most_three_worst_rows_and_points_to_the_rest():
    worst = [{**WORST[0], "prediction_raw": -30.0 + i} for i in range(5)]
    [message] = gate_checks.out_of_range_failures({**stats(100, below=5), "worst_out_of_range": worst}, GatesConfig())
    assert "worst: -30.00 (" in message and "-28.00 (" in message and "-27.00" not in message
    assert "(+2 more in the report's prediction_stats.worst_out_of_range)" in message
