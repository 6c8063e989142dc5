"""The read-only Streamlit dashboard (started by ``sparkmlops dashboard``).

Three views over the same sections as the HTML report (:mod:`.views`): all use cases,
one use case over its months, and one month with a bounded sample of its predictions
from the lake, largest errors first. It reads the reports, the registry and the lake and
writes nothing. Where to read comes from the environment that ``sparkmlops dashboard``
sets: SPARKMLOPS_DASHBOARD_REPORTS, SPARKMLOPS_DASHBOARD_REGISTRY and, optionally,
SPARKMLOPS_DASHBOARD_USECASE (the use case selected first).
"""

from __future__ import annotations

import os

import pandas as pd
import streamlit as st

from sparkmlops.errors import SparkMlopsError
from sparkmlops.reporting import history as history_module
from sparkmlops.reporting import html_report, predictions_view, views
from sparkmlops.reporting.blocks import Figure, Note, Section, Table

VIEWS = ("All use cases", "Use case", "Month")
NOTE_STYLES = {"info": st.info, "warn": st.warning, "bad": st.error}


def frame(table: Table) -> pd.DataFrame:
    """Numbers stay numbers (sortable, exact); other columns show the text of the report."""
    columns = {}
    for index, name in enumerate(table.columns):
        cells = [row[index] for row in table.rows]
        numeric = all(cell.value is not None or cell.text == "—" for cell in cells) and any(c.value is not None for c in cells)
        columns[name or "item"] = [cell.value for cell in cells] if numeric else [cell.text for cell in cells]
    return pd.DataFrame(columns)


def show_blocks(blocks) -> None:
    for block in blocks:
        if isinstance(block, Table):
            if block.caption:
                st.caption(block.caption)
            st.dataframe(frame(block), hide_index=True, key=block.key)
        elif isinstance(block, Figure):
            st.image(html_report.svg(block), caption=block.title)  # the HTML report's SVG: one rendering for both
        elif isinstance(block, Note):
            NOTE_STYLES.get(block.tone, st.info)(block.text)


def show(section: Section) -> None:
    if section.collapsed:
        with st.expander(section.title):
            show_blocks(section.blocks)
        return
    st.subheader(section.title)
    if section.intro:
        st.caption(section.intro)
    show_blocks(section.blocks)


def main() -> None:
    st.set_page_config(page_title="sparkmlops", layout="wide")
    reports_dir = os.environ.get("SPARKMLOPS_DASHBOARD_REPORTS", "reports")
    registry = os.environ.get("SPARKMLOPS_DASHBOARD_REGISTRY", "registry")
    usecases = history_module.usecases(reports_dir)
    st.sidebar.title("sparkmlops")
    st.sidebar.caption(f"Read-only view of {reports_dir}")
    view = st.sidebar.radio("View", VIEWS, key="view")
    if not usecases:
        st.title("sparkmlops")
        st.info(f"No use case has run yet under {reports_dir}: run ./run_pipeline.sh --usecase NAME, then reload.")
        return
    if view == "All use cases":
        st.title("All use cases")
        histories = [history_module.load(reports_dir, name, registry) for name in usecases]
        show_blocks([views.index_table(histories)])
        return
    preferred = os.environ.get("SPARKMLOPS_DASHBOARD_USECASE")
    usecase = st.sidebar.selectbox("Use case", usecases, index=usecases.index(preferred) if preferred in usecases else 0,
                                   key="usecase")
    history = history_module.load(reports_dir, usecase, registry)
    if view == "Use case":
        st.title(usecase)
        for section in views.history_sections(history):  # each month has its own view
            show(section)
        return
    months = [entry.month for entry in reversed(history.months)]
    if not months:
        st.title(usecase)
        st.info(f"No runs of {usecase} yet.")
        return
    month = st.sidebar.selectbox("Month", months, key="month")
    st.title(f"{usecase} · {month}")
    show(views.month_section(history, month))
    st.subheader("Predictions, largest errors first")
    limit = st.sidebar.slider("Rows in the prediction sample", 10, predictions_view.MAX_ROWS, 100, step=10, key="rows")
    entry = history.month(month)
    try:
        config_file = entry.train.config_file if entry and entry.train else None
        show_blocks(predictions_view.sample_blocks(entry.predict if entry else None, limit, config_file))
    except SparkMlopsError as error:
        st.error(str(error))


main()
