"""Tiny TLC-shaped taxi tables for ingest tests, built the way each writer's users build them.

Timestamps are epoch nanoseconds with sub-microsecond digits on most rows, so a test can
tell a correct ns -> µs conversion (floored) from a wrong one; ``trip_distance`` is
unique per row and orders rows for comparisons.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pyarrow as pa
import yaml

REPO = Path(__file__).resolve().parents[2]
COLUMNS: dict[str, str] = yaml.safe_load((REPO / "conf/usecases/taxi_fare.yaml").read_text())["data"]["columns"]
SPARK_TYPES = {"long": "bigint", "int": "int", "double": "double", "string": "string", "timestamp": "timestamp",
               "boolean": "boolean"}
#: The lake's schema for taxi_fare: what Spark writes after ``lake.normalize``.
LAKE_SCHEMA = {name: SPARK_TYPES[kind] for name, kind in COLUMNS.items()}


def pickup_nanos(rows: int, month: str = "2023-03") -> list[int]:
    """Epoch ns of each row's pickup: hourly from the 1st, plus i × 1.234567 ms (sub-µs digits)."""
    start = datetime.strptime(month + "-01", "%Y-%m-%d").replace(tzinfo=timezone.utc)
    base = int(start.timestamp()) * 10**9
    return [base + i * 3_600 * 10**9 + i * 1_234_567 for i in range(rows)]


def dropoff_nanos(rows: int, month: str = "2023-03") -> list[int]:
    return [ns + (10 + i) * 60 * 10**9 + 999 for i, ns in enumerate(pickup_nanos(rows, month))]


def floor_micros(nanos: list[int]) -> list[int]:
    return [ns // 1000 for ns in nanos]


def columns_data(rows: int) -> dict[str, list]:
    """Every non-timestamp column of the taxi YAML, plain Python values."""
    return {
        "VendorID": [1 + i % 2 for i in range(rows)],
        "passenger_count": [float(1 + i % 4) for i in range(rows)],
        "trip_distance": [round(0.5 + i * 0.75, 2) for i in range(rows)],
        "RatecodeID": [1.0] * rows,
        "store_and_fwd_flag": ["N" if i % 5 else "Y" for i in range(rows)],
        "PULocationID": [100 + i for i in range(rows)],
        "DOLocationID": [200 + i for i in range(rows)],
        "payment_type": [1 + i % 2 for i in range(rows)],
        "fare_amount": [5.0 + i for i in range(rows)],
        "extra": [0.5] * rows,
        "mta_tax": [0.5] * rows,
        "tip_amount": [1.0 + i % 3 for i in range(rows)],
        "tolls_amount": [0.0] * rows,
        "improvement_surcharge": [1.0] * rows,
        "total_amount": [9.5 + i + i % 3 for i in range(rows)],
        "congestion_surcharge": [2.5] * rows,
        "airport_fee": [0.0 if i % 4 else 1.75 for i in range(rows)],
    }


def pandas_frame(rows: int, month: str = "2023-03") -> pd.DataFrame:
    """As a notebook user has it: ``pd.to_datetime`` columns (datetime64[ns]), TLC column order."""
    data = columns_data(rows)
    frame = pd.DataFrame({
        "VendorID": data["VendorID"],
        "tpep_pickup_datetime": pd.to_datetime(pickup_nanos(rows, month), unit="ns"),
        "tpep_dropoff_datetime": pd.to_datetime(dropoff_nanos(rows, month), unit="ns"),
    })
    for name, values in data.items():
        if name != "VendorID":
            frame[name] = values
    return frame


def arrow_table(rows: int, month: str = "2023-03", unit: str = "us", tz: str | None = None) -> pa.Table:
    """A pyarrow table with timestamps in ``unit`` (values truncated from the ns instants)."""
    per_unit = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[unit]
    stamp = pa.timestamp(unit, tz)
    data = columns_data(rows)
    arrays = {"VendorID": pa.array(data.pop("VendorID"), pa.int64()),
              "tpep_pickup_datetime": pa.array([ns // per_unit for ns in pickup_nanos(rows, month)], stamp),
              "tpep_dropoff_datetime": pa.array([ns // per_unit for ns in dropoff_nanos(rows, month)], stamp)}
    arrays.update({name: pa.array(values) for name, values in data.items()})
    return pa.table(arrays)


def expected_micros(nanos: list[int], unit: str = "ns") -> list[int]:
    """The µs the lake must hold for source instants stored in ``unit``."""
    per_unit = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[unit]
    return [(ns // per_unit) * per_unit // 1000 for ns in nanos]


def parse_result(out: str) -> dict:
    """The JSON document ``sparkmlops ingest`` prints."""
    return json.loads(out[out.index("{"):])
