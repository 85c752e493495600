"""Bytes on disk: atomic writes leave the old content or the new, with the umask's modes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fti import files


@pytest.fixture
def umask_022():
    before = os.umask(0o022)
    yield
    os.umask(before)


def test_a_new_folder_appears_whole_with_the_mode_any_new_folder_gets(tmp_path, umask_022):
    final = tmp_path / "models" / "m" / "v1"
    with files.new_folder(final) as tmp:
        (tmp / "model.json").write_text("{}")
        assert not final.exists()
    (tmp_path / "plain").mkdir()
    assert (final / "model.json").read_text() == "{}"
    assert oct(final.stat().st_mode) == oct((tmp_path / "plain").stat().st_mode)


def test_a_failed_new_folder_leaves_nothing_behind(tmp_path):
    final = tmp_path / "v1"
    with pytest.raises(RuntimeError), files.new_folder(final) as tmp:
        (tmp / "half.json").write_text("{")
        raise RuntimeError("crash while filling")
    assert list(tmp_path.iterdir()) == []


def test_an_atomic_write_that_fails_keeps_the_old_file(tmp_path: Path):
    path = tmp_path / "aliases.json"
    files.atomic_write_json(path, {"champion": 1})

    def crash(tmp: str) -> None:
        Path(tmp).write_text("{half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        files.atomic_write_bytes(path, crash)
    assert path.read_text() == '{\n  "champion": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["aliases.json"]
