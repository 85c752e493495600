"""The static report page ``reports/index.html``: runs, monitoring, models.

The page opens from the file system: relative links only, inline CSS, the one figure an
inline PNG (matplotlib, Agg). It is rebuilt from what is on disk (run manifests,
monitoring report folders, the monitoring history, the model registry; the last two from
the data root, which may be an object store) and builds when none of them exists yet, or
when the data root cannot be read (the page says why).
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
from collections import Counter
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fti import config
from fti.files import Location, atomic_write_text

_CSS = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em;
       padding: 0 1em; color: #222; }
h1 { margin-bottom: .2em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .5em 0 1em; }
th, td { padding: .2em .6em; border-bottom: 1px solid #eee; text-align: left;
         vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #1a7f37; } .failed { color: #c62828; font-weight: bold; }
.skipped, .muted { color: #777; } .running { color: #b26a00; }
details { margin: .4em 0; } summary { cursor: pointer; }
pre { white-space: pre-wrap; margin: 0; font-size: 90%; }
td:last-child { min-width: 24em; }
img { max-width: 100%; }
"""
#: The history's columns on the page, with their headers.
_MONITORING_COLUMNS = {"run_date": "run date", "champion_version": "champion",
                       "model_version": "judged version", "drift_share": "drift share",
                       "drift_verdict": "drift", "roc_auc": "ROC AUC",
                       "holdout_roc_auc": "its holdout", "performance_verdict": "performance",
                       "retrain_recommended": "retrain", "reasons": "reasons"}


def build_index(reports_dir: str | Path | None = None,
                data_dir: str | Path | Location | None = None) -> Path:
    """Write ``<reports>/index.html`` (atomically) and return its path."""
    reports = config.reports_root(reports_dir)
    data = config.data_root(data_dir)
    body = "\n".join([
        "<h1>FTI pipelines: monitoring, models, runs</h1>",
        '<p class="muted">What the system sees now first, then every execution: executed '
        "notebooks are kept per run; open the HTML copies to read them, the .ipynb files to "
        "re-run them in JupyterLab.</p>",
        _monitoring_section(reports, data),
        _models_section(data),
        _runs_section(reports),
    ])
    page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
            f"<title>FTI pipelines report</title>\n<style>{_CSS}</style></head>\n"
            f"<body>\n{body}\n</body></html>\n")
    path = reports / "index.html"
    atomic_write_text(path, page)
    return path


def _link(target: Path, root: Path, label: str) -> str:
    """A relative link to ``target`` if it exists, else the label greyed out."""
    if not target.is_file():
        return f'<span class="muted">{escape(label)}</span>'
    href = quote(Path(os.path.relpath(target, root)).as_posix())
    return f'<a href="{escape(href)}">{escape(label)}</a>'


def _cell(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return f"<td>{escape(str(value if value is not None else '-'))}</td>"
    if isinstance(value, int):
        return f'<td class="num">{value}</td>'
    if isinstance(value, float):
        text = "-" if math.isnan(value) else f"{value:.3f}"
        return f'<td class="num">{text}</td>'
    return f"<td>{escape(str(value))}</td>"


def _table(header: list[str], rows: list[str]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    return f"<table><tr>{head}</tr>\n" + "\n".join(rows) + "</table>"


def _problem(what: str, exc: Exception) -> str:
    return f'<p class="failed">Could not read {escape(what)}: {escape(str(exc))}</p>'


# --- runs ----------------------------------------------------------------------------------
def _runs_section(reports: Path) -> str:
    runs = []
    for path in (reports / "runs").glob("*/manifest.json"):
        try:
            runs.append((path.parent, json.loads(path.read_text())))
        except (OSError, ValueError) as exc:
            runs.append((path.parent, {"steps": [], "problem": str(exc)}))
    if not runs:
        return ("<h2>Runs</h2><p>No runs yet. Start one with <code>fti demo</code> or "
                "<code>fti simulate --start 2013-06-01 --end 2013-06-07</code>.</p>")
    runs.sort(key=lambda r: (str(r[1].get("created", "")), r[0].name), reverse=True)
    parts = ["<h2>Runs</h2>", '<p class="muted">Newest first.</p>']
    for i, (run_dir, manifest) in enumerate(runs):
        steps = manifest.get("steps", [])
        counts = Counter(str(s.get("status", "?")) for s in steps)
        minutes = sum(float(s.get("duration_s", 0) or 0) for s in steps) / 60
        state = next((s for s in ("failed", "running") if counts[s]), "ok")
        period = manifest.get("simulation") or {}
        what = " ".join(str(x) for x in (manifest.get("kind", ""), period.get("start", ""),
                                         period.get("end", "")) if x)
        tally = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        summary = (f'<span class="{state}">{escape(run_dir.name)}</span> {escape(what)} - '
                   f"{escape(tally or 'no steps')}, {minutes:.1f} min")
        rows = [_step_row(n, step, run_dir, reports) for n, step in enumerate(steps, 1)]
        problem = manifest.get("problem")
        opened = " open" if i == 0 and len(steps) <= 12 else ""  # a long run stays folded
        parts.append(f"<details{opened}><summary>{summary}</summary>"
                     + (f'<p class="failed">{escape(problem)}</p>' if problem else "")
                     + _table(["#", "step", "notebook", "status", "seconds", "output",
                               "note"], rows) + "</details>")
    return "\n".join(parts)


def _step_row(number: int, step: dict[str, Any], run_dir: Path, reports: Path) -> str:
    status = str(step.get("status", "?"))
    links = [_link(run_dir / step[k], reports, label)
             for k, label in (("output", "ipynb"), ("html", "html")) if step.get(k)]
    text = str(step.get("error") or step.get("note") or "")
    note = f"<pre>{escape(text)}</pre>" if step.get("error") else escape(text)
    return (f'<tr><td class="num">{number}</td><td>{escape(str(step.get("name", "")))}</td>'
            f'<td>{escape(str(step.get("notebook", "")))}</td>'
            f'<td class="{escape(status)}">{escape(status)}</td>'
            f'<td class="num">{float(step.get("duration_s", 0) or 0):.1f}</td>'
            f"<td>{' '.join(links) or '-'}</td><td>{note}</td></tr>")


# --- monitoring ----------------------------------------------------------------------------
def monitoring_history(data: Location) -> Any:
    """The monitoring history (a DataFrame), or None when there is none yet."""
    try:
        from fti.monitoring import read_history
    except ImportError:
        return None
    from fti.store import FeatureStore

    frame = read_history(FeatureStore(data))
    return frame if frame is not None and len(frame) else None


def _monitoring_section(reports: Path, data: Location) -> str:
    parts = ["<h2>Monitoring</h2>"]
    folders = sorted((p for p in (reports / "monitoring").glob("*") if p.is_dir()),
                     reverse=True)[:8]
    if folders:
        rows = []
        for folder in folders:
            links = [_link(f, reports, f.stem) for f in sorted(folder.glob("*.html"))]
            rows.append(f"<tr><td>{escape(folder.name)}</td>"
                        f"<td>{' '.join(links) or '-'}</td></tr>")
        parts.append("<h3>Latest reports</h3>" + _table(["run date", "reports"], rows))
    parts.append(_dashboard(data, reports))
    try:
        history = monitoring_history(data)
    except Exception as exc:  # the page must build whatever state the store is in
        return "\n".join([*parts, _problem("the monitoring history", exc)])
    if history is None:
        parts.append("<p>No monitoring results yet: monitoring runs weekly in "
                     "<code>fti simulate</code> and <code>fti demo</code>.</p>")
        return "\n".join(parts)
    recent = history.sort_values("run_date", ascending=False).head(12)
    columns = [c for c in _MONITORING_COLUMNS if c in recent.columns]
    rows = ["<tr>" + "".join(_cell(_plain(row[c])) for c in columns) + "</tr>"
            for _, row in recent.iterrows()]
    parts.append("<h3>History (newest first)</h3>"
                 + _table([_MONITORING_COLUMNS[c] for c in columns], rows))
    try:
        image = plot_history(history)
        parts.append(f'<img alt="monitoring metrics over time" '
                     f'src="data:image/png;base64,{image}">')
    except Exception as exc:
        parts.append(_problem("the monitoring history for the plot", exc))
    return "\n".join(parts)


def _dashboard(data: Location, reports: Path) -> str:
    """Where the Evidently dashboard is, and how to start the UI that serves it."""
    from fti.monitoring.workspace import projects, workspace_dir
    from fti.run.ui import DEFAULT_PORT, HOST

    root = workspace_dir(data, reports)
    try:
        found = projects(root)
    except Exception as exc:  # the page must build whatever state the workspace is in
        return _problem("the Evidently workspace", exc)
    command = f"fti monitor --data-dir {data}"
    if data.s3:  # its workspace is kept beside these reports, which fti monitor must find
        command += f" --reports-dir {reports}"
    start = f"<code>make monitor</code> (or <code>{escape(command)}</code>)"
    if not found:
        return (f"<p>Dashboard: every monitoring run also adds its Evidently runs to the "
                f"workspace <code>{escape(str(root))}</code>; once there are some, {start} "
                f"serves them in Evidently's UI.</p>")
    base = f"http://{HOST}:{DEFAULT_PORT}"
    links = ", ".join(f'<a href="{escape(base)}/projects/{pid}">{escape(name)}</a>'
                      for name, pid in sorted(found.items()))
    return (f"<p><b>Dashboard over time</b> (Evidently UI, offline): start it with {start} "
            f"in a terminal, then open {links} ({escape(base)}; stop the UI with Ctrl-C). "
            f"Its Reports tab opens every monitoring run's full report.</p>")


def _plain(value: Any) -> Any:
    """numpy scalars as Python values, so _cell formats them."""
    return value.item() if hasattr(value, "item") else value


def plot_history(history: Any) -> str:
    """:func:`fti.plots.monitoring_history` as a base64 PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from fti.plots import monitoring_history as figure

    fig = figure(history)
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


# --- models --------------------------------------------------------------------------------
def _models_section(data: Location) -> str:
    try:
        names = sorted(p.name for p in (data / "models").iterdir() if p.is_dir())
    except Exception as exc:  # an object store that cannot be reached: the page still builds
        return "<h2>Models</h2>" + _problem(f"the model registry in {data}", exc)
    if not names:
        return ("<h2>Models</h2><p>No model registered yet: the training pipeline "
                "registers one (<code>fti run training</code> or <code>fti demo</code>).</p>")
    parts = ["<h2>Models</h2>"]
    for name in names:
        try:
            parts.append(_model(data, name))
        except Exception as exc:  # a broken record must not take the page down
            parts.append(f"<h3>{escape(name)}</h3>" + _problem(f"model {name}", exc))
    return "\n".join(parts)


def _version(version: Any) -> str:
    return "-" if version is None or version == "" else f"v{version}"


def _outcome(entry: dict[str, Any]) -> str:
    """What a history entry says: a version promoted, or a challenger that was not."""
    if entry.get("promoted") is False:
        return f"{_version(entry.get('challenger'))} not promoted"
    return f"{_version(entry.get('version'))} promoted"


def _model(data: Location, name: str) -> str:
    from fti.registry import ModelRegistry

    registry = ModelRegistry(data)
    records = registry.versions(name)
    aliases = registry.aliases(name)
    champion = aliases.get("champion")
    holdouts = [r.metrics.get("holdout", {}) if isinstance(r.metrics, dict) else {}
                for r in records]
    shown = ("roc_auc", "average_precision", "brier", "base_rate", "mean_prediction", "n")
    keys = [k for k in shown if any(isinstance(h.get(k), int | float) for h in holdouts)]
    rows = []
    for record, holdout in zip(reversed(records), reversed(holdouts), strict=True):
        start, end = record.training_range
        mark = "champion" if champion is not None and int(champion) == record.version else ""
        rows.append(f'<tr><td class="num">v{record.version}</td><td>{escape(mark)}</td>'
                    f"<td>{escape(f'{start} to {end}')}</td>"
                    + "".join(_cell(holdout.get(k)) for k in keys) + "</tr>")
    parts = [f"<h3>{escape(name)}</h3>",
             f"<p>Champion: {escape(f'v{champion}' if champion is not None else 'none')}</p>",
             _table(["version", "alias", "trained on", *(f"holdout {k}" for k in keys)],
                    rows)]
    history = aliases.get("history", [])
    if history:
        rows = [f"<tr><td>{escape(str(h.get('at', '')))}</td>"
                f"<td>{escape(str(h.get('alias', '')))}</td>"
                f"<td>{escape(_version(h.get('version')))}</td>"
                f"<td>{escape(_version(h.get('previous')))}</td>"
                f"<td>{escape(_outcome(h))}</td>"
                f"<td>{escape(str(h.get('reason', '')))}</td></tr>" for h in reversed(history)]
        parts.append("<h4>Alias history, promotions and challengers that stayed challengers "
                     "(newest first)</h4>"
                     + _table(["at", "alias", "version", "previous", "decision", "reason"],
                              rows))
    return "\n".join(parts)
