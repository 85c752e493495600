"""An S3 API server on localhost for the tests: moto's server mode, as a real subprocess.

``python -m moto.server`` listens on a free port of 127.0.0.1 and logs every request (one
line each) to a file, never to a pipe (a pipe nobody reads fills up and stalls the
server). The tests talk to it over HTTP exactly as they would to MinIO or AWS, through the
standard AWS variables (:meth:`MotoServer.environment`), and read its log to count the
requests a write made.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

#: Credentials for a server without authentication (moto accepts any by default).
TEST_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MotoServer:
    """A running ``python -m moto.server``; :meth:`start` it, :meth:`stop` it."""

    def __init__(self, process: subprocess.Popen, url: str, log: Path) -> None:
        self.process, self.url, self.log = process, url, log

    @classmethod
    @contextlib.contextmanager
    def start(cls, auth_actions: int | None = None, timeout_s: float = 60.0
              ) -> Iterator[MotoServer]:
        """Start a server (with ``auth_actions``: moto checks credentials after that many
        unauthenticated requests) and stop it when the block ends."""
        port = free_port()
        log = Path(tempfile.mkstemp(prefix="moto-", suffix=".log")[1])
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        if auth_actions is not None:
            env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(auth_actions)
        with open(log, "w") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                stdout=out, stderr=subprocess.STDOUT, env=env)
        server = cls(process, f"http://127.0.0.1:{port}", log)
        try:
            server._wait_ready(timeout_s)
            yield server
        finally:
            server.stop()
            log.unlink(missing_ok=True)

    def _wait_ready(self, timeout_s: float) -> None:
        start = time.monotonic()
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto server exited ({self.process.returncode}):\n"
                                   f"{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=2):
                    return
            except (urllib.error.URLError, OSError):
                if time.monotonic() - start > timeout_s:
                    raise TimeoutError(f"moto server not ready after {timeout_s} s") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def variables(self, **keys: str) -> dict[str, str]:
        """The AWS variables that point a process at this server (no other AWS config)."""
        return {"AWS_ENDPOINT_URL": self.url, "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull, **(keys or TEST_KEYS)}

    @contextlib.contextmanager
    def environment(self, **keys: str) -> Iterator[None]:
        """Set the AWS variables in this process (and so in the processes and notebook
        kernels it starts) for the length of the block."""
        before = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
        for name in before:
            del os.environ[name]
        os.environ.update(self.variables(**keys))
        try:
            yield
        finally:
            for name in [k for k in os.environ if k.startswith("AWS_")]:
                del os.environ[name]
            os.environ.update(before)

    def create_bucket(self, bucket: str) -> None:
        """Create a bucket with a plain HTTP PUT (works before any credentials exist)."""
        request = urllib.request.Request(f"{self.url}/{bucket}", method="PUT")
        urllib.request.urlopen(request, timeout=10).close()

    def requests(self) -> list[str]:
        """The requests the server has logged so far ("PUT /bucket/key ...")."""
        lines = self.log.read_text(errors="replace").splitlines()
        return [line.split('"')[1] for line in lines if line.count('"') >= 2]

    def make_user(self) -> dict[str, str]:
        """With authentication on: a user allowed everything; its key as AWS variables.

        Spends three unauthenticated actions (create the user, its key, its policy).
        """
        import boto3

        iam = boto3.client("iam", endpoint_url=self.url, region_name="us-east-1",
                           aws_access_key_id="admin", aws_secret_access_key="admin")
        iam.create_user(UserName="fti")
        key = iam.create_access_key(UserName="fti")["AccessKey"]
        iam.put_user_policy(UserName="fti", PolicyName="everything", PolicyDocument=json.dumps(
            {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"],
                "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
