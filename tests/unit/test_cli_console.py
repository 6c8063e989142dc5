"""What a person reads: help texts, the console of a failing run, and the run's log file."""

from __future__ import annotations

import argparse
import logging
import re

import pytest

from sparkmlops import cli, logs
from sparkmlops import config as config_module


def help_text(capsys, *argv: str) -> str:
    assert cli.main([*argv, "--help"]) == 0
    return capsys.readouterr().out


def test_top_level_help_is_written_for_a_user(capsys):
    text = help_text(capsys)
    assert text.startswith("usage: sparkmlops")
    assert cli.__doc__.splitlines()[0] not in text  # not the module docstring
    assert "promote the candidate when" in text and "examples:" in text and "exit codes:" in text
    for name, (summary, _, _) in cli.SUBCOMMANDS.items():
        assert re.search(rf"^\s+{name}\s+{re.escape(summary)}$", text, re.M), name


@pytest.mark.parametrize("name", sorted(cli.SUBCOMMANDS))
def test_each_subcommand_help_says_what_it_does_with_defaults_and_an_example(capsys, name):
    text = help_text(capsys, name)
    _, description, example = cli.SUBCOMMANDS[name]
    assert " ".join(text.split()).count(description) == 1
    assert f"example:\n  {example}" in text
    assert "(default: the previous complete month)" in text and "--verbose" in text
    parser = cli.build_parser()
    sub = parser._subparsers._group_actions[0].choices[name]
    for action in sub._actions:  # every option with a default value says it
        if action.default not in (None, False, "", argparse.SUPPRESS) and action.option_strings:
            assert f"(default: {action.default})" in " ".join(action.help.split()), (name, action.dest)


def test_command_line_overrides_are_recorded_once(taxi_config):
    once = config_module.apply_overrides(taxi_config, {"run.test_month": "2023-04", "paths.reports": "/tmp/r"})
    twice = config_module.apply_overrides(once, {"run.test_month": "2023-05", "data.base_path": None})
    assert twice.source_file == taxi_config.source_file and twice.source_file.endswith("usecases/taxi_fare.yaml")
    assert twice.overrides == {"run.test_month": "2023-05", "paths.reports": "/tmp/r"}
    assert twice.run.test_month == "2023-05"
    assert "overrides" not in twice.model_dump()  # not part of the run's identity


def test_an_invalid_override_names_the_file_with_command_line_options(taxi_config):
    with pytest.raises(Exception, match=r"taxi_fare.yaml \(with command-line options\) is invalid"):
        config_module.apply_overrides(taxi_config, {"window.train_months": 1})


def test_console_shows_the_error_line_and_the_log_file_the_traceback(tmp_path, capsys):
    logs.configure("run-1")
    path = logs.attach_log_file(tmp_path / "reports" / "train.log", "run-1")
    try:
        raise ValueError("boom")
    except ValueError:
        logs.get_logger().exception("unexpected failure")
    err = capsys.readouterr().err
    assert "unexpected failure" in err and "Traceback" not in err
    written = path.read_text()
    assert "[run-1] unexpected failure" in written and "Traceback" in written and "ValueError: boom" in written
    assert logs.log_file() == path


def test_verbose_console_keeps_the_traceback(capsys):
    logs.configure("run-2", verbose=True)
    try:
        raise ValueError("boom")
    except ValueError:
        logs.get_logger().exception("unexpected failure")
    assert "Traceback" in capsys.readouterr().err
    assert logs.log_file() is None


def test_a_new_run_starts_a_new_log_file(tmp_path):
    logs.configure("run-a")
    first = logs.attach_log_file(tmp_path / "train.log", "run-a")
    logs.get_logger().info("first run")
    logs.configure("run-b")
    logs.attach_log_file(first, "run-b")
    logs.get_logger().info("second run")
    logging.shutdown()
    assert "first run" not in first.read_text() and "[run-b] second run" in first.read_text()


def test_an_expected_error_is_also_written_to_the_run_log(tmp_path):
    logs.configure("run-c")
    path = logs.attach_log_file(tmp_path / "train.log", "run-c")
    logs.write_to_log_file("error: Test month 2023-12 is not in the lake.")
    assert "[run-c] error: Test month 2023-12 is not in the lake." in path.read_text()
