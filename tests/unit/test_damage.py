"""Damaged files, a feature day cut short and a full disk: refused with the file and the repair.

A real feature store of three January days (the real feature pipeline on a January copy of
the source) is built once and copied for each test that damages it.
"""

from __future__ import annotations

import datetime as dt
import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from fti import config
from fti.errors import DamagedFileError, DiskFullError, IncompleteWriteError, RegistryError
from fti.features import FLIGHT_VIEW, LABELS, SCHEDULE, run_feature_pipeline
from fti.files import Location, location, sha256_file, write_bytes
from fti.registry import ModelRegistry
from fti.source import FlightSource
from fti.store import FeatureStore

FIRST, LAST = dt.date(2013, 1, 2), dt.date(2013, 1, 4)


@pytest.fixture(scope="module")
def source(make_source) -> FlightSource:
    return FlightSource(make_source())


@pytest.fixture(scope="module")
def built(tmp_path_factory, source) -> Path:
    root = tmp_path_factory.mktemp("three-days") / "data"
    run_feature_pipeline(FeatureStore(root), source, FIRST, LAST)
    return root


@pytest.fixture
def store(built, tmp_path) -> FeatureStore:
    """A copy of the three days to damage."""
    return FeatureStore(shutil.copytree(built, tmp_path / "data"))


def _truncate(where: Location) -> None:
    path = Path(where)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.slow  # the real feature pipeline
def test_a_damaged_labels_day_names_the_file_and_the_feature_run_of_the_next_day(store):
    day = dt.date(2013, 1, 2)
    damaged = store.partition_path(LABELS, day)
    _truncate(damaged)
    with pytest.raises(DamagedFileError) as error:
        FLIGHT_VIEW.training_data(store, FIRST, LAST)
    message = str(error.value)
    assert str(damaged) in message
    assert "fti run feature -p start_date=2013-01-03 -p end_date=2013-01-03" in message


@pytest.mark.slow  # the real feature pipeline
def test_a_damaged_schedule_day_names_the_file_and_the_feature_run_of_that_day(store, source):
    damaged = store.partition_path(SCHEDULE, LAST)
    before = FLIGHT_VIEW.get(store, LAST, LAST)
    _truncate(damaged)
    with pytest.raises(DamagedFileError, match="fti run feature -p start_date=2013-01-04 -p "
                                               "end_date=2013-01-04") as error:
        FLIGHT_VIEW.get(store, LAST, LAST)
    assert str(damaged) in str(error.value)
    run_feature_pipeline(store, source, LAST, LAST)  # the repair it names
    pd.testing.assert_frame_equal(FLIGHT_VIEW.get(store, LAST, LAST), before)


@pytest.mark.slow  # the real feature pipeline
def test_a_feature_day_cut_short_is_refused_until_that_day_runs_again(store, source,
                                                                      monkeypatch):
    day = dt.date(2013, 1, 5)
    put, written = FeatureStore._put, []

    def crash_after_two(self, group, part_day, frame):
        if len(written) == 2:
            raise OSError("simulated crash after two of five groups")
        written.append(group.name)
        return put(self, group, part_day, frame)

    monkeypatch.setattr(FeatureStore, "_put", crash_after_two)
    with pytest.raises(OSError, match="simulated"):
        run_feature_pipeline(store, source, day, day)
    monkeypatch.undo()
    assert store.partition_path(SCHEDULE, day).exists()  # a half-written day is on disk
    repair = f"fti run feature -p start_date={day} -p end_date={day}"
    for read in (lambda: FLIGHT_VIEW.get(store, day, day),
                 lambda: FLIGHT_VIEW.training_data(store, FIRST, day),
                 lambda: store.days(SCHEDULE)):
        with pytest.raises(IncompleteWriteError, match=repair):
            read()
    assert len(FLIGHT_VIEW.get(store, FIRST, FIRST))  # days the write did not touch read on

    run_feature_pipeline(store, source, day, day)
    assert len(FLIGHT_VIEW.get(store, day, day)) and day in store.days(SCHEDULE)
    assert not (store.root / "_pending").exists()


KILLED_MID_DAY = """
import datetime as dt, os, sys
from fti.features import run_feature_pipeline
from fti.source import FlightSource
from fti.store import FeatureStore

put, written = FeatureStore._put, []

def killed_after_two(self, group, day, frame):
    if len(written) == 2:
        os.kill(os.getpid(), 9)
    written.append(group.name)
    return put(self, group, day, frame)

FeatureStore._put = killed_after_two
day = dt.date.fromisoformat(sys.argv[3])
run_feature_pipeline(FeatureStore(sys.argv[1]), FlightSource(sys.argv[2]), day, day)
"""


@pytest.mark.slow  # the real feature pipeline, in a process that is killed
def test_a_feature_day_killed_between_objects_on_s3_is_refused_until_it_runs_again(
        built, source, s3_root, files, monkeypatch):
    for path in location(built).walk():  # the three days, on S3
        if path.name != ".lock":
            write_bytes(s3_root / path.relative_to(location(built)), path.read_bytes())
    monkeypatch.setenv("FTI_LEASE_TTL", "2")  # the killed writer's lease expires soon
    killed = subprocess.run([sys.executable, "-c", KILLED_MID_DAY, str(s3_root),
                             str(source.source_dir), LAST.isoformat()], capture_output=True,
                            text=True, timeout=300, cwd=config.repo_root())
    assert killed.returncode == -9, killed.stderr[-2000:]
    store = FeatureStore(s3_root)
    repair = f"fti run feature -p start_date={LAST} -p end_date={LAST}"
    with pytest.raises(IncompleteWriteError, match=repair) as refused:
        FLIGHT_VIEW.get(store, LAST, LAST)
    assert f"{s3_root}/_pending/" in str(refused.value)
    assert len(FLIGHT_VIEW.get(store, FIRST, FIRST))  # the other days read on

    run_feature_pipeline(store, source, LAST, LAST)  # takes over the dead writer's lease
    assert len(FLIGHT_VIEW.get(store, LAST, LAST))
    parquet = {k: v for k, v in files(s3_root).items() if k.endswith(".parquet")}
    assert parquet == {k: v for k, v in files(built).items() if k.endswith(".parquet")}


FULL_DISK = """
import datetime as dt, json, math, os, pathlib, sys, tempfile
from fti.errors import DiskFullError, IncompleteWriteError
from fti.features import FLIGHT_VIEW, run_feature_pipeline
from fti.source import FlightSource
from fti.store import FeatureStore

disk, source = pathlib.Path(sys.argv[1]), FlightSource(sys.argv[2])
store = FeatureStore(disk / "data")
run_feature_pipeline(store, source, dt.date(2013, 1, 2), dt.date(2013, 1, 2))
filler, written = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT), 0
try:
    while True:
        written += os.write(filler, b"x" * 65536)
except OSError:
    pass
os.ftruncate(filler, written - 4 * 4096)  # room for the lock's note, the marker, a bit more
os.close(filler)
day, out = dt.date(2013, 1, 3), {}
try:
    run_feature_pipeline(store, source, day, day)
except DiskFullError as error:
    out["error"] = str(error)
out["empty folders"] = [str(p) for p in pathlib.Path(store.root).rglob("date=*")
                        if not any(p.iterdir())]
try:
    FLIGHT_VIEW.get(store, day, day)
except IncompleteWriteError as error:
    out["read"] = str(error)
os.unlink(disk / "filler")
run_feature_pipeline(store, source, day, day)
out["rows after the repair"] = len(FLIGHT_VIEW.get(store, day, day))
print(json.dumps(out))
"""


@pytest.mark.slow  # the real feature pipeline
def test_a_full_disk_names_the_path_and_leaves_a_day_the_readers_refuse(tmp_path, make_source):
    """On a real full disk: a 2 MB tmpfs mounted in a private mount namespace."""
    disk = tmp_path / "disk"
    disk.mkdir()
    script = 'mount -t tmpfs -o size=2m tmpfs "$0" && exec "$1" -c "$2" "$0" "$3"'
    done = subprocess.run(["unshare", "--mount", "--map-root-user", "sh", "-c", script, disk,
                           sys.executable, FULL_DISK, make_source()], capture_output=True,
                          text=True, timeout=300, cwd=config.repo_root())
    if done.returncode != 0 and "mount" in done.stderr and "Traceback" not in done.stderr:
        pytest.skip(f"cannot mount a small disk here: {done.stderr.strip()[-200:]}")
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert "No space left on the device while writing" in out["error"]
    assert f"{disk}/data/feature_groups/" in out["error"]
    assert out["empty folders"] == []
    assert "fti run feature -p start_date=2013-01-03 -p end_date=2013-01-03" in out["read"]
    assert out["rows after the repair"] > 0
    assert issubclass(DiskFullError, OSError)


# --- the registry --------------------------------------------------------------------------
@pytest.fixture
def registered(tmp_path):
    registry = ModelRegistry(tmp_path)
    record = registry.register("m", {"weights": [1, 2, 3]}, {"features": []})
    registry.set_alias("m", "champion", 1, "the first", at="2013-06-01")
    return registry, record


def test_garbage_aliases_or_record_names_the_file_and_the_repair(registered):
    registry, record = registered
    aliases = registry.root / "m" / "aliases.json"
    write_bytes(aliases, b'{"champion": 1, "hist')
    with pytest.raises(DamagedFileError, match="promote='always'") as error:
        registry.champion("m")
    assert str(aliases) in str(error.value)
    write_bytes(record.path / "model.json", b"not json at all")
    with pytest.raises(DamagedFileError, match="02_training_pipeline") as error:
        registry.get("m", version=1)
    assert str(record.path / "model.json") in str(error.value)


def test_a_pickle_in_place_of_the_skops_file_is_refused_by_name(registered):
    registry, record = registered
    write_bytes(record.model_file, pickle.dumps({"weights": [1, 2, 3]}))
    with pytest.raises(RegistryError, match="does not match its record"):
        registry.load(registry.get("m", version=1))
    info = json.loads((record.path / "model.json").read_text())
    info["sha256"] = sha256_file(record.model_file)  # the record was changed, too
    write_bytes(record.path / "model.json", json.dumps(info).encode())
    with pytest.raises(DamagedFileError, match="not a skops file") as error:
        registry.load(registry.get("m", version=1))
    assert str(record.model_file) in str(error.value)
