"""An s3:// data root that cannot be used says why, naming the URI and what to check.

Against real servers on localhost: moto without authentication (the session's), moto with
authentication switched on (a user and key of its own), and a port where nothing listens.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from fti import objectstore
from fti.errors import BucketNotFoundError, StorageAccessError, StorageUnreachableError
from fti.registry import ModelRegistry
from fti.run.report import build_index
from fti.store import FeatureStore
from tests.s3 import MotoServer, free_port
from tests.unit.test_store import GROUP, batch

DAY = dt.date(2013, 6, 1)


def test_a_missing_bucket_is_named_with_the_endpoint(s3_server):
    with pytest.raises(BucketNotFoundError) as error:
        FeatureStore("s3://no-such-bucket/data").days(GROUP)
    message = str(error.value)
    assert "s3://no-such-bucket" in message and "does not exist" in message
    assert s3_server.url in message and "AWS_ENDPOINT_URL" in message
    with pytest.raises(BucketNotFoundError):  # the registry says the same
        ModelRegistry("s3://no-such-bucket/data").versions("m")


def test_an_endpoint_where_nothing_listens_names_the_variable(s3_server, monkeypatch):
    down = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", down)
    with pytest.raises(StorageUnreachableError) as error:
        FeatureStore("s3://fti-tests/data").write(GROUP, DAY, batch())
    message = str(error.value)
    assert "s3://fti-tests" in message and down in message
    assert "is AWS_ENDPOINT_URL right?" in message
    monkeypatch.setenv("AWS_ENDPOINT_URL", down.removeprefix("http://"))  # no scheme
    with pytest.raises(StorageUnreachableError, match="write it with its scheme"):
        FeatureStore("s3://fti-tests/data").days(GROUP)


def test_the_report_page_builds_and_says_why_the_data_root_cannot_be_read(s3_server, tmp_path):
    page = build_index(tmp_path / "reports", "s3://no-such-bucket/data").read_text()
    assert "Could not read the monitoring history" in page
    assert "s3://no-such-bucket" in page and "does not exist" in page


def test_the_region_may_be_given_as_aws_region_for_the_lock_too(s3_server, monkeypatch):
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-central-1")  # botocore alone would ignore it
    assert objectstore.client("s3://fti-tests").meta.region_name == "eu-central-1"


@pytest.fixture(scope="module")
def auth_server() -> Iterator[tuple[MotoServer, dict[str, str]]]:
    """A second moto server that checks credentials (after the four unauthenticated
    requests that make the bucket and a user with a key)."""
    with MotoServer.start(auth_actions=4) as server:
        server.create_bucket("locked")
        yield server, server.make_user()


def test_wrong_credentials_name_the_variable_to_check(auth_server, monkeypatch):
    server, keys = auth_server
    for name, value in server.variables(**keys).items():
        monkeypatch.setenv(name, value)
    store = FeatureStore("s3://locked/data")
    store.write(store.register(GROUP), DAY, batch())  # the right key may write
    assert store.days(GROUP) == [DAY]

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAWRONGWRONGWRONG1")
    with pytest.raises(StorageAccessError) as error:
        FeatureStore("s3://locked/data").days(GROUP)
    assert "s3://locked" in str(error.value) and "check AWS_ACCESS_KEY_ID" in str(error.value)

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", keys["AWS_ACCESS_KEY_ID"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    with pytest.raises(StorageAccessError, match="check AWS_SECRET_ACCESS_KEY"):
        FeatureStore("s3://locked/data").read(GROUP, DAY, DAY)
