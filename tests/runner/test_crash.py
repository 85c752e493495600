"""What a kill -9 leaves behind: no kernel running on, no temporary folder kept forever.

Real processes, really killed: the runner with its kernel, a registration and a training
snapshot stopped half-way, on a local folder and on S3 (a moto server on localhost).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import nbformat
import psutil
import pytest

from fti import config
from fti.registry import ModelRegistry
from fti.store import FeatureStore
from tests.unit.test_store import META, batch

pytestmark = pytest.mark.slow

# The kernel's cell: note who it is, then wait until its parent is gone and say it outlived
# it. A kernel that dies with its parent never gets to the last line; ipykernel's own check
# (once a second) would leave it that long.
OUTLIVE = """\
import os, pathlib, time
folder, parent = pathlib.Path(data_dir), os.getppid()
(folder / "kernel.tmp").write_text(str(os.getpid()))
(folder / "kernel.tmp").rename(folder / "kernel.pid")
while os.getppid() == parent:
    time.sleep(0.005)
(folder / "outlived").write_text("the kernel ran on after the runner was killed")
"""

RUNNER = """\
import sys
from pathlib import Path
from fti import config
config.notebooks_dir = lambda: Path(sys.argv[1])
from fti.run.cli import main
sys.exit(main(["run", "outlive", "--engine", sys.argv[2], "--no-html",
               "--data-dir", sys.argv[3], "--reports-dir", sys.argv[4]]))
"""


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize("engine", ["warm", "papermill"])
def test_a_kernel_dies_with_the_runner_killed_with_its_process_group(tmp_path, engine):
    notebooks, data = tmp_path / "notebooks", tmp_path / "data"
    notebooks.mkdir()
    data.mkdir()
    parameters = nbformat.v4.new_code_cell('data_dir = ""  # a parameter')
    parameters.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook(cells=[parameters, nbformat.v4.new_code_cell(OUTLIVE)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, notebooks / "outlive.ipynb")
    runner = subprocess.Popen(
        [sys.executable, "-c", RUNNER, notebooks, engine, data, tmp_path / "reports"],
        start_new_session=True, cwd=config.repo_root(), stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 180
        while not (data / "kernel.pid").exists():
            assert runner.poll() is None, runner.stderr.read()[-2000:]
            assert time.monotonic() < deadline, "the kernel never ran the notebook"
            time.sleep(0.05)
        kernel = int((data / "kernel.pid").read_text())
        os.killpg(runner.pid, signal.SIGKILL)  # the runner and its group, not the kernel's
        runner.wait()
        deadline = time.monotonic() + 60
        while not _gone(kernel) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone(kernel)
        assert not (data / "outlived").exists()
    finally:
        with_kernel = [p for p in psutil.process_iter(["cmdline"])
                       if str(tmp_path) in " ".join(p.info["cmdline"] or [])]
        for process in with_kernel:
            process.kill()


KILLED_WHILE_WRITING = """\
import os, sys
from fti import files
root, what = sys.argv[1], sys.argv[2]
write = files._write_file

def die_after_the_first_object(fs, path, data):
    if "model.json" in path or "metadata.json" in path:  # the object that makes it count
        os.kill(os.getpid(), 9)
    if what.endswith("half"):  # or die half-way through the first (a local file)
        write(fs, path, data[: len(data) // 2])
        os.kill(os.getpid(), 9)
    write(fs, path, data)

files._write_file = die_after_the_first_object
if what.startswith("model"):
    from fti.registry import ModelRegistry
    ModelRegistry(root).register("m", {"n": 1}, {})
else:
    import pandas as pd
    from fti.store import FeatureStore
    FeatureStore(root).save_training_dataset("view", pd.DataFrame({"n": [1]}), {})
"""


def test_a_registration_or_snapshot_killed_half_way_leaves_nothing_that_stays(root):
    """Locally the kill comes half-way through the first file; on S3, where one PUT is all
    or nothing, between the first object and the metadata object that makes it count."""
    half = not root.s3
    env = {**os.environ, "FTI_LEASE_TTL": "2"}  # on S3 the dead writer's lease expires soon
    for what in ("model", "snapshot"):
        done = subprocess.run([sys.executable, "-c", KILLED_WHILE_WRITING, str(root),
                               what + ("-half" if half else "")], cwd=config.repo_root(),
                              capture_output=True, text=True, timeout=300, env=env)
        assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    models, snapshots = root / "models" / "m", root / "training_datasets" / "view"
    left = [p.name for folder in (models, snapshots) for p in folder.iterdir()]
    assert len(left) == 2 and all(name.startswith("v1" if root.s3 else ".v1.") for name in left)
    if root.s3:  # the first object is there, the metadata that would make it count is not
        assert [p.name for p in (models / "v1").iterdir()] == ["model.skops"]

    registry, store = ModelRegistry(root), FeatureStore(root)
    assert registry.version_numbers("m") == [] and store.dataset_versions("view") == []
    assert registry.versions("m") == [] and registry.champion("m") is None
    assert registry.register("m", {"n": 1}, {}).version == 1  # the next start cleans up
    assert store.save_training_dataset("view", batch(), META).version == 1
    assert [p.name for p in models.iterdir()] == (["v1"])
    assert [p.name for p in snapshots.iterdir()] == ["v1"]
    assert registry.load(registry.get("m", version=1)) == {"n": 1}
