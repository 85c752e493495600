"""The flight-delay features: feature group definitions and pure feature functions.

Every function here takes DataFrames and returns a DataFrame; no I/O. The feature pipeline
calls them for each day, and training and inference read their results through the one
feature view (:data:`FLIGHT_VIEW`), so no feature is computed twice in two ways.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from fti.config import DELAY_THRESHOLD_MINUTES, TIME_DTYPE
from fti.dates import day_start_utc, days, to_utc
from fti.expectations import check_outcomes, check_schedule, check_weather
from fti.progress import bar as progress_bar
from fti.source import FlightSource, PublishedData
from fti.store import FeatureGroup, FeatureStore, validate
from fti.views import FeatureView, Join

T = TIME_DTYPE
#: Days of outcomes behind the rolling operational statistics.
STATS_WINDOW_DAYS = 7

SCHEDULE = FeatureGroup(
    name="flight_schedule",
    version=1,
    description="One row per scheduled flight, known at the start of its day: route, "
    "timing and the plane. Event time: scheduled departure (UTC).",
    schema={
        "flight_id": "str", "sched_dep_utc": T, "carrier": "str", "flight": "int64",
        "tailnum": "str", "origin": "str", "dest": "str", "distance": "float64",
        "sched_hour": "int64", "day_of_week": "int64", "month": "int64",
        "plane_age": "float64", "plane_seats": "float64",
    },
    primary_key=("flight_id",),
    event_time="sched_dep_utc",
)
WEATHER_COLUMNS = ("temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust", "precip",
                   "pressure", "visib")
WEATHER = FeatureGroup(
    name="weather_hourly",
    version=1,
    description="Hourly weather forecast per origin airport (the observed weather used as a "
    "perfect forecast, published at the start of the day) with 3-hour rolling aggregates. "
    "Event time: the hour described.",
    schema={
        "origin": "str", "time_hour": T, **{c: "float64" for c in WEATHER_COLUMNS},
        "precip_3h": "float64", "wind_speed_max_3h": "float64", "visib_min_3h": "float64",
    },
    primary_key=("origin", "time_hour"),
    event_time="time_hour",
)
STATS_COLUMNS = {
    "flights_1d": "int64", "delayed_share_1d": "float64", "mean_delay_1d": "float64",
    "flights_7d": "int64", "delayed_share_7d": "float64", "mean_delay_7d": "float64",
}


def _stats_group(entity: str) -> FeatureGroup:
    return FeatureGroup(
        name=f"{entity}_stats",
        version=1,
        description=f"Per {entity}: share of flights delayed > {DELAY_THRESHOLD_MINUTES} min "
        f"and mean delay over the last 1 and {STATS_WINDOW_DAYS} days of published outcomes. "
        f"Event time: when they became known (the start of the day the outcomes arrived).",
        schema={entity: "str", "available_at": T, "stats_day": T, **STATS_COLUMNS},
        primary_key=(entity, "available_at"),
        event_time="available_at",
    )


CARRIER_STATS = _stats_group("carrier")
ORIGIN_STATS = _stats_group("origin")
LABELS = FeatureGroup(
    name="flight_labels",
    version=1,
    description=f"The natural label: departure delay and delayed = dep_delay > "
    f"{DELAY_THRESHOLD_MINUTES} min, published label_delay_days after the flight. Cancelled "
    f"flights carry no label. Partition: the flight's day. Event time: publication.",
    schema={"flight_id": "str", "sched_dep_utc": T, "label_available_at": T,
            "dep_delay": "float64", "delayed": "bool"},
    primary_key=("flight_id",),
    event_time="label_available_at",
)
GROUPS = (SCHEDULE, WEATHER, CARRIER_STATS, ORIGIN_STATS, LABELS)

_STATS_FEATURES = ("delayed_share_1d", "mean_delay_1d", "delayed_share_7d", "mean_delay_7d")
FLIGHT_VIEW = FeatureView(
    name="flight_delay",
    version=1,
    spine=SCHEDULE.name,
    spine_version=SCHEDULE.version,
    spine_columns=tuple(SCHEDULE.schema),
    spine_features=("carrier", "origin", "dest", "distance", "sched_hour", "day_of_week",
                    "plane_age", "plane_seats"),
    categorical=("carrier", "origin", "dest"),
    joins=(
        Join(WEATHER.name, WEATHER.version, on=("origin",),
             features=("temp", "dewp", "humid", "wind_speed", "wind_gust", "precip", "pressure",
                       "visib", "precip_3h", "wind_speed_max_3h", "visib_min_3h"),
             max_age=pd.Timedelta(hours=3), prefix="wx_"),
        Join(CARRIER_STATS.name, CARRIER_STATS.version, on=("carrier",),
             features=_STATS_FEATURES, max_age=pd.Timedelta(days=2), prefix="carrier_"),
        Join(ORIGIN_STATS.name, ORIGIN_STATS.version, on=("origin",),
             features=_STATS_FEATURES, max_age=pd.Timedelta(days=2), prefix="origin_"),
    ),
    label_group=LABELS.name,
    label_version=LABELS.version,
    label_key="flight_id",
    label_columns=("dep_delay", "delayed"),
)


# --- pure feature functions ---------------------------------------------------------------
def flight_ids(frame: pd.DataFrame) -> pd.Series:
    """A readable unique flight key: ``20130601-UA1545-EWR`` (local day, flight, origin)."""
    date = (frame["year"] * 10000 + frame["month"] * 100 + frame["day"]).astype("str")
    return date + "-" + frame["carrier"] + frame["flight"].astype("str") + "-" + frame["origin"]


def scheduled_departure(frame: pd.DataFrame) -> pd.Series:
    """Scheduled departure in UTC: the source's UTC hour plus the scheduled minute."""
    return to_utc(frame["time_hour"] + pd.to_timedelta(frame["minute"], unit="min"))


def schedule_features(schedule: pd.DataFrame, planes: pd.DataFrame) -> pd.DataFrame:
    """Flight schedule features; planes not in the planes table get null age and seats."""
    local = pd.to_datetime(schedule[["year", "month", "day"]])
    plane = schedule[["tailnum"]].merge(planes, on="tailnum", how="left")
    out = pd.DataFrame(
        {
            "flight_id": flight_ids(schedule),
            "sched_dep_utc": scheduled_departure(schedule),
            "carrier": schedule["carrier"].astype("str"),
            "flight": schedule["flight"].astype("int64"),
            "tailnum": schedule["tailnum"].astype("str"),
            "origin": schedule["origin"].astype("str"),
            "dest": schedule["dest"].astype("str"),
            "distance": schedule["distance"].astype("float64"),
            "sched_hour": schedule["hour"].astype("int64"),
            "day_of_week": local.dt.dayofweek.astype("int64"),
            "month": schedule["month"].astype("int64"),
            "plane_age": (schedule["year"].to_numpy() - plane["year"].to_numpy()).astype("float64"),
            "plane_seats": plane["seats"].astype("float64").to_numpy(),
        }
    )
    return out.reset_index(drop=True)


def weather_features(today: pd.DataFrame, yesterday: pd.DataFrame) -> pd.DataFrame:
    """Hourly weather of ``today`` with rolling 3-hour aggregates (using yesterday's tail)."""
    both = pd.concat([yesterday, today], ignore_index=True) if len(yesterday) else today
    both = both.assign(time_hour=to_utc(both["time_hour"]))
    both = both.sort_values(["origin", "time_hour"], kind="stable").reset_index(drop=True)
    rolling = both.set_index("time_hour").groupby("origin", sort=False).rolling("3h")
    agg = pd.DataFrame({
        "precip_3h": rolling["precip"].sum().to_numpy(),
        "wind_speed_max_3h": rolling["wind_speed"].max().to_numpy(),
        "visib_min_3h": rolling["visib"].min().to_numpy(),
    })
    out = pd.concat([both[["origin", "time_hour", *WEATHER_COLUMNS]], agg], axis=1)
    out = out.astype({c: "float64" for c in WEATHER.schema if WEATHER.schema[c] == "float64"})
    out["origin"] = out["origin"].astype("str")
    keep = out["time_hour"].isin(to_utc(today["time_hour"]))
    return out[keep].reset_index(drop=True)


def delay_stats(outcomes: pd.DataFrame, entity: str, stats_day: dt.date,
                available_at: pd.Timestamp) -> pd.DataFrame:
    """Per ``entity``, delay statistics over the last 1 and 7 days ending ``stats_day``.

    Cancelled flights (no departure delay) are left out. The values become known at
    ``available_at`` (when the outcomes of ``stats_day`` are published).
    """
    done = outcomes[outcomes["dep_delay"].notna()]
    day_key = stats_day.year * 10000 + stats_day.month * 100 + stats_day.day
    is_last = (done["year"] * 10000 + done["month"] * 100 + done["day"]) == day_key
    frame = pd.DataFrame({
        entity: done[entity].astype("str"),
        "delay": done["dep_delay"].astype("float64"),
        "delayed": (done["dep_delay"] > DELAY_THRESHOLD_MINUTES).astype("float64"),
        "last": is_last.to_numpy(),
    })
    week = frame.groupby(entity).agg(
        flights_7d=("delay", "size"), delayed_share_7d=("delayed", "mean"),
        mean_delay_7d=("delay", "mean"))
    day = frame[frame["last"]].groupby(entity).agg(
        flights_1d=("delay", "size"), delayed_share_1d=("delayed", "mean"),
        mean_delay_1d=("delay", "mean"))
    out = week.join(day, how="left").reset_index()
    out["flights_1d"] = out["flights_1d"].fillna(0)
    out["available_at"] = available_at
    out["stats_day"] = day_start_utc(stats_day)
    group = CARRIER_STATS if entity == "carrier" else ORIGIN_STATS
    out = out.astype({c: t for c, t in group.schema.items()})
    return out[list(group.schema)]


def labels(outcomes: pd.DataFrame, available_at: pd.Timestamp) -> pd.DataFrame:
    """The natural label of each flight that left (cancelled flights have none)."""
    done = outcomes[outcomes["dep_delay"].notna()]
    out = pd.DataFrame({
        "flight_id": flight_ids(done),
        "sched_dep_utc": scheduled_departure(done),
        "label_available_at": available_at,
        "dep_delay": done["dep_delay"].astype("float64"),
        "delayed": done["dep_delay"] > DELAY_THRESHOLD_MINUTES,
    })
    return out.astype({"label_available_at": T}).reset_index(drop=True)


# --- one day of the feature pipeline --------------------------------------------------------
@dataclass
class DayBatch:
    """Everything the feature pipeline writes for one run day: (partition day, frame) per group."""

    run_day: dt.date
    writes: dict[str, tuple[dt.date, pd.DataFrame]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def rows(self) -> dict[str, int]:
        return {name: len(frame) for name, (_, frame) in self.writes.items()}


def build_day(published: PublishedData, planes: pd.DataFrame, carriers: set[str]) -> DayBatch:
    """Check the raw data published at the start of a day and compute its features.

    Nothing is written here; the batch is validated against every group's schema, so that
    :func:`write_day` can write all of it or none.
    """
    day = published.run_day
    batch = DayBatch(day)

    schedule = check_schedule(published.schedule(), day, carriers)
    batch.writes[SCHEDULE.name] = (day, schedule_features(schedule, planes))

    weather, report = check_weather(published.weather(), day)
    previous = day - dt.timedelta(days=1)
    yesterday, _ = check_weather(published.weather(previous), previous)
    batch.notes += report.notes
    batch.writes[WEATHER.name] = (day, weather_features(weather, yesterday))

    available_at = day_start_utc(day)
    last = published.last_outcome_day
    first = last - dt.timedelta(days=STATS_WINDOW_DAYS - 1)
    window = check_outcomes(published.outcomes(first, last), first, last)
    batch.writes[CARRIER_STATS.name] = (day, delay_stats(window, "carrier", last, available_at))
    batch.writes[ORIGIN_STATS.name] = (day, delay_stats(window, "origin", last, available_at))
    key = last.year * 10000 + last.month * 100 + last.day
    on_last = window[(window["year"] * 10000 + window["month"] * 100 + window["day"]) == key]
    batch.writes[LABELS.name] = (last, labels(on_last, available_at))

    for group in GROUPS:
        part_day, frame = batch.writes[group.name]
        batch.writes[group.name] = (part_day, validate(group, frame))
    if not len(schedule):
        batch.notes.append(f"{day}: no flights scheduled (an empty day is fine).")
    return batch


def register_groups(store: FeatureStore) -> None:
    """Create (or check) every feature group of the use case."""
    for group in GROUPS:
        store.register(group)


def write_day(store: FeatureStore, batch: DayBatch) -> dict[str, str]:
    """Write a checked day batch as one unit: one atomic partition replacement per feature
    group, and readers refuse the day if the process stops before the last one
    (:meth:`fti.store.FeatureStore.write_together`)."""
    day = batch.run_day
    writes = [(group, *batch.writes[group.name]) for group in GROUPS]
    repair = (f"run the feature pipeline for {day} again: fti run feature -p start_date={day} "
              f"-p end_date={day} (or notebooks/01_feature_pipeline.ipynb with start_date and "
              f"end_date {day})")
    paths = store.write_together(f"feature-run-{day}", writes, repair)
    return {group.name: str(path) for group, path in zip(GROUPS, paths, strict=True)}


def run_feature_pipeline(store: FeatureStore, source: FlightSource, start: dt.date,
                         end: dt.date, progress: bool = False) -> list[DayBatch]:
    """Ingest every day from ``start`` to ``end`` as that day's run would have.

    A range (a backfill) runs the very same per-day code as daily runs, so it leaves exactly
    the store that running the days one by one leaves. All days are computed and checked
    before the first write: a bad batch anywhere in the range writes nothing. The writes
    hold the data root's lock as one operation, so a reader (a training run) sees the
    whole range or none of it.
    """
    register_groups(store)
    planes = source.planes()
    carriers = set(source.airlines()["carrier"])
    run_days = list(days(start, end))
    batches = [
        build_day(source.published_at(day), planes, carriers)
        for day in progress_bar(run_days, desc="features", unit="day", disable=not progress)
    ]
    with store.lock.exclusive(f"write the features of {start}..{end}"):
        for batch in batches:
            write_day(store, batch)
    return batches
