"""The pieces a view is made of, independent of where it is shown.

A :class:`Section` holds tables, figures and notes. The HTML report and the dashboard
render the same sections (:mod:`.html`, :mod:`.dashboard_app`); only the rendering
differs. Every table cell keeps the raw value next to its text, so a rendered number can
always be traced back to the report file it came from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Union


def fmt(value: Any) -> str:
    """A number as analysts read it: thousands separators, 4 significant figures for small ones."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        size = abs(value)
        if size == 0:
            return "0"
        if size >= 1000:
            return f"{value:,.0f}"
        if size >= 1:
            return f"{value:.3f}".rstrip("0").rstrip(".")
        return f"{value:.4g}"
    return str(value)


@dataclass
class Cell:
    """``text`` is shown; ``value`` is the figure from the report (None for plain text)."""

    text: str
    value: Any = None
    tone: str | None = None  # "good", "bad" or "warn": a colour hint
    link: str | None = None  # a relative link (the index page's use cases)

    @classmethod
    def of(cls, value: Any, tone: str | None = None) -> "Cell":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return cls(fmt(value), value, tone)
        return cls(fmt(value), None, tone)


@dataclass
class Table:
    key: str  # stable name: tests and links find the table by it
    columns: list[str]
    rows: list[list[Cell]]
    caption: str = ""

    @classmethod
    def build(cls, key: str, columns: list[str], rows: list[list[Any]], caption: str = "") -> "Table":
        return cls(key, columns, [[item if isinstance(item, Cell) else Cell.of(item) for item in row] for row in rows], caption)


@dataclass
class Figure:
    """A chart drawn on demand: ``draw`` returns a matplotlib Figure (not pyplot: no global state)."""

    key: str
    title: str
    draw: Callable[[], Any]
    alt: str = ""  # what the chart shows, for readers who cannot see it


@dataclass
class Note:
    text: str
    tone: str = "info"  # "info", "warn" or "bad"


Block = Union[Table, Figure, Note]


@dataclass
class Section:
    key: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    intro: str = ""
    collapsed: bool = False  # older months fold away in the HTML report


@dataclass
class Badge:
    """A warning shown next to a use case: a gate, drift, tracking or policy problem."""

    kind: str  # gate | drift | tracking | policy | schema
    text: str
