"""Gate scripts: run by `sparkmlops gate --stage …` on one run's artifact (a JSON file).

SPARKMLOPS_GATE_ARTIFACT names the artifact; thresholds come from the use case YAML
(SPARKMLOPS_GATE_CONFIG, else conf/usecases/<SPARKMLOPS_GATE_USECASE>.yaml).
"""

import json
import os
from pathlib import Path

import pytest

from sparkmlops import config as config_module


@pytest.fixture(scope="session")
def artifact() -> dict:
    path = os.environ.get("SPARKMLOPS_GATE_ARTIFACT")
    if not path:
        pytest.fail("SPARKMLOPS_GATE_ARTIFACT is not set: run gates through `sparkmlops gate`.")
    return json.loads(Path(path).read_text())


@pytest.fixture(scope="session")
def usecase_config():
    return config_module.load(os.environ.get("SPARKMLOPS_GATE_USECASE"), os.environ.get("SPARKMLOPS_GATE_CONFIG"))
