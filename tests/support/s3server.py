"""A real S3 server on 127.0.0.1 for tests: moto's standalone server, started and stopped by pid.

moto keeps data in memory, answers the S3 REST API (path-style) and, with
``INITIAL_NO_AUTH_ACTION_COUNT``, checks request signatures against IAM access keys it
issued itself — so wrong credentials really are rejected, as MinIO would.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_port_run(count: int) -> int:
    """The first of ``count`` consecutive free ports (a cluster's web UIs use webui, webui+1, …)."""
    from sparkmlops.cluster import port_free

    for _ in range(200):
        first = free_port()
        if first + count < 65536 and all(port_free(first + i) for i in range(count)):
            return first
    raise RuntimeError(f"no {count} consecutive free ports found on 127.0.0.1")


@dataclass
class S3Server:
    """One moto_server process. ``keys`` holds (access, secret) valid on this server."""

    port: int
    process: subprocess.Popen
    auth: bool
    keys: tuple[str, str] = ("test-access", "test-secret")
    log_path: Path | None = None
    buckets: list[str] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, keys: tuple[str, str] | None = None):
        import boto3

        access, secret = keys or self.keys
        return boto3.client(
            "s3", endpoint_url=self.endpoint, aws_access_key_id=access, aws_secret_access_key=secret,
            region_name="us-east-1",
        )

    def env(self, keys: tuple[str, str] | None = None) -> dict[str, str]:
        """The MINIO_* variables sparkmlops reads, pointing at this server."""
        access, secret = keys or self.keys
        return {"MINIO_ENDPOINT": self.endpoint, "MINIO_ACCESS_KEY": access, "MINIO_SECRET_KEY": secret}

    def create_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        self.buckets.append(name)
        return name

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def start_s3_server(log_dir: Path, auth: bool = False, port: int | None = None) -> S3Server:
    """Start moto_server on 127.0.0.1 and wait until it answers (< 3 s here).

    With ``auth=True`` the server checks signatures: the first three requests (IAM
    create_user, put_user_policy, create_access_key) run unauthenticated to issue the one
    valid key pair, which is stored in ``server.keys``.
    """
    port = port or free_port()
    env = {**os.environ, "MOTO_PORT": str(port)}
    if auth:
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = "3"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"moto-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                                   stdout=log, stderr=subprocess.STDOUT, env=env)
    server = S3Server(port, process, auth, log_path=log_path)
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{server.endpoint}/moto-api/", timeout=1)
            break
        except Exception:
            if process.poll() is not None or time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"moto_server did not start on port {port}; see {log_path}")
            time.sleep(0.2)
    if auth:
        import boto3

        iam = boto3.client("iam", endpoint_url=server.endpoint, region_name="us-east-1",
                           aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
        iam.create_user(UserName="sparkmlops")
        iam.put_user_policy(UserName="sparkmlops", PolicyName="all",
                            PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}')
        key = iam.create_access_key(UserName="sparkmlops")["AccessKey"]
        server.keys = (key["AccessKeyId"], key["SecretAccessKey"])
    return server


@contextlib.contextmanager
def exported(variables: dict[str, str]):
    """Set environment variables for the block, then restore what was there."""
    saved = {key: os.environ.get(key) for key in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
