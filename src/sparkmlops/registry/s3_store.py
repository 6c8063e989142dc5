"""The registry's store on an S3-compatible server (MinIO in production): ``s3a://bucket/prefix``.

Same layout and guarantees as the local folder, built from what S3 offers:

* the registry JSON is one object replaced by a single PUT — readers see the old or the
  new document, never half of one (the commit point, as ``os.replace`` is locally);
* the lock is created with a conditional PUT (``If-None-Match: *``), and a stale lock is
  taken over with ``If-Match`` on its ETag, so two runs can never both hold it;
* "folders" are key prefixes; a rename is copy + delete, which is not atomic — the
  registry never relies on it being atomic: archive copies are committed by the JSON,
  slot copies are served only when their VERSION marker (written last) matches.

Endpoint and keys come from ``MINIO_ENDPOINT`` / ``MINIO_ACCESS_KEY`` / ``MINIO_SECRET_KEY``
(the same variables Spark's S3A client uses); they never appear in errors or logs.
"""

from __future__ import annotations

import contextlib
import os
from datetime import datetime, timezone
from typing import Iterator

from sparkmlops.errors import DataError, UsageError
from sparkmlops.registry.store import VERSION_MARKER, json_document

LOCK_TTL_SECONDS = 6 * 3600  # a lock older than this is stale even if its host is unknown


class S3Store:
    """Keys under ``s3a://bucket/prefix`` through boto3 (path-style, bounded retries)."""

    def __init__(self, root_uri: str, lock_ttl_seconds: float = LOCK_TTL_SECONDS) -> None:
        without_scheme = root_uri.split("://", 1)[1]
        self.bucket, _, prefix = without_scheme.partition("/")
        self.prefix = prefix.strip("/")
        self.endpoint = os.environ.get("MINIO_ENDPOINT") or "the default AWS endpoint"
        self.lock_ttl_seconds = lock_ttl_seconds
        self._client = _client()

    # ---- naming --------------------------------------------------------------------
    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}".strip("/") if key else self.prefix

    def uri(self, key: str) -> str:
        return f"s3a://{self.bucket}/{self._key(key)}".rstrip("/")

    # ---- errors --------------------------------------------------------------------
    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

        where = f"bucket '{self.bucket}' at endpoint {self.endpoint}"
        try:
            yield
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code == "NoSuchBucket" or (what == "reach" and status == 404):  # HeadBucket has no error body
                raise DataError(f"Cannot {what} the registry at {self.uri('')}: the bucket does not exist ({where}).",
                                "The registry root's bucket must exist before the first run.",
                                "Create the bucket (docker compose's minio-init does), or fix --model-registry-path.") from None
            if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403") or status == 403:
                raise DataError(f"Cannot {what} the registry at {self.uri('')}: the server rejected the credentials "
                                f"(access denied; {where}).", "",
                                "Check MINIO_ACCESS_KEY and MINIO_SECRET_KEY (and the user's policy on that bucket).") from None
            raise
        except (EndpointConnectionError, BotoCoreError) as error:
            if isinstance(error, EndpointConnectionError) or "connect" in type(error).__name__.lower():
                raise DataError(f"Cannot {what} the registry at {self.uri('')}: the S3 endpoint did not answer "
                                f"after bounded retries ({where}).", "",
                                "Check that the S3/MinIO server is running and that MINIO_ENDPOINT points at it.") from None
            raise

    # ---- reading -------------------------------------------------------------------
    def make_root(self) -> None:
        """No folders on S3; check the bucket is reachable so the first error is a clear one."""
        with self._errors("reach"):
            self._client.head_bucket(Bucket=self.bucket)

    def make_folder(self, key: str) -> None:
        return None

    def read_text(self, key: str) -> str | None:
        from botocore.exceptions import ClientError

        with self._errors("read"):
            try:
                body = self._client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                    return None
                raise
        return body.decode("utf-8")

    def _keys_under(self, key: str) -> list[str]:
        """Every object key equal to ``key`` or under ``key/``."""
        full = self._key(key)
        found = []
        with self._errors("list"):
            pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full)
            for page in pages:
                found += [item["Key"] for item in page.get("Contents", [])
                          if item["Key"] == full or item["Key"].startswith(full + "/")]
        return found

    def exists(self, key: str) -> bool:
        return bool(self._keys_under(key))

    def list(self, key: str) -> list[str]:
        """Names directly under ``key`` (objects and sub-prefixes), sorted."""
        base = self._key(key)
        base = f"{base}/" if base else ""
        names = set()
        with self._errors("list"):
            pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base, Delimiter="/")
            for page in pages:
                names |= {entry["Prefix"][len(base):].rstrip("/") for entry in page.get("CommonPrefixes", [])}
                names |= {item["Key"][len(base):] for item in page.get("Contents", [])}
        return sorted(name for name in names if name)

    # ---- writing -------------------------------------------------------------------
    def _put(self, key: str, body: str, **conditions) -> None:
        with self._errors("write"):
            self._client.put_object(Bucket=self.bucket, Key=self._key(key), Body=body.encode("utf-8"), **conditions)

    def write_json_atomic(self, key: str, document: dict) -> None:
        """One PUT replaces the whole object: readers see the old or the new document."""
        self._put(key, json_document(document))

    def write_marker(self, folder: str, version: str) -> None:
        self._put(f"{folder}/{VERSION_MARKER}", version + "\n")

    def create_exclusive(self, key: str, content: str) -> bool:
        """Conditional create (``If-None-Match: *``): True if this call created the object."""
        return self._conditional_put(key, content, IfNoneMatch="*")

    def _conditional_put(self, key: str, content: str, **condition) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._put(key, content, **condition)
        except ClientError as error:
            if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") in (409, 412):
                return False  # someone else created or changed it first
            raise
        return True

    def lock_is_expired(self, holder: dict) -> bool:
        try:
            since = datetime.fromisoformat(str(holder.get("since")))
        except ValueError:
            return True  # unreadable lock content: nobody can prove they hold it
        if since.tzinfo is None:
            since = since.replace(tzinfo=timezone.utc)
        return (datetime.now(timezone.utc) - since).total_seconds() > self.lock_ttl_seconds

    def replace_stale_lock(self, key: str, expected: str, content: str) -> bool:
        """Overwrite the stale lock only if it is still the one we read (``If-Match`` its ETag)."""
        from botocore.exceptions import ClientError

        with self._errors("read"):
            try:
                current = self._client.get_object(Bucket=self.bucket, Key=self._key(key))
            except ClientError:
                return False  # released meanwhile: the caller retries the plain create
        if current["Body"].read().decode("utf-8") != expected:
            return False
        return self._conditional_put(key, content, IfMatch=current["ETag"])

    def copy_tree(self, source: str, target: str) -> None:
        source_key, target_key = self._key(source), self._key(target)
        with self._errors("copy"):
            for key in self._keys_under(source):
                self._client.copy_object(Bucket=self.bucket, Key=target_key + key[len(source_key):],
                                         CopySource={"Bucket": self.bucket, "Key": key})

    def rename(self, source: str, target: str) -> None:
        """Copy, then delete the source (not atomic on S3; the registry does not need it to be)."""
        self.copy_tree(source, target)
        self.remove(source)

    def remove(self, key: str) -> None:
        keys = self._keys_under(key)
        with self._errors("delete"):
            for start in range(0, len(keys), 1000):
                batch = [{"Key": name} for name in keys[start:start + 1000]]
                self._client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})


def _client():
    """A boto3 S3 client for MINIO_ENDPOINT with path-style addressing and bounded retries."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise UsageError("A registry on s3a:// needs boto3, which is not installed.",
                         "boto3 is in the optional 's3' extra.", 'Run `pip install -e ".[s3]"` (scripts/setup.sh does).') from None
    config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30,
                    s3={"addressing_style": "path"})
    return boto3.client(
        "s3", endpoint_url=os.environ.get("MINIO_ENDPOINT") or None,
        aws_access_key_id=os.environ.get("MINIO_ACCESS_KEY") or None,
        aws_secret_access_key=os.environ.get("MINIO_SECRET_KEY") or None,
        region_name=os.environ.get("AWS_REGION", "us-east-1"), config=config,
    )
