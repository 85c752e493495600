"""One notebook execution with papermill, kept in a run folder with a manifest.

A run folder holds every executed notebook of one command (``fti simulate``, ``fti demo``
...) and a manifest that each step updates as it goes::

    reports/runs/<run id>/manifest.json                  # steps: parameters, times, status
    reports/runs/<run id>/005_2013-06-03_inference.ipynb  # the executed notebook, kept
    reports/runs/<run id>/005_2013-06-03_inference.html   # its HTML export

A step has a stable name (``2013-06-03/inference``); its number ``NNN`` is its place in
the manifest, so redoing a step overwrites its own files. Source notebooks are only read.
Run ids and start times are wall-clock *run metadata*; no notebook computes with them.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fti import config
from fti.errors import FTIError
from fti.files import atomic_write_json, atomic_write_text

#: Short pipeline names and the notebook each one runs.
PIPELINES = {
    "feature": "01_feature_pipeline",
    "training": "02_training_pipeline",
    "inference": "03_inference_pipeline",
    "monitoring": "04_monitoring_pipeline",
}
MANIFEST = "manifest.json"
#: How a notebook is executed: "warm" keeps one kernel per process and resets it between
#: notebooks (fti.run.engine); "papermill" is plain papermill, a new kernel per notebook.
ENGINES = ("warm", "papermill")
#: running: started (or the process died during it); the others are final.
STATUSES = ("running", "ok", "failed", "skipped")
_MANIFEST_LOCK = threading.RLock()


class PipelineFailed(FTIError):
    """A notebook failed; the message names the notebook, the cell, the error, the output."""

    def __init__(self, message: str, step: StepResult | None = None) -> None:
        super().__init__(message)
        self.step = step


@dataclass(frozen=True)
class StepResult:
    """One step of a run: a notebook execution, or a step the chain decided to skip."""

    name: str  # stable: '2013-06-03/inference'
    notebook: str  # the source notebook's stem
    parameters: dict[str, Any]
    output: Path | None  # the executed notebook in the run folder
    html: Path | None  # its HTML export
    start: str  # ISO UTC wall clock (run metadata)
    duration_s: float
    status: str  # one of STATUSES
    note: str = ""  # why a step ran or was skipped
    error: str = ""
    reused: bool = field(default=False, compare=False)  # ok in an earlier attempt, not redone

    def to_manifest(self) -> dict[str, Any]:
        entry = asdict(self)
        del entry["reused"]
        entry["output"] = self.output.name if self.output else ""
        entry["html"] = self.html.name if self.html else ""
        return entry

    @classmethod
    def from_manifest(cls, entry: dict[str, Any], run_dir: Path, reused: bool = False
                      ) -> StepResult:
        paths = {k: Path(run_dir) / entry[k] if entry.get(k) else None for k in ("output", "html")}
        return cls(entry["name"], entry["notebook"], dict(entry.get("parameters", {})),
                   paths["output"], paths["html"], entry.get("start", ""),
                   float(entry.get("duration_s", 0.0)), entry["status"], entry.get("note", ""),
                   entry.get("error", ""), reused)


# --- the manifest --------------------------------------------------------------------------
def read_manifest(run_dir: Path) -> dict[str, Any]:
    """The run folder's manifest, or a new empty one."""
    path = Path(run_dir) / MANIFEST
    if path.exists():
        return json.loads(path.read_text())
    return {"run_id": Path(run_dir).name, "created": _now(), "steps": []}


def update_manifest(run_dir: Path, step: StepResult | None = None, **fields: Any) -> None:
    """Set top-level fields and/or replace (by name) or append a step; written atomically."""
    with _MANIFEST_LOCK:  # read, change, write: one thread at a time
        manifest = read_manifest(run_dir)
        manifest.update(fields)
        if step is not None:
            names = [s["name"] for s in manifest["steps"]]
            if step.name in names:
                manifest["steps"][names.index(step.name)] = step.to_manifest()
            else:
                manifest["steps"].append(step.to_manifest())
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        atomic_write_json(Path(run_dir) / MANIFEST, manifest)


def finished_steps(run_dir: Path) -> dict[str, StepResult]:
    """The steps of a run folder whose status is ok, by name (what a resume skips)."""
    return {s["name"]: StepResult.from_manifest(s, run_dir, reused=True)
            for s in read_manifest(run_dir)["steps"] if s["status"] == "ok"}


def record_skipped(run_dir: Path, step_name: str, notebook: str, note: str) -> StepResult:
    """Record a step the chain decided not to run, with the reason."""
    result = StepResult(step_name, notebook, {}, None, None, _now(), 0.0, "skipped", note)
    update_manifest(run_dir, result)
    return result


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name.replace("..", "_to_")).strip("_")


def new_run_dir(reports_dir: str | Path | None, label: str) -> Path:
    """A fresh folder ``<reports>/runs/<timestamp>-<label>`` (the name is run metadata)."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = config.reports_root(reports_dir) / "runs" / f"{stamp}-{_slug(label)}"
    run_dir, n = base, 1
    while run_dir.exists():
        n += 1
        run_dir = base.with_name(f"{base.name}-{n}")
    return run_dir


# --- one notebook --------------------------------------------------------------------------
def notebook_path(notebook: str) -> Path:
    """The source notebook of a pipeline name ('inference') or a notebook stem."""
    stem = PIPELINES.get(notebook, notebook).removesuffix(".ipynb")
    path = config.notebooks_dir() / f"{stem}.ipynb"
    if not path.is_file():
        raise FTIError(f"There is no notebook {path}. Pipelines: {', '.join(PIPELINES)}, "
                       f"or the stem of a notebook in {config.notebooks_dir()}.")
    return path


def run_notebook(notebook: str, parameters: dict[str, Any], run_dir: Path, step_name: str,
                 export_html: bool = True, note: str = "", engine: str = "warm",
                 on_start: Callable[[], object] | None = None) -> StepResult:
    """Execute ``notebooks/<notebook>.ipynb`` with papermill into ``run_dir`` and record it.

    ``notebook`` is a pipeline name ('inference') or a notebook stem. The output is
    ``run_dir/<NNN>_<step_name>.ipynb`` plus, with ``export_html``, an HTML copy. The
    manifest says ``running`` while it runs, then ``ok`` or ``failed``. ``engine`` is one of
    :data:`ENGINES`; both give the same results, "warm" without a kernel start per notebook.
    ``on_start`` is called once the step is in the manifest, before the notebook runs.

    Raises:
        PipelineFailed: a cell failed (or the kernel died); the output notebook is kept and
            the message names the notebook, the cell and the error.
    """
    import papermill

    from fti.run.engine import ENGINE_NAME  # papermill finds it by its entry point
    from fti.run.kernels import KERNEL_MANAGER

    if engine not in ENGINES:
        raise FTIError(f"engine={engine!r} is unknown; use one of {', '.join(ENGINES)}.")
    source = notebook_path(notebook)
    run_dir = Path(run_dir).resolve()
    if run_dir == source.parent.resolve():
        raise FTIError(f"{run_dir} holds the source notebooks; choose another run folder.")
    with _MANIFEST_LOCK:  # two chain threads must not take the same number
        steps = [s["name"] for s in read_manifest(run_dir)["steps"]]
        number = steps.index(step_name) + 1 if step_name in steps else len(steps) + 1
        output = run_dir / f"{number:03d}_{_slug(step_name)}.ipynb"
        html_path = output.with_suffix(".html")
        run_dir.mkdir(parents=True, exist_ok=True)
        output.unlink(missing_ok=True)
        html_path.unlink(missing_ok=True)
        start, t0 = _now(), time.perf_counter()

        def record(status: str, error: str = "") -> StepResult:
            result = StepResult(step_name, source.stem, dict(parameters),
                                output if output.exists() else None,
                                html_path if html_path.exists() else None, start,
                                round(time.perf_counter() - t0, 2), status, note, error)
            update_manifest(run_dir, result)
            return result

        record("running")
    if on_start is not None:
        on_start()
    try:
        papermill.execute_notebook(str(source), str(output), parameters=dict(parameters),
                                   kernel_name="python3", cwd=str(config.repo_root()),
                                   progress_bar=False, log_output=False,
                                   engine_name=ENGINE_NAME if engine == "warm" else None,
                                   kernel_manager_class=KERNEL_MANAGER)
        error = ""
    except papermill.PapermillExecutionError as exc:
        error = _describe_failure(output, exc)
    except KeyboardInterrupt:
        record("failed", "interrupted")
        raise
    except Exception as exc:  # a dead kernel, a timeout, a broken notebook: the step failed
        error = f"could not run it\n  {type(exc).__name__}: {exc}"
    if export_html and output.exists():
        export_notebook_html(output)
    result = record("failed" if error else "ok", error)
    if error:
        kept = str(output) + (" (and its .html)" if result.html else "")
        raise PipelineFailed(
            f"step {step_name}: {source.name} {error}\n  output notebook kept: "
            + (kept if result.output else "none (papermill wrote no output)"), result)
    return result


def _describe_failure(output: Path, exc: Any) -> str:
    """Where and why a notebook failed: the cell papermill marked as failed, and the error."""
    where = f"cell {exc.cell_index} (In [{exc.exec_count}])"
    first = str(exc.source)
    try:
        cells = json.loads(output.read_text())["cells"]
    except (OSError, ValueError, KeyError):
        cells = []
    index = 0  # the cell's index in the source notebook: skip the cells papermill added
    for cell in cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if cell.get("metadata", {}).get("papermill", {}).get("status") == "failed":
            first = "".join(cell.get("source", ""))
            count = cell.get("execution_count") or exc.exec_count
            where = ("the injected-parameters cell" if "injected-parameters" in tags
                     else f"cell {index} (In [{count}]; cells count from 0)")
            break
        if not tags & {"injected-parameters", "papermill-error-cell-tag"}:
            index += 1
    first = next((line.strip() for line in first.splitlines() if line.strip()), "")
    evalue = re.sub(r"\x1b\[[0-9;]*m", "", str(exc.evalue))
    return f"failed in {where}: {first}\n  {exc.ename}: {evalue}"


@functools.cache
def _html_exporter(thread: int) -> Any:
    """One HTML exporter per thread: building one compiles its templates (about 0.2 s)."""
    from nbconvert import HTMLExporter

    return HTMLExporter()


def export_notebook_html(output: Path) -> Path | None:
    """Write an HTML copy next to an executed notebook; None (and a warning) if it fails."""
    try:
        body, _ = _html_exporter(threading.get_ident()).from_filename(str(output))
    except Exception as exc:  # an export problem must not fail the pipeline step
        print(f"warning: could not export {output.name} to HTML: {exc}", file=sys.stderr)
        return None
    html = output.with_suffix(".html")
    atomic_write_text(html, body)
    return html
