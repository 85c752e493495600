"""The Evidently workspace of monitoring: a project per model, the runs of every monitoring
day, and the project's dashboard, as the files ``evidently ui`` serves.

Layout under the data root (Evidently's own local-workspace format)::

    evidently/<project id>/metadata.json              the project, named after the model
    evidently/<project id>/dashboard.json             its panels (fti.monitoring.dashboard)
    evidently/<project id>/snapshots/<run id>.json    one Evidently run (a Snapshot as JSON)
    evidently/<project id>/fti_days.json              per day: the drift ratios the dashboard uses

A monitoring day adds up to three runs, one per kind: ``drift`` (every feature and the
prediction against the champion's reference), ``quality`` (the classification metrics on
the arrived labels of the judged model version) and ``labels`` (how many of the window's
predictions have their label). Each run carries the run date as its timestamp, and the
model versions and verdicts as metadata and tags.

The files are written here, not with Evidently's ``Workspace.add_run``: opening a
``Workspace`` parses every stored run (seconds per monitoring day by the end of a month),
and it writes with a plain ``open()``, so a run cut short by a crash would make the UI
fail on every page. Instead:

- ids are deterministic (uuid5 of the model's name; of the project, the run date and the
  kind), so re-running a monitoring day overwrites that day's runs, and a kind the re-run
  no longer has is removed: never two runs of one day and kind;
- every file is written atomically, under a temporary name Evidently ignores, then renamed.

A UI that is already running does not notice renamed files: reload the project (its
``/api/projects/<id>/reload``) or restart the UI.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from fti.errors import FTIError
from fti.files import atomic_write_text

#: Fixed, so that ids are the same on every machine and every run.
NAMESPACE = uuid.UUID("6f1e0c3a-2d4b-4c5e-9f00-000000000017")
KINDS = ("drift", "quality", "labels")
DAYS_FILE = "fti_days.json"
#: Where ``fti monitor`` (``make monitor``) serves the workspace by default.
UI_HOST, UI_PORT = "127.0.0.1", 8000
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def workspace_dir(data_root: Any, reports_root: str | Path | None = None) -> Path:
    """The workspace of a data root: ``<data root>/evidently`` for a local folder.

    Evidently's workspace and its UI are local files; for a data root in an object store
    (``s3://bucket/prefix``) the workspace is kept beside the reports, which stay local
    too: ``<reports root>/evidently/<bucket>/<prefix>`` (one per data root).
    """
    root = str(data_root)
    if root.startswith("s3://"):
        from fti import config

        return config.reports_root(reports_root) / "evidently" / root[len("s3://"):].strip("/")
    return Path(data_root) / "evidently"


def _dump(obj: Any) -> str:
    from evidently.legacy.utils import NumpyEncoder

    return json.dumps(obj, cls=NumpyEncoder)


def projects(root: str | Path) -> dict[str, uuid.UUID]:
    """The workspace's projects: name -> id (none if the folder does not exist)."""
    found = {}
    for folder in sorted(Path(root).glob("*")):
        meta = folder / "metadata.json"
        if _UUID.match(folder.name) and meta.is_file():
            try:
                found.setdefault(json.loads(meta.read_text())["name"], uuid.UUID(folder.name))
            except (ValueError, KeyError) as exc:
                raise FTIError(f"{meta} is not a project's metadata ({exc}): delete the folder "
                               f"{folder}; monitoring rebuilds it from then on.") from None
    return found


def find_project(root: str | Path, model_name: str) -> uuid.UUID | None:
    """The id of the project named ``model_name``, or None."""
    return projects(root).get(model_name)


def project_id(root: str | Path, model_name: str) -> uuid.UUID:
    """The id of the project of ``model_name``; created (with a fixed id) if absent."""
    found = find_project(root, model_name)
    if found is not None:
        return found
    from evidently.sdk.models import ProjectModel

    project = ProjectModel(id=uuid.uuid5(NAMESPACE, f"project/{model_name}"), name=model_name,
                           description=f"Daily monitoring of the model {model_name}: drift "
                           f"against the champion's training data, quality on the labels "
                           f"that arrived.")
    folder = Path(root) / str(project.id)
    (folder / "snapshots").mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "metadata.json", _dump(project.dict()))
    return project.id


def run_id(project: uuid.UUID, run_date: str | dt.date, kind: str) -> uuid.UUID:
    """The id of the run of one kind on one monitoring day: the same on every re-run."""
    if kind not in KINDS:
        raise FTIError(f"Unknown run kind {kind!r}; use one of {KINDS}.")
    return uuid.uuid5(NAMESPACE, f"{project}/{pd.Timestamp(run_date).date()}/{kind}")


def run_path(root: str | Path, project: uuid.UUID, run: uuid.UUID) -> Path:
    """The file of one run."""
    return Path(root) / str(project) / "snapshots" / f"{run}.json"


@dataclass(frozen=True)
class Day:
    """What one monitoring day put into the workspace."""

    root: Path
    project: uuid.UUID
    runs: dict[str, uuid.UUID]  # kind -> run id, for the kinds that have a run

    def page(self, base_url: str = f"http://{UI_HOST}:{UI_PORT}") -> str:
        """The project's dashboard in the UI."""
        return f"{base_url}/projects/{self.project}"


def _strings(values: Mapping[str, Any]) -> dict[str, str]:
    """Evidently wants metadata as strings (the UI's filters compare strings)."""
    return {k: "" if v is None else str(v) for k, v in values.items()}


def record_day(root: str | Path, *, model_name: str, run_date: str | dt.date,
               runs: Mapping[str, Any], champion: int, judged_version: int | None,
               window_versions: list[int], metadata: Mapping[str, Any],
               drift_columns: pd.DataFrame | None = None) -> Day:
    """Put one monitoring day's runs into the workspace, replacing that day's earlier runs.

    ``runs`` maps a kind of :data:`KINDS` to an Evidently Snapshot, or to None when the day
    has no such run (e.g. no quality run before labels of both classes arrived). Each run
    gets the run date (local midnight, no time zone) as its timestamp, ``metadata`` plus the
    model versions as metadata, and the tags ``<kind>``, ``champion v<N>`` and, for the runs
    about predictions, ``model v<N>`` of the versions that made them. ``drift_columns`` is
    :class:`fti.monitoring.DriftResult`'s table: the dashboard shows the features whose
    drift score came closest to (or beyond) their threshold over the days.
    """
    from fti.monitoring import dashboard

    unknown = set(runs) - set(KINDS)
    if unknown:
        raise FTIError(f"Unknown run kind(s) {sorted(unknown)}; use {KINDS}.")
    root = Path(root)
    day = pd.Timestamp(run_date).date()
    project = project_id(root, model_name)
    timestamp = dt.datetime.combine(day, dt.time())  # naive: the UI compares them
    meta = _strings({**metadata, "run_date": day.isoformat(), "model_name": model_name,
                     "champion_version": champion, "judged_version": judged_version,
                     "window_versions": ",".join(map(str, window_versions))})
    about = {"drift": [], "quality": [] if judged_version is None else [judged_version],
             "labels": list(window_versions)}
    written = {}
    for kind in KINDS:
        path = run_path(root, project, run_id(project, day, kind))
        snapshot = runs.get(kind)
        if snapshot is None:
            path.unlink(missing_ok=True)
            continue
        tags = [kind, f"champion v{champion}", *(f"model v{v}" for v in about[kind])]
        model = snapshot.to_snapshot_model().copy(update={
            "name": f"{kind} {day}", "timestamp": timestamp, "metadata": meta, "tags": tags})
        atomic_write_text(path, _dump(model.dict()))
        written[kind] = run_id(project, day, kind)
    days = _read_days(root, project)
    days[day.isoformat()] = {"ratios": dashboard.drift_ratios(drift_columns)}
    folder = root / str(project)
    atomic_write_text(folder / DAYS_FILE, json.dumps(days, indent=1, sort_keys=True))
    atomic_write_text(folder / "dashboard.json", _dump(dashboard.build(project, days).dict()))
    return Day(root, project, written)


def _read_days(root: Path, project: uuid.UUID) -> dict[str, Any]:
    path = root / str(project) / DAYS_FILE
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise FTIError(f"{path} is not valid JSON ({exc}): delete it; the next monitoring "
                       f"run rebuilds the dashboard from that day on.") from None

