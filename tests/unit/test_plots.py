"""The tables that stand in for the daily figures (figures=False), on tiny frames."""

from __future__ import annotations

import pandas as pd

from fti import plots


def test_the_weather_table_gives_each_airports_range_over_the_day():
    weather = pd.DataFrame({"origin": ["EWR", "EWR", "JFK"], "temp": [60.0, 70.0, 65.0],
                            "precip_3h": [0.0, 0.2, 0.0], "visib": [10.0, 3.0, 10.0]})
    table = plots.day_weather_table(weather)
    assert table.loc["EWR", ("temp", "min")] == 60.0 and table.loc["EWR", ("temp", "max")] == 70.0
    assert table.loc["EWR", ("visib", "min")] == 3.0 and list(table.index) == ["EWR", "JFK"]


def test_the_statistics_table_shows_the_last_morning_busiest_first():
    first, second = (pd.Timestamp(f"2013-06-0{d} 04:00", tz="UTC") for d in (1, 2))
    stats = pd.DataFrame({
        "carrier": ["UA", "AA", "UA", "AA", "B6"], "available_at": [first] * 2 + [second] * 3,
        "flights_1d": [9, 9, 1, 2, 3], "delayed_share_1d": [0.1] * 5,
        "flights_7d": [999, 998, 10, 30, 20], "delayed_share_7d": [0.12345] * 5})
    table = plots.delay_stats_table(stats, "carrier", top=2)
    assert table["carrier"].tolist() == ["AA", "B6"]  # only 2 June, by flights over 7 days
    assert table["delayed_share_7d"].tolist() == [0.123, 0.123]


def test_the_risk_table_counts_flights_and_flags_per_airport():
    predictions = pd.DataFrame({"flight_id": ["a", "b", "c"], "origin": ["EWR", "EWR", "LGA"],
                                "flag": [True, False, False], "probability": [0.6, 0.2, 0.1]})
    table = plots.risk_table(predictions)
    assert table.loc["EWR"].tolist() == [2, 1, 0.4] and table.loc["LGA"].tolist() == [1, 0, 0.1]
