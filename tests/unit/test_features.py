"""Feature functions on tiny frames, and the feature pipeline on a few real January days:
no value depends on the future, and a backfill equals the daily runs byte for byte."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fti.config import TIME_DTYPE
from fti.dates import day_start_utc, days
from fti.errors import LeakageError
from fti.features import (
    CARRIER_STATS,
    GROUPS,
    LABELS,
    ORIGIN_STATS,
    SCHEDULE,
    WEATHER,
    build_day,
    delay_stats,
    labels,
    run_feature_pipeline,
    schedule_features,
    weather_features,
)
from fti.source import FlightSource
from fti.store import FeatureStore, validate

STATS_DAY = dt.date(2013, 1, 7)
AVAILABLE = day_start_utc(dt.date(2013, 1, 8))


def utc(*values: str) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values), utc=True)).astype(TIME_DTYPE)


def outcomes(rows: list[tuple[int, str, str, float]]) -> pd.DataFrame:
    """Outcomes in January 2013 from (day, carrier, origin, dep_delay) tuples."""
    day, carrier, origin, delay = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "year": 2013, "month": 1, "day": list(day),
            "carrier": pd.Series(carrier, dtype="str"), "flight": np.arange(len(rows)) + 100,
            "origin": pd.Series(origin, dtype="str"), "hour": 9, "minute": 30,
            "time_hour": utc(*(f"2013-01-{d:02d} 14:00" for d in day)),
            "dep_delay": list(delay),
        }  # fmt: skip
    )


# --- delay statistics ---------------------------------------------------------------------
WINDOW = outcomes(
    [
        (7, "UA", "EWR", 0.0), (7, "UA", "EWR", 30.0), (7, "UA", "JFK", np.nan),
        (3, "UA", "JFK", 60.0), (3, "UA", "EWR", 10.0),
        (2, "B6", "JFK", 16.0), (2, "B6", "JFK", 15.0),
        (7, "AA", "LGA", np.nan),
    ]
)  # fmt: skip


def test_delay_stats_count_shares_and_means_over_one_and_seven_days() -> None:
    stats = delay_stats(WINDOW, "carrier", STATS_DAY, AVAILABLE).set_index("carrier")
    assert list(stats.index) == ["B6", "UA"]  # AA only had a cancelled flight
    ua, b6 = stats.loc["UA"], stats.loc["B6"]
    assert (ua["flights_1d"], ua["delayed_share_1d"], ua["mean_delay_1d"]) == (2, 0.5, 15.0)
    assert (ua["flights_7d"], ua["delayed_share_7d"], ua["mean_delay_7d"]) == (4, 0.5, 25.0)
    # B6 flew in the week but not on the last day; 15 minutes late is not delayed
    assert b6["flights_1d"] == 0
    assert np.isnan(b6["delayed_share_1d"]) and np.isnan(b6["mean_delay_1d"])
    assert (b6["flights_7d"], b6["delayed_share_7d"], b6["mean_delay_7d"]) == (2, 0.5, 15.5)


def test_delay_stats_carry_when_they_became_known_and_fit_their_group() -> None:
    for entity, group in (("carrier", CARRIER_STATS), ("origin", ORIGIN_STATS)):
        stats = delay_stats(WINDOW, entity, STATS_DAY, AVAILABLE)
        validate(group, stats)
        assert (stats["available_at"] == AVAILABLE).all()
        assert (stats["stats_day"] == day_start_utc(STATS_DAY)).all()
    by_origin = delay_stats(WINDOW, "origin", STATS_DAY, AVAILABLE).set_index("origin")
    assert by_origin["flights_7d"].to_dict() == {"EWR": 3, "JFK": 3}
    assert by_origin["flights_1d"].to_dict() == {"EWR": 2, "JFK": 0}


# --- labels -------------------------------------------------------------------------------
def test_labels_skip_cancelled_flights_and_call_delayed_more_than_15_minutes() -> None:
    frame = outcomes([(7, "UA", "EWR", 15.0), (7, "UA", "EWR", 16.0), (7, "B6", "JFK", np.nan),
                      (7, "B6", "LGA", -5.0)])  # fmt: skip
    out = labels(frame, AVAILABLE)
    validate(LABELS, out)
    assert out["flight_id"].tolist() == ["20130107-UA100-EWR", "20130107-UA101-EWR",
                                         "20130107-B6103-LGA"]  # fmt: skip
    assert out["delayed"].tolist() == [False, True, False]
    assert out["dep_delay"].tolist() == [15.0, 16.0, -5.0]
    assert (out["label_available_at"] == AVAILABLE).all()
    assert (out["sched_dep_utc"] == pd.Timestamp("2013-01-07 14:30", tz="UTC")).all()


# --- schedule features --------------------------------------------------------------------
PLANES = pd.DataFrame(
    {"tailnum": pd.Series(["N1", "N2"], dtype="str"), "year": [2004.0, np.nan], "seats": [55, 180]}
)


def tiny_schedule() -> pd.DataFrame:
    schedule = outcomes([(3, "UA", "EWR", 0.0)] * 4).drop(columns="dep_delay")
    return schedule.assign(
        tailnum=pd.Series(["N2", "N9", None, "N1"], dtype="str"),
        dest=pd.Series(["IAH"] * 4, dtype="str"), distance=[1400] * 4,
    )  # fmt: skip


def test_schedule_features_leave_unknown_planes_without_age_and_seats() -> None:
    out = schedule_features(tiny_schedule(), PLANES)
    validate(SCHEDULE, out)
    assert out["flight_id"].tolist() == [f"20130103-UA{n}-EWR" for n in (100, 101, 102, 103)]
    np.testing.assert_array_equal(out["plane_age"], [np.nan, np.nan, np.nan, 9.0])
    np.testing.assert_array_equal(out["plane_seats"], [180.0, np.nan, np.nan, 55.0])
    assert (out["day_of_week"] == 3).all()  # a Thursday
    assert (out["sched_dep_utc"] == pd.Timestamp("2013-01-03 14:30", tz="UTC")).all()
    assert (out["sched_hour"] == 9).all()


def test_schedule_features_do_not_depend_on_the_input_index() -> None:
    schedule = tiny_schedule()
    expected = schedule_features(schedule, PLANES).iloc[[3, 0]].reset_index(drop=True)
    pd.testing.assert_frame_equal(schedule_features(schedule.iloc[[3, 0]], PLANES), expected)


# --- weather features ---------------------------------------------------------------------
def weather(start: str, precip: list[float], origin: str = "EWR") -> pd.DataFrame:
    hours = pd.date_range(start, periods=len(precip), freq="h", tz="UTC")
    n = len(precip)
    return pd.DataFrame(
        {
            "origin": pd.Series([origin] * n, dtype="str"), "time_hour": hours.astype(TIME_DTYPE),
            "temp": 40.0, "dewp": 30.0, "humid": 60.0, "wind_dir": 200.0,
            "wind_speed": np.array(precip) * 100, "wind_gust": np.nan, "precip": precip,
            "pressure": 1015.0, "visib": 10 - np.array(precip) * 10,
        }  # fmt: skip
    )


def test_weather_features_roll_three_hours_into_yesterdays_last_hours() -> None:
    # local 22:00 and 23:00 on 2 January, then 00:00 to 03:00 on 3 January (UTC-5)
    yesterday = weather("2013-01-03 03:00", [0.1, 0.2])
    today = weather("2013-01-03 05:00", [0.3, 0.0, 0.0, 0.0])
    out = weather_features(today, yesterday)
    validate(WEATHER, out)
    assert out["time_hour"].tolist() == today["time_hour"].tolist()
    np.testing.assert_allclose(out["precip_3h"], [0.6, 0.5, 0.3, 0.0])
    np.testing.assert_allclose(out["wind_speed_max_3h"], [30.0, 30.0, 30.0, 0.0])
    np.testing.assert_allclose(out["visib_min_3h"], [7.0, 7.0, 7.0, 10.0])
    alone = weather_features(today, today.iloc[:0])
    np.testing.assert_allclose(alone["precip_3h"], [0.3, 0.3, 0.3, 0.0])


def test_weather_features_roll_each_airport_on_its_own() -> None:
    today = pd.concat(
        [weather("2013-01-03 05:00", [1.0, 0.0]), weather("2013-01-03 05:00", [0.0, 0.5], "JFK")]
    )
    out = weather_features(today, today.iloc[:0]).set_index(["origin", "time_hour"])
    assert out["precip_3h"].tolist() == [1.0, 1.0, 0.0, 0.5]
    assert out.index.get_level_values("origin").tolist() == ["EWR", "EWR", "JFK", "JFK"]


# --- the time guard -----------------------------------------------------------------------
def test_a_feature_step_asking_for_a_day_not_yet_published_gets_leakage() -> None:
    published = FlightSource().published_at(STATS_DAY)

    def leaky_stats() -> pd.DataFrame:  # today's outcomes are only known tomorrow
        today = published.outcomes(published.run_day)
        return delay_stats(today, "carrier", published.run_day, AVAILABLE)

    with pytest.raises(LeakageError, match="outcome of flights of 2013-01-07"):
        leaky_stats()
    with pytest.raises(LeakageError, match="weather forecast of 2013-01-08"):
        weather_features(published.weather(dt.date(2013, 1, 8)), published.weather())


@pytest.mark.slow
def test_a_day_asks_the_source_only_for_what_was_published(monkeypatch) -> None:
    source = FlightSource(label_delay_days=2)
    asked: list[tuple[str, dt.date, dt.date]] = []
    flights, hourly = source._flights, source._weather

    def spy_flights(first: dt.date, last: dt.date) -> pd.DataFrame:
        asked.append(("flights", first, last))
        return flights(first, last)

    def spy_weather(day: dt.date) -> pd.DataFrame:
        asked.append(("weather", day, day))
        return hourly(day)

    monkeypatch.setattr(source, "_flights", spy_flights)
    monkeypatch.setattr(source, "_weather", spy_weather)
    day = dt.date(2013, 1, 10)
    batch = build_day(source.published_at(day), source.planes(), set(source.airlines()["carrier"]))
    assert sorted(asked) == [
        ("flights", dt.date(2013, 1, 2), dt.date(2013, 1, 8)),  # outcomes: 7 days to D - 2
        ("flights", day, day),  # the schedule of D
        ("weather", dt.date(2013, 1, 9), dt.date(2013, 1, 9)),
        ("weather", day, day),
    ]
    assert batch.writes[LABELS.name][0] == dt.date(2013, 1, 8)
    _, stats = batch.writes[CARRIER_STATS.name]
    assert (stats["stats_day"] == day_start_utc(dt.date(2013, 1, 8))).all()
    assert (stats["available_at"] == day_start_utc(day)).all()


# --- the pipeline on real days ------------------------------------------------------------
@pytest.mark.slow
def test_features_of_a_day_do_not_change_when_later_data_exists(
    make_source, january_tables
) -> None:
    day = dt.date(2013, 1, 5)

    def until_day(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame["day"].astype("int") <= day.day]

    truncated = FlightSource(
        make_source(flights=until_day(january_tables["flights"]),
                    weather=until_day(january_tables["weather"]))  # fmt: skip
    )
    full = FlightSource()

    def batch(source: FlightSource):
        carriers = set(source.airlines()["carrier"])
        return build_day(source.published_at(day), source.planes(), carriers)

    known, later = batch(truncated), batch(full)
    assert known.notes == later.notes
    assert set(known.writes) == {g.name for g in GROUPS}
    for name, (part_day, frame) in known.writes.items():
        assert len(frame) > 0, name
        assert later.writes[name][0] == part_day, name
        pd.testing.assert_frame_equal(frame, later.writes[name][1], obj=name)


@pytest.mark.slow
def test_a_backfill_leaves_the_same_bytes_as_the_daily_runs(make_source, tmp_path: Path,
                                                            files) -> None:  # fmt: skip
    source = FlightSource(make_source())
    first, last = dt.date(2013, 1, 1), dt.date(2013, 1, 4)
    backfill = FeatureStore(tmp_path / "backfill")
    batches = run_feature_pipeline(backfill, source, first, last)
    assert [b.run_day for b in batches] == list(days(first, last))

    daily = FeatureStore(tmp_path / "daily")
    for day in reversed(list(days(first, last))):
        run_feature_pipeline(daily, source, day, day)
    written = files(backfill.root)
    assert sum(name.endswith("part.parquet") for name in written) == 5 * 4
    assert files(daily.root) == written

    run_feature_pipeline(backfill, source, first, last)  # a re-run changes nothing
    assert files(backfill.root) == written
