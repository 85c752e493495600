"""The ``warm`` papermill engine: papermill's nbclient engine on a warm kernel.

Each notebook runs on this process's (and thread's) warm kernel from
:mod:`fti.run.kernels`, reset to a clean slate first; a notebook that fails gets its
kernel discarded, so the next one starts fresh. One more saving: papermill writes the
output notebook before and after every cell; this engine writes it at the start, at the
end (also after a failure) and between cells only every 30 s (papermill's autosave
interval).

Papermill finds the engine through the ``papermill.engine`` entry point declared in
``pyproject.toml``, so importing this module registers nothing::

    papermill.execute_notebook(src, out, parameters, engine_name="warm",
                               kernel_manager_class=fti.run.kernels.KERNEL_MANAGER)
"""

from __future__ import annotations

import os
import threading
from typing import Any

from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import Engine, NotebookExecutionManager
from papermill.log import logger
from papermill.utils import merge_kwargs, remove_args

from fti.run import kernels

__all__ = ["ENGINE_NAME", "WarmEngine"]

#: The name papermill knows the engine by (``engine_name="warm"``).
ENGINE_NAME = "warm"


class _FewerSaves(NotebookExecutionManager):
    """Papermill's bookkeeping, minus most of its writes of the output notebook.

    Papermill writes the whole output notebook before and after every cell (about 10 ms
    each, twice per cell). This manager writes it when the notebook starts, when it ends
    (also after a failure, with every output so far) and between cells only once
    ``autosave_cell_every`` seconds (papermill's own autosave interval, 30 s) have passed.
    The final file is the same; only someone watching it mid-run sees it less often.
    """

    _between_cells = False

    def save(self, **kwargs: Any) -> None:
        if self._between_cells and self.autosave_cell_every and (
                self.now() - self.last_save_time).total_seconds() < self.autosave_cell_every:
            return
        super().save(**kwargs)

    def cell_start(self, cell: Any, cell_index: int | None = None, **kwargs: Any) -> None:
        self._between_cells = True
        try:
            super().cell_start(cell, cell_index, **kwargs)
        finally:
            self._between_cells = False

    def cell_complete(self, cell: Any, cell_index: int | None = None, **kwargs: Any) -> None:
        self._between_cells = True
        try:
            super().cell_complete(cell, cell_index, **kwargs)
        finally:
            self._between_cells = False


class WarmEngine(Engine):
    """Papermill's nbclient engine on a kernel that survives the notebook (see module doc)."""

    @classmethod
    def execute_notebook(cls, nb: Any, kernel_name: str, output_path: str | None = None,
                         progress_bar: bool = True, log_output: bool = False,
                         autosave_cell_every: int = 30, **kwargs: Any) -> Any:
        """Papermill's ``Engine.execute_notebook`` with :class:`_FewerSaves` bookkeeping."""
        nb_man = _FewerSaves(nb, output_path=output_path, log_output=log_output,
                             progress_bar=progress_bar, autosave_cell_every=autosave_cell_every)
        nb_man.notebook_start()
        try:
            cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
        finally:
            nb_man.cleanup_pbar()
            nb_man.notebook_complete()
        return nb_man.nb

    @classmethod
    def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, log_output: bool = False,
                                 stdout_file: Any = None, stderr_file: Any = None,
                                 start_timeout: int = 60, execution_timeout: int | None = None,
                                 **kwargs: Any) -> Any:
        kwargs = remove_args(["input_path", "kernel_manager_class"], **kwargs)
        safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
        final_kwargs = merge_kwargs(
            safe_kwargs, timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
            startup_timeout=start_timeout, kernel_name=kernel_name, log=logger,
            log_output=log_output, stdout_file=stdout_file, stderr_file=stderr_file)
        key = (threading.get_ident(), kernel_name)
        kernel = kernels.kernel(kernel_name, start_timeout)
        clean = False
        try:
            kernel.reset(os.getcwd(), openmp_threads=kernels.openmp_threads_here())
            client = PapermillNotebookClient(nb_man, km=kernel.km, **final_kwargs)
            client.kc = kernel.kc  # nbclient then neither starts nor shuts down a kernel
            client.execute()
            clean = not nb_man.nb.metadata.papermill.get("exception")
        finally:
            if not clean:  # failed, interrupted or dead: the next notebook gets a new kernel
                kernels.discard(key)
        if clean:  # the kernel waits for the next notebook
            kernel.release()
        return nb_man.nb

