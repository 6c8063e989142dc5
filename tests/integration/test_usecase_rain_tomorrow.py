"""rain_tomorrow end to end on generated data (the checks: tests/support/usecase_runs.py)."""

from __future__ import annotations

import pytest

from tests.support.usecase_runs import (
    check_cli_month_and_monthly_pipeline_run_with_gates,
    check_html_report_and_dashboard,
    check_predictions_carry_the_target_and_its_errors,
    check_reports_carry_the_tasks_figures,
    usecase_fixture,
)

pytestmark = pytest.mark.integration
usecase_run = usecase_fixture("rain_tomorrow")


def test_cli_month_and_monthly_pipeline_run_with_gates(usecase_run):
    check_cli_month_and_monthly_pipeline_run_with_gates(usecase_run)


def test_reports_carry_the_tasks_figures(usecase_run):
    check_reports_carry_the_tasks_figures(usecase_run)


def test_predictions_carry_the_target_and_its_errors(usecase_run, spark):
    check_predictions_carry_the_target_and_its_errors(usecase_run, spark)


def test_html_report_and_dashboard(usecase_run, tmp_path, record_property):
    check_html_report_and_dashboard(usecase_run, tmp_path, record_property)
