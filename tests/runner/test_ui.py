"""The Evidently UI that `fti monitor` starts goes with it, however it is stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from fti import config
from fti.monitoring import workspace

pytestmark = pytest.mark.slow  # a real UI server

_MONITOR = """
import sys
from fti.run import ui
with ui.start(sys.argv[1], log=sys.argv[2]) as server:
    print(server.process.pid, flush=True)
    sys.stdin.read()  # until the test stops this process
"""


def _gone(pid: int, within: float = 120.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # a dead child of ours stays a zombie until reaped: reap if it is ours
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:
            pass
        if _zombie(pid):
            return True
        time.sleep(0.2)
    return False


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_ui_stops_when_the_process_that_started_it_is_terminated(tmp_path):
    space = tmp_path / "evidently"
    workspace.project_id(space, "flight_delay")
    monitor = subprocess.Popen([sys.executable, "-c", textwrap.dedent(_MONITOR), str(space),
                                str(tmp_path / "ui.log")], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True, cwd=config.repo_root())
    try:
        ui_pid = int(monitor.stdout.readline())
        assert not _gone(ui_pid, within=0)
        monitor.send_signal(signal.SIGTERM)  # not Ctrl-C: no Python clean-up runs
        monitor.wait(timeout=60)
        assert _gone(ui_pid), "the Evidently UI outlived the process that started it"
    finally:
        monitor.kill()
