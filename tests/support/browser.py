"""A headless browser for tests: Debian's Chromium driven by playwright's sync API.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium``
(scripts/test.sh installs it with apt when missing). Chromium's own background traffic
(updates, sync, field trials, QUIC probes) is switched off by flags, and every request
that leaves this machine is aborted and recorded, so a page that needs the internet
shows it in :attr:`PageResult.requests_outside` instead of waiting on the network.

    with browser() as chromium:
        result = open_page(chromium, report.as_uri(), tmp_path / "report.png", wait_for="svg")
        assert not result.console_errors and not result.requests_outside
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
ARGS = (
    "--no-sandbox",  # tests run as root in CI, where Chromium's sandbox refuses to start
    "--disable-gpu",
    # without these Chromium reaches for Google's servers and logs the refusals as errors
    "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
    "--disable-sync",
)
_LOCAL_SCHEMES = ("file", "data", "blob", "about")
_LOCAL_HOSTS = ("localhost", "::1")


def is_local(url: str) -> bool:
    """True for file:, data:, blob: and about: URLs and for anything on the loopback."""
    parsed = urlparse(url)
    if parsed.scheme in _LOCAL_SCHEMES:
        return True
    host = parsed.hostname or ""
    return host in _LOCAL_HOSTS or host.startswith("127.")


@dataclass
class PageResult:
    """What a person would see and what went wrong on one page.

    Attributes:
        text: ``document.body.innerText`` once the page had loaded (and ``wait_for`` appeared).
        console_errors: console messages of type error, uncaught exceptions and failed requests.
        requests_outside: URLs the page asked for off this machine (each one aborted).
        screenshot: the full-page PNG.
        page: the live page for further queries (``page.locator``, ``page.evaluate``),
            usable until the :func:`browser` context ends.
    """

    text: str
    console_errors: list[str]
    requests_outside: list[str]
    screenshot: Path
    page: Page = field(repr=False)

    def evaluate(self, expression: str, arg=None):
        """``page.evaluate``: a JavaScript expression's value in the page."""
        return self.page.evaluate(expression, arg)


@contextmanager
def browser() -> Iterator[Browser]:
    """A headless Chromium for the ``with`` block; closed (with its pages) at the end."""
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: scripts/test.sh installs it (apt-get install chromium).")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(ARGS), headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def open_page(browser: Browser, url: str, screenshot: Path, wait_for: str | None = None,
              timeout_ms: int = 30_000, viewport: tuple[int, int] = (1280, 900)) -> PageResult:
    """Load ``url`` in a fresh context, wait, screenshot it and collect what went wrong.

    Args:
        browser: from :func:`browser`.
        url: a ``file://`` URL or a server on 127.0.0.1 / localhost.
        screenshot: where the full-page PNG goes (its folder is created).
        wait_for: a CSS selector to wait for after the load event (e.g. what a script draws).
        timeout_ms: the most the load, and then ``wait_for``, may take each.
        viewport: width and height of the window in CSS pixels.

    Returns:
        The page's text, errors, outside requests, screenshot and the live page.
    """
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    errors: list[str] = []
    outside: list[str] = []
    context.route(lambda target: not is_local(target), lambda route: route.abort())
    page = context.new_page()
    page.on("console", lambda message: errors.append(f"console: {message.text}") if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    page.on("requestfailed", lambda request: errors.append(f"request failed: {request.url} ({request.failure})"))
    page.on("request", lambda request: None if is_local(request.url) else outside.append(request.url))
    page.goto(url, wait_until="load", timeout=timeout_ms)
    if wait_for:
        page.wait_for_selector(wait_for, timeout=timeout_ms)
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshot), full_page=True)
    return PageResult(text=page.evaluate("document.body.innerText"), console_errors=errors,
                      requests_outside=outside, screenshot=screenshot, page=page)
