"""The HTML report at scale (24 months) and the dashboard as a running app in Chromium.

Each use case's own page is checked in its end-to-end test (tests/support/report_pages.py);
here: how long 24 months take to render and how big the file gets, and the Streamlit app
served by `sparkmlops dashboard` and driven in a real browser.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sparkmlops import cli, reports
from tests.support.browser import browser, open_page
from tests.support.report_pages import table_cells

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "reports_v1"
MONTHS = [f"{2021 + i // 12}-{i % 12 + 1:02d}" for i in range(24)]
pytestmark = pytest.mark.integration


def month_reports(root: Path) -> None:
    """24 months of taxi reports: the fixture's July reports, moved through the months with drifting metrics."""
    train = json.loads((FIXTURES / "taxi_fare/2023-06/train_report.json").read_text())
    predict = json.loads((FIXTURES / "taxi_fare/2023-06/predict_report.json").read_text())
    live = []
    for index, month in enumerate(MONTHS):
        factor = 1 + 0.02 * ((index * 7) % 11)
        body = json.loads(json.dumps(train))
        for side in ("candidate", "current"):
            if body["metrics"][side]:
                body["metrics"][side]["overall"]["rmse"] *= factor
        body["window"]["test_month"] = month
        body["decision"]["outcome"] = "promoted" if index % 3 == 0 else "rejected"
        reports.write_report(str(root), "taxi_fare", month, "train", body)
        reports.write_report(str(root), "taxi_fare", month, "predict", predict)
        live.append({**train["live_performance"]["this_month"], "month": month})
    reports.write_document(root / "taxi_fare" / "live_performance.json", "live_performance",
                           {"usecase": "taxi_fare", "entries": live})


def test_24_months_render_in_seconds_into_a_file_small_enough_to_mail(tmp_path, record_property):
    root = tmp_path / "reports"
    month_reports(root)
    started = time.perf_counter()
    assert cli.main(["report", "html", "--usecase", "taxi_fare", "--reports-dir", str(root),
                     "--model-registry-path", str(tmp_path / "registry")]) == 0
    seconds = time.perf_counter() - started
    page = root / "taxi_fare" / MONTHS[-1] / "report.html"
    size = page.stat().st_size
    record_property("measured: 24 months rendered (seconds)", round(seconds, 2))
    record_property("measured: 24 months page size (MB)", round(size / 1e6, 2))
    assert size < 5_000_000  # mail attachments are commonly capped at 10-25 MB
    with browser() as chromium:
        started = time.perf_counter()
        result = open_page(chromium, page.as_uri(), tmp_path / "24_months.png")
        record_property("measured: 24 months page load in Chromium (seconds)", round(time.perf_counter() - started, 2))
        assert result.console_errors == [] and result.requests_outside == []
        assert [row[0]["text"] for row in table_cells(result, "decisions")] == MONTHS
        assert result.evaluate("document.querySelectorAll('details[data-section]').length") == 23  # older months fold


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the dashboard exited with {process.returncode}: {process.stdout.read()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"the dashboard did not listen on {port} within {seconds} s")


def labelled_predictions(root: Path) -> Path:
    """June's taxi predictions with their observed fares, as predict writes them (two files)."""
    folder = root / "lake" / "predictions" / "taxi_fare" / "2023" / "06"
    folder.mkdir(parents=True)
    for part, offset in enumerate((0, 50)):
        fares = [5.0 + i for i in range(offset, offset + 50)]
        predictions = [fare + (i % 7) * (1 if i % 2 else -1) for i, fare in enumerate(fares, start=offset)]
        pq.write_table(pa.table({"trip_distance": [1.0] * 50, "fare_amount": fares, "prediction": predictions,
                                 "model_version": ["v0001"] * 50}), folder / f"part-{part}.parquet")
    return folder


def test_the_dashboard_runs_and_renders_in_a_real_browser(tmp_path):
    root = tmp_path / "reports"
    shutil.copytree(FIXTURES, root)
    predict_path = root / "taxi_fare" / "2023-06" / "predict_report.json"
    predict = json.loads(predict_path.read_text())
    predict["predictions_uri"] = str(labelled_predictions(tmp_path))
    predict_path.write_text(json.dumps(predict))
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "sparkmlops.cli", "dashboard", "--port", str(port), "--usecase", "taxi_fare",
                                "--reports-dir", str(root), "--model-registry-path", str(tmp_path / "registry")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for_port(port, process)
        with browser() as chromium:
            result = open_page(chromium, f"http://127.0.0.1:{port}/", tmp_path / "dashboard.png",
                               wait_for="[data-testid='stDataFrame']", timeout_ms=90_000)
            assert "All use cases" in result.text
            result.page.get_by_text("Month", exact=True).click()
            result.page.wait_for_selector("text=Predictions, largest errors first", timeout=90_000)
            result.page.wait_for_selector("text=largest absolute error first", timeout=90_000)
            result.page.wait_for_selector("[data-testid='stImage'] img", timeout=90_000)
            charts = result.evaluate("[...document.querySelectorAll('[data-testid=stMain] img')].map(i => i.clientHeight)")
            assert len(charts) >= 2 and min(charts) > 50, charts  # buckets and importance: drawn, not placeholders
            shown = result.page.inner_text("section.main, [data-testid='stMain']")
            result.page.screenshot(path=str(tmp_path / "dashboard_month.png"))
            assert "taxi_fare · 2023-06" in shown and "100 of 2,940 predictions of 2023-06" in shown
            assert result.console_errors == [] and result.requests_outside == []
    finally:
        process.terminate()  # stop it by its process id; the command stops Streamlit with it
        output = process.communicate(timeout=30)[0]
    assert process.returncode == 0, output
    assert "dashboard on http://127.0.0.1" in output
