"""Object storage: opening an ``s3://`` bucket from the AWS variables, and naming what is wrong.

Only ``s3://`` data roots come here (:class:`fti.files.Location` asks). Where the bucket is
and who we are come from the standard AWS environment variables alone, never from the
project's files: ``AWS_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_S3``) for a server that is not
AWS (MinIO, Ceph, moto), ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
``AWS_REGION`` or ``AWS_DEFAULT_REGION``, or a profile.

- :func:`filesystem` opens a bucket with ``pyarrow.fs.FileSystem.from_uri`` (the one
  constructor that reads ``AWS_ENDPOINT_URL``; ``S3FileSystem()`` ignores it,
  apache/arrow#49643) and ``allow_delayed_open=true``, so an object under 10 MiB goes up
  in one PUT when its stream closes. The first use checks the bucket once per process.
- :func:`explain` turns the SDK's words (``NO_SUCH_BUCKET``, ``curlCode: 7``, ...) into an
  :class:`~fti.errors.StorageError` that names the URI and the variable to check.
- :func:`client` is boto3's S3 client, for the two things pyarrow cannot do: conditional
  PUTs (``If-None-Match``/``If-Match``, the data root's lease, :mod:`fti.lease`) and one
  PUT for an object of 10 MiB or more. boto3 is imported only here, only for ``s3://``.
"""

from __future__ import annotations

import os
import socket
import threading
from typing import Any
from urllib.parse import urlsplit

from fti.errors import (
    BucketNotFoundError,
    FTIError,
    StorageAccessError,
    StorageError,
    StorageUnreachableError,
)

#: The variables that decide where a bucket is and who we are there.
ENVIRONMENT = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID",
               "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION",
               "AWS_REGION", "AWS_PROFILE")
#: pyarrow sends an object this large or larger as a multipart upload, which it would
#: complete (publish) even when the writer fails half-way; boto3 sends it in one PUT.
ONE_PUT_LIMIT = 10 * 1024 * 1024
_CONNECT_TIMEOUT_S = 3.0
_opened: dict[tuple[str, ...], Any] = {}
_clients: dict[tuple[str, ...], Any] = {}
_guard = threading.Lock()


def _settings() -> tuple[str, ...]:
    return tuple(os.environ.get(name, "") for name in ENVIRONMENT)


def endpoint() -> str:
    """The S3 endpoint from the environment; empty for AWS itself."""
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL", "")


def _endpoint_variable() -> str:
    return "AWS_ENDPOINT_URL_S3" if os.environ.get("AWS_ENDPOINT_URL_S3") else "AWS_ENDPOINT_URL"


def _where() -> str:
    url = endpoint()
    return f"{url} ({_endpoint_variable()})" if url else "AWS S3 (AWS_ENDPOINT_URL is not set)"


def _unreachable() -> str:
    url = endpoint()
    if not url:
        return "AWS S3 cannot be reached (AWS_ENDPOINT_URL is not set): check the network"
    return (f"nothing answers at {url}: is the server running, and is {_endpoint_variable()} "
            f"right?")


#: What the AWS SDK (pyarrow) or botocore says -> the error and the sentence for the user.
_HINTS: tuple[tuple[tuple[str, ...], type[StorageError], str], ...] = (
    (("NO_SUCH_BUCKET", "NoSuchBucket"), BucketNotFoundError,
     "the bucket does not exist at {where}: create it, or correct the bucket in the URI"),
    (("INVALID_ACCESS_KEY_ID", "InvalidAccessKeyId"), StorageAccessError,
     "the access key is unknown at {where}: check AWS_ACCESS_KEY_ID"),
    (("SIGNATURE_DOES_NOT_MATCH", "SignatureDoesNotMatch"), StorageAccessError,
     "the secret key does not match the access key: check AWS_SECRET_ACCESS_KEY"),
    (("ACCESS_DENIED", "AccessDenied", "Forbidden"), StorageAccessError,
     "access denied: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and that this key "
     "may read and write the bucket"),
    (("curlCode: 35", "SSL"), StorageUnreachableError,
     "the TLS handshake with {where} failed: a plain-http server needs http:// in the URL"),
    (("curlCode: 6", "resolve host", "Name or service not known"), StorageUnreachableError,
     "the host of {where} is unknown: check the address"),
    (("curlCode: 7", "Could not connect", "NETWORK_CONNECTION", "EndpointConnectionError",
      "Connection refused"), StorageUnreachableError, "{unreachable}"),
    (("NoCredentialsError", "Unable to locate credentials", "INTERNAL_FAILURE",
      "HTTP status 500"), StorageAccessError,
     "no usable credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or a profile)"),
)


def explain(uri: str, exc: BaseException) -> BaseException:
    """The :class:`StorageError` for an object-store failure at ``uri``, or ``exc`` itself
    when it is not about reaching the store (a missing object, a damaged file)."""
    if isinstance(exc, FTIError | FileNotFoundError):
        return exc
    text = f"{type(exc).__name__}: {exc}"
    for needles, kind, hint in _HINTS:
        if any(needle in text for needle in needles):
            first = str(exc).strip().splitlines()[0][:240] if str(exc).strip() else ""
            sentence = hint.format(where=_where(), unreachable=_unreachable())
            stop = "" if sentence.endswith("?") else "."
            return kind(f"Cannot use {uri}: {sentence}{stop} ({first})")
    return exc


def _check_endpoint(uri: str) -> None:
    """Fail at once, naming the variable, when nothing listens at the endpoint (the SDK
    would retry for about six seconds and then report a curl code)."""
    url = endpoint()
    if not url:
        return
    parts = urlsplit(url)
    variable = _endpoint_variable()
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise StorageUnreachableError(
            f"Cannot use {uri}: {variable}={url!r} is not a URL; write it with its scheme, "
            f"e.g. http://127.0.0.1:9000 for a local server or https://s3.example.org.")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=_CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise StorageUnreachableError(
            f"Cannot use {uri}: {_unreachable()} ({exc.strerror or exc})") from None


def filesystem(bucket: str) -> Any:
    """pyarrow's filesystem for ``bucket``, opened and checked once per process (and again
    when the AWS variables change)."""
    key = (bucket, *_settings())
    with _guard:
        opened = _opened.get(key)
    if opened is None:
        opened = _open(bucket)
        with _guard:
            _opened[key] = opened
    return opened


def _open(bucket: str) -> Any:
    import pyarrow.fs as pafs

    uri = f"s3://{bucket}"
    _check_endpoint(uri)
    try:
        fs, _ = pafs.FileSystem.from_uri(f"s3://{bucket}/?allow_delayed_open=true")
        # a listing carries the precise reason of a refusal (a HEAD has no body); a missing
        # bucket lists as empty, so ask for the bucket itself after
        fs.get_file_info(pafs.FileSelector(bucket, recursive=False, allow_not_found=True))
        missing = fs.get_file_info(bucket).type == pafs.FileType.NotFound
    except (OSError, ValueError) as exc:
        raise explain(uri, exc) from None
    if missing:
        raise BucketNotFoundError(
            f"Cannot use {uri}: the bucket does not exist at {_where()}: create it, or "
            f"correct the bucket in the URI.")
    return fs


def client(uri: str) -> Any:
    """boto3's S3 client (endpoint and credentials from the same variables), made once per
    process and settings, after the same check of the endpoint."""
    key = _settings()
    with _guard:
        found = _clients.get(key)
    if found is not None:
        return found
    try:
        import boto3.session
    except ImportError:
        raise FTIError(
            "An s3:// data root needs boto3 for its lock (a lease object written with "
            "conditional PUTs, which pyarrow cannot send): install the project with its s3 "
            "extra, pip install -e '.[s3]' (make install does)."
        ) from None
    _check_endpoint(uri)
    # a new session (boto3's default one keeps the credentials it found first); botocore
    # reads only AWS_DEFAULT_REGION, the SDK under pyarrow AWS_REGION too: take either
    region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or None
    made = boto3.session.Session(region_name=region).client("s3")
    with _guard:
        _clients[key] = made
    return made


def error_code(exc: BaseException) -> str:
    """The S3 error code of a botocore ClientError ('' for other errors)."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def put_large(bucket: str, key: str, data: bytes, uri: str) -> None:
    """One PUT of an object too large for pyarrow's single request (boto3: up to 5 GiB)."""
    try:
        client(uri).put_object(Bucket=bucket, Key=key, Body=data)
    except Exception as exc:
        raise explain(uri, exc) from exc
