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


def test_a_history_of_one_run_gets_a_week_wide_axis_not_years():
    import matplotlib.dates as mdates

    history = pd.DataFrame({
        "run_date": ["2013-06-08"], "drift_share": [0.07], "roc_auc": [0.75],
        "holdout_roc_auc": [0.77], "brier": [0.15], "base_rate": [0.24],
        "mean_prediction": [0.25], "drift_verdict": ["ok"],
        "performance_verdict": ["not enough data"], "retrain_recommended": [False]})
    fig = plots.monitoring_history(history)
    for ax in fig.axes:
        first, last = (mdates.num2date(x).date().isoformat() for x in ax.get_xlim())
        assert (first, last) == ("2013-06-04", "2013-06-11")  # 3.5 days on each side
    two = pd.concat([history, history.assign(run_date="2013-07-06")], ignore_index=True)
    span = plots.monitoring_history(two).axes[0].get_xlim()
    assert 28 < span[1] - span[0] < 32  # a month and a day on each side
