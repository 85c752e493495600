"""The warm papermill engine: one kernel reused, a clean namespace for every notebook.

Tiny generated notebooks (a ``parameters`` cell and a few code cells) run through
``papermill.execute_notebook(engine_name="warm")`` as the orchestration runs them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import papermill
import psutil
import pytest

from fti.run import engine, kernels


def _notebook(path: Path, *cells: str) -> Path:
    parameters = nbformat.v4.new_code_cell('name = "default"  # a parameter')
    parameters.metadata["tags"] = ["parameters"]
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell(f"# {path.stem}"), parameters,
               *(nbformat.v4.new_code_cell(source) for source in cells)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.write(notebook, path)
    return path


def _run(source: Path, **parameters: object) -> nbformat.NotebookNode:
    output = source.with_name(f"{source.stem}.out.ipynb")
    return papermill.execute_notebook(
        str(source), str(output), parameters=parameters, engine_name=engine.ENGINE_NAME,
        kernel_manager_class=kernels.KERNEL_MANAGER, kernel_name="python3",
        cwd=str(source.parent), progress_bar=False)


def _stdout(notebook: nbformat.NotebookNode) -> list[str]:
    """What each cell printed, one entry per cell that printed (a busy kernel may send one
    print in several stream messages: 'threads' and ' 1')."""
    printed = ["".join(output["text"] for output in cell.get("outputs", [])
                       if output.get("name") == "stdout") for cell in notebook.cells]
    return [text.strip() for text in printed if text]


def _counts(notebook: nbformat.NotebookNode) -> list[int]:
    return [cell.execution_count for cell in notebook.cells if cell.cell_type == "code"]


PID = "import os\nprint('pid', os.getpid())"


@pytest.fixture(autouse=True, scope="module")
def _close_kernels():
    yield
    kernels.close()


def test_two_notebooks_in_a_row_share_the_kernel_but_not_their_variables(tmp_path):
    first = _notebook(tmp_path / "first.ipynb", PID, "secret = 42\nimport json",
                      "print('cwd', os.getcwd())")
    second = _notebook(tmp_path / "second.ipynb", PID,
                       "print('seen', [n for n in ('secret', 'json', 'os') if n in globals()])",
                       "print('name', name)")
    source_bytes = first.read_bytes()

    one, two = _run(first, name="one"), _run(second)

    pid_one, cwd = _stdout(one)[0], _stdout(one)[1]
    pid_two, seen, name = _stdout(two)[0], _stdout(two)[1], _stdout(two)[2]
    assert pid_one == pid_two  # the same kernel process ran both
    assert cwd == f"cwd {tmp_path}"
    assert seen == "seen ['os']"  # only what this notebook imported itself
    assert name == "name default"  # the first notebook's injected value did not leak
    assert _counts(one) == [1, 2, 3, 4, 5]  # the injected-parameters cell is the second
    assert _counts(two) == [1, 2, 3, 4]
    assert first.read_bytes() == source_bytes


def test_the_output_notebook_carries_papermill_metadata(tmp_path):
    result = _run(_notebook(tmp_path / "meta.ipynb", "x = 1"), name="meta")

    written = nbformat.read(tmp_path / "meta.out.ipynb", as_version=4)
    assert written.metadata["papermill"]["duration"] > 0
    assert written.metadata["papermill"]["parameters"] == {"name": "meta"}
    assert written.metadata["papermill"]["exception"] is None
    code = [c for c in written.cells if c.cell_type == "code"]
    assert all(c.metadata["papermill"]["status"] == "completed" for c in code)
    assert all(c.metadata["papermill"]["duration"] >= 0 for c in code)
    assert "injected-parameters" in written.cells[2].metadata["tags"]
    assert written.metadata["language_info"]["name"] == "python"
    assert _counts(written) == _counts(result)


def test_a_failing_notebook_raises_and_the_next_one_runs_clean(tmp_path):
    broken = _notebook(tmp_path / "broken.ipynb", PID, "leftover = 1",
                       "raise ValueError('on purpose')", "print('never')")
    after = _notebook(tmp_path / "after.ipynb", PID, "print('leftover' in globals())")

    with pytest.raises(papermill.PapermillExecutionError, match="on purpose"):
        _run(broken)
    written = nbformat.read(tmp_path / "broken.out.ipynb", as_version=4)
    assert written.metadata["papermill"]["exception"] is True
    assert written.cells[-2].metadata["papermill"]["status"] == "failed"
    assert "never" not in str(written.cells[-1].get("outputs"))

    clean = _run(after)
    assert _stdout(clean)[1] == "False"
    assert _counts(clean) == [1, 2, 3]


def test_a_notebook_that_kills_its_kernel_fails_and_the_next_gets_a_new_kernel(tmp_path):
    warm = _stdout(_run(_notebook(tmp_path / "warm.ipynb", PID)))[0]
    killer = _notebook(tmp_path / "killer.ipynb", "import os\nos._exit(1)")
    with pytest.raises(Exception):  # noqa: B017 - nbclient's DeadKernelError, or papermill's
        _run(killer)

    fresh = _stdout(_run(_notebook(tmp_path / "fresh.ipynb", PID)))[0]
    again = _stdout(_run(_notebook(tmp_path / "again.ipynb", PID)))[0]
    assert fresh != warm
    assert again == fresh


def test_each_notebook_sees_its_warnings_and_a_changed_environment(tmp_path, monkeypatch):
    warn = _notebook(tmp_path / "warn.ipynb",
                     "import warnings\nwarnings.warn('look out')",
                     "import os\nprint(os.environ.get('FTI_ENGINE_TEST', 'unset'))")
    first, second = _run(warn), _run(warn)
    for notebook in (first, second):  # a warning is not "already shown" in a new notebook
        assert any("look out" in o.get("text", "") for o in notebook.cells[2].outputs)
    assert _stdout(first) == ["unset"]

    monkeypatch.setenv("FTI_ENGINE_TEST", "set")  # a fresh kernel would inherit it
    assert _stdout(_run(warn)) == ["set"]


def test_a_kernel_waiting_for_its_next_notebook_has_let_the_last_ones_memory_go(tmp_path):
    big = _notebook(tmp_path / "big.ipynb",
                    "block = b'x' * (300 * 2**20)  # 300 MB, written",
                    "import numpy, pyarrow.compute\n"  # 320 MB in Arrow's own allocator
                    "column = pyarrow.compute.add(numpy.ones(40 * 2**20), 1)")
    _run(big)
    kernel = kernels._kernels[(threading.get_ident(), "python3")]
    # The release was requested when the notebook ended; a kernel runs requests in order,
    # so once this one is answered the release is done, however busy the machine is.
    kernel._run("pass", timeout=600)
    rss = psutil.Process(kernel.km.provisioner.pid).memory_info().rss
    assert rss < 200 * 2**20, f"{rss / 2**20:.0f} MB"


def test_each_thread_has_its_own_kernel_and_closes_only_its_own(tmp_path):
    pid = _notebook(tmp_path / "pid.ipynb", PID)
    with ThreadPoolExecutor(max_workers=1) as thread:
        in_thread = _stdout(thread.submit(_run, pid).result())[0]
        in_main = _stdout(_run(pid))[0]
        thread.submit(kernels.close, True).result()
    assert in_thread != in_main
    assert _stdout(_run(pid))[0] == in_main  # the main thread's kernel is still the same


def test_kernels_started_at_the_same_time_each_have_their_own_sockets(tmp_path):
    # ipc socket files are numbered by the first name not on disk yet; two kernels starting
    # together once picked the same ones and each client talked to the other's kernel
    first, second = kernels.KERNEL_MANAGER(), kernels.KERNEL_MANAGER()
    first.write_connection_file()
    second.write_connection_file()
    try:
        addresses = [{f"{km.ip}-{port}" for port in km.ports} for km in (first, second)]
        assert not addresses[0] & addresses[1]
    finally:
        first.cleanup_connection_file()
        second.cleanup_connection_file()

    def run_then_close(path):
        try:
            return _stdout(_run(path))[0]
        finally:
            kernels.close(this_thread_only=True)

    pid = _notebook(tmp_path / "pid.ipynb", PID)
    with ThreadPoolExecutor(max_workers=2) as threads:
        pids = list(threads.map(run_then_close, [pid, pid]))
    assert pids[0] != pids[1]


def test_kernel_environment_restarts_the_kernel_with_the_extra_variables_and_back(tmp_path):
    source = _notebook(tmp_path / "env.ipynb", PID,
                       "print('omp', os.environ.get('FTI_TEST_THREADS', 'unset'))")
    before = _stdout(_run(source))
    with kernels.kernel_environment(FTI_TEST_THREADS="1"):
        inside = [_stdout(_run(source)) for _ in range(2)]
    after = _stdout(_run(source))
    assert before[1] == "omp unset" and after[1] == "omp unset"
    assert [out[1] for out in inside] == ["omp 1", "omp 1"]
    assert inside[0][0] == inside[1][0]  # one kernel inside the block ...
    assert len({before[0], inside[0][0], after[0]}) == 3  # ... and another on each change


def test_openmp_threads_apply_to_the_notebooks_inside_the_block_only(tmp_path):
    source = _notebook(tmp_path / "omp.ipynb", PID,
                       "from sklearn.utils._openmp_helpers import _openmp_effective_n_threads\n"
                       "print('threads', _openmp_effective_n_threads())")
    with kernels.kernel_environment(OMP_NUM_THREADS="1"):
        before = _stdout(_run(source))
        with kernels.openmp_threads(2):
            inside = _stdout(_run(source))
        after = _stdout(_run(source))
    assert before[0] == inside[0] == after[0]  # one kernel all along
    two = min(2, os.cpu_count() or 1)  # scikit-learn never uses more threads than cores
    assert [before[1], inside[1], after[1]] == ["threads 1", f"threads {two}", "threads 1"]


def test_openmp_threads_reach_a_runtime_the_notebook_loads_itself(tmp_path):
    source = _notebook(tmp_path / "omp.ipynb",
                       "import sys\nprint('loaded', 'sklearn' in sys.modules)\n"
                       "from sklearn.utils._openmp_helpers import _openmp_effective_n_threads\n"
                       "print('threads', _openmp_effective_n_threads())")
    with kernels.kernel_environment(OMP_NUM_THREADS="1", FTI_TEST_FRESH="omp"):
        with kernels.openmp_threads(2):
            fresh = _stdout(_run(source))
        again = _stdout(_run(source))
    two = min(2, os.cpu_count() or 1)
    assert "\n".join(fresh).splitlines() == ["loaded False", f"threads {two}"]
    assert "\n".join(again).splitlines() == ["loaded True", "threads 1"]


def test_a_kernel_shut_down_while_busy_leaves_no_traceback_on_stderr():
    """ipykernel printed 'ZMQError: Socket operation on non-socket' when a shutdown request
    reached it while it still ran the release queued after a notebook (at every exit)."""
    code = ("from fti.run import kernels\n"
            "k = kernels.WarmKernel('python3')\n"
            "k.kc.execute('import time; time.sleep(1)', silent=True, store_history=False)\n"
            "k.shutdown()\n"
            "print('shut down')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.stdout.strip() == "shut down"
    assert "Traceback" not in done.stderr and "ZMQError" not in done.stderr, done.stderr
