"""Expected failures and their documented exit codes.

Every error a user can cause (bad option, bad config, missing or broken data, failed
gate, a monitoring policy set to fail) is raised as one of these. The CLI prints
``str(error)`` as one paragraph — what went wrong, why, what to do — and exits with
``error.exit_code``; no traceback.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_OTHER = 1
EXIT_USAGE = 2
EXIT_DATA = 3
EXIT_GATE = 4
EXIT_POLICY = 5


class SparkMlopsError(Exception):
    """Base class: an expected failure with a readable message and an exit code."""

    exit_code = EXIT_OTHER

    def __init__(self, what: str, why: str = "", fix: str = "") -> None:
        self.what, self.why, self.fix = what, why, fix
        super().__init__(" ".join(part.strip() for part in (what, why, fix) if part))


class UsageError(SparkMlopsError):
    """Bad command-line usage or configuration (exit 2)."""

    exit_code = EXIT_USAGE


class DataError(SparkMlopsError):
    """Input data missing, unreadable or invalid (exit 3)."""

    exit_code = EXIT_DATA


class GateError(SparkMlopsError):
    """A quality gate failed (exit 4)."""

    exit_code = EXIT_GATE


class RegistryBusyError(SparkMlopsError):
    """Another run holds the registry lock of this use case (exit 1)."""


class PolicyError(SparkMlopsError):
    """A monitoring policy with ``action: fail`` was triggered (exit 5); the run's report and
    registry decision were written first."""

    exit_code = EXIT_POLICY
