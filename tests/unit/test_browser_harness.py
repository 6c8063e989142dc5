"""The browser harness on small local pages: text, console errors, screenshot, outside requests."""

from __future__ import annotations

import pytest

from tests.support.browser import browser, is_local, open_page

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>harness</title></head><body>
<h1>Monthly report</h1><p>RMSE 4.2</p>
<svg id="chart" width="120" height="60"><rect width="100" height="40" fill="steelblue"/></svg>
<script>console.error("broken chart data"); console.log("fine");</script>
</body></html>"""

EXTERNAL = """<!doctype html><html><body><p>needs the internet</p>
<script src="http://example.invalid/x.js"></script></body></html>"""


@pytest.fixture(scope="module")
def chromium():
    with browser() as opened:
        yield opened


def test_reads_text_console_errors_and_takes_a_screenshot(chromium, tmp_path):
    page = tmp_path / "page.html"
    page.write_text(PAGE)
    result = open_page(chromium, page.as_uri(), tmp_path / "shots" / "page.png", wait_for="svg#chart")
    assert "Monthly report" in result.text and "RMSE 4.2" in result.text
    assert result.console_errors == ["console: broken chart data"]  # console.log is not an error
    assert result.requests_outside == []
    png = result.screenshot.read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 1000
    assert result.evaluate("document.querySelector('svg rect').getAttribute('fill')") == "steelblue"
    assert result.page.locator("h1").inner_text() == "Monthly report"


def test_an_uncaught_exception_is_an_error(chromium, tmp_path):
    page = tmp_path / "throws.html"
    page.write_text("<html><body>x<script>undefinedFunction()</script></body></html>")
    result = open_page(chromium, page.as_uri(), tmp_path / "throws.png")
    assert any(error.startswith("uncaught:") and "undefinedFunction" in error for error in result.console_errors)


def test_a_script_from_the_internet_is_recorded_and_never_fetched(chromium, tmp_path):
    page = tmp_path / "external.html"
    page.write_text(EXTERNAL)
    result = open_page(chromium, page.as_uri(), tmp_path / "external.png")
    assert result.requests_outside == ["http://example.invalid/x.js"]
    assert any("example.invalid/x.js" in error for error in result.console_errors)
    assert "needs the internet" in result.text


@pytest.mark.parametrize(("url", "local"), [
    ("file:///tmp/report.html", True), ("data:image/png;base64,AAAA", True), ("http://127.0.0.1:8501/", True),
    ("ws://localhost:8501/_stcore/stream", True), ("blob:http://127.0.0.1:8501/x", True),
    ("http://example.invalid/x.js", False), ("https://cdn.jsdelivr.net/npm/vega", False), ("http://10.0.0.1/", False),
])
def test_what_counts_as_local(url, local):
    assert is_local(url) is local
