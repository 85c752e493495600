"""Warm kernels: one per process, thread and kernel name, kept and reset before each notebook.

Plain papermill starts a new kernel for every notebook and shuts it down afterwards, so a
notebook pays for the kernel's start and for importing pandas, scikit-learn, matplotlib,
Evidently and ``fti`` before its own work begins: seconds per execution, hundreds of times
in a replayed year. A warm kernel is started once and kept. Before each notebook it is
reset to what a fresh kernel would have:

- the user namespace and the execution counter (``In [1]`` again), as ``%reset`` does;
- the working directory, ``os.environ``, ``sys.path`` and ``sys.argv`` (as at kernel start);
- the warning filters, and the "already shown" memory of warnings, so a notebook shows the
  same warnings it would show in a fresh kernel;
- matplotlib's open figures and rc settings, and pandas' options.

Imported modules stay loaded, with their module-level state, which is the speed-up
(``fti.source`` keeps the raw CSVs it read). A notebook that fails, is interrupted or kills
its kernel leaves the kernel behind: the next notebook starts a new one. So does a change
of the parent's environment variables, which a fresh kernel would inherit.

What survives the reset is frozen out of the garbage collector (``gc.freeze``), so
collections stay quick in a kernel that holds pandas, scikit-learn and Evidently; and on
glibc the memory the last notebook freed is handed back to the system (``malloc_trim``),
so a kernel's resident size falls back after a training run instead of staying at its
high-water mark; Arrow's allocator (mimalloc), which keeps what it freed out of
``malloc_trim``'s reach (about 180 MB after a day's feature run), is asked to let go too.
That part of the reset is asked for as soon as a notebook ends, without waiting for it, so
an idle kernel holds no more than a reset leaves.

:data:`KERNEL_MANAGER` (:mod:`fti.run.launch`) starts every kernel, warm or plain: it
talks to it over Unix sockets, and the kernel dies with the process that started it;
:mod:`fti.run.runs` gives it to both engines. The papermill engine that uses these kernels
is :mod:`fti.run.engine`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Any

from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from papermill.log import logger

from fti.run.launch import KERNEL_MANAGER, remove_sockets

__all__ = ["KERNEL_MANAGER", "WarmKernel", "close", "kernel", "kernel_environment",
           "openmp_threads"]


# --- inside the kernel ----------------------------------------------------------------------
# Defined once per kernel, in a module of its own (so no notebook sees it), then called
# silently before every notebook. Only the standard library is imported eagerly.
_KERNEL_SETUP = r'''
def _define():
    import gc, os, sys, types, warnings

    state = types.ModuleType("_fti_warm")
    state.environ = dict(os.environ)
    state.path = list(sys.path)
    state.argv = list(sys.argv)
    state.filters = list(warnings.filters)
    try:  # glibc keeps freed memory for reuse; malloc_trim hands it back to the system
        import ctypes
        state.trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, musl, Windows): nothing to trim
        state.trim = None

    def release():
        get_ipython().reset(new_session=True)  # user namespace, Out cache; count back to 1
        gc.collect()  # the last notebook's garbage (if ip.reset did not); what survives
        gc.freeze()  # (modules, caches) is left out of later collections: they stay quick
        if state.trim is not None:  # the last notebook's frames are freed: return their
            state.trim(0)  # memory, so two kernels' peaks do not add up (a few ms)
        if "pyarrow" in sys.modules:  # Arrow's own allocator keeps what it freed, too
            sys.modules["pyarrow"].default_memory_pool().release_unused()

    def reset(cwd):
        release()  # requested after the last notebook already (a failed one's kernel is
        # discarded); repeated so that a reset alone gives a clean slate: quick then
        os.chdir(cwd)
        for key in set(os.environ) - set(state.environ):
            del os.environ[key]
        for key, value in state.environ.items():
            if os.environ.get(key) != value:
                os.environ[key] = value
        sys.path[:] = state.path
        sys.argv[:] = state.argv
        warnings.resetwarnings()  # also forgets which warnings were already shown
        warnings.filters[:] = state.filters
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")
        if "matplotlib" in sys.modules:
            mpl = sys.modules["matplotlib"]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mpl.rcParams.update({k: v for k, v in mpl.rcParamsOrig.items()
                                     if k != "backend"})
        if "pandas" in sys.modules:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sys.modules["pandas"].reset_option("all")

    # OpenMP threads (scikit-learn's loops): as the environment at kernel start says,
    # unless the next notebook is given another count
    start = state.environ.get("OMP_NUM_THREADS", "")
    state.openmp_default = int(start) if start.isdigit() else (os.cpu_count() or 1)
    state.openmp = state.openmp_default  # what the loaded OpenMP runtimes use now

    def set_openmp(threads):
        threads = threads or state.openmp_default
        if threads != state.openmp_default:  # a runtime loaded later reads the variable
            os.environ["OMP_NUM_THREADS"] = str(threads)
        if threads != state.openmp:
            try:
                from threadpoolctl import threadpool_limits
            except ImportError:  # no threadpoolctl: the variable is all we can set
                return
            threadpool_limits(threads, user_api="openmp")  # the runtimes loaded already
            state.openmp = threads

    def reset_for(cwd, openmp_threads):
        reset(cwd)
        set_openmp(openmp_threads)

    state.reset = reset_for
    state.release = release
    sys.modules["_fti_warm"] = state

_define()
del _define
'''
_KERNEL_RESET = '__import__("sys").modules["_fti_warm"].reset({cwd!r}, {openmp!r})'
_KERNEL_RELEASE = '__import__("sys").modules["_fti_warm"].release()'


class WarmKernel:
    """One running kernel: its manager ``km`` and client ``kc``, reused notebook after notebook.

    The kernel is started the way nbclient starts one for papermill (same kernel manager
    class, same arguments, history in memory), in the current working directory and with
    the current environment.
    """

    def __init__(self, kernel_name: str, startup_timeout: int = 60) -> None:
        self.kernel_name = kernel_name
        self.environ = _environment()  # what the kernel got; a change means a restart
        self._starter = NotebookClient(_empty_notebook(kernel_name), kernel_name=kernel_name,
                                       kernel_manager_class=KERNEL_MANAGER,
                                       startup_timeout=startup_timeout)
        self.km = self._starter.create_kernel_manager()
        self._starter.start_new_kernel(cwd=os.getcwd(), env=dict(self.environ))
        self.kc = self._starter.start_new_kernel_client()
        self._run(_KERNEL_SETUP, startup_timeout)

    def alive(self) -> bool:
        return bool(self.km.has_kernel and run_sync(self.km.is_alive)())

    def reset(self, cwd: str, timeout: float = 60, openmp_threads: int | None = None) -> None:
        """A clean slate for the next notebook (see the module docstring), which gets
        ``openmp_threads`` OpenMP threads (None: as many as the kernel started with)."""
        self._run(_KERNEL_RESET.format(cwd=cwd, openmp=openmp_threads), timeout)

    def release(self) -> None:
        """Let the last notebook's variables go and return their memory, without waiting.

        Requested right after a notebook, so a kernel that waits for its next one holds
        only what a reset leaves (while the other kernel of a two-kernel run may need the
        room); the next reset, queued behind it, finds the work done. The reply is not
        read here: the next request's wait skips replies to other requests.
        """
        self.kc.execute(_KERNEL_RELEASE, silent=True, store_history=False,
                        allow_stdin=False)

    def _run(self, code: str, timeout: float) -> None:
        """Execute ``code`` silently (no execution count, no history); raise if it fails."""
        reply = run_sync(self.kc.execute_interactive)(
            code, silent=True, store_history=False, allow_stdin=False, timeout=timeout,
            output_hook=lambda msg: None)
        content = reply["content"]
        if content["status"] != "ok":
            raise RuntimeError(f"could not prepare the warm kernel for the next notebook: "
                               f"{content.get('ename')}: {content.get('evalue')}")

    def shutdown(self) -> None:
        """Stop the kernel and its channels; never raises (it may be dead already).

        A live kernel finishes what it was asked first (the release queued after the last
        notebook): a shutdown request that arrives while it runs makes ipykernel print a
        ``ZMQError: Socket operation on non-socket`` traceback to the runner's stderr.
        """
        try:
            if self.alive():
                self._run("pass", timeout=30)  # answered once the queue before it is done
        except Exception as exc:  # a busy or broken kernel: shut it down all the same
            logger.debug("the warm kernel did not answer before its shutdown: %s", exc)
        try:
            self._starter._cleanup_kernel()  # shuts down, removes connection and socket files
        except Exception as exc:  # at exit or after a crash: nothing more to do
            logger.debug("could not shut the warm kernel down cleanly: %s", exc)


def _empty_notebook(kernel_name: str) -> Any:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": kernel_name, "display_name": kernel_name}
    return nb


_kernels: dict[tuple[int, str], WarmKernel] = {}
_lock = threading.Lock()
_extra_env: dict[str, str] = {}


def _environment() -> dict[str, str]:
    """The environment a kernel started now gets: this process's, plus kernel_environment's."""
    return {**os.environ, **_extra_env}


@contextlib.contextmanager
def kernel_environment(**variables: str) -> Iterator[None]:
    """Warm kernels used inside the block run with these extra environment variables.

    A warm kernel that was started without them is restarted (a change of environment
    always restarts one), and so is one used after the block. For example
    ``OMP_NUM_THREADS="1"`` when two kernels share the machine's cores, so that
    scikit-learn's OpenMP threads do not wait on each other.
    """
    global _extra_env
    before = _extra_env
    _extra_env = {**before, **variables}
    try:
        yield
    finally:
        _extra_env = before


_this_thread = threading.local()


@contextlib.contextmanager
def openmp_threads(threads: int) -> Iterator[None]:
    """Notebooks this thread runs in a warm kernel inside the block get ``threads`` OpenMP
    threads (scikit-learn's fits and predictions), whatever the kernel started with.

    For a step that has the machine to itself while two kernels otherwise share it with
    ``OMP_NUM_THREADS=1``. The next notebook outside the block is back at the kernel's own
    count. scikit-learn's results do not depend on the number of OpenMP threads.
    """
    before = getattr(_this_thread, "openmp", None)
    _this_thread.openmp = int(threads)
    try:
        yield
    finally:
        _this_thread.openmp = before


def openmp_threads_here() -> int | None:
    """The OpenMP threads :func:`openmp_threads` set for this thread (None: the kernel's)."""
    return getattr(_this_thread, "openmp", None)


def kernel(kernel_name: str, startup_timeout: int) -> WarmKernel:
    """This thread's warm kernel for ``kernel_name``: reused if alive and the environment is
    unchanged, else (re)started."""
    key = (threading.get_ident(), kernel_name)
    with _lock:
        kernel = _kernels.get(key)
    if kernel is not None and (kernel.environ != _environment() or not kernel.alive()):
        discard(key)
        kernel = None
    if kernel is None:
        _close_at_exit()
        kernel = WarmKernel(kernel_name, startup_timeout)
        with _lock:
            _kernels[key] = kernel
    return kernel


def discard(key: tuple[int, str]) -> None:
    """Shut the kernel of ``key`` (thread id, kernel name) down and forget it."""
    with _lock:
        kernel = _kernels.pop(key, None)
    if kernel is not None:
        kernel.shutdown()


def close(this_thread_only: bool = False) -> None:
    """Shut the warm kernels of this process (or of the calling thread) down.

    Done for every kernel at exit; a thread that ends should close its own kernel first.
    """
    me = threading.get_ident()
    for key in list(_kernels):
        if not this_thread_only or key[0] == me:
            discard(key)


def _at_exit() -> None:
    close()
    remove_sockets()  # after the kernels, which may still use their sockets


_exit_hook = threading.Lock()
_exit_hook_set = False


def _close_at_exit() -> None:
    """Shut every kernel down when the process exits (registered with the first kernel,
    so that importing this module changes nothing)."""
    global _exit_hook_set
    with _exit_hook:
        if not _exit_hook_set:
            atexit.register(_at_exit)
            _exit_hook_set = True

