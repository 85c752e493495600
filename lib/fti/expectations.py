"""Expectations on raw batches, checked before anything is written.

Each check names the expectation, the column and a few offending rows. A failed hard
expectation raises :class:`~fti.errors.ExpectationError`; the store is left as it was.

Weather readings are checked against physically plausible ranges the way a data team
treats a sensor feed: a few implausible readings in a day are glitches (the real 2013 data
has one: a 1048 mph wind at Newark on 12 February), so they are set to missing and
reported; when more than ``MAX_GLITCH_SHARE`` of a day's readings of a column are
implausible, the feed itself is broken and the batch is refused.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from fti.config import TIMEZONE
from fti.errors import ExpectationError

ORIGINS = ("EWR", "JFK", "LGA")
#: Plausible ranges of the hourly weather readings (units of the source: F, %, mph, in, hPa, mi).
WEATHER_RANGES: dict[str, tuple[float, float]] = {
    "temp": (-40.0, 125.0),
    "dewp": (-60.0, 100.0),
    "humid": (0.0, 100.0),
    "wind_dir": (0.0, 360.0),
    "wind_speed": (0.0, 150.0),
    "wind_gust": (0.0, 200.0),
    "precip": (0.0, 10.0),
    "pressure": (900.0, 1100.0),
    "visib": (0.0, 10.0),
}
MAX_GLITCH_SHARE = 0.02
#: Departure delays outside this range (minutes) are not plausible outcomes.
DELAY_RANGE = (-120.0, 24 * 60.0)
_SHOW = 5


@dataclass
class CheckReport:
    """What the checks found that did not stop the batch (shown by the notebook)."""

    notes: list[str] = field(default_factory=list)


def _fail(batch: str, day: dt.date, expectation: str, column: str, frame: pd.DataFrame,
          mask: pd.Series) -> None:
    rows = frame.loc[mask]
    raise ExpectationError(
        f"{batch} of {day}: expectation '{expectation}' failed on column '{column}' for "
        f"{len(rows)} row(s); nothing was written. Fix the source data or the source_dir "
        f"parameter, then re-run this day. Offending rows:\n{rows.head(_SHOW).to_string()}"
    )


def _numeric(batch: str, day: dt.date, frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Refuse text in numeric columns; return the batch with those columns as numbers.

    Only this batch's values count: text elsewhere in the source file (which makes the
    whole column text when it is read) does not refuse a clean day.
    """
    out = frame
    for col in columns:
        if pd.api.types.is_numeric_dtype(frame[col]) and not pd.api.types.is_bool_dtype(frame[col]):
            continue
        parsed = pd.to_numeric(frame[col], errors="coerce")
        _fail_if(batch, day, "values are numbers", col, frame, parsed.isna() & frame[col].notna())
        out = out.assign(**{col: parsed})
    return out


def _unique(batch: str, day: dt.date, frame: pd.DataFrame, keys: list[str]) -> None:
    for col in keys:
        if frame[col].isna().any():
            _fail(batch, day, "key columns are present", col, frame, frame[col].isna())
    dup = frame.duplicated(keys, keep=False)
    if dup.any():
        _fail(batch, day, f"rows are unique by {keys}", "+".join(keys), frame, dup)


def _inside_day(batch: str, day: dt.date, frame: pd.DataFrame, column: str = "time_hour") -> None:
    local = frame[column].dt.tz_convert(TIMEZONE).dt.date
    _fail_if(batch, day, "times fall inside the batch's day", column, frame, local != day)


def _fail_if(batch: str, day: dt.date, expectation: str, column: str, frame: pd.DataFrame,
             mask: pd.Series) -> None:
    if mask.any():
        _fail(batch, day, expectation, column, frame, mask)


FLIGHT_KEY = ["year", "month", "day", "carrier", "flight", "origin"]


def check_schedule(frame: pd.DataFrame, day: dt.date, carriers: set[str]) -> pd.DataFrame:
    """The schedule of ``day``: unique flights, valid times, known carriers and airports.

    Returns the batch with its numeric columns as numbers.
    """
    batch = "flight schedule"
    frame = _numeric(batch, day, frame, ["sched_dep_time", "flight", "distance", "hour", "minute"])
    _unique(batch, day, frame, FLIGHT_KEY)
    _inside_day(batch, day, frame)
    _fail_if(batch, day, "scheduled time is a valid HHMM", "sched_dep_time", frame,
             (frame["sched_dep_time"] // 100 > 23) | (frame["sched_dep_time"] % 100 > 59)
             | (frame["sched_dep_time"] < 0))
    _fail_if(batch, day, "distance > 0", "distance", frame, ~(frame["distance"] > 0))
    _fail_if(batch, day, "carrier is a known airline", "carrier", frame,
             ~frame["carrier"].isin(carriers))
    _fail_if(batch, day, "origin is a New York airport", "origin", frame,
             ~frame["origin"].isin(ORIGINS))
    _fail_if(batch, day, "destination is an airport code", "dest", frame,
             ~frame["dest"].astype("str").str.fullmatch(r"[A-Z0-9]{3}").fillna(False))
    return frame


def check_outcomes(frame: pd.DataFrame, first: dt.date, last: dt.date) -> pd.DataFrame:
    """Outcomes of the flights from ``first`` to ``last``: unique, plausible delays.

    Returns the batch with its delays as numbers.
    """
    batch = "flight outcomes"
    frame = _numeric(batch, last, frame, ["dep_delay"])
    _unique(batch, last, frame, FLIGHT_KEY)
    lo, hi = DELAY_RANGE
    delay = frame["dep_delay"]
    _fail_if(batch, last, f"departure delay within {lo:g}..{hi:g} minutes", "dep_delay",
             frame, delay.notna() & ~delay.between(lo, hi))
    local = frame["time_hour"].dt.tz_convert(TIMEZONE).dt.date
    _fail_if(batch, last, f"times fall inside {first}..{last}", "time_hour", frame,
             (local < first) | (local > last))
    return frame


def check_weather(frame: pd.DataFrame, day: dt.date) -> tuple[pd.DataFrame, CheckReport]:
    """The hourly weather of ``day``; returns the batch with glitches set to missing."""
    batch = "weather forecast"
    report = CheckReport()
    frame = _numeric(batch, day, frame, list(WEATHER_RANGES))
    _unique(batch, day, frame, ["origin", "time_hour"])
    _inside_day(batch, day, frame)
    _fail_if(batch, day, "origin is a New York airport", "origin", frame,
             ~frame["origin"].isin(ORIGINS))
    cleaned = frame.copy()
    for col, (lo, hi) in WEATHER_RANGES.items():
        bad = frame[col].notna() & ~frame[col].between(lo, hi)
        if not bad.any():
            continue
        if bad.mean() > MAX_GLITCH_SHARE:
            _fail(batch, day, f"at most {MAX_GLITCH_SHARE:.0%} of readings outside "
                  f"{lo:g}..{hi:g}", col, frame, bad)
        cleaned.loc[bad, col] = float("nan")
        report.notes.append(
            f"{day}: {int(bad.sum())} implausible {col} reading(s) set to missing "
            f"({', '.join(f'{v:g}' for v in frame.loc[bad, col])})"
        )
    return cleaned, report
