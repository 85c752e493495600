"""Benchmarks: `make bench` prints the figures the issues set goals for.

Timings are medians of repeated runs measured in this one process, and the growth checks
are ratios of two such medians, so a noisy shared machine moves both sides alike. Nothing
here is a test: it prints, it does not fail.

    python benchmarks/run.py            # everything
    python benchmarks/run.py store join daily   # some sections
"""

from __future__ import annotations

import datetime as dt
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from fti import features
from fti.dates import day_start_utc, days, to_utc
from fti.source import FlightSource
from fti.store import FeatureStore
from fti.views import pit_join


def median_seconds(work: Callable[[], object], repeat: int = 7) -> float:
    """Median wall time of ``work`` over ``repeat`` runs, after one warm-up run."""
    work()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def row(name: str, value: str, goal: str = "") -> None:
    print(f"  {name:58} {value:>12}  {goal}")


def history_store(root: Path, template: FeatureStore, history_days: int,
                  day: dt.date) -> FeatureStore:
    """A store holding ``history_days`` days before ``day``: one real week, copied back in time."""
    store = FeatureStore(root)
    features.register_groups(store)
    week = sorted(template.days(features.SCHEDULE))
    first = day - dt.timedelta(days=history_days)
    for i, past in enumerate(days(first, day - dt.timedelta(days=1))):
        src_day = week[i % len(week)]
        for group in features.GROUPS:
            src = template.partition_path(group, src_day)
            if src.exists():
                dst = store.partition_path(group, past)
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dst)
    return store


def bench_store_and_daily(tmp: Path, source: FlightSource) -> None:
    print("\nDaily feature run vs history length (goal: ratio < 1.2; compute < 1 s)")
    template = FeatureStore(tmp / "template")
    features.run_feature_pipeline(template, source, dt.date(2013, 9, 24), dt.date(2013, 9, 30))
    day = dt.date(2013, 10, 1)
    planes, carriers = source.planes(), set(source.airlines()["carrier"])
    batch = features.build_day(source.published_at(day), planes, carriers)
    stores = {label: history_store(tmp / label.replace(" ", "_"), template, history, day)
              for label, history in (("one week", 7), ("nine months", 273))}

    def write(store: FeatureStore) -> None:
        features.write_day(store, batch)

    def daily(store: FeatureStore) -> None:
        features.write_day(store, features.build_day(source.published_at(day), planes, carriers))

    for what, work, repeat in (("write one day", write, 21), ("daily run", daily, 11)):
        # interleave the two stores so that machine noise hits both alike
        times = paired_medians(work, stores, repeat)
        for label, seconds in times.items():
            goal = "goal < 1000 ms" if what == "daily run" else ""
            row(f"{what}, store holding {label}", f"{seconds * 1000:.1f} ms", goal)
        ratio = times["nine months"] / times["one week"]
        row(f"ratio {what}, nine months / one week", f"{ratio:.2f}", "goal < 1.2")


def paired_medians(work: Callable[[FeatureStore], object], stores: dict[str, FeatureStore],
                   repeat: int) -> dict[str, float]:
    """Median time of ``work`` on each store, the stores taking turns in every round."""
    for store in stores.values():
        work(store)
    times: dict[str, list[float]] = {label: [] for label in stores}
    for _ in range(repeat):
        for label, store in stores.items():
            start = time.perf_counter()
            work(store)
            times[label].append(time.perf_counter() - start)
    return {label: statistics.median(values) for label, values in times.items()}


def bench_join(source: FlightSource) -> None:
    print("\nPoint-in-time join of all 2013 flights (goal < 1.5 s)")
    first, last = dt.date(2013, 1, 1), dt.date(2013, 12, 31)
    published = source.published_at(dt.date(2014, 1, 2))  # everything of 2013 is published then
    schedule = published.source._flights(first, last)
    spine = features.schedule_features(schedule, source.planes())
    weather_raw = pd.concat([published.source._weather(d) for d in days(first, last)])
    weather = features.weather_features(weather_raw, weather_raw.iloc[:0])
    stats = pd.concat([
        features.delay_stats(
            published.source._flights(d - dt.timedelta(days=6), d), "carrier", d,
            day_start_utc(d + dt.timedelta(days=1)))
        for d in days(first, last)
    ], ignore_index=True)
    stats["available_at"] = to_utc(stats["available_at"])

    def join() -> pd.DataFrame:
        out = pit_join(spine, weather, left_time="sched_dep_utc", right_time="time_hour",
                       by=["origin"], features=["temp", "precip", "visib", "precip_3h"],
                       max_age=pd.Timedelta(hours=3), prefix="wx_")
        return pit_join(out, stats, left_time="sched_dep_utc", right_time="available_at",
                        by=["carrier"], features=["delayed_share_7d", "mean_delay_7d"],
                        max_age=pd.Timedelta(days=2), prefix="carrier_")

    seconds = median_seconds(join, repeat=5)
    row(f"{len(spine):,} flights x {len(weather):,} weather hours x {len(stats):,} "
        f"carrier-days", f"{seconds:.2f} s", "goal < 1.5 s")


SECTIONS = {"store": bench_store_and_daily, "join": bench_join}


def main(argv: list[str]) -> int:
    chosen = argv or list(SECTIONS)
    source = FlightSource()
    source.planes()  # load the CSVs once, outside every measurement
    print(f"fti benchmarks on {sys.platform}, Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="fti-bench-") as tmp:
        for name in chosen:
            if name == "store":
                bench_store_and_daily(Path(tmp), source)
            elif name in SECTIONS:
                SECTIONS[name](source)
            else:
                print(f"unknown section {name!r}; choose from {list(SECTIONS)}")
                return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
