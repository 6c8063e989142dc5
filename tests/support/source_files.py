"""Tiny source files in real formats for ingest tests: weatherAUS CSV and the UCI SECOM pair.

Built the way the real files are (weatherAUS: header line, ``NA`` for missing, ISO dates;
SECOM: 590 space-separated values with ``NaN``, and ``-1 "dd/mm/yyyy HH:mm:ss"`` label
lines), with values derived from the row number so a test can check what the lake holds.
"""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
RAIN_COLUMNS: list[str] = list(yaml.safe_load((REPO / "conf/usecases/rain_tomorrow.yaml").read_text())["data"]["columns"])
SENSORS = 590


def usecase_config(usecase: str, root: Path, base_path: str, **source) -> Path:
    """Write ``root/<usecase>.yaml``: the shipped YAML with its own lake, registry and reports
    (and ``data.source`` keys replaced by ``source``)."""
    raw = yaml.safe_load((REPO / f"conf/usecases/{usecase}.yaml").read_text())
    raw["data"]["base_path"] = base_path
    raw["data"]["source"] = {**raw["data"].get("source", {}), **source}
    raw["paths"] = {"registry": str(root / "registry"), "reports": str(root / "reports")}
    config_file = root / f"{usecase}.yaml"
    config_file.write_text(yaml.safe_dump(raw, sort_keys=False))
    return config_file


def weather_row(date: str, index: int, **values: str) -> dict[str, str]:
    """One weatherAUS row as text: numbers derived from ``index``, Sunshine/Evaporation/Cloud "NA"."""
    row = {column: f"{index}.5" for column in RAIN_COLUMNS}
    row.update(Date=date, Location="Albury" if index % 2 else "Sydney", WindGustDir="W", WindDir9am="NNE",
               WindDir3pm="SW", RainToday="No" if index % 3 else "Yes", RainTomorrow="Yes" if index % 4 else "No",
               Sunshine="NA", Evaporation="NA", Cloud9am="NA", Cloud3pm="NA", MinTemp=f"{index}.25")
    row.update(values)
    return row


def weather_csv(path: Path, rows: list[dict[str, str]], lines: list[str] = (), sep: str = ",") -> Path:
    """Write the weatherAUS header, ``rows`` (unquoted, like the real file) and raw ``lines``."""
    text = [sep.join(RAIN_COLUMNS)] + [sep.join(row[c] for c in RAIN_COLUMNS) for row in rows] + list(lines)
    path.write_text("\n".join(text) + "\n")
    return path


def sensor_value(run: int, sensor: int) -> float | None:
    """The value of one SECOM sensor of one run (None: written as NaN)."""
    return None if (run + sensor) % 7 == 0 else round(run * 1000 + sensor + 0.125, 3)


def secom_files(folder: Path, runs: list[tuple[int, str]], data_lines: int | None = None,
                replace: dict[int, str] | None = None) -> Path:
    """Write ``secom.data`` and ``secom_labels.data`` for ``runs`` (label, 'dd/mm/yyyy HH:mm:ss').

    Args:
        data_lines: write only this many lines of ``secom.data`` (files of different length).
        replace: line number (from 1) -> raw text replacing that line of ``secom.data``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    values = [" ".join("NaN" if (v := sensor_value(i, j)) is None else repr(v) for j in range(SENSORS))
              for i in range(len(runs))]
    for line, text in (replace or {}).items():
        values[line - 1] = text
    labels = [f'{label} "{stamp}"' for label, stamp in runs]
    (folder / "secom.data").write_text("\n".join(values[:data_lines]) + "\n")
    (folder / "secom_labels.data").write_text("\n".join(labels) + "\n")
    return folder


def tree(root: Path) -> dict[str, int]:
    """Every file under ``root`` with its size: what a failed ingest must leave as it was."""
    return {str(p.relative_to(root)): p.stat().st_size for p in sorted(root.rglob("*")) if p.is_file()} if root.exists() else {}
