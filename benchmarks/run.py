"""Benchmarks: `make bench` prints the figures the issues set goals for.

Timings are medians of repeated runs measured in this one process, and the growth checks
are ratios of two such medians, so a noisy shared machine moves both sides alike. Nothing
here is a test: it prints, it does not fail.

    python benchmarks/run.py                  # everything (the replay takes many minutes)
    python benchmarks/run.py store join       # some sections
    python benchmarks/run.py engine           # the two engines on a small notebook
    python benchmarks/run.py monolith         # lesson 00: the monolith's cost vs history
    python benchmarks/run.py scale            # flights x1, x4, x16: pandas vs Spark, memory
    python benchmarks/run.py storage          # the store on a local folder vs S3 (moto)
    python benchmarks/run.py workspace        # what the Evidently workspace adds to monitoring
    python benchmarks/run.py replay           # June to December, production options
    python benchmarks/run.py replay-defaults  # the same with the default options
    python benchmarks/run.py replay-compare   # warm vs plain papermill: same results?
    python benchmarks/run.py replay-compare --save DIR      # keep a baseline (before a change)
    python benchmarks/run.py replay-compare --baseline DIR  # ... and compare with it after
    python benchmarks/run.py replay-papermill # the replay with plain papermill (~45 min)

Without arguments: every section but replay-defaults and replay-papermill.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import itertools
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from storage import bench_storage  # benchmarks/storage.py (the script's folder is on the path)

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


# --- the two papermill engines on a small notebook -----------------------------------------
SMALL_NOTEBOOK = [
    "import matplotlib.pyplot as plt\nimport pandas as pd\nimport sklearn.ensemble\n"
    "from evidently import Report",
    "frame = pd.DataFrame({'x': range(1000)})\nframe.describe()",
    "%matplotlib inline\nfig, ax = plt.subplots(figsize=(4, 2))\nax.plot(frame['x']);",
]


def _small_notebook(path: Path) -> Path:
    import nbformat

    parameters = nbformat.v4.new_code_cell('label = "x"  # a parameter')
    parameters.metadata["tags"] = ["parameters"]
    notebook = nbformat.v4.new_notebook(
        cells=[parameters, *(nbformat.v4.new_code_cell(c) for c in SMALL_NOTEBOOK)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


def bench_engine(tmp: Path, repeat: int = 5) -> None:
    """Per-execution cost of each engine, the warm kernel's reset, the HTML export."""
    import papermill
    from nbconvert import HTMLExporter

    from fti.run import kernels as warm
    from fti.run.engine import ENGINE_NAME

    source = _small_notebook(tmp / "engine" / "small.ipynb")
    print("\nThe engines on a small notebook (imports pandas, scikit-learn, matplotlib, "
          "Evidently; a table and a figure), medians")

    def execute(engine_name: str | None) -> tuple[float, float]:
        start = time.perf_counter()
        nb = papermill.execute_notebook(
            str(source), str(source.with_suffix(".out.ipynb")), parameters={"label": "y"},
            engine_name=engine_name, kernel_manager_class=warm.KERNEL_MANAGER,
            kernel_name="python3", progress_bar=False)
        wall = time.perf_counter() - start
        return wall, sum(c.metadata.papermill.get("duration") or 0.0 for c in nb.cells)

    for label, engine_name in (("plain papermill", None), ("warm", ENGINE_NAME)):
        execute(engine_name)  # warm-up: imports in this process, the warm kernel's start
        runs = [execute(engine_name) for _ in range(repeat)]
        wall = statistics.median(w for w, _ in runs)
        cells = statistics.median(c for _, c in runs)
        row(f"{label}: wall / cells / wall - cells", f"{wall:.2f} / {cells:.2f} / "
            f"{statistics.median(w - c for w, c in runs):.2f} s")
    warm.close()

    resets: list[float] = []
    reset = warm.WarmKernel.reset

    def timed_reset(self: warm.WarmKernel, cwd: str, timeout: float = 60,
                    openmp_threads: int | None = None) -> None:
        start = time.perf_counter()
        reset(self, cwd, timeout, openmp_threads)
        resets.append(time.perf_counter() - start)

    setup = warm._KERNEL_SETUP
    warm.WarmKernel.reset = timed_reset  # type: ignore[method-assign]
    try:
        for label, code in (("with gc.freeze", setup),
                            ("without (for comparison)", setup.replace("gc.freeze()", "pass"))):
            warm._KERNEL_SETUP = code
            resets.clear()
            for _ in range(repeat + 1):
                execute(ENGINE_NAME)
            warm.close()
            row(f"warm kernel reset before a notebook, {label}",
                f"{statistics.median(resets[1:]) * 1000:.0f} ms")
    finally:
        warm.WarmKernel.reset = reset  # type: ignore[method-assign]
        warm._KERNEL_SETUP = setup

    output = str(source.with_suffix(".out.ipynb"))
    exporter = HTMLExporter()
    row("HTML export of the output: new exporter each time",
        f"{median_seconds(lambda: HTMLExporter().from_filename(output), repeat) * 1000:.0f} ms")
    row("HTML export of the output: one exporter reused",
        f"{median_seconds(lambda: exporter.from_filename(output), repeat) * 1000:.0f} ms")


# --- the production replay through the notebooks ------------------------------------------
REPLAY_HISTORY = ("2013-01-01", "2013-05-31")
REPLAY_PRODUCTION = ("2013-06-01", "2013-12-31")
SHORT_HISTORY = ("2013-01-01", "2013-03-31")
SHORT_PRODUCTION = ("2013-04-01", "2013-04-21")
SHORT_RETRAIN_DAYS = 14


class PeakMemory:
    """Peak of the summed RSS of this process and all its children (the kernels), sampled
    every ``interval`` seconds in a thread. Shared pages count once per process, so the
    figure errs high."""

    def __init__(self, interval: float = 0.2) -> None:
        import psutil

        self.me, self.interval, self.peak = psutil.Process(), interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _rss(self) -> int:
        total = self.me.memory_info().rss
        for child in self.me.children(recursive=True):
            with contextlib.suppress(Exception):  # the child ended meanwhile
                total += child.memory_info().rss
        return total

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass(frozen=True)
class Execution:
    """One executed notebook of a run folder: the step's wall time and its cells' time."""

    name: str
    pipeline: str
    wall: float  # the step, as the manifest records it: papermill + HTML export + manifest
    notebook: float  # papermill's duration of the notebook
    cells: float  # the sum of the cells' durations papermill records
    cell_durations: tuple[tuple[int, str, float], ...]  # (index, first line, seconds)

    @property
    def overhead(self) -> float:
        return self.wall - self.cells


def executions(run_dir: Path) -> list[Execution]:
    """Every ok step of a run folder, read from its manifest and output notebooks."""
    from fti.run.runs import PIPELINES, read_manifest

    by_stem = {stem: name for name, stem in PIPELINES.items()}
    out = []
    for step in read_manifest(run_dir)["steps"]:
        if step["status"] != "ok" or not step["output"]:
            continue
        notebook = json.loads((run_dir / step["output"]).read_text())
        cells = tuple(
            (i, "".join(c["source"]).strip().splitlines()[0][:48] if c["source"] else "",
             float(c["metadata"].get("papermill", {}).get("duration") or 0.0))
            for i, c in enumerate(notebook["cells"]))
        out.append(Execution(step["name"], by_stem.get(step["notebook"], step["notebook"]),
                             float(step["duration_s"]),
                             float(notebook["metadata"]["papermill"]["duration"]),
                             sum(d for _, _, d in cells), cells))
    return out


#: The options of a production replay: two kernels (a second one runs the feature pipelines
#: up to 7 days ahead and shares inference; each step starts once what it reads is final),
#: and the daily runs show tables instead of figures (fti simulate --features-ahead 7
#: --no-daily-figures). Same results as the defaults (replay-compare checks it).
PRODUCTION = {"features_ahead": 7, "daily_figures": False}


def replay(root: Path, engine: str, history: tuple[str, str], production: tuple[str, str],
           **options: object) -> tuple[float, int, list[Execution]]:
    """Backfill ``history``, train, run ``production`` day by day (the demo's story) in
    ``root``; returns the wall time, the peak memory and every execution."""
    from fti.run import kernels as warm
    from fti.run.orchestrate import Options, demo

    opts = Options(data_dir=str(root / "data"), reports_dir=str(root / "reports"),
                   engine=engine, **options)  # type: ignore[arg-type]
    run_dir = root / "reports" / "runs" / f"replay-{engine}"
    with PeakMemory() as memory:
        start = time.perf_counter()
        demo(opts, run_dir, history=history, production=production)
        wall = time.perf_counter() - start
        warm.close()  # the kernel's memory is part of the replay's peak, so sample until here
    return wall, memory.peak, executions(run_dir)


def summarize(label: str, wall: float, peak: int, runs: list[Execution]) -> None:
    # the backfill and the first training run alone before the production days start
    setup = [r for r in runs if ".." in r.name]
    production_wall = wall - sum(r.wall for r in setup)
    runs = [r for r in runs if r not in setup]
    cells = sum(r.cells for r in runs)
    overheads = [r.overhead for r in runs]
    counts: dict[str, int] = {}
    for r in runs:
        counts[r.pipeline] = counts.get(r.pipeline, 0) + 1
    print(f"  {label}")
    row("backfill and first training (" + ", ".join(f"{r.name} {r.wall:.0f} s" for r in setup)
        + ")", f"{(wall - production_wall) / 60:.1f} min")
    row("production replay: wall time", f"{production_wall / 60:.1f} min", "goal <= 5 min")
    row("notebook executions " + ", ".join(f"{k} {v}" for k, v in counts.items()),
        f"{len(runs)}")
    row("sum of the cells' durations", f"{cells / 60:.1f} min")
    row("overhead per execution (step wall - cells), median",
        f"{statistics.median(overheads):.2f} s", "goal <= 0.3 s")
    row("overhead per execution, max", f"{max(overheads):.2f} s")
    row("overhead inside papermill (notebook - cells), median",
        f"{statistics.median(r.notebook - r.cells for r in runs):.2f} s")
    row("production wall time / sum of cells", f"{production_wall / cells:.2f}",
        "goal <= 1.3 (< 1 when steps overlap)")
    row("peak memory (RSS of this process + kernels, sampled)", f"{peak / 2**30:.2f} GB",
        "goal < 1.5 GB")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    row("  cross-check: max RSS of this process / of its largest child",
        f"{own:.2f} / {kids:.2f} GB")
    for pipeline in counts:
        mine = [r for r in runs if r.pipeline == pipeline]
        row(f"  {pipeline}: median step wall / cells / overhead",
            f"{statistics.median(r.wall for r in mine):.2f} / "
            f"{statistics.median(r.cells for r in mine):.2f} / "
            f"{statistics.median(r.overhead for r in mine):.2f} s")


def slowest_cells(runs: list[Execution], top: int = 12) -> None:
    """The cells that cost the most in total, over every execution of their notebook."""
    total: dict[tuple[str, int, str], list[float]] = {}
    for r in runs:
        for index, first_line, seconds in r.cell_durations:
            total.setdefault((r.pipeline, index, first_line), []).append(seconds)
    print("  where the cells' time goes (sum over the replay; median per execution):")
    ranked = sorted(total.items(), key=lambda kv: -sum(kv[1]))[:top]
    for (pipeline, index, first_line), seconds in ranked:
        print(f"    {sum(seconds):7.1f} s  {statistics.median(seconds):6.2f} s  "
              f"{pipeline:10} cell {index:2}  {first_line}")


def bench_replay(tmp: Path, engine: str = "warm", **options: object) -> None:
    options = options or PRODUCTION
    print(f"\nProduction replay through the notebooks: backfill {REPLAY_HISTORY[0]}.."
          f"{REPLAY_HISTORY[1]}, train, then {REPLAY_PRODUCTION[0]}..{REPLAY_PRODUCTION[1]} "
          f"({engine} engine, {options})")
    wall, peak, runs = replay(tmp / "replay", engine, REPLAY_HISTORY, REPLAY_PRODUCTION,
                              **options)
    summarize(f"{engine} engine", wall, peak, runs)
    slowest_cells(runs)


def bench_replay_defaults(tmp: Path) -> None:
    """The same replay with the defaults: one notebook at a time, daily figures drawn."""
    bench_replay(tmp, "warm", features_ahead=0, daily_figures=True)


def bench_replay_papermill(tmp: Path) -> None:
    """The same replay with plain papermill and the defaults: the "before" figure (about
    45 minutes)."""
    bench_replay(tmp, "papermill", features_ahead=0, daily_figures=True)


def _parquet_files(data: Path) -> dict[str, Path]:
    return {str(p.relative_to(data)): p
            for folder in ("feature_groups", "training_datasets")
            for p in sorted((data / folder).rglob("*.parquet"))}


def compare_stores(a: Path, b: Path) -> list[str]:
    """Differences between two data folders: Parquet files (bytes, else frames), training
    dataset metadata, model metrics and champions, monitoring history. Empty: identical."""
    import pyarrow.parquet as pq

    from fti.registry import ModelRegistry

    problems = []
    files_a, files_b = _parquet_files(a), _parquet_files(b)
    if files_a.keys() != files_b.keys():
        problems.append(f"different Parquet files: {sorted(files_a.keys() ^ files_b.keys())}")
    same_bytes = same_frames = 0
    for name in sorted(files_a.keys() & files_b.keys()):
        if files_a[name].read_bytes() == files_b[name].read_bytes():
            same_bytes += 1
            continue
        frame_a, frame_b = (pq.read_table(f[name]).to_pandas() for f in (files_a, files_b))
        try:
            pd.testing.assert_frame_equal(frame_a, frame_b, check_exact=True)
            same_frames += 1
        except AssertionError as exc:
            problems.append(f"{name}: {str(exc).splitlines()[0]}")
    row("Parquet files: byte-identical / frame-equal / total",
        f"{same_bytes} / {same_frames} / {len(files_a)}")
    for meta in sorted((a / "training_datasets").rglob("metadata.json")):
        other = b / meta.relative_to(a)
        if not other.exists() or json.loads(meta.read_text()) != json.loads(other.read_text()):
            problems.append(f"{meta.relative_to(a)} differs")
    reg_a, reg_b = ModelRegistry(a), ModelRegistry(b)
    models = sorted(p.name for p in (a / "models").iterdir() if p.is_dir())
    for model in models:
        metrics_a = {r.version: r.metrics for r in reg_a.versions(model)}
        metrics_b = {r.version: r.metrics for r in reg_b.versions(model)}
        if metrics_a != metrics_b:
            problems.append(f"model {model}: metrics differ")
        if reg_a.aliases(model) != reg_b.aliases(model):
            problems.append(f"model {model}: aliases (champion history) differ")
        row(f"model {model}: versions, champion", f"{len(metrics_a)}, "
            f"v{reg_a.aliases(model).get('champion')} / v{reg_b.aliases(model).get('champion')}")
    hist_a, hist_b = (_history(d) for d in (a, b))
    try:
        pd.testing.assert_frame_equal(hist_a, hist_b, check_exact=True)
    except AssertionError as exc:
        problems.append(f"monitoring history: {str(exc).splitlines()[0]}")
        shared = [c for c in hist_a.columns if c in hist_b.columns]
        if len(shared) < len(hist_a.columns) and len(hist_a) == len(hist_b):
            same = [c for c in shared if hist_a[c].equals(hist_b[c])]
            row("monitoring history: columns of both versions equal", f"{len(same)} of "
                f"{len(shared)}", ", ".join(c for c in shared if c not in same) or "")
    row("monitoring history rows", f"{len(hist_a)} / {len(hist_b)}")
    return problems


def _history(data: Path) -> pd.DataFrame:
    """The monitoring history, in whatever version of its table the folder holds (a
    baseline from before version 2 has version 1)."""
    from fti.monitoring import HISTORY, read_history

    store = FeatureStore(data)
    history = read_history(store)
    older = [v for v in range(HISTORY.version - 1, 0, -1)
             if store.group_dir(HISTORY.name, v).exists()]
    if history.empty and older:
        group = store.get_group(HISTORY.name, older[0])
        found = store.days(group)
        return store.read(group, found[0], found[-1]).sort_values(
            "run_date", ignore_index=True)
    return history


#: The runs of replay-compare: label -> (engine, options). The first is the reference.
COMPARED = {"papermill": ("papermill", {}), "warm": ("warm", {}),
            "warm + production options": ("warm", PRODUCTION)}


def bench_replay_compare(tmp: Path, save: Path | None = None,
                         baseline: Path | None = None) -> None:
    """The short replay three ways, compared with each other and, with ``baseline``, with
    the data folder an earlier version of the code left (``--save DIR`` keeps this one's:
    a refactor must change no result)."""
    print(f"\nSame results with the warm engine (and with the production options "
          f"{PRODUCTION}) as with plain papermill? A short replay three times: "
          f"backfill {SHORT_HISTORY[0]}.."
          f"{SHORT_HISTORY[1]}, train, {SHORT_PRODUCTION[0]}..{SHORT_PRODUCTION[1]}, "
          f"monitoring weekly and a scheduled retraining every {SHORT_RETRAIN_DAYS} days (so "
          f"a second model is trained)")
    results = {}
    roots = {label: tmp / f"compare-{n}" for n, label in enumerate(COMPARED)}
    for label, (engine, options) in COMPARED.items():
        results[label] = replay(roots[label], engine, SHORT_HISTORY, SHORT_PRODUCTION,
                                retrain_every_days=SHORT_RETRAIN_DAYS, **options)
    for label, (wall, peak, runs) in results.items():
        overheads = [r.overhead for r in runs]
        row(f"{label}: {len(runs)} executions, wall / cells",
            f"{wall:.0f} / {sum(r.cells for r in runs):.0f} s")
        row(f"{label}: overhead per execution, median / max",
            f"{statistics.median(overheads):.2f} / {max(overheads):.2f} s")
        row(f"{label}: peak memory", f"{peak / 2**30:.2f} GB")
    reference, *others = COMPARED
    for label in others:
        print(f"  {label} vs {reference}:")
        problems = compare_stores(roots[reference] / "data", roots[label] / "data")
        if sorted(r.name for r in results[label][2]) != sorted(
                r.name for r in results[reference][2]):
            problems.append("the two replays ran different steps")
        print("  RESULTS IDENTICAL" if not problems else "  RESULTS DIFFER:\n    "
              + "\n    ".join(problems))
    last = roots[others[-1]] / "data"
    if baseline is not None:
        print(f"  {others[-1]} vs the baseline in {baseline}:")
        problems = compare_stores(baseline / "data", last)
        print("  RESULTS IDENTICAL" if not problems else "  RESULTS DIFFER:\n    "
              + "\n    ".join(problems))
    if save is not None:
        shutil.rmtree(save / "data", ignore_errors=True)
        shutil.copytree(last, save / "data")
        print(f"  kept its data folder as a baseline: {save / 'data'}")


def bench_inference(tmp: Path) -> None:
    """Scoring one day's flights: the feature view for the day, the model, the write."""
    from fti import inference, training
    from fti.features import FLIGHT_VIEW
    from fti.registry import ModelRegistry
    from fti.run.plan import notebook_defaults

    print("\nInference for one day (goal: well under a second of compute)")
    store = FeatureStore(tmp / "inference")
    first, day = dt.date(2013, 5, 1), dt.date(2013, 6, 1)
    features.run_feature_pipeline(store, FlightSource(), first, day)
    data = FLIGHT_VIEW.training_data(store, first, day - dt.timedelta(days=1))
    registry = ModelRegistry(store.root)
    trees = notebook_defaults("training")["max_trees"]  # the training notebook's model
    record = registry.register("bench", training.fit(training.build_model(0, trees), data),
                               {"features": training.FEATURES})
    model = registry.load(record)

    def score() -> None:
        frame = inference.features_for_day(store, FLIGHT_VIEW, day)
        inference.write_predictions(store, day, inference.score(model, record, frame, 0.5, day))

    flights = len(inference.features_for_day(store, FLIGHT_VIEW, day))
    row(f"features + predict + write for the {flights} flights of {day}",
        f"{median_seconds(score, repeat=9) * 1000:.0f} ms", "goal well under 1000 ms")
    row("loading the model from the registry (hash check, trusted types)",
        f"{median_seconds(lambda: registry.load(record), repeat=5) * 1000:.0f} ms")


def bench_monolith(tmp: Path, short: int = 7, long: int = 56) -> None:
    """Lesson 00's monolith: inference for one day recomputes the history it reads."""
    from fti import monolith

    print(f"\nMonolith inference for one day, {short} vs {long} days of history recomputed "
          f"from raw data (lesson 00; the FTI store's daily cost is the 'store' section)")
    from fti.run.plan import notebook_defaults

    lesson = notebook_defaults("00_from_monolith_to_fti")  # its day, holdout and seed
    source, day = FlightSource(), dt.date.fromisoformat(lesson["run_date"])
    model = monolith.monolith(source, "train", day, lesson["history_days"],
                              holdout_days=lesson["holdout_days"],
                              seed=lesson["seed"]).experiment.model

    def infer(history_days: int) -> object:
        return monolith.monolith(source, "infer", day, history_days, model=model)

    times = paired_medians(infer, {"short": short, "long": long}, repeat=5)  # type: ignore[arg-type]
    row(f"one day's inference, {short} days of history", f"{times['short'] * 1000:.0f} ms")
    row(f"one day's inference, {long} days of history", f"{times['long'] * 1000:.0f} ms")
    row(f"ratio {long} / {short} days of history", f"{times['long'] / times['short']:.2f}",
        "grows with the history (FTI: ratio < 1.2)")


# --- cost as the work grows: the flights multiplied, pandas vs Spark -------------------------
#: Two weeks: a day's cost depends on its flights, not on the period, and two weeks at x16
#: (about 200,000 flights) keep the section to a few minutes on 2 cores.
SCALE_PERIOD = ("2013-06-03", "2013-06-16")
SCALE_FACTORS = (1, 4, 16)
#: Flights of 2013, the unit for "a year at xN".
YEAR_FLIGHTS = 336_776


def synthetic_source(folder: Path, factor: int, first: dt.date, last: dt.date) -> Path:
    """A source folder with every flight of [first - 7 days, last] ``factor`` times: copy k
    gets flight number + 10,000 k and tail number + "-k" (and its plane a copy with that
    tail number), so keys stay unique, the expectations pass and every distribution (routes,
    hours, delays, planes) stays the same. Weather and airlines are shared."""
    from fti.source import default_source_dir

    src = default_source_dir()

    def read(name: str) -> pd.DataFrame:
        return pd.read_csv(src / name, dtype="str", keep_default_na=False)

    flights, planes, weather = read("flights.csv.zip"), read("planes.csv"), read("weather.csv")
    day = pd.to_datetime(flights[["year", "month", "day"]].astype(int)).dt.date
    flights = flights[(day >= first - dt.timedelta(days=7)) & (day <= last)]
    wday = pd.to_datetime(weather[["year", "month", "day"]].astype(int)).dt.date
    weather = weather[(wday >= first - dt.timedelta(days=1)) & (wday <= last)]
    copies, plane_copies = [flights], [planes]
    for k in range(1, factor):
        copy = flights.assign(flight=(flights["flight"].astype(int) + 10_000 * k).astype(str))
        real = ~copy["tailnum"].isin(["", "NA"])
        copy.loc[real, "tailnum"] = copy.loc[real, "tailnum"] + f"-{k}"
        copies.append(copy)
        plane_copies.append(planes.assign(tailnum=planes["tailnum"] + f"-{k}"))
    folder.mkdir(parents=True, exist_ok=True)
    pd.concat(copies).to_csv(folder / "flights.csv", index=False)
    pd.concat(plane_copies).to_csv(folder / "planes.csv", index=False)
    weather.to_csv(folder / "weather.csv", index=False)
    shutil.copyfile(src / "airlines.csv", folder / "airlines.csv")
    return folder


def _days(period: tuple[str, str]) -> tuple[dt.date, dt.date]:
    return dt.date.fromisoformat(period[0]), dt.date.fromisoformat(period[1])


def _scale_pandas(source_dir: str, data_dir: str) -> dict[str, float]:
    """In a fresh process: the pandas backfill of the period (the source read included)."""
    first, last = _days(SCALE_PERIOD)
    with PeakMemory() as memory:
        start = time.perf_counter()
        batches = features.run_feature_pipeline(FeatureStore(data_dir), FlightSource(source_dir),
                                                first, last)
        wall = time.perf_counter() - start
    flights = sum(b.rows()[features.SCHEDULE.name] for b in batches)
    return {"wall": wall, "peak": memory.peak, "flights": flights}


def _scale_training(data_dir: str) -> dict[str, float]:
    """In a fresh process: the point-in-time training data of the whole period."""
    first, last = _days(SCALE_PERIOD)
    with PeakMemory() as memory:
        start = time.perf_counter()
        rows = len(features.FLIGHT_VIEW.training_data(FeatureStore(data_dir), first, last))
        wall = time.perf_counter() - start
    return {"wall": wall, "peak": memory.peak, "rows": rows}


_SESSION: list = []  # the Spark session of the process that runs _scale_spark


def _scale_spark(step: str, source_dir: str = "", data_dir: str = "") -> dict[str, float]:
    """In one process kept for the whole section: "start" starts a local[*] session and
    warms it up with a one-day backfill (the Python workers start and import the library);
    "run" backfills the period; "stop" ends the session. Spark's JVM keeps the heap it grew,
    so the factors run in increasing order and each peak is that factor's."""
    from fti import spark as engine

    first, last = _days(SCALE_PERIOD)
    with PeakMemory() as memory:
        start = time.perf_counter()
        if step == "start":
            _SESSION.append(engine.start_session(engine.LOCAL_MASTER, app_name="fti-bench"))
            engine.run_feature_pipeline(FeatureStore(data_dir), FlightSource(source_dir), first,
                                        first, master=engine.LOCAL_MASTER)
        elif step == "run":  # on the running session
            engine.run_feature_pipeline(FeatureStore(data_dir), FlightSource(source_dir), first,
                                        last, master=engine.LOCAL_MASTER)
        else:
            engine.stop_session(_SESSION.pop())
        wall = time.perf_counter() - start
    return {"wall": wall, "peak": memory.peak}


@contextlib.contextmanager
def _process(fresh: bool = True) -> Iterator[Callable[..., dict]]:
    """Run functions in another process: a new one per call, or one kept for every call."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with context.Pool(1, maxtasksperchild=1 if fresh else None) as pool:
        yield lambda work, *args: pool.apply(work, args)
        pool.close()
        pool.join()


def bench_scale(tmp: Path) -> None:
    """Backfill pandas vs Spark, training data and peak memory as the flights multiply."""
    import psutil

    first, last = _days(SCALE_PERIOD)
    n_days = (last - first).days + 1
    print(f"\nCost as the work grows: backfill {first}..{last} ({n_days} days) with the flights "
          f"x{', x'.join(map(str, SCALE_FACTORS))}.\n"
          f"  Distinct synthetic flights: copies with new flight and tail numbers, the same\n"
          f"  distributions, weather shared. {n_days} days keep the section to a few minutes; a\n"
          f"  day's cost depends on its flights, not on the period. Each pandas figure comes from\n"
          f"  a fresh process, Spark's from one process with one local[*] session (its start\n"
          f"  timed apart); the engines take turns per factor. Peak memory: RSS of the process\n"
          f"  and its children (Spark's JVM and Python workers).")
    folders = {f: synthetic_source(tmp / f"scale-x{f}" / "source", f, first, last)
               for f in SCALE_FACTORS}
    pandas_runs, spark_runs, training = {}, {}, {}
    with _process() as fresh, _process(fresh=False) as kept:
        started = kept(_scale_spark, "start", str(folders[SCALE_FACTORS[0]]),
                       str(tmp / "scale-warm-up"))
        for f in SCALE_FACTORS:
            data = tmp / f"scale-x{f}"
            pandas_runs[f] = fresh(_scale_pandas, str(folders[f]), str(data / "pandas"))
            spark_runs[f] = kept(_scale_spark, "run", str(folders[f]), str(data / "spark"))
            training[f] = fresh(_scale_training, str(data / "pandas"))
        kept(_scale_spark, "stop")
    same = all(_parquet_bytes(tmp / f"scale-x{f}" / "pandas") ==
               _parquet_bytes(tmp / f"scale-x{f}" / "spark") for f in SCALE_FACTORS)
    gb = 2**30
    row("Spark start: JVM, session, a one-day warm-up backfill", f"{started['wall']:.1f} s")
    for f in SCALE_FACTORS:
        pd_run, sp_run = pandas_runs[f], spark_runs[f]
        print(f"  x{f}: {pd_run['flights']:,} flights in {n_days} days")
        row("  backfill: pandas / Spark (started)", f"{pd_run['wall']:.1f} / "
            f"{sp_run['wall']:.1f} s", f"Spark / pandas {sp_run['wall'] / pd_run['wall']:.2f}")
        row("  backfill peak memory: pandas / Spark (JVM + workers)",
            f"{pd_run['peak'] / gb:.2f} / {sp_run['peak'] / gb:.2f} GB")
        row("  training data of the whole period (pandas): rows, time",
            f"{training[f]['rows']:,}, {training[f]['wall']:.1f} s")
        row("  training data peak memory", f"{training[f]['peak'] / gb:.2f} GB")
    row("same store from both engines (every Parquet file, every factor)",
        "identical" if same else "DIFFERENT")
    for lo, hi in itertools.pairwise(SCALE_FACTORS):
        flights = pandas_runs[hi]["flights"] / pandas_runs[lo]["flights"]
        row(f"growth x{lo} -> x{hi}: pandas / Spark / training data (flights x{flights:.0f})",
            f"{pandas_runs[hi]['wall'] / pandas_runs[lo]['wall']:.1f} / "
            f"{spark_runs[hi]['wall'] / spark_runs[lo]['wall']:.1f} / "
            f"{training[hi]['wall'] / training[lo]['wall']:.1f}")
    _where_pandas_ends(pandas_runs, training, spark_runs, psutil.virtual_memory().total)


def _parquet_bytes(data: Path) -> dict[str, bytes]:
    return {name: path.read_bytes() for name, path in _parquet_files(data).items()}


def _where_pandas_ends(pandas_runs: dict, training: dict, spark: dict, ram: int) -> None:
    """Extrapolate from the two largest factors: seconds and bytes per flight beyond them."""
    mid, hi = SCALE_FACTORS[-2], SCALE_FACTORS[-1]
    flights = pandas_runs[hi]["flights"] - pandas_runs[mid]["flights"]

    def slope(runs: dict, key: str) -> float:
        return (runs[hi][key] - runs[mid][key]) / flights

    print(f"  Beyond x{mid} (per flight added; the fixed costs drop out):")
    per_flight = {"pandas": slope(pandas_runs, "wall"), "Spark": slope(spark, "wall")}
    for label, seconds in per_flight.items():
        row(f"  {label} backfill: seconds per 100,000 flights", f"{seconds * 1e5:.1f} s")
    row("  Spark / pandas per flight", f"{per_flight['Spark'] / per_flight['pandas']:.2f}",
        f"({os.cpu_count()} cores)")
    for label, runs in (("pandas backfill", pandas_runs), ("Spark backfill", spark),
                        ("training data", training)):
        row(f"  {label}: memory per flight", f"{slope(runs, 'peak'):,.0f} B")
    year = YEAR_FLIGHTS * hi
    row(f"  extrapolated: a year at x{hi} ({year / 1e6:.1f} M flights), pandas backfill",
        f"{per_flight['pandas'] * year / 60:.0f} min", "one core, day after day")
    memory = max(slope(pandas_runs, "peak"), slope(training, "peak"))
    fits = (ram * 0.8 - max(pandas_runs[hi]["peak"], training[hi]["peak"])) / memory
    fits += pandas_runs[hi]["flights"]
    row(f"  extrapolated: flights pandas holds in 80 % of {ram / 2**30:.0f} GB (source or "
        f"training data)", f"{fits / 1e6:.0f} M", f"= a year at x{fits / YEAR_FLIGHTS:.0f}")
def bench_workspace(tmp: Path, repeat: int = 5) -> None:
    """What the Evidently workspace adds to a monitoring run (issue 17), on a real week:
    the extra metrics (DriftedColumnsCount in the drift report, two MeanValue in the
    quality report, the labels report) and writing the day's runs and the dashboard, at
    the first monitoring day and with a month of days already in the workspace."""
    from fti import inference, monitoring, training
    from fti.calibration import drift_thresholds
    from fti.features import FLIGHT_VIEW
    from fti.monitoring import workspace
    from fti.registry import ModelRegistry

    print("\nEvidently workspace: what it adds to a monitoring run (medians of "
          f"{repeat}; a week of June 2013 against a May reference)")
    store = FeatureStore(tmp / "workspace")
    first, day = dt.date(2013, 5, 1), dt.date(2013, 6, 8)
    features.run_feature_pipeline(store, FlightSource(), first, day)
    data = FLIGHT_VIEW.training_data(store, first, dt.date(2013, 5, 31))
    snap = training.save_snapshot(store, FLIGHT_VIEW, data, first, dt.date(2013, 5, 31))
    registry = ModelRegistry(store.root)
    record = registry.register("bench", training.fit(training.build_model(0, 100), data), {
        "features": training.FEATURES, "metrics": {"holdout": {"roc_auc": 0.75}},
        "lineage": {"training_dataset": {"name": snap.name, "version": snap.version}}})
    model = registry.load(record)
    week = [day - dt.timedelta(days=d) for d in range(7, 0, -1)]
    for d in week:
        frame = inference.features_for_day(store, FLIGHT_VIEW, d)
        inference.write_predictions(store, d, inference.score(model, record, frame, 0.5, d))
    reference = monitoring.reference_data(store, record, model)
    predictions = inference.read_predictions(store, week[0], week[-1])
    current = monitoring.served(monitoring.current_window(
        FLIGHT_VIEW.get(store, week[0], week[-1]), predictions))
    numerical, categorical = monitoring.monitored_columns(record.features,
                                                          FLIGHT_VIEW.categorical)
    numerical = numerical + [monitoring.PREDICTION_COLUMN]
    thresholds = drift_thresholds(reference, numerical, "sched_dep_utc", 7)
    joined = monitoring.join_labels(predictions, FLIGHT_VIEW.labels(store, week[0], week[-1]),
                                    day_start_utc(day))
    result = monitoring.drift(reference, current, numerical, categorical,
                              thresholds=thresholds)

    from evidently import BinaryClassification, DataDefinition, Dataset, Report
    from evidently.metrics import DriftedColumnsCount
    from evidently.presets import ClassificationPreset

    count = next(m for m in result.snapshot.report.metrics
                 if isinstance(m, DriftedColumnsCount))
    tested = [c for c in result.columns.loc[result.columns["note"] == "", "column"]]
    definition = DataDefinition(numerical_columns=[c for c in tested if c in numerical],
                                categorical_columns=[c for c in tested if c in categorical])
    cur, ref = (Dataset.from_pandas(f[tested].reset_index(drop=True), data_definition=definition)
                for f in (current, reference))
    done = joined.loc[joined["labelled"]]
    labelled = pd.DataFrame({"delayed": done["delayed"].astype("int64").to_numpy(),
                             "probability": done["probability"].to_numpy("float64")})
    task = BinaryClassification(target="delayed", prediction_probas="probability", pos_label=1)
    only_preset = Dataset.from_pandas(labelled, data_definition=DataDefinition(
        numerical_columns=["probability"], classification=[task]))
    runs = {"drift": result.snapshot, "quality": monitoring.classification_report(joined),
            "labels": monitoring.labels_report(joined)}
    space = tmp / "evidently"

    def write(run_date: dt.date) -> None:
        workspace.record_day(space, model_name="bench", run_date=run_date, runs=runs,
                             champion=1, judged_version=1, window_versions=[1],
                             metadata={}, drift_columns=result.columns)

    steps = {
        "drift report as monitoring runs it (with DriftedColumnsCount)":
            lambda: monitoring.drift(reference, current, numerical, categorical,
                                     thresholds=thresholds),
        "  of which DriftedColumnsCount alone (for the workspace)":
            lambda: Report([count]).run(cur, ref),
        "quality report: ClassificationPreset + 2 MeanValue":
            lambda: monitoring.classification_report(joined),
        "  ClassificationPreset alone (the report before the workspace)":
            lambda: Report([ClassificationPreset(probas_threshold=0.5)]).run(only_preset, None),
        "labels report (for the workspace)": lambda: monitoring.labels_report(joined),
        "write a day's 3 runs + dashboard, first day":
            lambda: write(day),
    }
    times = {name: median_seconds(work, repeat) for name, work in steps.items()}
    for d in range(1, 31):  # a month of monitoring days already stored
        write(day + dt.timedelta(days=7 * d))
    times["write a day's 3 runs + dashboard, 30 days stored"] = median_seconds(
        lambda: write(day), repeat)
    for name, seconds in times.items():
        row(name, f"{seconds:.2f} s")
    names = list(times)
    added = (times[names[1]] + times[names[2]] - times[names[3]] + times[names[4]]
             + times[names[6]])
    row("added by the workspace per monitoring run",
        f"{added:.2f} s", f"{added / (times[names[0]] - times[names[1]]):.0%} of the drift "
        "report without it")
    size = sum(p.stat().st_size for p in space.rglob("*.json")) / 2**20 / 31
    row("workspace size per monitoring day", f"{size:.1f} MB")


SECTIONS: dict[str, Callable[..., None]] = {
    "store": bench_store_and_daily, "join": bench_join, "inference": bench_inference,
    "engine": bench_engine, "replay": bench_replay, "replay-defaults": bench_replay_defaults,
    "replay-compare": bench_replay_compare, "scale": bench_scale, "monolith": bench_monolith,
    "workspace": bench_workspace,
    "replay-papermill": bench_replay_papermill,  # only on request: it takes long
    "storage": lambda tmp: bench_storage(tmp, row),
}
DEFAULT_SECTIONS = ["store", "join", "inference", "storage", "monolith", "workspace", "engine",
                    "scale", "replay", "replay-compare"]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sections", nargs="*", help=f"any of {list(SECTIONS)}")
    parser.add_argument("--save", type=Path, metavar="DIR", help="replay-compare: keep the "
                        "data folder of the replay with the production options in DIR/data")
    parser.add_argument("--baseline", type=Path, metavar="DIR", help="replay-compare: also "
                        "compare with DIR/data, kept by --save from an earlier version")
    args = parser.parse_args(argv)
    chosen = args.sections or DEFAULT_SECTIONS
    unknown = [name for name in chosen if name not in SECTIONS]
    if unknown:
        print(f"unknown section(s) {unknown}; choose from {list(SECTIONS)}")
        return 2
    print(f"fti benchmarks on {sys.platform}, Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs")
    source = None
    with tempfile.TemporaryDirectory(prefix="fti-bench-") as tmp:
        for name in chosen:
            if name in ("store", "join") and source is None:
                source = FlightSource()
                source.planes()  # load the CSVs once, outside every measurement
            if name == "store":
                bench_store_and_daily(Path(tmp), source)
            elif name == "join":
                bench_join(source)
            elif name == "replay-compare":
                bench_replay_compare(Path(tmp), args.save, args.baseline)
            else:
                SECTIONS[name](Path(tmp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
