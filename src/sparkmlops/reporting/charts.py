"""The charts of the views, drawn with matplotlib's object API (no pyplot global state).

Each function takes plain numbers and returns a ``matplotlib.figure.Figure``; the HTML
report turns it into inline SVG and the dashboard hands it to ``st.pyplot``. Missing
values (None) are gaps, not zeros.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from matplotlib.figure import Figure

PALETTE = ("#1f6feb", "#d9822b", "#2da44e", "#cf222e", "#8250df", "#6e7781")
WIDTH = 7.5


def _clean(values: Sequence) -> list[float]:
    return [float("nan") if v is None or not math.isfinite(float(v)) else float(v) for v in values]


def _figure(rows: int = 1, cols: int = 1, height: float = 2.6) -> tuple[Figure, list]:
    figure = Figure(figsize=(WIDTH, height * rows), layout="constrained")
    axes = figure.subplots(rows, cols, squeeze=False)
    return figure, [axis for row in axes for axis in row]


def _style(axis, title: str = "") -> None:
    axis.grid(True, alpha=0.3)
    axis.spines[["top", "right"]].set_visible(False)
    if title:
        axis.set_title(title, fontsize=10, loc="left")


def _month_ticks(axis, months: Sequence[str]) -> None:
    step = max(1, math.ceil(len(months) / 12))
    axis.set_xticks(range(0, len(months), step), [months[i] for i in range(0, len(months), step)], rotation=45, fontsize=8)


def lines_by_month(months: Sequence[str], panels: dict[str, dict[str, Sequence]]) -> Figure:
    """One panel per metric, one line per series (e.g. candidate and current) over the months."""
    count = max(1, len(panels))
    cols = min(3, count)
    figure, axes = _figure(math.ceil(count / cols), cols, height=2.4)
    for axis, (title, series) in zip(axes, panels.items()):
        for colour, (name, values) in zip(PALETTE, series.items()):
            axis.plot(range(len(months)), _clean(values), marker="o", markersize=3, color=colour, label=name)
        _style(axis, title)
        _month_ticks(axis, months)
        axis.legend(fontsize=7, frameon=False)
    for axis in axes[count:]:
        axis.set_visible(False)
    return figure


def heatmap(rows: Sequence[str], months: Sequence[str], values: Sequence[Sequence], title: str, limit: float) -> Figure:
    """A features × months grid (e.g. PSI), coloured up to ``limit`` (values above are saturated)."""
    figure, (axis,) = _figure(height=max(1.6, 0.28 * len(rows) + 1.0))
    grid = [_clean(row) for row in values]
    image = axis.imshow(grid, aspect="auto", cmap="YlOrRd", vmin=0, vmax=limit, interpolation="nearest")
    axis.set_yticks(range(len(rows)), rows, fontsize=8)
    _month_ticks(axis, months)
    axis.set_title(title, fontsize=10, loc="left")
    figure.colorbar(image, ax=axis, shrink=0.8)
    return figure


def stacked_bars(months: Sequence[str], parts: dict[str, Sequence], title: str) -> Figure:
    """Counts per month split into named parts (e.g. rows removed by each cleaning rule)."""
    figure, (axis,) = _figure()
    bottom = [0.0] * len(months)
    for colour, (name, values) in zip(PALETTE * 4, parts.items()):
        heights = [0.0 if v is None else float(v) for v in values]
        axis.bar(range(len(months)), heights, bottom=bottom, color=colour, label=name)
        bottom = [b + h for b, h in zip(bottom, heights)]
    _style(axis, title)
    _month_ticks(axis, months)
    axis.legend(fontsize=7, frameon=False, ncol=2)
    return figure


def horizontal_bars(labels: Sequence[str], values: Sequence, title: str, colour: str = PALETTE[0]) -> Figure:
    """Ranked bars, largest on top (feature importance, errors per series)."""
    figure, (axis,) = _figure(height=max(1.6, 0.25 * len(labels) + 0.8))
    positions = list(range(len(labels)))[::-1]
    axis.barh(positions, _clean(values), color=colour)
    axis.set_yticks(positions, labels, fontsize=8)
    _style(axis, title)
    return figure


def grouped_bars(groups: Sequence[str], series: dict[str, Sequence], title: str) -> Figure:
    """Side-by-side bars per group (e.g. RMSE per price bucket for candidate and current)."""
    figure, (axis,) = _figure()
    width = 0.8 / max(1, len(series))
    for index, (colour, (name, values)) in enumerate(zip(PALETTE, series.items())):
        axis.bar([g + index * width for g in range(len(groups))], _clean(values), width=width, color=colour, label=name)
    axis.set_xticks([g + width * (len(series) - 1) / 2 for g in range(len(groups))], list(groups), fontsize=8)
    _style(axis, title)
    axis.legend(fontsize=7, frameon=False)
    return figure


def calibration(mean_scores: Sequence, positive_rates: Sequence, rows: Sequence, title: str) -> Figure:
    """Observed positive rate against the mean score per score bin; the diagonal is perfect calibration."""
    figure, (axis,) = _figure(height=3.0)
    axis.plot([0, 1], [0, 1], linestyle="--", color=PALETTE[5], linewidth=1, label="perfectly calibrated")
    sizes = [12 + 60 * (r or 0) / max(1, max((x or 0) for x in rows)) for r in rows]
    axis.plot(_clean(mean_scores), _clean(positive_rates), color=PALETTE[0], linewidth=1)
    axis.scatter(_clean(mean_scores), _clean(positive_rates), s=sizes, color=PALETTE[0], label="score bins (size: rows)")
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1)
    axis.set_xlabel("mean score", fontsize=8)
    axis.set_ylabel("observed positive rate", fontsize=8)
    _style(axis, title)
    axis.legend(fontsize=7, frameon=False)
    return figure
