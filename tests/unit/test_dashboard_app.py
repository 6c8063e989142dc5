"""The dashboard through Streamlit's AppTest: every view on real schema-1 reports, and the empty states.

Each use case's views on its own fresh reports are checked in its end-to-end test
(tests/support/report_pages.check_dashboard); here the views that need no Spark run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from sparkmlops.reporting import dashboard
from tests.support.report_pages import APP

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "reports_v1"


@pytest.fixture
def reports(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "reports"
    shutil.copytree(FIXTURES, root)
    monkeypatch.setenv("SPARKMLOPS_DASHBOARD_REPORTS", str(root))
    monkeypatch.setenv("SPARKMLOPS_DASHBOARD_REGISTRY", str(tmp_path / "registry"))
    return root


def app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=120)


@pytest.mark.parametrize("usecase", ["taxi_fare", "rain_tomorrow", "goat_posture"])
def test_every_view_of_a_use_case_renders_its_reports(reports, usecase):
    at = app().run()
    assert not at.exception
    assert sorted(at.dataframe[0].value["use case"]) == ["goat_posture", "rain_tomorrow", "taxi_fare"]
    at.sidebar.radio(key="view").set_value("Use case").run()
    at.sidebar.selectbox(key="usecase").set_value(usecase).run()
    assert not at.exception
    months = sorted(p.name for p in (reports / usecase).iterdir() if p.is_dir())
    decisions = at.dataframe[1].value
    assert list(decisions["month"]) == months
    newest = json.loads((reports / usecase / months[-1] / "train_report.json").read_text())
    name = newest["promotion_metrics"][0]
    assert decisions[f"{name} candidate"].iloc[-1] == newest["metrics"]["candidate"]["overall"][name]
    at.sidebar.radio(key="view").set_value("Month").run()
    for month in months:
        at.sidebar.selectbox(key="month").set_value(month).run()
        assert not at.exception and at.title[0].value == f"{usecase} · {month}"
        metrics = at.dataframe[0].value.set_index("metric")
        report = json.loads((reports / usecase / month / "train_report.json").read_text())
        assert metrics.loc[name, "candidate"] == report["metrics"]["candidate"]["overall"][name]


def test_no_runs_yet(tmp_path, monkeypatch):
    monkeypatch.setenv("SPARKMLOPS_DASHBOARD_REPORTS", str(tmp_path / "nothing"))
    at = app().run()
    assert not at.exception and "No use case has run yet" in at.info[0].value
    for view in ("Use case", "Month"):
        at.sidebar.radio(key="view").set_value(view).run()
        assert not at.exception and "No use case has run yet" in at.info[0].value


def test_a_month_without_predictions(reports):
    (reports / "taxi_fare" / "2023-06" / "predict_report.json").unlink()
    at = app().run()
    at.sidebar.radio(key="view").set_value("Month").run()
    at.sidebar.selectbox(key="usecase").set_value("taxi_fare").run()
    at.sidebar.selectbox(key="month").set_value("2023-06").run()
    assert not at.exception
    shown = [block.value for block in at.info]
    assert any("2023-06 has no predictions yet" in text for text in shown)
    assert any("This month has no predictions yet" in text for text in shown)


def test_predictions_gone_from_the_lake_are_an_error_on_the_page_not_a_crash(reports):
    path = reports / "rain_tomorrow" / "2023-05" / "predict_report.json"
    gone = str(reports.parent / "lake" / "predictions" / "rain_tomorrow" / "2023" / "05")
    path.write_text(json.dumps({**json.loads(path.read_text()), "predictions_uri": gone}))
    at = app().run()
    at.sidebar.radio(key="view").set_value("Month").run()
    at.sidebar.selectbox(key="usecase").set_value("rain_tomorrow").run()
    assert not at.exception
    assert any(gone in e.value for e in at.error), [e.value for e in at.error]


def test_a_newer_schema_document_is_named_not_rendered(reports):
    path = reports / "goat_posture" / "2023-07" / "train_report.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "schema_version": 9}))
    at = app().run()
    at.sidebar.radio(key="view").set_value("Use case").run()
    at.sidebar.selectbox(key="usecase").set_value("goat_posture").run()
    assert not at.exception
    assert any("uses report schema 9" in e.value for e in at.error)


def test_the_command_serves_on_loopback_only_with_usage_statistics_off():
    command = dashboard.command(8765)
    assert command[command.index("--server.address") + 1] == "127.0.0.1"
    assert command[command.index("--browser.gatherUsageStats") + 1] == "false"
    assert command[command.index("--server.port") + 1] == "8765"
