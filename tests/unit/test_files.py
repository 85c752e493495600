"""The files layer: the same calls on a local folder and on an S3 server (moto, localhost).

A write leaves the old content or the new, never half of it: locally through a temporary
file and a rename, on S3 through exactly one PUT per object (counted in the server's log).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from fti import files
from fti.errors import ParameterError
from fti.files import Location, location


@pytest.fixture
def umask_022():
    before = os.umask(0o022)
    yield
    os.umask(before)


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"key": ["b", "a"], "value": [2.5, 1.0],
                         "at": pd.to_datetime(["2013-01-01", "2013-01-02"], utc=True)
                         .astype("datetime64[us, UTC]")})


# --- the same calls on both -------------------------------------------------------------------
def test_what_is_written_reads_back_lists_and_goes(root: Location):
    files.atomic_write_json(root / "models" / "m" / "aliases.json", {"champion": 1})
    files.write_parquet(_frame(), root / "g" / "date=2013-01-01" / "part.parquet")
    files.write_bytes(root / "g" / "schema.json", b"{}")

    assert (root / "models" / "m" / "aliases.json").read_text() == '{\n  "champion": 1\n}\n'
    pd.testing.assert_frame_equal(
        files.read_table(root / "g" / "date=2013-01-01" / "part.parquet").to_pandas(), _frame())
    assert [p.name for p in (root / "g").iterdir()] == ["date=2013-01-01", "schema.json"]
    assert [p.relative_to(root) for p in root.walk()] == [
        "g/date=2013-01-01/part.parquet", "g/schema.json", "models/m/aliases.json"]
    assert (root / "g").is_dir() and (root / "g" / "schema.json").is_file()
    assert not (root / "nothing").exists() and (root / "nothing").iterdir() == []
    assert (root / "g").glob("date=*") == [root / "g" / "date=2013-01-01"]

    (root / "g" / "schema.json").unlink()
    (root / "models").remove_tree()
    assert [p.relative_to(root) for p in root.walk()] == ["g/date=2013-01-01/part.parquet"]
    with pytest.raises(FileNotFoundError):
        (root / "g" / "schema.json").read_bytes()


def test_the_same_frame_gives_the_same_bytes_on_both(tmp_path: Path, s3_root: Location):
    for where in (location(tmp_path), s3_root):
        files.write_parquet(_frame(), where / "part.parquet")
    assert (s3_root / "part.parquet").read_bytes() == (tmp_path / "part.parquet").read_bytes()
    assert files.sha256_file(s3_root / "part.parquet") == files.sha256_file(tmp_path /
                                                                           "part.parquet")


def test_a_frame_that_cannot_be_serialized_writes_nothing(root: Location):
    bad = pd.DataFrame({"mixed": [1, "two", 3.0]}, dtype=object)  # Arrow refuses the column
    with pytest.raises(Exception, match="mixed|Conversion|convert"):
        files.write_parquet(bad, root / "part.parquet")
    assert root.walk() == []


def test_a_new_folder_that_fails_leaves_nothing_behind(root: Location):
    with pytest.raises(RuntimeError), files.new_folder(root / "v1") as folder:
        files.write_bytes(folder / "model.skops", b"half of a model")
        raise RuntimeError("crash while filling")
    assert root.walk() == []


# --- on S3: one PUT per object ------------------------------------------------------------
def _puts(server, since: int) -> list[str]:
    return [r for r in server.requests()[since:] if not r.split()[1].startswith("/moto-api")]


def test_an_object_is_written_in_one_put_and_a_large_one_too(s3_server, s3_root: Location):
    part = s3_root / "feature_groups" / "g" / "v1" / "date=2013-01-01" / "part.parquet"
    files.write_parquet(_frame(), part)  # the first use opens the bucket
    before = len(s3_server.requests())
    files.write_parquet(_frame(), part)
    key = part.path.split("/", 1)[1]
    assert [r.split()[:2] for r in _puts(s3_server, before)] == [["PUT", f"/{part.bucket}/{key}"]]

    big = os.urandom(files.objectstore.ONE_PUT_LIMIT + 1)  # pyarrow would go multipart here
    before = len(s3_server.requests())
    files.write_bytes(s3_root / "big.bin", big)
    sent = [r.split()[0] for r in _puts(s3_server, before)]
    assert sent == ["PUT"] and (s3_root / "big.bin").read_bytes() == big


def test_a_new_folder_on_s3_is_written_in_place_and_refuses_a_taken_name(s3_root: Location):
    with files.new_folder(s3_root / "v1") as folder:
        assert folder == s3_root / "v1"  # no rename on S3: the metadata object comes last
        files.write_bytes(folder / "model.json", b"{}")
    with pytest.raises(FileExistsError), files.new_folder(s3_root / "v1"):
        pass
    assert [p.relative_to(s3_root) for p in s3_root.walk()] == ["v1/model.json"]


def test_leftovers_on_s3_are_the_folders_without_their_metadata(s3_root: Location):
    files.write_bytes(s3_root / "v1" / "model.skops", b"m")
    files.write_bytes(s3_root / "v1" / "model.json", b"{}")
    files.write_bytes(s3_root / "v2" / "model.skops", b"m")  # its writer died before model.json
    files.write_bytes(s3_root / "aliases.json", b"{}")
    assert files.remove_leftovers(s3_root, complete="model.json") == ["v2"]
    assert [p.relative_to(s3_root) for p in s3_root.walk()] == [
        "aliases.json", "v1/model.json", "v1/model.skops"]


# --- names ----------------------------------------------------------------------------------
def test_a_data_root_is_a_folder_or_an_s3_prefix(tmp_path: Path):
    assert str(location("s3://bucket/some/prefix/")) == "s3://bucket/some/prefix"
    assert location("s3://bucket").bucket == "bucket"
    assert str(location("s3://b/p") / "models" / "m") == "s3://b/p/models/m"
    assert location(f"file://{tmp_path}") == location(tmp_path)
    assert os.fspath(location(tmp_path) / "x") == str(tmp_path / "x")
    with pytest.raises(TypeError, match="object store"):
        os.fspath(location("s3://b/p"))
    for wrong in ("gs://bucket/p", "s3://", "s3://b/p?endpoint_override=x", "s3://b//p"):
        with pytest.raises(ParameterError, match="AWS environment variables"):
            location(wrong)


# --- local folders: modes and temporary names -------------------------------------------------
def test_a_new_folder_appears_whole_with_the_mode_any_new_folder_gets(tmp_path, umask_022):
    final = tmp_path / "models" / "m" / "v1"
    with files.new_folder(final) as tmp:
        files.write_bytes(tmp / "model.json", b"{}")
        assert not final.exists()
    (tmp_path / "plain").mkdir()
    assert (final / "model.json").read_text() == "{}"
    assert oct(final.stat().st_mode) == oct((tmp_path / "plain").stat().st_mode)


def test_a_write_that_fails_keeps_the_old_file_and_no_temporary_one(tmp_path, monkeypatch):
    path = tmp_path / "aliases.json"
    files.atomic_write_json(path, {"champion": 1})
    write = files._write_file

    def crash(fs, where, data):
        write(fs, where, data[:5])
        raise OSError("disk full")

    monkeypatch.setattr(files, "_write_file", crash)
    with pytest.raises(OSError):
        files.atomic_write_json(path, {"champion": 2})
    assert path.read_text() == '{\n  "champion": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["aliases.json"]


def test_a_folder_removed_by_another_writer_before_the_write_is_made_again(tmp_path,
                                                                          monkeypatch):
    """The pending markers' folder is removed by the writer that empties it; a writer that
    had just made it for its own marker (Spark executors write day markers side by side)
    makes it again instead of failing."""
    real, calls = files._write_file, []

    def other_writer_removes_the_folder_first(fs, path, data):
        calls.append(path)
        if len(calls) == 1:
            os.rmdir(os.path.dirname(path))
        real(fs, path, data)

    monkeypatch.setattr(files, "_write_file", other_writer_removes_the_folder_first)
    target = tmp_path / "_pending" / "day.json"
    files.write_bytes(target, b"{}")
    assert target.read_bytes() == b"{}" and len(calls) == 2
    assert [p.name for p in target.parent.iterdir()] == ["day.json"]  # no temporary left
