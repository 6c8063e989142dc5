from pathlib import Path

import pytest
import yaml

from sparkmlops import config
from sparkmlops.errors import UsageError

TAXI = Path(__file__).resolve().parents[2] / "conf" / "usecases" / "taxi_fare.yaml"


def _write(tmp_path, mutate) -> str:
    raw = yaml.safe_load(TAXI.read_text())
    mutate(raw)
    path = tmp_path / "taxi_fare.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def test_taxi_config_loads_with_the_seed_values():
    loaded = config.load("taxi_fare")
    assert loaded.model.params.maxDepth == 6 and loaded.model.params.maxIter == 50
    assert loaded.cleaning.min_retention == 0.8
    assert loaded.gates.post_train["rmse"].max == 10
    assert [b.name for b in loaded.evaluation.buckets] == ["low", "medium", "high", "very_high"]


def test_config_is_frozen():
    loaded = config.load("taxi_fare")
    with pytest.raises(Exception):
        loaded.window.train_months = 5


def test_unknown_usecase_names_the_known_ones():
    with pytest.raises(UsageError, match=r"Unknown use case 'nope'.*taxi_fare"):
        config.load("nope")


def test_misspelt_key_names_file_and_key(tmp_path):
    path = _write(tmp_path, lambda raw: raw["model"]["params"].update({"maxDepht": 4}))
    with pytest.raises(UsageError) as caught:
        config.load(None, path)
    assert path in str(caught.value) and "model.params.maxDepht" in str(caught.value)
    assert "not a known key" in str(caught.value)


def test_wrong_type_names_key_and_allowed_values(tmp_path):
    path = _write(tmp_path, lambda raw: raw["data"]["columns"].update({"VendorID": "integer64"}))
    with pytest.raises(UsageError, match=r"data\.columns\.VendorID.*'long'"):
        config.load(None, path)


def test_out_of_range_value_is_rejected(tmp_path):
    path = _write(tmp_path, lambda raw: raw["cleaning"].update({"min_retention": 1.5}))
    with pytest.raises(UsageError, match=r"cleaning\.min_retention"):
        config.load(None, path)


def test_target_must_be_a_declared_column(tmp_path):
    path = _write(tmp_path, lambda raw: raw["data"].update({"target": "fare"}))
    with pytest.raises(UsageError, match="data.target 'fare' must be one of data.columns"):
        config.load(None, path)


def test_usecase_key_must_match_the_option(tmp_path):
    path = _write(tmp_path, lambda raw: raw.update({"usecase": "other"}))
    with pytest.raises(UsageError, match="is for use case 'other'"):
        config.load("taxi_fare", path)


def test_overrides_are_revalidated():
    loaded = config.load("taxi_fare")
    changed = config.apply_overrides(loaded, {"data.base_path": "/tmp/lake", "window.strict": False, "paths.reports": None})
    assert changed.data.base_path == "/tmp/lake" and changed.window.strict is False
    assert changed.paths.reports == loaded.paths.reports
    with pytest.raises(UsageError, match="window.train_months"):
        config.apply_overrides(loaded, {"window.train_months": 1})


def _only_bounds(raw):
    """A YAML written before the tolerance existed: only prediction_min / prediction_max."""
    for key in ("prediction_out_of_range_tolerance", "prediction_clip", "prediction_worst_rows"):
        raw["gates"].pop(key, None)
    raw["gates"].update({"prediction_min": 1, "prediction_max": 300})


def test_old_gate_keys_still_load_with_the_strict_defaults(tmp_path):
    gates = config.load(None, _write(tmp_path, _only_bounds)).gates
    assert (gates.prediction_min, gates.prediction_max) == (1, 300)
    assert (gates.prediction_out_of_range_tolerance, gates.prediction_clip, gates.prediction_worst_rows) == (0, False, 10)


def test_shipped_taxi_config_tolerates_a_few_odd_fares_and_clips_them():
    gates = config.load("taxi_fare").gates
    assert 0 < gates.prediction_out_of_range_tolerance <= 0.001 and gates.prediction_clip is True
    assert (gates.prediction_min, gates.prediction_max) == (0, 500)


@pytest.mark.parametrize(
    ("gate_settings", "message"),
    [
        ({"prediction_out_of_range_tolerance": 1.5}, r"gates\.prediction_out_of_range_tolerance.*less than or equal to 1"),
        ({"prediction_out_of_range_tolerance": -0.1}, r"gates\.prediction_out_of_range_tolerance.*greater than or equal to 0"),
        ({"prediction_out_of_range_tolerance": float("nan")}, r"gates\.prediction_out_of_range_tolerance.*finite"),
        ({"prediction_worst_rows": -1}, r"gates\.prediction_worst_rows.*greater than or equal to 0"),
        ({"prediction_min": 10, "prediction_max": 10}, r"prediction_min \(10\) must be below gates\.prediction_max \(10\)"),
        ({"prediction_max": float("inf")}, r"gates\.prediction_max.*finite"),
        ({"prediction_clip": "sometimes"}, r"gates\.prediction_clip.*valid boolean"),
    ],
)
def test_bad_gate_values_are_rejected(tmp_path, gate_settings, message):
    path = _write(tmp_path, lambda raw: raw["gates"].update(gate_settings))
    with pytest.raises(UsageError, match=message):
        config.load(None, path)
