"""The `storage` section of `make bench`: the same store operations on a local folder and on
an S3 server on localhost (moto, started here as the tests start it), medians side by side.

moto answers in a few milliseconds and keeps everything in memory, so its figures are the
cost of the requests themselves (the HTTP round trips, the lease, the listing): a floor
for a real object store, where each request also crosses a network (docs/scaling.md).
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from fti import config, features
from fti.registry import ModelRegistry
from fti.source import FlightSource
from fti.store import FeatureStore


def _moto_server():  # the tests' server helper (tests/s3.py), to start moto the same way
    if str(config.repo_root()) not in sys.path:
        sys.path.append(str(config.repo_root()))
    from tests.s3 import MotoServer

    return MotoServer


def paired(work: Callable[[object], object], targets: dict[str, object], repeat: int
           ) -> dict[str, float]:
    """Median seconds of ``work`` on each target, the targets taking turns every round."""
    for target in targets.values():
        work(target)
    times: dict[str, list[float]] = {label: [] for label in targets}
    for _ in range(repeat):
        for label, target in targets.items():
            start = time.perf_counter()
            work(target)
            times[label].append(time.perf_counter() - start)
    return {label: statistics.median(values) for label, values in times.items()}


def bench_storage(tmp: Path, row: Callable[..., None]) -> None:
    """A daily feature run, a month's training data, a model load and the lock, local vs S3."""
    from fti import training
    from fti.features import FLIGHT_VIEW
    from fti.run.plan import notebook_defaults

    print("\nStorage: a local folder vs S3 (moto on localhost), medians")
    source = FlightSource()
    first, day = dt.date(2013, 5, 1), dt.date(2013, 6, 1)
    with _moto_server().start() as server, server.environment():
        server.create_bucket("bench")
        stores = {"local": FeatureStore(tmp / "storage"),
                  "S3": FeatureStore("s3://bench/storage")}
        start = time.perf_counter()
        for store in stores.values():  # a month of history in both
            features.run_feature_pipeline(store, source, first, day - dt.timedelta(days=1))
        planes, carriers = source.planes(), set(source.airlines()["carrier"])
        batch = features.build_day(source.published_at(day), planes, carriers)

        def show(what: str, times: dict[str, float], unit: str = "ms") -> None:
            scale = 1000 if unit == "ms" else 1
            row(f"{what}: local / S3",
                f"{times['local'] * scale:.0f} / {times['S3'] * scale:.0f} {unit}",
                f"S3 / local {times['S3'] / times['local']:.1f}")

        show("write one feature day (5 partitions, marker, lock)",
             paired(lambda s: features.write_day(s, batch), stores, 11))
        show("daily feature run (build + write one day)",
             paired(lambda s: features.write_day(s, features.build_day(
                 source.published_at(day), planes, carriers)), stores, 7))
        show("training data of the month (feature view, 31 days x 5 groups)",
             paired(lambda s: FLIGHT_VIEW.training_data(s, first, day - dt.timedelta(days=2)),
                    stores, 5))
        show("take the lock for writing and give it back", paired(_empty_lock, stores, 11))

        data = FLIGHT_VIEW.training_data(stores["local"], first, day - dt.timedelta(days=2))
        trees = notebook_defaults("training")["max_trees"]
        model = training.fit(training.build_model(0, trees), data)
        registries = {label: ModelRegistry(s.root) for label, s in stores.items()}
        records = {label: r.register("bench", model, {"features": training.FEATURES})
                   for label, r in registries.items()}
        show("load the model (read, sha256, trusted types; deserialized once per process)",
             paired(lambda label: registries[label].load(records[label]),
                    {label: label for label in registries}, 7))
        size = len(records["local"].model_file.read_bytes())
        row("  (the model file)", f"{size / 1e6:.1f} MB")
        row("whole section", f"{time.perf_counter() - start:.0f} s")


def _empty_lock(store: FeatureStore) -> None:
    with store.lock.exclusive("measure the lock"):
        pass
