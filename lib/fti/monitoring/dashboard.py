"""The dashboard of a model's Evidently project, made by code from the monitoring days.

One tab, "Monitoring", one point per monitoring day in every panel:

- share of drifted features (Evidently's ``DriftedColumnsCount``), a line per champion,
  since each champion's training data is the reference its drift is measured against;
- ROC AUC on the arrived labels (``RocAuc`` of the classification preset), a line per model
  version whose predictions were judged;
- the delayed share observed vs the mean predicted probability (``MeanValue`` of each);
- labelled and not yet labelled predictions of the window (``CategoryCount``, stacked);
- the drift scores (``ValueDrift``) of the features that came closest to, or beyond, their
  threshold over the days so far.

The panels select values by metric, tags and labels (Evidently's ``PanelMetric``); the ids
are fixed per project, so rewriting the dashboard after every monitoring day changes only
what changed (new champions, versions, most drifting features).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from typing import Any

import pandas as pd

#: How many of the most drifting features get a line in the drift-score panel.
TOP_COLUMNS = 5
#: The prediction column: drift is shown for it in the reports, but it is not a feature.
_PREDICTION = "probability"

GUIDE = ("One point per monitoring day (the run date). Drift compares the window's flights "
         "with the training data of the champion at the time, so a new champion starts a new "
         "line; ROC AUC judges each model version on its own predictions, once their labels "
         "arrived. The Reports tab holds every run; a run's page is Evidently's full report.")


def drift_ratios(columns: pd.DataFrame | None) -> dict[str, float]:
    """Each evaluated feature's drift score divided by its threshold (above 1: drifted),
    from :class:`fti.monitoring.DriftResult`'s table; the prediction column left out."""
    if columns is None or columns.empty:
        return {}
    rows = columns[(columns["note"] == "") & (columns["column"] != _PREDICTION)]
    ratios = (rows["score"] / rows["threshold"]).to_numpy(dtype="float64")
    return {c: round(float(r), 6) for c, r in zip(rows["column"], ratios, strict=True)
            if math.isfinite(r)}


def top_columns(days: Mapping[str, Any], k: int = TOP_COLUMNS) -> list[str]:
    """The ``k`` features with the highest drift ratio on any day (ties: by name)."""
    best: dict[str, float] = {}
    for record in days.values():
        for column, ratio in (record.get("ratios") or {}).items():
            best[column] = max(best.get(column, -math.inf), float(ratio))
    return sorted(best, key=lambda c: (-best[c], c))[:k]


def build(project: uuid.UUID, days: Mapping[str, Any]) -> Any:
    """The DashboardModel of a project whose monitoring days are ``days`` (run date ->
    {"champion", "quality_version", "ratios"}, as :mod:`fti.monitoring.workspace` keeps
    them)."""
    from evidently.sdk.models import (
        DashboardModel,
        DashboardPanelPlot,
        DashboardTabModel,
        PanelMetric,
    )

    def panel(key: str, title: str, values: list[Any], plot: str = "line",
              size: str = "half", subtitle: str | None = None, **params: Any) -> Any:
        return DashboardPanelPlot(id=uuid.uuid5(project, f"panel/{key}"), title=title,
                                  subtitle=subtitle, size=size, values=values,
                                  plot_params={"plot_type": plot, **params})

    champions = sorted({int(d["champion"]) for d in days.values()})
    judged = sorted({int(d["quality_version"]) for d in days.values()
                     if d.get("quality_version") is not None})
    labelled = {"column": "labelled", "value_type": "count"}
    panels = [
        panel("guide", "How to read this dashboard", [], plot="text", size="full",
              subtitle=GUIDE),
        panel("drift_share", "Share of drifted features", [
            PanelMetric(metric="DriftedColumnsCount", metric_labels={"value_type": "share"},
                        tags=["drift", f"champion v{c}"],
                        legend=f"against champion v{c}'s training data")
            for c in champions]),
        panel("roc_auc", "ROC AUC on the arrived labels", [
            PanelMetric(metric="RocAuc", tags=["quality", f"model v{v}"],
                        legend=f"predictions of v{v}") for v in judged]),
        panel("base_rate", "Delayed share: observed vs mean prediction", [
            PanelMetric(metric="MeanValue", metric_labels={"column": "delayed"},
                        tags=["quality"], legend="observed delayed share"),
            PanelMetric(metric="MeanValue", metric_labels={"column": _PREDICTION},
                        tags=["quality"], legend="mean predicted probability")]),
        panel("labels", "Labelled and unlabelled predictions of the window", [
            PanelMetric(metric="CategoryCount", tags=["labels"], legend="labelled",
                        metric_labels={**labelled, "categories": "[True]"}),
            PanelMetric(metric="CategoryCount", tags=["labels"], legend="no label yet",
                        metric_labels={**labelled, "categories": "[False]"})],
              plot="bar", is_stacked=True),
        panel("top_drift", "Drift scores of the most drifting features", [
            PanelMetric(metric="ValueDrift", metric_labels={"column": c}, tags=["drift"],
                        legend="{{column}} ({{method}})") for c in top_columns(days)],
              size="full", subtitle="Each feature against its own threshold, which the "
              "champion's training data sets (a new champion starts a new line)."),
    ]
    tab = DashboardTabModel(id=uuid.uuid5(project, "tab/monitoring"), title="Monitoring",
                            panels=[p.id for p in panels])
    return DashboardModel(tabs=[tab], panels=panels)
