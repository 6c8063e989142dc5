"""Reporting: what the HTML report and the dashboard read from reports, registry and lake."""
