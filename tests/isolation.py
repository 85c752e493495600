"""A pytest plugin, loaded for every run (``-p tests.isolation`` in pyproject.toml), however
pytest is invoked (``pytest``, ``pytest notebooks/``, ``pytest tests/test_x.py``).

It points the whole session, and the notebook kernels nbval starts (they inherit the
environment), at a temporary data and reports folder, so tests never touch the
repository's data/ or reports/.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

_ROOTS: list[Path] = []


def pytest_configure(config: pytest.Config) -> None:
    root = Path(tempfile.mkdtemp(prefix="fti-tests-"))
    _ROOTS.append(root)
    os.environ["FTI_DATA_DIR"] = str(root / "data")
    os.environ["FTI_REPORTS_DIR"] = str(root / "reports")


def pytest_unconfigure(config: pytest.Config) -> None:
    for root in _ROOTS:
        shutil.rmtree(root, ignore_errors=True)
