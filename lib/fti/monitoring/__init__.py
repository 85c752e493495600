"""Monitoring: is the champion still right about recent flights? (notebook 04)

One module per job:

- ``inputs``       the reference (the champion's training snapshot, scored) and the window
- ``datadrift``    data and prediction drift per column, with Evidently
- ``quality``      predictions joined with the labels that have arrived, and their metrics
- ``verdict``      the retrain rule
- ``history``      the monitoring_history table, and the decision the runner reads from it

The names below are the package's API, so a notebook writes ``monitoring.drift(...)``.
Evidently and scikit-learn are imported only inside the functions that need them.
"""

from fti.monitoring.datadrift import DriftResult, drift, feature_drift_share, monitored_columns
from fti.monitoring.history import (
    HISTORY,
    OPTIONAL_METRICS,
    decision,
    read_history,
    record_run,
    run_of,
    write_history,
)
from fti.monitoring.inputs import (
    PREDICTION_COLUMN,
    current_window,
    reference_data,
    sample_reference,
)
from fti.monitoring.quality import classification_html, join_labels, performance
from fti.monitoring.verdict import Recommendation, recommend

__all__ = [
    "HISTORY", "OPTIONAL_METRICS", "PREDICTION_COLUMN", "DriftResult", "Recommendation",
    "classification_html", "current_window", "decision", "drift", "feature_drift_share",
    "join_labels", "monitored_columns", "performance", "read_history", "record_run",
    "recommend", "reference_data", "run_of", "sample_reference", "write_history",
]  # fmt: skip
