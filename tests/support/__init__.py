"""Test helpers shared by unit and integration tests (servers started and stopped by pid)."""

import os
from pathlib import Path


def runs_dir() -> Path:
    """Where run_pipeline.sh writes its result markers in tests (tests/conftest.py sets it per process)."""
    return Path(os.environ["SPARKMLOPS_RUNS_DIR"])
