"""Local calendar days and their instants in UTC.

A day is a ``datetime.date`` in New York local time; instants are UTC timestamps with the
store's one resolution (``config.TIME_DTYPE``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pandas as pd

from fti.config import TIME_DTYPE, TIMEZONE
from fti.errors import ParameterError


def parse_day(value: object, name: str = "date") -> dt.date:
    """Turn an ISO date string (or a date) into a ``date``; explain the format if it fails."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ParameterError(
        f"{name}={value!r} is not a date: write it as an ISO date like '2013-06-01'."
    )


def check_range(start: dt.date, end: dt.date, start_name: str, end_name: str) -> None:
    """Refuse a range that ends before it starts."""
    if end < start:
        raise ParameterError(
            f"{end_name}={end} is before {start_name}={start}: the range is inclusive and "
            f"must end on or after its first day."
        )


def days(start: dt.date, end: dt.date) -> Iterator[dt.date]:
    """Every day from start to end, both included."""
    for i in range((end - start).days + 1):
        yield start + dt.timedelta(days=i)


def last_labelled_day(day: dt.date, label_delay_days: int) -> dt.date:
    """The last flight day whose labels have been published by the start of ``day``."""
    return day - dt.timedelta(days=int(label_delay_days))


def day_start_utc(day: dt.date) -> pd.Timestamp:
    """The instant local midnight starts ``day``, in UTC."""
    return pd.Timestamp(day).tz_localize(TIMEZONE).tz_convert("UTC").as_unit("us")


def to_utc(values: pd.Series) -> pd.Series:
    """Normalize a datetime series to the store's one dtype (UTC, microseconds)."""
    if not isinstance(values.dtype, pd.DatetimeTZDtype):
        values = pd.to_datetime(values, utc=True)
    return values.astype(TIME_DTYPE)


def local_day(values: pd.Series) -> pd.Series:
    """The New York calendar day of each UTC instant, as ``date`` objects."""
    return values.dt.tz_convert(TIMEZONE).dt.date
