"""What the project adds to the Spark it installs: the S3A connector and default settings.

pip's pyspark is a whole Spark distribution (``bin/``, ``jars/``) without the S3A
connector, and it reads ``conf/spark-defaults.conf`` and ``conf/log4j2.properties`` from
its own folder like any distribution. Putting the connector jars into ``jars/`` and the
project's settings into ``conf/`` — the way a Spark distribution or the docker image
carries them — means a bare ``spark-submit``, the ``pyspark`` shell, the local cluster's
workers and the session factory all read ``s3a://`` with no extra flags.

``scripts/setup.sh`` runs ``python -m sparkmlops.spark_install``; it is idempotent
(jars already in place and unchanged settings are left alone). Maven Central is not
reachable from the development machines, so the jars come from the one package-registry
source that ships them: the PyPI sdist of sagemaker-pyspark 1.4.5 (hadoop-aws 3.3.1 and
aws-java-sdk-bundle 1.11.901). They work with pyspark 4.1.1's Hadoop 3.4.2 client given
the numeric ``fs.s3a.*`` durations in spark-defaults.conf.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from sparkmlops.errors import DataError

JARS_SDIST = "sagemaker-pyspark==1.4.5"
JAR_NAMES = ("hadoop-aws-3.3.1.jar", "aws-java-sdk-bundle-1.11.901.jar")
S3A_CLASS = "org.apache.hadoop.fs.s3a.S3AFileSystem"
CACHE_DIR_ENV = "SPARKMLOPS_JARS_DIR"
_CONNECTOR_JAR = re.compile(r"^hadoop-aws-[\d.]+\.jar$")
_SDK_JAR = re.compile(r"^(aws-java-sdk-bundle|bundle)-[\d.]+\.jar$")  # SDK v1 bundle or v2 bundle
_MISSING_CLASS = re.compile(r"ClassNotFoundException: (?:Class )?(org\.apache\.hadoop\.fs\.s3a\.[\w.$]+)")
_NO_SCHEME = re.compile(r'No FileSystem for scheme "?s3a"?')
HEADER = "# Written by `python -m sparkmlops.spark_install` (scripts/setup.sh) from {source}; edit that file, not this one.\n"


def spark_home() -> Path:
    """The Spark installation pyspark uses: $SPARK_HOME, else the pip pyspark folder."""
    from pyspark.find_spark_home import _find_spark_home

    return Path(_find_spark_home()).resolve()


def connector_jars(home: Path) -> list[Path]:
    """The S3A connector jars (hadoop-aws + an AWS SDK bundle) in ``home/jars``, or [] if either is missing."""
    jars = sorted((home / "jars").glob("*.jar"))
    connector = [jar for jar in jars if _CONNECTOR_JAR.match(jar.name)]
    sdk = [jar for jar in jars if _SDK_JAR.match(jar.name)]
    return connector + sdk if connector and sdk else []


def has_connector(home: Path | None = None) -> bool:
    return bool(connector_jars(home or spark_home()))


def default_cache_dir() -> Path:
    """Where downloaded jars are kept between installs: $SPARKMLOPS_JARS_DIR, else ``.jars`` of the checkout."""
    return Path(os.environ.get(CACHE_DIR_ENV) or Path(__file__).resolve().parents[2] / ".jars")


def fetch_jars(cache: Path) -> list[Path]:
    """Download the connector jars into ``cache`` unless they are there already.

    Raises:
        RuntimeError: the sdist could not be downloaded or no longer holds the jars.
    """
    wanted = [cache / name for name in JAR_NAMES]
    if all(jar.is_file() and jar.stat().st_size > 0 for jar in wanted):
        return wanted
    cache.mkdir(parents=True, exist_ok=True)
    print(f"downloading the S3A connector jars into {cache} (PyPI sdist {JARS_SDIST}, ~180 MB)", file=sys.stderr)
    with tempfile.TemporaryDirectory() as temp:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:", "--dest", temp, JARS_SDIST],
            capture_output=True, text=True,
        )
        sdists = list(Path(temp).glob("*.tar.gz"))
        if done.returncode != 0 or not sdists:
            raise RuntimeError(
                f"could not download {JARS_SDIST} from the package index ({(done.stderr or '').strip()[-300:]}). "
                f"The S3A jars come from that sdist; check the pip index settings (PIP_INDEX_URL), or copy "
                f"{' and '.join(JAR_NAMES)} into {cache} by hand and run this again."
            )
        with tarfile.open(sdists[0]) as archive:
            members = {Path(member.name).name: member for member in archive.getmembers()
                       if "/deps/jars/" in member.name and Path(member.name).name in JAR_NAMES}
            for name in JAR_NAMES:
                if name not in members:
                    raise RuntimeError(f"{name} is not in {sdists[0].name}: the package layout changed. Put the jar into {cache} by hand.")
                source = archive.extractfile(members[name])
                with open(cache / f".{name}.part", "wb") as target:
                    shutil.copyfileobj(source, target)
                os.replace(cache / f".{name}.part", cache / name)
    return wanted


def _place(jar: Path, folder: Path) -> bool:
    """Put ``jar`` into ``folder`` (a hard link when on the same disk, else a copy); False if already there."""
    target = folder / jar.name
    if target.is_file() and target.stat().st_size == jar.stat().st_size:
        return False
    partial = folder / f".{jar.name}.part"
    partial.unlink(missing_ok=True)
    try:
        os.link(jar, partial)
    except OSError:  # another file system, or links not allowed
        shutil.copyfile(jar, partial)
    os.replace(partial, target)  # never a half-copied jar on Spark's classpath
    return True


def installed_defaults(defaults_file: Path, python: str) -> str:
    """The installation's spark-defaults.conf: the project's file plus the Python that runs drivers and workers."""
    text = defaults_file.read_text()
    return (HEADER.format(source=defaults_file.resolve()) + text.rstrip("\n") + "\n\n"
            "# This installation's own Python (with pyarrow and sparkmlops), for drivers and Python workers.\n"
            f"spark.pyspark.python                             {python}\n"
            f"spark.pyspark.driver.python                      {python}\n")


def _write_if_changed(path: Path, text: str) -> bool:
    if path.is_file() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.part")
    partial.write_text(text)
    os.replace(partial, path)
    return True


def install(home: Path, jars: list[Path], defaults_file: Path, log4j_file: Path, python: str) -> list[str]:
    """Put ``jars`` into ``home/jars`` and the project's settings into ``home/conf``.

    Returns:
        What changed (empty when everything was already in place).
    """
    changed = [f"jars/{jar.name}" for jar in jars if _place(jar, home / "jars")]
    if _write_if_changed(home / "conf" / "spark-defaults.conf", installed_defaults(defaults_file, python)):
        changed.append("conf/spark-defaults.conf")
    log4j = HEADER.format(source=log4j_file.resolve()) + log4j_file.read_text()
    if _write_if_changed(home / "conf" / "log4j2.properties", log4j):
        changed.append("conf/log4j2.properties")
    return changed


def missing_connector_error(error: BaseException | str, uri: str = "") -> DataError | None:
    """A one-paragraph :class:`DataError` when ``error`` says Spark has no S3A connector, else None."""
    text = str(error)
    found = _MISSING_CLASS.search(text)
    if not found and not _NO_SCHEME.search(text):
        return None
    missing = found.group(1) if found else S3A_CLASS
    home = spark_home()
    target = f"Cannot access {uri}: " if uri else "Cannot read or write s3a:// paths: "
    return DataError(
        f"{target}Spark has no S3A connector (class {missing} is not on its classpath; Spark at {home}).",
        "s3a:// paths are read through Hadoop's S3A connector (hadoop-aws and the AWS SDK bundle), which pip's "
        "pyspark does not ship; the project's setup installs it into the Spark of its venv, and this Spark lacks it.",
        "Run `bash scripts/setup.sh` (it installs the jars into <venv>/…/pyspark/jars), and run the job with that "
        "venv's spark-submit; for another Spark installation copy hadoop-aws-<its Hadoop version>.jar and the "
        "matching AWS SDK bundle into $SPARK_HOME/jars (or pass both with --jars).",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sparkmlops.spark_install",
        description="Install the S3A connector jars and the project's spark-defaults.conf and log4j2.properties "
                    "into the Spark that pyspark uses (idempotent).",
    )
    parser.add_argument("--defaults", default="spark-defaults.conf", help="the project's spark-defaults.conf")
    parser.add_argument("--log4j", default="conf/log4j2.properties", help="the project's log4j2.properties")
    parser.add_argument("--jars-from", help="a folder that already holds the connector jars (default: download into the cache)")
    parser.add_argument("--cache", default=None, help="download cache (default: $SPARKMLOPS_JARS_DIR or .jars/)")
    parser.add_argument("--python", default=sys.executable, help="the Python for drivers and Python workers")
    parser.add_argument("--check", action="store_true", help="only say whether the connector is installed (exit 0/1)")
    args = parser.parse_args(argv)
    home = spark_home()
    if args.check:
        jars = connector_jars(home)
        print(f"S3A connector in {home / 'jars'}: {', '.join(jar.name for jar in jars) or 'missing'}")
        return 0 if jars else 1
    problem = ""
    try:
        if args.jars_from:
            jars = sorted(path for path in Path(args.jars_from).glob("*.jar")
                          if _CONNECTOR_JAR.match(path.name) or _SDK_JAR.match(path.name))
        else:
            jars = fetch_jars(Path(args.cache) if args.cache else default_cache_dir())
    except RuntimeError as error:
        jars, problem = [], str(error)  # still install the settings: local-folder lakes need no connector
    changed = install(home, jars, Path(args.defaults), Path(args.log4j), args.python)
    if changed:
        print(f"installed into {home}: {', '.join(changed)}", file=sys.stderr)
    if problem:
        print(f"error: the S3A connector is not installed, so s3a:// lakes will not work: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
