"""Checks of what analysts see: the HTML report in headless Chromium, the dashboard in AppTest.

Used by every use case's end-to-end test on the reports its own runs wrote, so each
task's page is checked on real reports. The numbers on screen are compared with the
report files read directly as JSON, not through the code that rendered them.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

from tests.support.browser import browser, open_page

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "src" / "sparkmlops" / "reporting" / "dashboard_app.py"


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def shown_number(text: str) -> float:
    return float(text.replace(",", ""))


def assert_same_number(text: str, raw: str, expected) -> None:
    """The cell's data-value is the report's value; its text rounds it (4 significant figures or better)."""
    assert math.isclose(float(raw), float(expected), rel_tol=1e-12, abs_tol=1e-12), (raw, expected)
    assert math.isclose(shown_number(text), float(expected), rel_tol=2e-3, abs_tol=1e-4), (text, expected)


def table_cells(result, key: str) -> list[list[dict]]:
    """Every row of the table ``data-table=key`` as [{text, value}] per cell, read from the page's DOM."""
    return result.evaluate("""key => [...document.querySelectorAll(`table[data-table="${key}"] tbody tr`)].map(
        row => [...row.cells].map(cell => ({text: cell.innerText.trim(), value: cell.dataset.value ?? null})))""", key)


def reported_months(reports_dir: Path, usecase: str) -> list[str]:
    """Month folders holding a report (a failed run may leave only its log file)."""
    return sorted(p.name for p in (reports_dir / usecase).iterdir() if p.is_dir() and p.name[:2] == "20"
                  and any((p / f"{kind}_report.json").exists() for kind in ("train", "predict")))


def check_html_report(reports_dir: Path, usecase: str, screenshot_dir: Path) -> dict:
    """Open the newest month's report.html and the index in Chromium; check them against the JSON files.

    Returns what was measured (file size, charts) for the test's output.
    """
    months = reported_months(reports_dir, usecase)
    page_file = reports_dir / usecase / months[-1] / "report.html"
    assert page_file.exists(), f"run_pipeline.sh did not render {page_file}"
    html = page_file.read_text()
    assert "<script" not in html and not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # offline: nothing to fetch
    trained = {m: _json(reports_dir / usecase / m / "train_report.json") for m in months
               if (reports_dir / usecase / m / "train_report.json").exists()}
    with browser() as chromium:
        result = open_page(chromium, page_file.as_uri(), screenshot_dir / f"{usecase}.png")
        assert result.console_errors == [] and result.requests_outside == []
        charts = result.evaluate("document.querySelectorAll('figure[data-figure] svg').length")
        figures = result.evaluate("document.querySelectorAll('figure[data-figure]').length")
        assert charts == figures >= 3, (charts, figures)
        drawn = result.evaluate("[...document.querySelectorAll('figure svg')].every(s => s.getBoundingClientRect().height > 50)")
        assert drawn, "a chart has no height on the page"
        # decisions: one row per trained month, each promotion metric as in the report
        rows = table_cells(result, "decisions")
        assert [row[0]["text"] for row in rows] == list(trained)
        for row, (month, report) in zip(rows, trained.items()):
            assert row[1]["text"] == report["decision"]["outcome"] and row[2]["text"] == report["decision"]["reason"]
            for index, name in enumerate(report["promotion_metrics"]):
                cell = row[5 + 2 * index]
                assert_same_number(cell["text"], cell["value"], report["metrics"]["candidate"]["overall"][name])
                if report["metrics"]["current"]:
                    cell = row[6 + 2 * index]
                    assert_same_number(cell["text"], cell["value"], report["metrics"]["current"]["overall"][name])
        # the newest month's metric table and its row counts per cleaning rule
        newest = trained[months[-1]]
        for row in table_cells(result, f"m{months[-1]}-metrics"):
            expected = newest["metrics"]["candidate"]["overall"].get(row[0]["text"])
            if expected is not None:
                assert_same_number(row[1]["text"], row[1]["value"], expected)
        check_error_analysis(result, months[-1], newest)
        cleaning = {(row[0]["text"], row[1]["text"]): row for row in table_cells(result, "cleaning")}
        test_rows = newest["rows"]["test"]
        row = cleaning[(months[-1], "test month")]
        assert int(row[2]["value"]) == test_rows["rows_in"] and int(row[3]["value"]) == test_rows["rows_out"]
        index_file = reports_dir / "index.html"
        index = open_page(chromium, index_file.as_uri(), screenshot_dir / "index.png")
        assert index.console_errors == [] and index.requests_outside == []
        listed = {row[0]["text"]: row for row in table_cells(index, "usecases")}
        assert listed[usecase][3]["text"] == months[-1] and listed[usecase][4]["text"] == newest["decision"]["outcome"]
        link = index.evaluate("key => document.querySelector(`table[data-table=usecases] a`).getAttribute('href')", usecase)
        assert (reports_dir / link).exists()
    assert result.screenshot.stat().st_size > 10_000
    return {"bytes": page_file.stat().st_size, "charts": charts, "months": len(months)}


def check_error_analysis(result, month: str, report: dict) -> None:
    """The task's error analysis of the newest month, as in the report."""
    key, analysis = f"m{month}-errors", report["error_analysis"]
    if report["task"] == "regression":
        rows = table_cells(result, f"{key}-buckets")
        buckets = report["metrics"]["candidate"]["buckets"]
        assert [row[0]["text"] for row in rows] == list(buckets)
        for row in rows:
            assert int(row[1]["value"]) == buckets[row[0]["text"]]["count"]
            assert_same_number(row[3]["text"], row[3]["value"], buckets[row[0]["text"]]["rmse"])
        causes = table_cells(result, f"{key}-causes")
        assert [row[0]["text"] for row in causes] == [c["cause"] for c in analysis["large_errors"]["causes"]]
    elif report["task"] == "classification":
        matrix = analysis["confusion_matrix"]
        rows = table_cells(result, f"{key}-confusion")
        assert [[int(cell["value"]) for cell in row[1:]] for row in rows] == [[matrix["tp"], matrix["fn"]],
                                                                             [matrix["fp"], matrix["tn"]]]
        calibration = table_cells(result, f"{key}-calibration-table")
        assert [int(row[1]["value"]) for row in calibration] == [b["rows"] for b in analysis["calibration"]]
    else:
        rows = table_cells(result, f"{key}-series")
        assert [row[0]["text"] for row in rows] == [s["series"] for s in analysis["worst_series"]][:len(rows)]
        for row, expected in zip(rows, analysis["worst_series"]):
            assert_same_number(row[2]["text"], row[2]["value"], expected["rmse"])
        flagged = report["model_analysis"]["fallback_and_failed"]
        if flagged:
            shown = table_cells(result, f"{key}-fallbacks")
            assert [(row[0]["text"], row[1]["text"]) for row in shown] == [(f["series_id"], f["status"]) for f in flagged]


def check_dashboard(reports_dir: Path, registry: Path, usecase: str) -> None:
    """Every view of the dashboard for the use case, through Streamlit's AppTest, without exceptions."""
    from streamlit.testing.v1 import AppTest

    os.environ["SPARKMLOPS_DASHBOARD_REPORTS"] = str(reports_dir)
    os.environ["SPARKMLOPS_DASHBOARD_REGISTRY"] = str(registry)
    try:
        app = AppTest.from_file(str(APP), default_timeout=120).run()
        assert not app.exception, app.exception
        overview = app.dataframe[0].value
        assert usecase in list(overview["use case"])
        app.sidebar.radio(key="view").set_value("Use case").run()
        app.sidebar.selectbox(key="usecase").set_value(usecase).run()
        assert not app.exception, app.exception
        assert [h.value for h in app.subheader][:2] == [usecase, "Decisions by month"]
        decisions = app.dataframe[1].value  # after the summary table
        months = reported_months(reports_dir, usecase)
        assert list(decisions["month"]) == [m for m in months if (reports_dir / usecase / m / "train_report.json").exists()]
        app.sidebar.radio(key="view").set_value("Month").run()
        assert not app.exception, app.exception
        for month in months[-2:]:  # the newest two: one with this run's predictions, one before it
            app.sidebar.selectbox(key="month").set_value(month).run()
            assert not app.exception, app.exception
            assert app.title[0].value == f"{usecase} · {month}"
            predict = reports_dir / usecase / month / "predict_report.json"
            if predict.exists():
                sample = app.dataframe[-1].value
                assert 0 < len(sample) <= 100 and "error" in sample.columns
                errors = [e for e in sample["error"] if e == e and e is not None]
                assert errors == sorted(errors, reverse=True)  # largest errors first
    finally:
        os.environ.pop("SPARKMLOPS_DASHBOARD_REPORTS", None)
        os.environ.pop("SPARKMLOPS_DASHBOARD_REGISTRY", None)
