"""One writer per data root, checked with real processes writing the same root at once,
on a local folder (flock) and on S3 (lease objects on a moto server on localhost).

The local numbers are the issue's: 60 registrations from two processes (28 failed with
"Directory not empty" before the lock), 400 promotions from two processes (153 lost from
the history), and a reader that saw a feature run's range half-written. On S3 every
locked operation is a few HTTP requests, so the counts are smaller.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from fti import config
from fti.config import TIME_DTYPE
from fti.errors import LockTimeoutError
from fti.features import FLIGHT_VIEW
from fti.locks import lock_for
from fti.registry import ModelRegistry
from fti.store import FeatureGroup, FeatureStore

pytestmark = pytest.mark.slow  # real processes

GROUPS = tuple(
    FeatureGroup(name=name, version=1, description="a test group",
                 schema={"key": "str", "at": TIME_DTYPE, "generation": "int64"},
                 primary_key=("key",), event_time="at")
    for name in ("group_a", "group_b"))
DAYS = [dt.date(2013, 6, 1) + dt.timedelta(days=n) for n in range(8)]


def _start(code: str, *args: object) -> subprocess.Popen:
    """Run ``code`` in a new Python process (argv: ``args``)."""
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=config.repo_root())


_WAIT_FOR_GO = """
import pathlib, sys, time
print("ready", flush=True)
go = pathlib.Path(sys.argv[1])
while not go.exists():
    time.sleep(0.005)
"""


def _together(tmp_path: Path, imports: str, code: str, *args: object
              ) -> list[subprocess.CompletedProcess]:
    """Run ``code`` in two processes (argv[2]: "a" or "b") that start it at the same time,
    after ``imports`` (which are not part of the race)."""
    go = tmp_path / "go"
    procs = [_start(imports + _WAIT_FOR_GO + code, go, who, *args) for who in ("a", "b")]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()[-2000:]
    go.touch()
    done = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done


def test_sixty_registrations_from_two_processes_all_succeed(tmp_path, root):
    each = 6 if root.s3 else 30
    results = _together(tmp_path, "import skops.io\n", """
from fti.registry import ModelRegistry
who, root, each = sys.argv[2], sys.argv[3], int(sys.argv[4])
registry = ModelRegistry(root)
for i in range(each):
    registry.register("m", {"who": who, "i": i}, {"who": who, "i": i})
""", root, each)
    assert [r.returncode for r in results] == [0, 0], [r.stderr[-2000:] for r in results]
    records = ModelRegistry(root).versions("m")
    assert [r.version for r in records] == list(range(1, 2 * each + 1))
    assert sorted((r.info["who"], r.info["i"]) for r in records) == sorted(
        (who, i) for who in "ab" for i in range(each))
    assert not [p for p in (root / "models" / "m").iterdir() if p.name.startswith(".")]


def test_four_hundred_promotions_from_two_processes_all_reach_the_history(tmp_path, root):
    each = 12 if root.s3 else 200
    registry = ModelRegistry(root)
    for n in (1, 2):
        registry.register("m", {"n": n}, {"n": n})
    results = _together(tmp_path, "", """
from fti.registry import ModelRegistry
who, root, each = sys.argv[2], sys.argv[3], int(sys.argv[4])
registry = ModelRegistry(root)
for i in range(each):
    registry.set_alias("m", "champion", 1 + i % 2, f"{who} {i}", at="2013-06-01")
""", root, each)
    assert [r.returncode for r in results] == [0, 0], [r.stderr[-2000:] for r in results]
    history = registry.aliases("m")["history"]
    assert sorted(h["reason"] for h in history) == sorted(
        f"{who} {i}" for who in "ab" for i in range(each))
    for before, after in zip(history, history[1:], strict=False):  # each saw the one before
        assert after["previous"] == before["version"]


def _toy_frame(day: dt.date, generation: int) -> pd.DataFrame:
    at = pd.Timestamp(day, tz="UTC")
    return pd.DataFrame({"key": [f"{day}-{n}" for n in range(3)],
                         "at": pd.Series([at] * 3).astype(TIME_DTYPE),
                         "generation": [generation] * 3})


_WRITER = """
import datetime as dt
import time
import pandas as pd
from fti import config
from fti.config import TIME_DTYPE
from fti.store import FeatureStore
from tests.unit.test_locks import DAYS, GROUPS, _toy_frame

store = FeatureStore(sys.argv[3])
for generation in range(1, int(sys.argv[4]) + 1):  # like a backfill: a range in one operation
    with store.lock.exclusive(f"write generation {generation}"):
        for day in DAYS:
            store.write_together(f"run-{day}", [(g, day, _toy_frame(day, generation))
                                                for g in GROUPS], repair="run it again")
    time.sleep(0.3)  # the next range's computing, outside the lock: readers get their turn
"""


def test_a_reader_sees_a_range_written_by_another_process_whole_or_not_at_all(tmp_path, root):
    store = FeatureStore(root)
    writer = _start("import tests.unit.test_locks\n" + _WAIT_FOR_GO + _WRITER,
                    tmp_path / "go", "a", root, 4 if root.s3 else 12)
    assert writer.stdout.readline().strip() == "ready", writer.stderr.read()[-2000:]
    (tmp_path / "go").touch()
    seen = []
    while writer.poll() is None or not seen:
        with store.lock.shared("read the range as training does"):
            frames = [store.read(g, DAYS[0], DAYS[-1]) for g in GROUPS]
        both = pd.concat(frames)
        seen.append((set(both["generation"]), sum(len(f) for f in frames)))
        time.sleep(0.05)  # what a reader does with its rows: the writer gets its turn too
    assert writer.returncode == 0, writer.stderr.read()[-2000:]
    for generations, rows in seen:
        assert rows in (0, 2 * 3 * len(DAYS)) and len(generations) <= 1, (generations, rows)
    assert len(seen) > 3  # it did read while the writer wrote


_HOLDER = """
import sys, time
from fti.locks import lock_for
with lock_for(sys.argv[1]).exclusive("train a model for the test"):
    print("held", flush=True)
    time.sleep(120)
"""


def test_a_writer_waits_naming_the_holder_and_a_killed_holder_frees_the_root(
        root, monkeypatch, capsys):
    monkeypatch.setenv("FTI_LEASE_TTL", "3")  # on S3: a lease lives 3 s without renewal
    holder = _start(_HOLDER, root)
    try:
        assert holder.stdout.readline().strip() == "held"
        store = FeatureStore(root)
        # on S3 longer than the lease lives: the holder renews it, so it is not taken over
        monkeypatch.setenv("FTI_LOCK_TIMEOUT", "4" if root.s3 else "1.5")
        with pytest.raises(LockTimeoutError) as refused:
            store.write(GROUPS[0], DAYS[0], _toy_frame(DAYS[0], 1))
        message = str(refused.value)
        assert f"pid {holder.pid}" in message and "train a model for the test" in message
        assert "waiting for the lock of" in capsys.readouterr().err  # said after a second
        monkeypatch.setenv("FTI_LOCK_TIMEOUT", "1")
        with pytest.raises(LockTimeoutError):  # readers of a range wait for the writer, too
            FLIGHT_VIEW.training_data(store, DAYS[0], DAYS[-1])
        assert not store.group_dir("group_a", 1).exists()  # nothing was written
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    monkeypatch.setenv("FTI_LOCK_TIMEOUT", "60")
    if not root.s3:
        assert lock_for(root).holder() == ""  # what the dead holder wrote names no one
    # the dead holder's lock is gone (on S3: its lease expires, and this writer takes it over)
    store.write(GROUPS[0], DAYS[0], _toy_frame(DAYS[0], 1))
    assert store.days(GROUPS[0]) == [DAYS[0]] and lock_for(root).holder() == ""


def test_the_lock_is_reentrant_in_a_thread_but_a_reader_cannot_start_writing(root):
    lock = lock_for(root)
    with lock.exclusive("write"), lock.shared("read what it writes"), lock.exclusive("more"):
        pass
    with lock.shared("read"), pytest.raises(RuntimeError, match="cannot write"), \
            lock.exclusive("write while reading"):
        pass
    with lock.exclusive("again"):  # released after each block
        pass


def test_a_lock_handed_over_lets_its_helpers_write_and_keeps_every_other_writer_out(root):
    """Spark's executors write a backfill's days under the lock the driver holds."""
    code = """
        import sys
        from fti.files import location, write_bytes
        from fti.locks import lock_for
        lock = lock_for(sys.argv[1])
        with lock.acting_for(sys.argv[2]), lock.exclusive("write a day"):
            write_bytes(location(sys.argv[1]) / "written-by-helper", b"ok")
    """
    lock = lock_for(root)
    with lock.handed_over("a backfill's writes") as token:
        helper = _start(code, root, token)
        assert helper.wait(timeout=120) == 0, helper.stderr.read()
        stranger = _start(code, root, "not-the-token")
        assert stranger.wait(timeout=120) != 0
        assert "not held with that token" in stranger.stderr.read()
        assert "a backfill's writes" in lock.holder()
    assert (root / "written-by-helper").read_bytes() == b"ok"
    late = _start(code, root, token)  # the holder is done: the token is worth nothing
    assert late.wait(timeout=120) != 0


def test_a_lease_holder_that_stood_still_too_long_makes_nothing_visible(s3_root, monkeypatch):
    """A writer paused past its lease (its renewals stopped) whose lease another writer took
    meanwhile is refused before it writes the object that would make its work count."""
    import threading

    from fti import lease
    from fti.errors import LeaseLostError

    monkeypatch.setenv("FTI_LEASE_TTL", "2")
    registry = ModelRegistry(s3_root)
    with registry.lock.exclusive("register after a long pause"):
        lease._active()[registry.lock.key]._stop.set()  # the process stands still: no renewal
        time.sleep(3.5)  # longer than the lease (and the server clock's second) lives
        other = threading.Thread(  # another writer takes the expired lease, writes, leaves
            target=lambda: ModelRegistry(s3_root).register("m", {"n": "other"}, {}))
        other.start()
        other.join()
        with pytest.raises(LeaseLostError, match="taken over"):
            registry.register("m", {"n": "paused"}, {})
    assert [registry.load(r) for r in registry.versions("m")] == [{"n": "other"}]
