"""The feature store's promises: validated, atomic, idempotent writes; range reads that open
only what they need; immutable, versioned training dataset snapshots. Each test runs on a
local folder and on S3 (a moto server on localhost)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fti.files
import fti.store
from fti.config import TIME_DTYPE
from fti.errors import FTIError, NotFoundError, SchemaError
from fti.files import content_hash
from fti.store import FeatureGroup, FeatureStore, validate

DAY = dt.date(2013, 6, 1)
GROUP = FeatureGroup(
    name="toy",
    version=1,
    description="a tiny feature group for the tests",
    schema={"key": "str", "seen_at": TIME_DTYPE, "value": "float64", "count": "int64",
            "flag": "bool"},  # fmt: skip
    primary_key=("key",),
    event_time="seen_at",
)


def batch(keys: Sequence[str | None] = ("b", "a", "c"), day: dt.date = DAY) -> pd.DataFrame:
    """A valid batch of ``GROUP`` (keys deliberately not sorted)."""
    n = len(keys)
    start = pd.Timestamp(day, tz="UTC")
    return pd.DataFrame(
        {
            "key": pd.Series(list(keys), dtype="str"),
            "seen_at": pd.Series([start + pd.Timedelta(hours=i) for i in range(n)]).astype(
                TIME_DTYPE
            ),
            "value": np.arange(n, dtype="float64") / 2,
            "count": np.arange(n, dtype="int64"),
            "flag": [i % 2 == 0 for i in range(n)],
        }
    )


@pytest.fixture
def store(root) -> FeatureStore:
    """An empty store in a local folder, then in an s3:// prefix."""
    return FeatureStore(root)


@pytest.fixture
def toy(store: FeatureStore) -> FeatureGroup:
    return store.register(GROUP)


# --- validation ---------------------------------------------------------------------------
REFUSALS = {
    "missing column": (lambda f: f.drop(columns=["value"]), r"lacks column\(s\) \['value'\]"),
    "extra column": (
        lambda f: f.assign(extra=1),
        r"column\(s\) \['extra'\] that are not in the schema",
    ),
    "wrong dtype": (
        lambda f: f.assign(count=f["count"].astype("float64")),
        r"column 'count' has dtype float64, the schema says int64",
    ),
    "null key": (
        lambda f: f.assign(key=pd.Series(["b", None, "c"], dtype="str")),
        r"1 row\(s\) have a null primary key in \['key'\]",
    ),
    "duplicate key": (
        lambda f: f.assign(key=pd.Series(["dup", "a", "dup"], dtype="str")),
        r"2 row\(s\) share a primary key \['key'\](.|\n)*dup(.|\n)*dup",
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_validate_refuses_a_bad_batch_naming_the_problem(case: str) -> None:
    corrupt, message = REFUSALS[case]
    with pytest.raises(SchemaError, match=message) as refused:
        validate(GROUP, corrupt(batch()))
    assert "toy/v1" in str(refused.value)


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_refused_batch_writes_no_partition(case: str, store: FeatureStore, toy) -> None:
    corrupt, message = REFUSALS[case]
    with pytest.raises(SchemaError, match=message):
        store.write(toy, DAY, corrupt(batch()))
    assert not store.partition_path(toy, DAY).exists()
    assert store.days(toy) == []


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_refused_batch_leaves_the_old_partition_untouched(
    case: str, store: FeatureStore, toy
) -> None:
    path = store.write(toy, DAY, batch(["x", "y"]))
    before = path.read_bytes()
    corrupt, message = REFUSALS[case]
    with pytest.raises(SchemaError, match=message):
        store.write(toy, DAY, corrupt(batch()))
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["part.parquet"]


def test_validate_returns_the_columns_in_schema_order() -> None:
    shuffled = batch()[["flag", "value", "key", "count", "seen_at"]]
    assert list(validate(GROUP, shuffled).columns) == list(GROUP.schema)


def test_a_group_refuses_an_unsupported_dtype_or_a_non_utc_event_time() -> None:
    with pytest.raises(SchemaError, match="unsupported dtypes"):
        FeatureGroup("bad", 1, "", {"k": "object", "t": TIME_DTYPE}, ("k",), "t")
    with pytest.raises(SchemaError, match="event time 't' must be"):
        FeatureGroup("bad", 1, "", {"k": "str", "t": "int64"}, ("k",), "t")


# --- registration -------------------------------------------------------------------------
def test_registering_the_same_group_twice_is_fine(store: FeatureStore) -> None:
    store.register(GROUP)
    schema = store.group_dir("toy", 1) / "schema.json"
    before = schema.read_bytes()
    assert store.register(GROUP) == GROUP
    assert store.get_group("toy", 1) == GROUP
    assert schema.read_bytes() == before


def test_register_refuses_a_changed_schema_for_the_same_version(store: FeatureStore) -> None:
    store.register(GROUP)
    schema = store.group_dir("toy", 1) / "schema.json"
    before = schema.read_bytes()
    changed = FeatureGroup(
        GROUP.name, GROUP.version, GROUP.description,
        {**GROUP.schema, "value": "int64"}, GROUP.primary_key, GROUP.event_time,
    )  # fmt: skip
    with pytest.raises(SchemaError, match="bump `version`"):
        store.register(changed)
    assert schema.read_bytes() == before
    bumped = FeatureGroup(
        GROUP.name, 2, GROUP.description, changed.schema, GROUP.primary_key, GROUP.event_time
    )
    assert store.register(bumped).version == 2
    assert store.get_group("toy", 2).schema["value"] == "int64"


def test_the_stored_definition_keeps_the_schema_column_order(store: FeatureStore) -> None:
    store.register(GROUP)
    assert list(store.register(GROUP).schema) == list(GROUP.schema)
    assert list(store.get_group("toy", 1).schema) == list(GROUP.schema)


def test_days_written_with_the_stored_definition_read_together_with_earlier_days(
    store: FeatureStore,
) -> None:
    store.register(GROUP)
    store.write(GROUP, DAY, batch(["a"]))
    later_run = store.register(GROUP)  # what the next run of a pipeline gets back
    store.write(later_run, DAY + dt.timedelta(days=1), batch(["b"]))
    both = store.read(later_run, DAY, DAY + dt.timedelta(days=1))
    assert both["key"].tolist() == ["a", "b"]


def test_an_unknown_group_is_not_found(store: FeatureStore) -> None:
    with pytest.raises(NotFoundError, match="toy/v1 does not exist"):
        store.get_group("toy", 1)


# --- idempotent, atomic writes ------------------------------------------------------------
def test_rerunning_a_day_leaves_the_store_unchanged(store: FeatureStore, toy, files) -> None:
    store.write(toy, DAY, batch())
    first = files(store.root)
    store.write(toy, DAY, batch())
    assert files(store.root) == first


def test_the_same_rows_in_another_order_give_the_same_bytes(store: FeatureStore, toy) -> None:
    path = store.write(toy, DAY, batch())
    first = path.read_bytes()
    store.write(toy, DAY, batch().iloc[::-1])
    assert path.read_bytes() == first


def test_rewriting_a_day_replaces_its_partition(store: FeatureStore, toy) -> None:
    store.write(toy, DAY, batch(["a", "b", "c"]))
    store.write(toy, DAY, batch(["z"]))
    again = store.read(toy, DAY, DAY)
    assert again["key"].tolist() == ["z"]


def test_a_written_day_reads_back_sorted_by_key_with_its_dtypes(store: FeatureStore, toy) -> None:
    written = batch()
    store.write(toy, DAY, written)
    back = store.read(toy, DAY, DAY)
    expected = written.sort_values("key").reset_index(drop=True)
    pd.testing.assert_frame_equal(back, expected)
    assert {c: str(t) for c, t in back.dtypes.items()} == dict(GROUP.schema)


def _crash_midway(fs, path: str, data: bytes) -> None:
    """A write that fails: locally after half the file, on S3 in its one PUT (which then
    leaves nothing; an S3 object is never half-written)."""
    if fs.type_name == "local":
        Path(path).write_bytes(data[: len(data) // 2])
    raise OSError("disk full (simulated)")


def test_a_crash_mid_write_keeps_the_old_partition_and_leaves_no_temp_file(
    store: FeatureStore, toy, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = store.write(toy, DAY, batch(["old"]))
    before = path.read_bytes()
    monkeypatch.setattr(fti.files, "_write_file", _crash_midway)
    with pytest.raises(OSError, match="simulated"):
        store.write(toy, DAY, batch(["new"]))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["part.parquet"]
    assert store.read(toy, DAY, DAY)["key"].tolist() == ["old"]


def test_a_crash_mid_write_of_a_new_day_leaves_no_partition_and_no_empty_folder(
    store: FeatureStore, toy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fti.files, "_write_file", _crash_midway)
    with pytest.raises(OSError, match="simulated"):
        store.write(toy, DAY, batch())
    folder = store.partition_path(toy, DAY).parent
    assert not folder.exists()
    assert store.days(toy) == []


def test_partition_files_get_the_same_permissions_as_any_new_file(tmp_path: Path) -> None:
    store = FeatureStore(tmp_path)  # local files only
    umask = os.umask(0o022)
    try:
        path = store.write(store.register(GROUP), DAY, batch())
        plain = Path(path).parent / "plain"
        plain.write_bytes(b"")
    finally:
        os.umask(umask)
    assert oct(os.stat(path).st_mode) == oct(os.stat(plain).st_mode)


# --- range reads --------------------------------------------------------------------------
def test_a_range_read_opens_only_the_partitions_in_range(
    store: FeatureStore, toy, monkeypatch: pytest.MonkeyPatch
) -> None:
    all_days = [dt.date(2013, 6, d) for d in range(1, 8)]
    for day in all_days:
        store.write(toy, day, batch([f"k{day.day}"], day))
    opened = []
    read_table = fti.store.read_table

    def spy(path, *args, **kwargs):
        opened.append(path)
        return read_table(path, *args, **kwargs)

    monkeypatch.setattr(fti.store, "read_table", spy)
    frame = store.read(toy, dt.date(2013, 6, 3), dt.date(2013, 6, 4))
    assert sorted(opened) == [store.partition_path(toy, dt.date(2013, 6, d)) for d in (3, 4)]
    assert frame["key"].tolist() == ["k3", "k4"]
    assert store.days(toy) == all_days


def test_a_range_without_partitions_reads_as_an_empty_frame_with_the_schema_dtypes(
    store: FeatureStore, toy
) -> None:
    store.write(toy, DAY, batch())
    empty = store.read(toy, dt.date(2013, 7, 1), dt.date(2013, 7, 31))
    assert empty.empty
    assert {c: str(t) for c, t in empty.dtypes.items()} == dict(GROUP.schema)
    some = store.read(toy, dt.date(2013, 7, 1), dt.date(2013, 7, 2), columns=["key", "seen_at"])
    assert {c: str(t) for c, t in some.dtypes.items()} == {"key": "str", "seen_at": TIME_DTYPE}


def test_a_range_read_of_some_columns_returns_only_those(store: FeatureStore, toy) -> None:
    store.write(toy, DAY, batch())
    frame = store.read(toy, DAY, DAY, columns=["key", "value"])
    assert list(frame.columns) == ["key", "value"]
    assert frame["value"].tolist() == [0.5, 0.0, 1.0]


# --- training dataset snapshots -----------------------------------------------------------
META = {"start": "2013-06-01", "end": "2013-06-30", "feature_groups": {"toy": 1}}


def test_a_snapshot_keeps_its_data_and_metadata(store: FeatureStore) -> None:
    frame = batch()
    ds = store.save_training_dataset("view", frame, META)
    assert (ds.name, ds.version) == ("view", 1)
    assert ds.path == store.root / "training_datasets" / "view" / "v1"
    pd.testing.assert_frame_equal(ds.load(), frame)
    loaded = store.load_training_dataset("view", 1)
    assert loaded.metadata == ds.metadata
    meta = loaded.metadata
    assert meta["start"] == "2013-06-01" and meta["end"] == "2013-06-30"
    assert meta["feature_groups"] == {"toy": 1}
    assert meta["row_count"] == 3
    assert meta["content_hash"] == content_hash(frame)
    assert meta["columns"] == dict(GROUP.schema)
    assert (meta["name"], meta["version"]) == ("view", 1)


def test_identical_content_reuses_the_existing_snapshot(store: FeatureStore, files) -> None:
    store.save_training_dataset("view", batch(), META)
    before = files(store.root)
    again = store.save_training_dataset("view", batch(), {**META, "note": "a second run"})
    assert again.version == 1
    assert "note" not in again.metadata
    assert files(store.root) == before
    assert store.dataset_versions("view") == [1]


def test_different_content_gets_the_next_version(store: FeatureStore) -> None:
    first = store.save_training_dataset("view", batch(), META)
    changed = batch().assign(value=[9.0, 9.0, 9.0])
    second = store.save_training_dataset("view", changed, META)
    assert second.version == 2
    assert second.metadata["content_hash"] != first.metadata["content_hash"]
    assert store.dataset_versions("view") == [1, 2]
    pd.testing.assert_frame_equal(store.load_training_dataset("view", 1).load(), batch())


def test_writing_an_existing_snapshot_version_is_refused(store: FeatureStore, files) -> None:
    store.save_training_dataset("view", batch(), META)
    before = files(store.root)
    with pytest.raises(FTIError, match="view/v1 exists and snapshots are immutable"):
        store.save_training_dataset("view", batch(["other"]), META, version=1)
    assert files(store.root) == before


def test_an_unknown_snapshot_is_not_found(store: FeatureStore) -> None:
    with pytest.raises(NotFoundError, match="view/v3 does not exist"):
        store.load_training_dataset("view", 3)


def test_the_content_hash_changes_with_values_and_dtypes_not_with_the_index() -> None:
    frame = batch()
    assert content_hash(frame) == content_hash(frame.set_axis([10, 11, 12]))
    assert content_hash(frame) != content_hash(frame.assign(value=frame["value"] + 1))
    assert content_hash(frame) != content_hash(frame.astype({"count": "float64"}))


def test_a_crash_while_saving_a_snapshot_leaves_no_version_behind(
    store: FeatureStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fti.files, "_write_file", _crash_midway)
    with pytest.raises(OSError, match="simulated"):
        store.save_training_dataset("view", batch(), META)
    monkeypatch.undo()
    assert not store.dataset_dir("view").exists()
    assert store.save_training_dataset("view", batch(), META).version == 1
