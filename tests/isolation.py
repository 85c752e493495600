"""A pytest plugin, loaded for every run (``-p tests.isolation`` in pyproject.toml), however
pytest is invoked (``pytest``, ``pytest notebooks/``, ``pytest tests/test_x.py``).

It points the whole session, and the notebook kernels nbval starts (they inherit the
environment), at a temporary data and reports folder, so tests never touch the
repository's data/ or reports/.

``make test`` runs the tests on three pytest-xdist workers (``-n 3``: on two cores, because
the tests spend about a quarter of their time waiting for kernels, servers and
subprocesses), each with folders of its own. Each test file stays on one worker (its
module fixtures are made once), and the notebooks all run on one worker, in order: 02
trains on the store 01 wrote.
The exercise tests (tests/exercises/) stay together too: they share one lab store.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

_ROOTS: list[Path] = []


def pytest_configure(config: pytest.Config) -> None:
    # The workers share two cores: one OpenMP thread each. scikit-learn's OpenMP threads
    # spin while they wait for a busy core, which made one fit of notebook 02 take minutes;
    # its models do not depend on the number of threads. The kernels inherit the setting.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    root = Path(tempfile.mkdtemp(prefix="fti-tests-"))
    _ROOTS.append(root)
    os.environ["FTI_DATA_DIR"] = str(root / "data")
    os.environ["FTI_REPORTS_DIR"] = str(root / "reports")


def pytest_unconfigure(config: pytest.Config) -> None:
    for root in _ROOTS:
        shutil.rmtree(root, ignore_errors=True)



@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: only called when xdist runs
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """Whole test files to a worker, in order; every notebook to the same worker, and
    every exercise test (tests/exercises/) to one worker, where their lab store is built."""
    from xdist.scheduler import LoadFileScheduling

    class NotebooksTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            if path.endswith(".ipynb"):
                return "notebooks"
            return "exercises" if path.startswith("tests/exercises/") else path

    return NotebooksTogether(config, log)
