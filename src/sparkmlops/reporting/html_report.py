"""The self-contained HTML report: one file per use case, and an index of all use cases.

The page has no scripts and loads nothing: charts are inline SVG, styles are inline, so
it opens offline, can be mailed or archived, and shows the same sections as the
dashboard (:mod:`.views`). Every number cell carries the report's raw value in
``data-value``.
"""

from __future__ import annotations

import io
import os
import re
from datetime import datetime, timezone
from pathlib import Path

import matplotlib
from jinja2 import Environment, PackageLoader, select_autoescape

from sparkmlops.reporting import history as history_module
from sparkmlops.reporting import views
from sparkmlops.reporting.blocks import Figure, Note, Section, Table
from sparkmlops.reporting.models import SCHEMA_VERSION
from sparkmlops.reports import write_text_atomic

_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)
REPORT_FILE = "report.html"
INDEX_FILE = "index.html"
_environment = Environment(loader=PackageLoader("sparkmlops.reporting", "templates"), autoescape=select_autoescape(["j2"]))


def svg(figure: Figure) -> str:
    """The chart as an inline ``<svg>`` element: text stays text, ids are unique to the chart."""
    drawn = figure.draw()
    buffer = io.StringIO()
    # a per-chart salt keeps the clip-path ids of two charts in one page apart
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": figure.key}):
        drawn.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return _METADATA.sub("", text[text.index("<svg"):])  # the RDF licence block: bytes no reader sees


def _blocks(section: Section) -> list[dict]:
    rendered = []
    for block in section.blocks:
        if isinstance(block, Table):
            rendered.append({"kind": "table", "table": block})
        elif isinstance(block, Figure):
            rendered.append({"kind": "figure", "figure": block, "svg": svg(block)})
        elif isinstance(block, Note):
            rendered.append({"kind": "note", "note": block})
    return rendered


def page(title: str, subtitle: str, sections: list[Section], badges=()) -> str:
    from sparkmlops import __version__

    prepared = [{"key": s.key, "title": s.title, "intro": s.intro, "collapsed": s.collapsed, "blocks": _blocks(s)}
                for s in sections]
    return _environment.get_template("page.html.j2").render(
        title=title, subtitle=subtitle, sections=prepared, badges=list(badges), version=__version__,
        schema_version=SCHEMA_VERSION, generated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))


def usecase_page(history: history_module.UseCaseHistory) -> str:
    months = [entry.month for entry in history.months]
    span = f"{months[0]} to {months[-1]}" if months else "no runs yet"
    return page(f"sparkmlops · {history.usecase}", f"{history.task or 'task unknown'} · {len(months)} month(s): {span}",
                views.usecase_sections(history), views.badges(history))


def index_page(histories: list[history_module.UseCaseHistory], links: dict[str, str]) -> str:
    section = Section("usecases", "Use cases", [views.index_table(histories, links)] if histories else
                      [Note("No use case has run yet: run ./run_pipeline.sh --usecase NAME, then render again.")])
    return page("sparkmlops · all use cases", f"{len(histories)} use case(s)", [section])


def default_out(reports_dir: str, usecase: str, history: history_module.UseCaseHistory) -> Path:
    """Next to the newest month's reports (``reports/<usecase>/<month>/report.html``)."""
    root = Path(reports_dir) / usecase
    return (root / history.months[-1].month / REPORT_FILE) if history.months else root / REPORT_FILE


def write_usecase(reports_dir: str, usecase: str, registry_root: str | None, out: str | Path | None = None,
                  until: str | None = None) -> Path:
    """Render the use case's report (months up to ``until``) and refresh ``reports/index.html``."""
    history = history_module.load(reports_dir, usecase, registry_root, until=until)
    path = Path(out) if out else default_out(reports_dir, usecase, history)
    write_text_atomic(path, usecase_page(history))
    # the index reuses this history when it holds every month (it is read once, not twice)
    write_index(reports_dir, registry_root, loaded={usecase: history} if until is None else None)
    return path


def newest_page(reports_dir: str, usecase: str) -> Path | None:
    """The newest month's rendered report of a use case, if any."""
    root = Path(reports_dir) / usecase
    pages = sorted(root.glob(f"*/{REPORT_FILE}")) if root.is_dir() else []
    return pages[-1] if pages else (root / REPORT_FILE if (root / REPORT_FILE).exists() else None)


def write_index(reports_dir: str, registry_root: str | None,
                loaded: dict[str, history_module.UseCaseHistory] | None = None) -> Path:
    """``reports/index.html``: every use case with its current model, last decision and warnings.

    ``loaded``: histories already read (use case -> history), not read again.
    """
    root = Path(reports_dir)
    histories = [(loaded or {}).get(usecase) or history_module.load(reports_dir, usecase, registry_root)
                 for usecase in history_module.usecases(root)]
    links = {}
    for history in histories:
        target = newest_page(reports_dir, history.usecase)
        if target is not None:
            links[history.usecase] = os.path.relpath(target, root).replace(os.sep, "/")
    path = root / INDEX_FILE
    write_text_atomic(path, index_page(histories, links))
    return path
