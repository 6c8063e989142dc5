"""Views and the HTML page built from real schema-1 reports (tests/fixtures/reports_v1).

The figures on the page are compared with the JSON files read directly; the empty
states (no runs, a month without predictions, an unreadable document) render with a
note instead of failing.
"""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from sparkmlops import cli
from sparkmlops.reporting import history, html_report, views

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "reports_v1"


class Cells(HTMLParser):
    """The cells of each data-table, and the figures, of a rendered page."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[tuple[str, str | None]]]] = {}
        self.figures: list[str] = []
        self.svgs = 0
        self.badges: list[str] = []
        self._table = self._cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._table = attrs.get("data-table")
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag == "td" and self._table:
            self._cell = ["", attrs.get("data-value")]
        elif tag == "figure":
            self.figures.append(attrs.get("data-figure"))
        elif tag == "svg":
            self.svgs += 1
        elif tag == "span" and attrs.get("data-badge"):
            self.badges.append(attrs["data-badge"])

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.tables[self._table][-1].append((self._cell[0].strip(), self._cell[1]))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[0] += data


def parsed(page: str) -> Cells:
    cells = Cells()
    cells.feed(page)
    for name, rows in cells.tables.items():
        cells.tables[name] = [row for row in rows if row]  # the header row has no td
    return cells


@pytest.fixture
def reports(tmp_path) -> Path:
    shutil.copytree(FIXTURES, tmp_path / "reports")
    return tmp_path / "reports"


def report(root: Path, usecase: str, month: str, kind: str) -> dict:
    return json.loads((root / usecase / month / f"{kind}_report.json").read_text())


@pytest.mark.parametrize("usecase", ["taxi_fare", "rain_tomorrow", "goat_posture"])
def test_the_page_shows_the_reports_numbers(reports, usecase):
    page = parsed(html_report.usecase_page(history.load(reports, usecase)))
    months = sorted(p.name for p in (reports / usecase).iterdir() if p.is_dir())
    decisions = page.tables["decisions"]
    assert [row[0][0] for row in decisions] == months
    for row, month in zip(decisions, months):
        train = report(reports, usecase, month, "train")
        assert row[1][0] == train["decision"]["outcome"]
        for index, name in enumerate(train["promotion_metrics"]):
            assert float(row[5 + 2 * index][1]) == train["metrics"]["candidate"]["overall"][name]
    assert page.svgs == len(page.figures) >= 3 and "<script" not in html_report.usecase_page(history.load(reports, usecase))
    newest = report(reports, usecase, months[-1], "train")
    task_table = {"regression": f"m{months[-1]}-errors-buckets", "classification": f"m{months[-1]}-errors-confusion",
                  "forecasting": f"m{months[-1]}-errors-series"}[newest["task"]]
    assert task_table in page.tables


def test_classification_confusion_matrix_and_calibration_come_from_the_report(reports):
    page = parsed(html_report.usecase_page(history.load(reports, "rain_tomorrow")))
    matrix = report(reports, "rain_tomorrow", "2023-05", "train")["error_analysis"]["confusion_matrix"]
    table = page.tables["m2023-05-errors-confusion"]
    assert [[int(v) for _, v in row[1:]] for row in table] == [[matrix["tp"], matrix["fn"]], [matrix["fp"], matrix["tn"]]]
    assert "m2023-05-errors-calibration" in page.figures


def test_goat_per_animal_failures_and_fallbacks_are_listed(reports):
    page = parsed(html_report.usecase_page(history.load(reports, "goat_posture")))
    flagged = report(reports, "goat_posture", "2023-07", "train")["model_analysis"]["fallback_and_failed"]
    shown = page.tables["m2023-07-errors-fallbacks"]
    assert [(row[0][0], row[1][0]) for row in shown] == [(f["series_id"], f["status"]) for f in flagged]
    worst = report(reports, "goat_posture", "2023-07", "train")["error_analysis"]["worst_series"]
    assert [row[0][0] for row in page.tables["m2023-07-errors-series"]] == [w["series"] for w in worst][:15]


def test_cleaning_rule_counts_per_month(reports):
    page = parsed(html_report.usecase_page(history.load(reports, "taxi_fare")))
    train = report(reports, "taxi_fare", "2023-06", "train")
    rules = list(train["rows"]["test"]["failures_by_rule"])
    row = next(r for r in page.tables["cleaning"] if r[0][0] == "2023-06" and r[1][0] == "test month")
    assert [int(v) for _, v in row[5:5 + len(rules)]] == [train["rows"]["test"]["failures_by_rule"][rule] for rule in rules]


def test_badges_name_failed_gates_drift_and_tracking(reports):
    path = reports / "taxi_fare" / "2023-06" / "predict_report.json"
    predict = json.loads(path.read_text())
    predict["post_predict_failures"] = ["2.1 % of predictions out of range"]
    predict["tracking"] = {"status": "failed", "error": "MLflow server at http://127.0.0.1:5999 refused the connection"}
    predict["drift"]["flagged_features"] = 1
    predict["drift"]["flagged"] = [{"feature": "trip_distance", "kind": "numeric", "reason": "psi", "value": 0.4, "threshold": 0.2}]
    path.write_text(json.dumps(predict))
    loaded = history.load(reports, "taxi_fare")
    assert sorted(badge.kind for badge in views.badges(loaded)) == ["drift", "gate", "tracking"]
    page = parsed(html_report.usecase_page(loaded))
    assert sorted(page.badges) == ["drift", "gate", "tracking"]
    assert "MLflow tracking failed (MLflow server at http://127.0.0.1:5999 refused" in html_report.usecase_page(loaded)
    assert page.tables["m2023-06-predict-drift"][0][0][0] == "trip_distance"
    index = parsed(html_report.index_page([loaded], {}))
    assert index.tables["usecases"][0][6][0].startswith("gate:")
    rain = history.load(reports, "rain_tomorrow")  # May's drift flagged features; nothing failed
    assert {badge.kind for badge in views.badges(rain)} == {"drift"}
    goat = history.load(reports, "goat_posture")
    goat.months[-1].train.drift.flagged_features = goat.months[-1].predict.drift.flagged_features = 0
    assert views.badges(goat) == []
    assert parsed(html_report.index_page([goat], {})).tables["usecases"][0][6][0] == "none"


def test_a_use_case_without_runs_renders_an_empty_page_and_index(tmp_path):
    empty = history.load(tmp_path / "reports", "taxi_fare")
    page = html_report.usecase_page(empty)
    assert "No runs of taxi_fare yet" in page and "No train reports yet" in page
    assert "No use case has run yet" in html_report.index_page([], {})


def test_a_month_without_predictions_says_so(reports):
    (reports / "taxi_fare" / "2023-06" / "predict_report.json").unlink()
    page = html_report.usecase_page(history.load(reports, "taxi_fare"))
    assert "2023-06 has no predictions yet" in page


def test_a_report_of_a_newer_schema_is_shown_as_unreadable_and_the_rest_renders(reports):
    path = reports / "rain_tomorrow" / "2023-05" / "train_report.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "schema_version": 7}))
    loaded = history.load(reports, "rain_tomorrow")
    page = parsed(html_report.usecase_page(loaded))
    assert [row[0][0] for row in page.tables["decisions"]] == ["2023-04"]
    assert "schema" in page.badges
    assert "uses report schema 7, newer than the 2" in html_report.usecase_page(loaded)


def test_report_html_command_writes_the_page_next_to_the_newest_month_and_the_index(reports, capsys):
    code = cli.main(["report", "html", "--usecase", "taxi_fare", "--reports-dir", str(reports),
                     "--model-registry-path", str(reports.parent / "registry")])
    assert code == 0
    page = reports / "taxi_fare" / "2023-06" / "report.html"
    assert page.exists() and (reports / "index.html").exists()
    assert str(page) in capsys.readouterr().out
    index = parsed((reports / "index.html").read_text())
    assert [row[0][0] for row in index.tables["usecases"]] == ["goat_posture", "rain_tomorrow", "taxi_fare"]
    out = reports.parent / "mail" / "taxi.html"
    assert cli.main(["report", "html", "--usecase", "taxi_fare", "--reports-dir", str(reports), "--test-month", "2023-05",
                     "--out", str(out)]) == 0
    assert [row[0][0] for row in parsed(out.read_text()).tables["decisions"]] == ["2023-05"]  # as it stood in May


def test_report_json_refuses_a_newer_schema_with_exit_3(reports, capsys):
    path = reports / "taxi_fare" / "2023-06" / "train_report.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "schema_version": 3}))
    code = cli.main(["report", "--usecase", "taxi_fare", "--reports-dir", str(reports), "--test-month", "2023-06"])
    assert code == 3 and "Upgrade sparkmlops" in capsys.readouterr().err
