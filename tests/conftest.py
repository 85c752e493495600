"""Shared fixtures: tmp_path feature stores, copies of the real source to corrupt, one
Spark session for every Spark test, and one S3 server on localhost (moto) with a bucket.

(The session's temporary data and reports folders come from the plugin tests/isolation.py.)
"""

from __future__ import annotations

import io
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest

from fti.files import Location, location
from fti.source import default_source_dir
from fti.store import FeatureStore
from tests.s3 import MotoServer

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

SOURCE_TABLES = ("flights", "weather", "planes", "airlines")


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """One local Spark session (two cores) for the whole test session, stopped at the end;
    a backfill asking for local[2] runs on it."""
    from fti import spark as engine

    session = engine.start_session("local[2]", app_name="fti-tests")
    yield session
    engine.stop_session(session)


#: The bucket every S3 test writes to (each test under a prefix of its own).
BUCKET = "fti-tests"


@pytest.fixture(scope="session")
def s3_server() -> Iterator[MotoServer]:
    """An S3 API server on a free localhost port, started once per test session (per
    pytest-xdist worker) and stopped at its end, with the bucket made. The session's AWS
    variables point at it, so notebook kernels and child processes find it too."""
    with MotoServer.start() as server, server.environment():
        server.create_bucket(BUCKET)
        yield server


@pytest.fixture
def s3_root(s3_server: MotoServer) -> Location:
    """An empty data root in the test bucket: s3://fti-tests/<a new prefix>."""
    return location(f"s3://{BUCKET}/{uuid.uuid4().hex[:12]}")


@pytest.fixture(params=["local", "s3"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> Location:
    """An empty data root: a local folder, then an s3:// prefix (the same test on each)."""
    if request.param == "local":
        return location(tmp_path / "root")
    return request.getfixturevalue("s3_root")


@pytest.fixture
def store(tmp_path: Path) -> FeatureStore:
    """An empty feature store in a temporary folder."""
    return FeatureStore(tmp_path / "store")


@pytest.fixture(scope="session")
def january_tables() -> dict[str, pd.DataFrame]:
    """The real source's tables as text (so they write back unchanged), cut to January 2013.

    Copy a table before changing it: the frames are shared by every test of the session.
    """
    folder = default_source_dir()
    with zipfile.ZipFile(folder / "flights.csv.zip") as archive:
        text = archive.read("flights.csv").decode()
    header, *rows = text.splitlines(keepends=True)
    january = header + "".join(r for r in rows if r.startswith("2013,1,"))

    def read(handle: object) -> pd.DataFrame:
        return pd.read_csv(handle, dtype="str", keep_default_na=False)

    weather = read(folder / "weather.csv")
    return {
        "flights": read(io.StringIO(january)),
        "weather": weather[weather["month"] == "1"].reset_index(drop=True),
        "planes": read(folder / "planes.csv"),
        "airlines": read(folder / "airlines.csv"),
    }


@pytest.fixture(scope="session")
def make_source(
    tmp_path_factory: pytest.TempPathFactory, january_tables: dict[str, pd.DataFrame]
) -> Callable[..., Path]:
    """Write a source folder (January 2013) with some tables replaced; returns the folder.

    Each call makes a new folder, so FlightSource's per-folder cache never mixes copies.
    """

    def make(**replaced: pd.DataFrame) -> Path:
        unknown = set(replaced) - set(SOURCE_TABLES)
        assert not unknown, f"unknown source tables {unknown}"
        folder = tmp_path_factory.mktemp("source")
        for name in SOURCE_TABLES:
            frame = replaced.get(name, january_tables[name])
            frame.to_csv(folder / f"{name}.csv", index=False)
        return folder

    return make


def _files(root: Path | Location) -> dict[str, bytes]:
    root = location(root)
    return {p.relative_to(root): p.read_bytes() for p in root.walk()}


@pytest.fixture
def files() -> Callable[[Path | Location], dict[str, bytes]]:
    """Every file under a folder or s3:// prefix (relative path -> bytes), to compare
    stores byte for byte."""
    return _files
