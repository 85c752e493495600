"""The Evidently UI on the monitoring workspace: start it on localhost, wait until it
serves the projects, print where to look, stop it.

``evidently ui`` is a web service bundled with Evidently (its pages and scripts ship in the
package, so it works offline). It runs here as a child process bound to 127.0.0.1 only
(without a secret every write endpoint is open), with telemetry off (``DO_NOT_TRACK=1``:
otherwise every request starts a process that tries to reach Evidently's server).

The UI reads the runs when a page first asks for them, and does not notice runs replaced
while it runs (they are written atomically, by renaming): :meth:`UI.reload` tells it, and
a UI started after the runs were written simply loads them.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fti.errors import FTIError
from fti.monitoring.workspace import UI_HOST as HOST
from fti.monitoring.workspace import UI_PORT as DEFAULT_PORT
from fti.run import tether

_PORT_IN_USE = 3  # uvicorn's exit status when it cannot bind


def free_port() -> int:
    """A port nobody listens on right now (another process may take it before we do)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclass
class UI:
    """A running ``evidently ui``: its process, address and log file."""

    process: subprocess.Popen
    url: str
    workspace: Path
    log: Path

    def get(self, path: str, timeout: float = 60) -> Any:
        """GET an API path (``/api/projects``) and return its JSON."""
        with urllib.request.urlopen(self.url + path, timeout=timeout) as answer:
            return json.load(answer)

    def post(self, path: str, body: Any, timeout: float = 60) -> Any:
        request = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"},
                                         method="POST")
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return json.load(answer)

    def reload(self, project: str) -> None:
        """Make the UI read a project's runs again (after runs were written or replaced)."""
        with urllib.request.urlopen(f"{self.url}/api/projects/{project}/reload", timeout=60):
            pass

    def stop(self, timeout: float = 15) -> None:
        """Stop the service (SIGTERM: uvicorn shuts down gracefully), then make sure."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)

    def __enter__(self) -> UI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _tail(path: Path, lines: int = 12) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def start(workspace: str | Path, port: int | None = None, log: str | Path | None = None,
          timeout: float = 300) -> UI:
    """Start ``evidently ui`` for ``workspace`` on 127.0.0.1 and wait until it lists the
    projects (the first listing loads every run, which takes seconds for a month).

    ``port`` None takes a free one. Raises FTIError, with the end of the log, when there is
    no workspace yet, the port is taken, or the service does not come up in ``timeout``
    seconds.
    """
    workspace = Path(workspace).resolve()
    if not any(p.is_dir() for p in workspace.glob("*-*-*-*-*")):
        raise FTIError(f"No Evidently workspace with a project in {workspace} yet: monitoring "
                       f"fills it. Run `make demo`, or `fti simulate` over a week or more, "
                       f"or notebook 04, with this data folder first.")
    port = free_port() if port is None else int(port)
    log = Path(log) if log else workspace.parent / "evidently-ui.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DO_NOT_TRACK": "1"}
    command = [sys.executable, "-m", "evidently.cli", "ui", "--workspace", str(workspace),
               "--host", HOST, "--port", str(port)]
    with open(log, "w") as out:
        # tied to this process: a `fti monitor` stopped by a signal (not only Ctrl-C) or
        # killed takes its UI with it instead of leaving the port taken
        process = subprocess.Popen(tether.command(command), env=env, stdout=out,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    ui = UI(process, f"http://{HOST}:{port}", workspace, log)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            why = (f"port {port} is in use: choose another with --port"
                   if process.returncode == _PORT_IN_USE else
                   f"it exited with status {process.returncode}")
            raise FTIError(f"The Evidently UI did not start ({why}). Its log {log} ends:\n"
                           f"{_tail(log)}")
        try:
            ui.get("/api/projects", timeout=max(1.0, deadline - time.monotonic()))
            return ui
        except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
            if time.monotonic() > deadline:
                ui.stop()
                raise FTIError(f"The Evidently UI did not answer within {timeout:.0f} s. Its "
                               f"log {log} ends:\n{_tail(log)}") from None
            time.sleep(0.2)


def serve(workspace: str | Path, port: int = DEFAULT_PORT, log: str | Path | None = None
          ) -> int:
    """Run the UI until Ctrl-C, printing its address and each project's dashboard."""
    print(f"Starting the Evidently UI for {workspace} (telemetry off) ...", flush=True)
    with start(workspace, port, log) as ui:
        print(f"Evidently UI: {ui.url}")
        for project in ui.get("/api/projects"):
            print(f"  dashboard of {project['name']}: {ui.url}/projects/{project['id']}")
        print(f"(log: {ui.log}; stop with Ctrl-C)", flush=True)
        try:
            while ui.process.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            print("stopping the Evidently UI")
            return 0
    raise FTIError(f"The Evidently UI stopped by itself (status {ui.process.returncode}); "
                   f"its log {ui.log} ends:\n{_tail(ui.log)}")
