"""How every kernel starts: over Unix sockets, and tied to the process that starts it.

:data:`KERNEL_MANAGER` is jupyter_client's kernel manager with two changes, for warm
kernels (:mod:`fti.run.kernels`) and plain papermill kernels alike:

- it talks to the kernel over ``ipc`` (Unix sockets in a private temporary folder) rather
  than TCP on localhost, which also spares every notebook ipykernel's warning about
  unencrypted TCP;
- the kernel dies with the process that started it. jupyter_client starts a kernel in a
  session of its own (so that Ctrl-C in a terminal does not reach it), so a kill of the
  runner's process group used to miss it: ipykernel notices a dead parent only by polling
  once a second, and a kernel went on for about two seconds, long enough to register and
  promote a model that the resumed run then trained again. Now the kernel's command goes
  through :mod:`fti.run.tether`, which asks Linux to SIGKILL the kernel the moment the
  starting thread's process dies (``PR_SET_PDEATHSIG``) and only then becomes the kernel.
  Elsewhere ipykernel's own polling remains.
"""

from __future__ import annotations

import itertools
import shutil
import sys
import tempfile
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import default

from fti.run import tether

__all__ = ["KERNEL_MANAGER", "IPCKernelManager", "remove_sockets"]

_IPC = sys.platform != "win32"  # zmq's ipc transport needs Unix domain sockets
_socket_dir: Path | None = None


def _sockets() -> Path:
    """A private folder for the kernels' socket files, removed when the process exits.

    Short on purpose: a Unix socket path may not exceed about 100 characters.
    """
    global _socket_dir
    if _socket_dir is None:
        _socket_dir = Path(tempfile.mkdtemp(prefix="fti-kernels-"))
    return _socket_dir


def remove_sockets() -> None:
    """Remove the socket folder (at exit, once no kernel uses it)."""
    if _socket_dir is not None:
        shutil.rmtree(_socket_dir, ignore_errors=True)


_kernel_numbers = itertools.count(1)  # next() on it is atomic under the GIL


class IPCKernelManager(AsyncKernelManager):
    """The default kernel manager, talking over Unix sockets instead of TCP on localhost,
    and starting kernels that die with this process (see the module docstring)."""

    @default("transport")
    def _transport_default(self) -> str:
        return "ipc" if _IPC else "tcp"

    @default("ip")
    def _ip_default(self) -> str:
        if self.transport == "ipc":
            # Socket files k<n>-1, k<n>-2, ...: jupyter_client numbers them by the first name
            # not on disk yet, and a kernel creates its files only once it runs, so two
            # kernels started at the same time (two threads) would share one prefix's
            # numbers and each client would talk to the other's kernel. One prefix each.
            return str(_sockets() / f"k{next(_kernel_numbers)}")
        return super()._ip_default()

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        """The kernelspec's command, started through :mod:`fti.run.tether`."""
        return tether.command(super().format_kernel_cmd(extra_arguments))


#: Pass as ``kernel_manager_class`` to papermill (either engine).
KERNEL_MANAGER = IPCKernelManager
