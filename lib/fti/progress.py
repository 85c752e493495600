"""Progress bars for long cells: a widget in JupyterLab, a text bar in a terminal.

``tqdm.auto`` picks the notebook widget when it runs in a kernel with ipywidgets, so a bar
no longer shows on the red-tinted stderr of a JupyterLab cell, and papermill keeps the
bar's final state in the executed notebook.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def bar(iterable: Iterable[T] | None = None, *, total: int | None = None, desc: str = "",
        unit: str = "it", disable: bool = False) -> Any:
    """A progress bar (``tqdm.auto``) over ``iterable``, or updated by hand."""
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=disable)


@contextlib.contextmanager
def trees(estimator: Any, desc: str = "fit", every: float = 0.5) -> Iterator[None]:
    """Count the trees a gradient-boosting estimator adds while it fits in this thread.

    The fit runs where it would anyway (the calling thread, with its OpenMP settings); a
    helper thread looks at the estimator's list of trees every ``every`` seconds. Early
    stopping may end the fit before ``max_iter`` trees: the bar then stops short.
    """
    progress = bar(total=int(estimator.max_iter), desc=desc, unit="tree")
    done = threading.Event()

    def count() -> int:
        return len(getattr(estimator, "_predictors", None) or ())

    def watch() -> None:
        while not done.wait(every):
            progress.update(count() - progress.n)

    watcher = threading.Thread(target=watch, name="fti-progress", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
        progress.update(count() - progress.n)
        if progress.n < progress.total:
            progress.set_postfix_str("early stopping")
        progress.close()


def counting(scorer: Callable[..., float], progress: Any) -> Callable[..., float]:
    """``scorer`` that advances ``progress`` by one on every call (same scores)."""

    def score(*args: Any, **kwargs: Any) -> float:
        value = scorer(*args, **kwargs)
        progress.update(1)
        return value

    return score
