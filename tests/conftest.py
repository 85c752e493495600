"""Shared fixtures: tmp_path feature stores, copies of the real source to corrupt, and one
Spark session for every Spark test.

(The session's temporary data and reports folders come from the plugin tests/isolation.py.)
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest

from fti.source import default_source_dir
from fti.store import FeatureStore

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


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture
def files() -> Callable[[Path], dict[str, bytes]]:
    """Every file under a folder (relative path -> bytes), to compare stores byte for byte."""
    return _files
