"""UCI SECOM: ``--source DIR`` holding ``secom.data`` and ``secom_labels.data``.

The UCI files (1,567 production runs) pair up line by line:

- ``secom.data``: 590 sensor values per line, separated by spaces, ``NaN`` for missing;
- ``secom_labels.data``: ``-1 "19/07/2008 11:55:00"`` per line: the label (-1 pass, 1 fail)
  and the run's time stamp, day first.

Lines are numbered where they are read (``zipWithIndex``: distributed, nothing collected)
and the two files joined on that number. The YAML's columns other than the target and the
timestamp name the 590 sensors, in order. Sensors and labels are returned as text (ingest
parses and checks them like any text column); a line with the wrong number of values, a
label line that does not read as label and quoted time stamp, or a line with no partner in
the other file (the files differ in length) is marked malformed with its file and line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from sparkmlops import lake
from sparkmlops.errors import DataError, UsageError
from sparkmlops.source_checks import MALFORMED, MALFORMED_AT, ident

if TYPE_CHECKING:
    from sparkmlops.config import UsecaseConfig

DATA_FILE = "secom.data"
LABELS_FILE = "secom_labels.data"
SENSORS = 590
LABELS = ("-1", "1")
TIMESTAMP_FORMAT = "dd/MM/yyyy HH:mm:ss"
_LABEL_LINE = r'^\s*(\S+)\s+"([^"]*)"\s*$'


def read(spark: SparkSession, source: str, config: UsecaseConfig) -> DataFrame:
    """The SECOM runs as the YAML's columns: sensors and label as text, the timestamp parsed.

    Args:
        source: the folder holding the two UCI files, local or ``s3a://``.
        config: the use case; its ``data.columns`` minus target and timestamp are the sensors.

    Raises:
        UsageError: ``data.columns`` does not list 590 sensor columns.
        DataError: a file is missing.
    """
    data = config.data
    sensors = [c for c in data.columns if c not in (data.target, data.timestamp_column)]
    if len(sensors) != SENSORS:
        raise UsageError(
            f"The secom source adapter needs {SENSORS} sensor columns in data.columns; {config.source_file or 'the YAML'} "
            f"lists {len(sensors)} besides the target and the timestamp.",
            f"Each line of {DATA_FILE} holds {SENSORS} values, which fill those columns in order.",
            'List them in data.columns (e.g. "sensor_{000..589}": double).',
        )
    base = source if "://" in source else lake.normalize_uri(source)
    uris = {name: f"{base.rstrip('/')}/{name}" for name in (DATA_FILE, LABELS_FILE)}
    with lake.store_errors(spark, base):
        missing = [name for name, uri in uris.items() if not lake.exists(spark, uri)]
    if missing:
        raise DataError(
            f"Source folder {source} has no {' and no '.join(missing)}.",
            f"The secom adapter (data.source.adapter) reads the UCI SECOM files {DATA_FILE} and {LABELS_FILE} "
            "from the --source folder.",
            "Point --source at the folder holding both files.",
        )
    runs = _numbered(spark, uris[DATA_FILE], "values").join(_numbered(spark, uris[LABELS_FILE], "labels"), "line", "full_outer")
    runs = runs.select(
        "line", "values", "labels",
        F.split(F.trim(F.col("values")), r"\s+").alias("fields"),
        F.regexp_extract(F.col("labels"), _LABEL_LINE, 1).alias("label"),
        F.regexp_extract(F.col("labels"), _LABEL_LINE, 2).alias("stamp"),
    )
    stamp = F.try_to_timestamp(F.col("stamp"), F.lit(TIMESTAMP_FORMAT))
    what, at = _problems(stamp)
    runs = runs.select("fields", "label", stamp.alias("stamp"), what.alias(MALFORMED), at.alias(MALFORMED_AT))
    # SQL text for the 590 sensors: one call into the JVM instead of several per column.
    return runs.selectExpr(
        *[f"nullif(get(fields, {index}), 'NaN') AS {ident(name)}" for index, name in enumerate(sensors)],
        f"label AS {ident(data.target)}", f"stamp AS {ident(data.timestamp_column)}", MALFORMED, MALFORMED_AT,
    )


def _numbered(spark: SparkSession, uri: str, name: str) -> DataFrame:
    """``(line, text)`` for each line of a text file, lines numbered from 1 in file order."""
    lines = spark.read.text(uri).rdd.zipWithIndex().map(lambda pair: (pair[1] + 1, pair[0][0]))
    schema = T.StructType([T.StructField("line", T.LongType(), False), T.StructField(name, T.StringType())])
    return spark.createDataFrame(lines, schema)


def _problems(stamp: Column) -> tuple[Column, Column]:
    """What is wrong with a joined line (null: nothing) and where: the first problem found."""
    line = F.col("line").cast("string")
    values = F.when(F.trim(F.col("values")) == "", 0).otherwise(F.size(F.col("fields")))
    checks = [
        (F.col("values").isNull(), LABELS_FILE,
         F.lit(f"no partner line in {DATA_FILE}: the two files must have the same number of lines")),
        (F.col("labels").isNull(), DATA_FILE,
         F.lit(f"no partner line in {LABELS_FILE}: the two files must have the same number of lines")),
        (values != SENSORS, DATA_FILE, F.format_string(f"%d values, expected {SENSORS}", values)),
        (~F.col("labels").rlike(_LABEL_LINE), LABELS_FILE,
         F.format_string('\'%s\' is not a label and a quoted time stamp (e.g. -1 "19/07/2008 11:55:00")', F.col("labels"))),
        (~F.col("label").isin(*LABELS), LABELS_FILE,
         F.format_string("label '%s' is neither -1 (pass) nor 1 (fail)", F.col("label"))),
        (stamp.isNull(), LABELS_FILE,
         F.format_string("time stamp '%s' is not dd/mm/yyyy HH:mm:ss", F.col("stamp"))),
    ]
    what, at = None, None
    for failed, file_name, text in checks:
        where = F.concat(F.lit(f"{file_name} line "), line)
        what = F.when(failed, text) if what is None else what.when(failed, text)
        at = F.when(failed, where) if at is None else at.when(failed, where)
    return what, at
