"""The report contract: published schemas, version handling, checks on write.

tests/fixtures/reports_v1 holds real schema-1 documents written by the pipeline before
the contract was typed (taxi_fare: regression, rain_tomorrow: classification,
goat_posture: forecasting), so reading an older schema is tested on real files.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from sparkmlops import reports
from sparkmlops.reporting import contract, history, schema
from sparkmlops.reporting.models import SCHEMA_VERSION

REPO = Path(__file__).resolve().parents[2]
V1 = REPO / "tests" / "fixtures" / "reports_v1"
KIND_OF = {"train_report.json": "train", "predict_report.json": "predict", "live_performance.json": "live_performance",
           "latest.json": "latest"}


def v1_documents():
    return [(KIND_OF[path.name], path) for path in sorted(V1.rglob("*.json"))]


def test_the_published_schemas_are_the_ones_the_models_generate():
    assert schema.main([str(REPO / "schemas")]) == 0, "run: python -m sparkmlops.reporting.schema --write schemas"
    for kind in ("train", "predict", "live_performance", "latest"):
        published = json.loads((REPO / "schemas" / schema.file_name(kind)).read_text())
        jsonschema.Draft202012Validator.check_schema(published)
        assert published["$comment"].startswith(f"Report schema {SCHEMA_VERSION}.")


def test_a_stale_schema_file_is_reported(tmp_path):
    assert schema.main(["--write", str(tmp_path)]) == 0
    (tmp_path / "train.schema.json").write_text("{}")
    assert schema.main([str(tmp_path)]) == 1


@pytest.mark.parametrize(("kind", "path"), v1_documents(), ids=lambda value: str(value)[-40:])
def test_schema_1_documents_are_read_and_upgraded(kind, path):
    document = json.loads(path.read_text())
    assert document["schema_version"] == 1
    parsed = contract.parse(kind, document, path)
    assert parsed.schema_version == SCHEMA_VERSION and parsed.written_at is None
    if kind in ("train", "predict"):
        assert parsed.task == document["task"] and parsed.month == document["month"]
        assert type(parsed).__name__.lower().startswith(document["task"])  # the task picked the model


def test_a_written_report_validates_against_the_published_json_schema(tmp_path):
    body = json.loads((V1 / "rain_tomorrow/2023-05/train_report.json").read_text())
    path = reports.write_report(str(tmp_path), "rain_tomorrow", "2023-05", "train", body)
    written = json.loads(path.read_text())
    assert written["schema_version"] == SCHEMA_VERSION and written["written_at"]
    jsonschema.validate(written, json.loads((REPO / "schemas/train.schema.json").read_text()))
    index = json.loads((tmp_path / "rain_tomorrow" / "latest.json").read_text())
    jsonschema.validate(index, json.loads((REPO / "schemas/latest.schema.json").read_text()))
    assert index["train"]["path"] == "2023-05/train_report.json"


def test_a_document_the_contract_does_not_name_is_not_written(tmp_path):
    body = json.loads((V1 / "taxi_fare/2023-06/train_report.json").read_text())
    with pytest.raises(ValueError, match="unexpected_section"):
        reports.write_report(str(tmp_path), "taxi_fare", "2023-06", "train", {**body, "unexpected_section": 1})
    assert not (tmp_path / "taxi_fare" / "2023-06" / "train_report.json").exists()


def test_a_classification_metric_block_must_have_its_confusion_matrix_counts(tmp_path):
    body = json.loads((V1 / "rain_tomorrow/2023-05/train_report.json").read_text())
    body["error_analysis"]["confusion_matrix"] = {"tp": "many"}
    with pytest.raises(ValueError, match="confusion_matrix"):
        contract.check("train", {**body, "schema_version": SCHEMA_VERSION})


@pytest.mark.parametrize(("change", "says"), [
    ({"schema_version": SCHEMA_VERSION + 1}, "newer than the"),
    ({"schema_version": 0}, "predates the versioned contract"),
    ({"schema_version": "2"}, "no integer schema_version"),
    ({"task": "ranking"}, "does not match report schema"),
])
def test_unreadable_documents_are_refused_in_one_paragraph(tmp_path, change, says):
    document = {**json.loads((V1 / "taxi_fare/2023-06/train_report.json").read_text()), **change}
    path = tmp_path / "train_report.json"
    path.write_text(json.dumps(document))
    with pytest.raises(contract.ReportSchemaError) as caught:
        contract.read("train", path)
    message = str(caught.value)
    assert says in message and str(path) in message and "\n" not in message
    assert caught.value.exit_code == 3


def test_a_damaged_file_is_refused_not_crashed_on(tmp_path):
    path = tmp_path / "predict_report.json"
    path.write_text('{"schema_version": 2, "kind": ')
    with pytest.raises(contract.ReportSchemaError, match="not valid JSON"):
        contract.read("predict", path)


def test_history_keeps_the_readable_months_when_one_document_is_refused(tmp_path):
    import shutil

    shutil.copytree(V1 / "taxi_fare", tmp_path / "taxi_fare")
    newer = tmp_path / "taxi_fare" / "2023-05" / "predict_report.json"
    newer.write_text(json.dumps({**json.loads(newer.read_text()), "schema_version": 99}))
    loaded = history.load(tmp_path, "taxi_fare")
    may = loaded.month("2023-05")
    assert [entry.month for entry in loaded.months] == ["2023-05", "2023-06"]
    assert may.train is not None and may.predict is None and "schema 99" in may.problems[0]
    assert loaded.month("2023-06").predict is not None
