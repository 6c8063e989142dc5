"""Where Spark's own log lines go: a run's log file, and the console only with ``--verbose``.

Spark's WARN/ERROR chatter (task failures with their Java stack, BLAS fallbacks, plan
truncation notices) is for whoever debugs a run, not for the person reading its result.
The driver's log4j2 configuration is changed at run time through py4j, because under
``spark-submit`` the JVM (and its logging) is already running when the job's Python code
learns which run it is. PySpark's Python-side error loggers, which print a JSON line with
the whole Java stack for a failed query, and Python warnings follow the same route.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pyspark.sql import SparkSession

FILE_APPENDER = "sparkmlops-run-file"
CONSOLE_APPENDER = "console"  # the name conf/log4j2.properties gives its console appender
PATTERN = "%d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex"
# PySpark loggers that print failed queries (with the Java stack) to stderr as JSON.
PYSPARK_LOGGERS = ("SQLQueryContextLogger", "DataFrameQueryContextLogger")
_python_handler: logging.Handler | None = None


def route_spark_logs(spark: SparkSession, log_file: Path, verbose: bool = False) -> None:
    """Send the driver's Spark log lines to ``log_file``; keep them on the console only when ``verbose``.

    Safe to call again in the same process (a new run): the previous run's file appender
    is replaced and the console is switched on or off as asked.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    jvm = spark.sparkContext._jvm
    context = jvm.org.apache.logging.log4j.LogManager.getContext(False)
    config = context.getConfiguration()
    root = config.getRootLogger()
    _remove_file_appender(config, root)
    layout = jvm.org.apache.logging.log4j.core.layout.PatternLayout.newBuilder() \
        .withPattern(PATTERN).withConfiguration(config).build()
    builder = jvm.org.apache.logging.log4j.core.appender.FileAppender.newBuilder()
    builder.withFileName(str(log_file))
    builder.withAppend(True)  # the Python side writes the run's own lines into the same file
    builder.setName(FILE_APPENDER)
    builder.setLayout(layout)
    builder.setConfiguration(config)
    appender = builder.build()
    appender.start()
    config.addAppender(appender)
    root.addAppender(appender, None, None)
    console = config.getAppender(CONSOLE_APPENDER)
    if verbose and console is not None and CONSOLE_APPENDER not in root.getAppenders():
        root.addAppender(console, None, None)
    elif not verbose:
        root.removeAppender(CONSOLE_APPENDER)
    context.updateLoggers()
    _route_python_loggers(log_file, verbose)


def _remove_file_appender(config, root) -> None:
    if config.getAppender(FILE_APPENDER) is not None:
        root.removeAppender(FILE_APPENDER)
        config.removeAppender(FILE_APPENDER)  # also stops it, closing the previous run's file


def _route_python_loggers(log_file: Path, verbose: bool) -> None:
    """PySpark's query-error loggers and Python warnings: into the file (and the console if verbose)."""
    global _python_handler
    from pyspark.logger import PySparkLogger

    handler = logging.FileHandler(log_file, mode="a", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%y/%m/%d %H:%M:%S"))
    logging.captureWarnings(True)
    for name in (*PYSPARK_LOGGERS, "py.warnings"):
        logger = PySparkLogger.getLogger(name) if name in PYSPARK_LOGGERS else logging.getLogger(name)
        logger.propagate = False
        for old in list(logger.handlers):  # the previous run's file, and any console handler
            if old is _python_handler or type(old) is logging.StreamHandler:
                logger.removeHandler(old)
        if verbose:
            logging.Logger.addHandler(logger, logging.StreamHandler())
        logging.Logger.addHandler(logger, handler)  # plain addHandler: PySparkLogger's would force JSON
    if _python_handler is not None:
        _python_handler.close()
    _python_handler = handler
