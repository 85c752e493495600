"""Evidently reports as files people open: HTML pages, how to open them, the labels count.

The drift report comes from :func:`fti.monitoring.drift`, the classification report from
:func:`fti.monitoring.classification_report`; this module writes them as standalone HTML
(Evidently's JavaScript inlined, so they work offline) and builds the third run a
monitoring day adds to the workspace: how many of the window's predictions have a label.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from fti import config
from fti.files import atomic_write_text

#: What to do when an HTML report opens blank inside JupyterLab.
OPEN_HINT = ("To read it, open it in a browser tab (in JupyterLab's file browser: right-click "
             "it, 'Open in New Browser Tab'); opened inside JupyterLab it stays blank until "
             "you click 'Trust HTML' in its toolbar.")


def save_html(snapshot: Any, path: str | Path) -> Path:
    """Write an Evidently snapshot as a standalone HTML page (atomically, folders made)."""
    atomic_write_text(Path(path), snapshot.get_html_str(as_iframe=False))
    return Path(path)


def where(path: str | Path) -> str:
    """A report's path (from the repository root when it lies below it, as JupyterLab's
    file browser shows it) and how to open it."""
    shown, root = Path(path), config.repo_root()
    if shown.is_relative_to(root):
        shown = shown.relative_to(root)
    return f"{shown}\n  {OPEN_HINT}"


def labels_report(joined: pd.DataFrame) -> Any:
    """Evidently's count of the window's predictions with and without their label: a
    Snapshot with ``RowCount`` and a ``CategoryCount`` of ``labelled`` for True and False.

    ``joined`` is :func:`fti.monitoring.join_labels`'s frame (every prediction, labelled or
    not); None when it has no rows.
    """
    if joined.empty:
        return None
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import CategoryCount, RowCount

    data = pd.DataFrame({"labelled": joined["labelled"].to_numpy(dtype=bool)})
    definition = DataDefinition(categorical_columns=["labelled"])
    report = Report([RowCount(), CategoryCount(column="labelled", category=True),
                     CategoryCount(column="labelled", category=False)])
    return report.run(Dataset.from_pandas(data, data_definition=definition), None)
