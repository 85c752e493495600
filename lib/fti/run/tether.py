"""Start a command that dies with the process that starts it: ``python -m fti.run.tether``.

Usage: ``python -m fti.run.tether PARENT_PID COMMAND [ARGS...]``. On Linux the process asks
the kernel for a SIGKILL when its parent goes (``prctl(PR_SET_PDEATHSIG)``), checks that
the parent is still ``PARENT_PID`` (it may have died already), and then *becomes*
``COMMAND`` (``exec``: same process, the request kept). Elsewhere :func:`command` leaves
the command as it is (ipykernel's own check of its parent, once a second, remains).

Linux's "parent" is the *thread* that started the process: a kernel started by a thread
dies when that thread ends. The runner closes a thread's kernels before the thread ends
anyway (:func:`fti.run.kernels.close`). Nothing here imports more than the standard
library: it runs before every kernel start.
"""

from __future__ import annotations

import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def command(cmd: list[str], parent: int | None = None) -> list[str]:
    """``cmd`` started through this module, tied to ``parent`` (default: this process);
    unchanged where Linux's request is not available."""
    if not sys.platform.startswith("linux"):
        return list(cmd)
    return [sys.executable, "-m", "fti.run.tether", str(parent or os.getpid()), *cmd]


def tie_to_parent(parent: int) -> bool:
    """Ask for SIGKILL when the parent dies; False where that cannot be asked (not Linux)."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        tied = libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False
    if os.getppid() != parent:  # the parent died before the request: do not start at all
        os._exit(1)
    return tied


def main(argv: list[str]) -> None:
    if len(argv) < 2 or not argv[0].isdigit():
        sys.exit("usage: python -m fti.run.tether PARENT_PID COMMAND [ARGS...]")
    tie_to_parent(int(argv[0]))
    os.execvp(argv[1], argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
