"""Small taxi_fare YAML files for tests: the shipped config with a tiny GBT and own paths."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def small_taxi_config(root: Path, base_path: str, registry: str | None = None, **model_params) -> tuple[Path, dict]:
    """Write ``root/taxi_fare.yaml`` (GBT maxIter 4, maxDepth 3 unless overridden) and return it with its content."""
    raw = yaml.safe_load((REPO / "conf/usecases/taxi_fare.yaml").read_text())
    raw["data"]["base_path"] = base_path
    raw["model"]["params"].update({"maxIter": 4, "maxDepth": 3, **model_params})
    raw["paths"] = {"registry": registry or str(root / "registry"), "reports": str(root / "reports")}
    config_file = root / "taxi_fare.yaml"
    config_file.write_text(yaml.safe_dump(raw))
    return config_file, raw
