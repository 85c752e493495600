"""The feature pipeline on Spark, on real data: the same store as the pandas engine, and a bad
batch anywhere in the range writes nothing.

Two weeks of January 2013 (a copy of the real source, with one impossible wind reading so
that a glitch note travels back from the executors too) through both engines. Spark runs as
local[2] in one session shared by the whole test session (see tests/conftest.py).
"""

from __future__ import annotations

import datetime as dt

import pytest

from fti import spark as engine
from fti.errors import ExpectationError, FTIError
from fti.features import run_feature_pipeline
from fti.source import Fault, FlightSource
from fti.store import FeatureStore

pytestmark = pytest.mark.slow

START, END = dt.date(2013, 1, 3), dt.date(2013, 1, 16)
MASTER = "local[2]"  # the tests' shared session (tests/conftest.py)


@pytest.fixture(scope="module")
def source_dir(make_source, january_tables):
    weather = january_tables["weather"].copy()
    glitch = (weather["origin"] == "EWR") & (weather["day"] == "10") & (weather["hour"] == "12")
    weather.loc[glitch, "wind_speed"] = "1048"
    return make_source(weather=weather)


@pytest.fixture(scope="module")
def both(tmp_path_factory, spark, source_dir):
    """The same two weeks into two stores: pandas engine, Spark engine."""
    root = tmp_path_factory.mktemp("engines")
    stores = {name: FeatureStore(root / name) for name in ("pandas", "spark")}
    batches = run_feature_pipeline(stores["pandas"], FlightSource(source_dir), START, END)
    summaries = engine.run_feature_pipeline(stores["spark"], FlightSource(source_dir), START,
                                            END, master=MASTER)
    return stores, batches, summaries


def test_both_engines_leave_byte_identical_stores(both, files):
    stores, _, _ = both
    pandas_files, spark_files = (
        {name: data for name, data in files(store.root).items() if name != ".lock"}
        for store in (stores["pandas"], stores["spark"]))  # the data root's lock file
    assert len(pandas_files) == 5 + 5 * 14  # a schema and 14 partitions per group
    assert spark_files.keys() == pandas_files.keys()
    assert [name for name in pandas_files if spark_files[name] != pandas_files[name]] == []


def test_the_driver_gets_the_same_rows_and_notes_as_the_pandas_engine(both):
    _, batches, summaries = both
    assert [(s.run_day, s.rows(), s.notes) for s in summaries] == [
        (b.run_day, b.rows(), b.notes) for b in batches]
    assert [n for s in summaries for n in s.notes] == [
        "2013-01-10: 1 implausible wind_speed reading(s) set to missing (1048)"]


def test_a_bad_batch_in_the_range_writes_nothing_and_names_the_day(both, spark, files,
                                                                   source_dir):
    stores, _, _ = both
    before = files(stores["spark"].root)
    kelvin = FlightSource(source_dir, fault=Fault("temp_kelvin", dt.date(2013, 1, 12)))
    with pytest.raises(ExpectationError, match=r"(?s)2 of 4 day\(s\) refused \(2013-01-12, "
                       r"2013-01-13\); no day of the range was written.*2013-01-12.*'temp'"):
        engine.run_feature_pipeline(stores["spark"], kelvin, dt.date(2013, 1, 10),
                                    dt.date(2013, 1, 13), master=MASTER)
    assert files(stores["spark"].root) == before


def test_a_backfill_asking_for_another_master_than_the_running_one_is_refused(spark, tmp_path):
    with pytest.raises(FTIError, match=r"session on local\[2\] is already running .* asks for "
                       r"spark://cluster:7077"):
        engine.run_feature_pipeline(FeatureStore(tmp_path), FlightSource(), START, START,
                                    master="spark://cluster:7077")
    assert spark.range(3).count() == 3  # and the running one goes on
