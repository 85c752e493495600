"""What "normal" looks like, learned from the reference data itself.

Two checks that make monitoring meaningful on data with seasons:

- **Calibrated drift thresholds.** A single week of New York weather always differs from
  five months of it: with Evidently's default threshold (a normed Wasserstein distance of
  0.1) the weather "drifts" every week, and an alarm that always rings teaches nothing. So
  each numerical column gets its own threshold: the largest distance between one window of
  the reference period and the whole reference, times a margin. Drift then means "further
  from the training data than any week of the training period was".
- **Stuck sensors.** A sensor stuck at one reading hides inside a distribution test when it
  affects a day or two of a week. But real weather never holds one value at an airport
  for a whole day, except its usual value (visibility 10 miles, no rain): in all of 2013
  no reading other than a column's most common one stays constant over a day at any
  airport. A day that does is a stuck sensor.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import wasserstein_distance

from fti.cache import Recent
from fti.config import TIMEZONE

#: Evidently's own default for the normed Wasserstein distance; thresholds never go below it.
MIN_THRESHOLD = 0.1
MARGIN = 1.25
#: A sensor is stuck when one airport reports the same unusual value all day (>= this many hours).
MIN_READINGS = 12


def normed_wasserstein(reference: np.ndarray, current: np.ndarray) -> float:
    """Evidently's "Wasserstein distance (normed)": the distance in reference std units."""
    return float(wasserstein_distance(reference, current) / max(np.std(reference), 0.001))


def drift_thresholds(reference: pd.DataFrame, columns: list[str], time_column: str,
                     window_days: int, margin: float = MARGIN) -> dict[str, float]:
    """Per-column thresholds: ``margin`` x the largest distance of a reference window.

    The reference is cut into consecutive windows of ``window_days`` (by ``time_column``);
    each window's distance to the whole reference shows how much normal weeks vary.

    A champion's reference is the same every week, so the result is kept per process,
    keyed by a hash of the reference's values in ``columns`` and ``time_column`` and by the
    arguments: a warm kernel calibrates once per champion (about a second) and later runs
    get the same numbers back.
    """
    values = reference[[*columns, time_column]]
    key = (int(pd.util.hash_pandas_object(values, index=False).sum()),
           tuple(columns), time_column, int(window_days), float(margin), len(values))
    return dict(_THRESHOLDS.get(key, lambda: _calibrate(reference, columns, time_column,
                                                        window_days, margin)))


_THRESHOLDS: Recent[dict[str, float]] = Recent(4)


def _calibrate(reference: pd.DataFrame, columns: list[str], time_column: str,
               window_days: int, margin: float) -> dict[str, float]:
    days = reference[time_column].dt.floor("D")
    window = ((days - days.min()).dt.days // window_days).to_numpy()
    thresholds = {}
    for column in columns:
        values = reference[column].to_numpy(dtype="float64")
        known = ~np.isnan(values)
        if known.sum() < 2:
            continue
        whole = values[known]
        scores = [normed_wasserstein(whole, values[(window == w) & known])
                  for w in np.unique(window) if ((window == w) & known).sum() > 0]
        thresholds[column] = max(MIN_THRESHOLD, margin * max(scores, default=0.0))
    return thresholds


def stuck_sensors(readings: pd.DataFrame, reference: pd.DataFrame, columns: list[str],
                  time_column: str = "time_hour", station: str = "origin") -> pd.DataFrame:
    """Days on which a station reported one value all day, a value unusual for the column.

    ``readings`` and ``reference`` are hourly readings (the ``weather_hourly`` group); a
    column's usual value is its most common one in the reference. Returns one row per
    (column, day, station, value).
    """
    day = readings[time_column].dt.tz_convert(TIMEZONE).dt.date.rename("day")
    found = []
    for column in columns:
        usual = reference[column].mode()
        by_day = readings.groupby([day, readings[station]])[column]
        summary = pd.DataFrame({"n": by_day.count(), "distinct": by_day.nunique(),
                                "value": by_day.first()})
        stuck = summary[(summary["n"] >= MIN_READINGS) & (summary["distinct"] == 1)
                        & ~summary["value"].isin(usual)]
        found += [(column, d, s, float(v)) for (d, s), v in stuck["value"].items()]
    return pd.DataFrame(found, columns=["column", "day", station, "value"])
