"""pyarrow filesystems for the URIs Spark uses: local paths, ``file://`` and ``s3a://``.

Ingest reads Parquet footers and, when Spark cannot read a file, streams a converted copy
with pyarrow; both must reach the same places Spark's S3A connector does. S3 settings
come from the environment (MINIO_ENDPOINT, MINIO_ACCESS_KEY, MINIO_SECRET_KEY), as for
Spark, and never from files.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import pyarrow.fs as pafs

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")
_S3_SCHEMES = ("s3a", "s3", "s3n")


def scheme(uri: str) -> str:
    """The URI scheme in lower case ('' for a bare path)."""
    found = _SCHEME.match(uri)
    return found.group(1).lower() if found else ""


def supported(uri: str) -> bool:
    """Whether :func:`filesystem` can open ``uri`` (local paths, file://, s3a:// / s3://)."""
    return scheme(uri) in ("", "file", *_S3_SCHEMES)


def s3_filesystem() -> pafs.S3FileSystem:
    """An S3 filesystem for MINIO_ENDPOINT with the MINIO_* keys (path-style, like S3A here).

    Without MINIO_ENDPOINT, pyarrow's defaults apply (AWS, credentials from the usual
    AWS environment variables or profile).
    """
    endpoint = os.environ.get("MINIO_ENDPOINT", "")
    options: dict = {}
    if endpoint:
        parsed = urlparse(endpoint if "://" in endpoint else f"http://{endpoint}")
        options.update(endpoint_override=parsed.netloc, scheme=parsed.scheme or "http",
                       force_virtual_addressing=False, region=os.environ.get("AWS_REGION", "us-east-1"))
    if os.environ.get("MINIO_ACCESS_KEY"):
        options["access_key"] = os.environ["MINIO_ACCESS_KEY"]
    if os.environ.get("MINIO_SECRET_KEY"):
        options["secret_key"] = os.environ["MINIO_SECRET_KEY"]
    # Bounded waits: an unreachable endpoint must fail in seconds (as S3A is configured to).
    return pafs.S3FileSystem(connect_timeout=5, request_timeout=30,
                             retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=2), **options)


def filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """The pyarrow filesystem and the path on it for a local path or a file:// / s3a:// URI.

    Args:
        uri: ``/data/x.parquet``, ``file:///data/x.parquet`` or ``s3a://bucket/key``.

    Returns:
        ``(filesystem, path)``: for S3 the path is ``bucket/key`` (what pyarrow expects).

    Raises:
        ValueError: another scheme (check :func:`supported` first).
    """
    kind = scheme(uri)
    if kind in _S3_SCHEMES:
        return s3_filesystem(), uri.split("://", 1)[1].strip("/")
    if kind == "file":
        return pafs.LocalFileSystem(), unquote(urlparse(uri).path)
    if kind == "":
        return pafs.LocalFileSystem(), str(Path(uri).expanduser().resolve())
    raise ValueError(f"no pyarrow filesystem for scheme '{kind}' in {uri}")


def join(uri: str, *parts: str) -> str:
    """``uri`` with ``parts`` appended by '/' (works for URIs and paths alike)."""
    return "/".join([uri.rstrip("/"), *(part.strip("/") for part in parts)])
