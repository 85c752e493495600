"""Data expectations: a bad raw batch is refused by name and the store is left as it was;
a lone implausible sensor reading is a glitch, nulled and reported."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fti.config import TIME_DTYPE
from fti.errors import ExpectationError, SourceError
from fti.expectations import (
    FLIGHT_KEY,
    check_outcomes,
    check_schedule,
    check_weather,
)
from fti.features import WEATHER, build_day, run_feature_pipeline
from fti.source import FlightSource
from fti.store import FeatureStore

JAN = dt.date(2013, 1, 1)
WRITTEN = (dt.date(2013, 1, 2), dt.date(2013, 1, 3))
#: The day every corruption below touches.
BAD_DAY = "3"


def _rows_of_bad_day(frame: pd.DataFrame, n: int | None = None) -> pd.Index:
    rows = frame.index[frame["day"] == BAD_DAY]
    return rows if n is None else rows[:n]


def _set(frame: pd.DataFrame, rows: pd.Index, column: str, values) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[rows, column] = values
    return frame


def _duplicate(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([frame, frame.loc[_rows_of_bad_day(frame, 5)]], ignore_index=True)


def _next_year(frame: pd.DataFrame) -> pd.DataFrame:
    rows = _rows_of_bad_day(frame, 5)
    return _set(frame, rows, "time_hour", frame.loc[rows, "time_hour"].str.replace("2013", "2014"))


def _kelvin(frame: pd.DataFrame) -> pd.DataFrame:
    kelvin = ((pd.to_numeric(frame["temp"]) - 32) * 5 / 9 + 273.15).round(2).astype("str")
    return frame.assign(temp=kelvin.where(frame["temp"] != "NA", "NA"))


def _quote(text: str) -> str:
    return re.escape(text)


#: name -> (table, corruption, error type, what the message must say)
CORRUPTIONS: dict[str, tuple[str, Callable[[pd.DataFrame], pd.DataFrame], type, str]] = {
    "flights without a column": (
        "flights", lambda f: f.drop(columns=["distance"]), SourceError,
        _quote("flights.csv has no column 'distance'"),
    ),
    "weather without a column": (
        "weather", lambda f: f.drop(columns=["temp"]), SourceError,
        _quote("weather.csv has no column 'temp'"),
    ),
    "duplicated flights": (
        "flights", _duplicate, ExpectationError,
        _quote(f"expectation 'rows are unique by {FLIGHT_KEY}' failed on column "
               f"'{'+'.join(FLIGHT_KEY)}' for 10 row(s)"),
    ),
    "duplicated weather": (
        "weather", _duplicate, ExpectationError,
        _quote("expectation 'rows are unique by ['origin', 'time_hour']' failed on column "
               "'origin+time_hour' for 10 row(s)"),
    ),
    "text in distance": (
        "flights", lambda f: _set(f, _rows_of_bad_day(f, 3), "distance", "far"),
        ExpectationError, _quote("expectation 'values are numbers' failed on column 'distance'"),
    ),
    "text in temp": (
        "weather", lambda f: _set(f, _rows_of_bad_day(f, 3), "temp", "mild"), ExpectationError,
        _quote("expectation 'values are numbers' failed on column 'temp'"),
    ),
    "flights from another year": (
        "flights", _next_year, ExpectationError,
        _quote("expectation 'times fall inside the batch's day' failed on column 'time_hour' "
               "for 5 row(s)"),
    ),
    "weather from another year": (
        "weather", _next_year, ExpectationError,
        _quote("expectation 'times fall inside the batch's day' failed on column 'time_hour' "
               "for 5 row(s)"),
    ),
    "weather in Kelvin": (
        "weather", _kelvin, ExpectationError,
        _quote("expectation 'at most 2% of readings outside -40..125' failed on column 'temp'"),
    ),
}  # fmt: skip


@pytest.fixture(scope="module")
def written_store(make_source, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding the good data of 2 and 3 January (copy it before writing to it)."""
    root = tmp_path_factory.mktemp("written") / "store"
    run_feature_pipeline(FeatureStore(root), FlightSource(make_source()), *WRITTEN)
    return root


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_a_corrupted_source_is_refused_and_the_store_is_unchanged(
    case: str, make_source, january_tables, written_store: Path, tmp_path: Path, files
) -> None:
    table, corrupt, error, message = CORRUPTIONS[case]
    root = tmp_path / "store"
    shutil.copytree(written_store, root)
    before = files(root)
    assert any(name.endswith("part.parquet") for name in before)
    source = FlightSource(make_source(**{table: corrupt(january_tables[table])}))
    # rewrites the written days and adds a new one: none of it may happen
    with pytest.raises(error, match=message) as refused:
        run_feature_pipeline(FeatureStore(root), source, WRITTEN[0], dt.date(2013, 1, 4))
    if error is ExpectationError:
        assert "nothing was written" in str(refused.value)
    assert files(root) == before


@pytest.mark.slow
def test_text_on_one_day_does_not_refuse_a_clean_day(make_source, january_tables) -> None:
    flights = january_tables["flights"]
    source = FlightSource(
        make_source(flights=_set(flights, _rows_of_bad_day(flights, 3), "distance", "far"))
    )
    carriers = set(source.airlines()["carrier"])
    with pytest.raises(ExpectationError, match="for 3 row"):
        build_day(source.published_at(dt.date(2013, 1, 3)), source.planes(), carriers)
    batch = build_day(source.published_at(dt.date(2013, 1, 2)), source.planes(), carriers)
    assert batch.rows()["flight_schedule"] > 600


@pytest.mark.slow
def test_the_real_1048_mph_wind_at_newark_is_nulled_and_reported() -> None:
    source = FlightSource()
    day = dt.date(2013, 2, 12)
    raw = source.published_at(day).weather()
    glitch = raw["wind_speed"] > 1000
    assert glitch.sum() == 1 and raw.loc[glitch, "origin"].item() == "EWR"

    batch = build_day(source.published_at(day), source.planes(), set(source.airlines()["carrier"]))
    assert batch.notes == [
        "2013-02-12: 1 implausible wind_speed reading(s) set to missing (1048.36)"
    ]
    _, weather = batch.writes[WEATHER.name]
    hour = raw.loc[glitch, "time_hour"].item()
    at_glitch = (weather["origin"] == "EWR") & (weather["time_hour"] == hour)
    assert weather.loc[at_glitch, "wind_speed"].isna().all()
    assert weather["wind_speed"].isna().sum() == raw["wind_speed"].isna().sum() + 1
    assert weather["wind_speed_max_3h"].max() < 150
    assert len(weather) == len(raw)


# --- the checks on tiny hand-made batches -------------------------------------------------
DAY = dt.date(2013, 1, 3)


def weather_day(bad: int = 0) -> pd.DataFrame:
    """A plausible day of weather (3 airports x 24 hours), ``bad`` winds at 1000 mph."""
    hours = pd.date_range("2013-01-03 05:00", periods=24, freq="h", tz="UTC")
    frame = pd.DataFrame(
        {
            "origin": pd.Series(np.repeat(["EWR", "JFK", "LGA"], 24), dtype="str"),
            "time_hour": pd.Series(np.tile(hours, 3)).astype(TIME_DTYPE),
            "temp": 40.0, "dewp": 30.0, "humid": 60.0, "wind_dir": 200.0, "wind_speed": 10.0,
            "wind_gust": np.nan, "precip": 0.0, "pressure": 1015.0, "visib": 10.0,
        }  # fmt: skip
    )
    frame.loc[: bad - 1, "wind_speed"] = 1000.0
    return frame


def test_one_implausible_reading_in_a_day_is_a_glitch() -> None:
    cleaned, report = check_weather(weather_day(bad=1), DAY)
    assert cleaned["wind_speed"].isna().tolist() == [True] + [False] * 71
    assert report.notes == ["2013-01-03: 1 implausible wind_speed reading(s) set to missing (1000)"]


def test_more_than_two_percent_implausible_readings_refuse_the_feed() -> None:
    with pytest.raises(ExpectationError, match=r"outside 0..150' failed on column 'wind_speed' "
                       r"for 2 row\(s\)"):  # fmt: skip
        check_weather(weather_day(bad=2), DAY)


def test_a_plausible_day_passes_unchanged() -> None:
    frame = weather_day()
    cleaned, report = check_weather(frame, DAY)
    pd.testing.assert_frame_equal(cleaned, frame)
    assert report.notes == []


def schedule_day() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "year": [2013, 2013], "month": [1, 1], "day": [3, 3],
            "sched_dep_time": [515, 2359], "sched_arr_time": [830, 437],
            "carrier": pd.Series(["UA", "B6"], dtype="str"), "flight": [1545, 727],
            "tailnum": pd.Series(["N14228", "N571JB"], dtype="str"),
            "origin": pd.Series(["EWR", "JFK"], dtype="str"),
            "dest": pd.Series(["IAH", "BQN"], dtype="str"), "distance": [1400, 1576],
            "hour": [5, 23], "minute": [15, 59],
            "time_hour": pd.Series(pd.to_datetime(["2013-01-03 10:00", "2013-01-04 04:00"],
                                                  utc=True)).astype(TIME_DTYPE),
        }  # fmt: skip
    )


@pytest.mark.parametrize(
    ("column", "value", "expectation"),
    [
        ("sched_dep_time", 2460, "scheduled time is a valid HHMM"),
        ("distance", 0, "distance > 0"),
        ("carrier", "ZZ", "carrier is a known airline"),
        ("origin", "BOS", "origin is a New York airport"),
        ("dest", "houston", "destination is an airport code"),
    ],
)
def test_a_schedule_with_an_impossible_value_is_refused(
    column: str, value, expectation: str
) -> None:
    good = schedule_day()
    check_schedule(good, DAY, {"UA", "B6"})
    bad = good.copy()
    bad.loc[1, column] = value
    with pytest.raises(ExpectationError, match=_quote(
            f"'{expectation}' failed on column '{column}' for 1 row(s)")):  # fmt: skip
        check_schedule(bad, DAY, {"UA", "B6"})


def test_outcomes_with_an_implausible_delay_or_outside_their_days_are_refused() -> None:
    outcomes = schedule_day().assign(dep_delay=[2.0, np.nan])
    check_outcomes(outcomes, DAY, DAY)
    with pytest.raises(ExpectationError, match="departure delay within -120..1440 minutes"):
        check_outcomes(outcomes.assign(dep_delay=[2.0, 5000.0]), DAY, DAY)
    with pytest.raises(ExpectationError, match=_quote("times fall inside 2013-01-01..2013-01-02")):
        check_outcomes(outcomes, JAN, dt.date(2013, 1, 2))
