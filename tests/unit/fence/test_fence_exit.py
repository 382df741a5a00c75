"""How a fence agent process ends: `FenceAgent.main` skips the interpreter's teardown, so everything
that teardown would have done and a caller can see must still happen. Each case is a real process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

LIB = Path(__file__).resolve().parents[3] / "lib"

# Block-buffered stdout (a pipe), a non-daemon thread still running, an atexit callback and a log
# file handler: the four things an os._exit without care would lose.
_ENDING = """
import atexit, logging, sys, threading, time
from zfsha.fence.agent import exit_process

log_file = logging.FileHandler(sys.argv[1], delay=True)
logging.getLogger().addHandler(log_file)
print("result of the action")
threading.Thread(target=lambda: (time.sleep(0.3), print("late thread finished"))).start()
atexit.register(lambda: print("atexit ran"))
logging.getLogger().error("logged at the end")
exit_process(2)
print("never reached")
"""


def test_exit_process_keeps_exit_status_buffered_output_threads_atexit_and_logs(tmp_path):
    log_path = tmp_path / "agent.log"
    done = subprocess.run(
        [sys.executable, "-c", _ENDING, str(log_path)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(LIB)},
        timeout=30,
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout.splitlines() == ["result of the action", "late thread finished", "atexit ran"]
    assert log_path.read_text() == "logged at the end\n"


def test_exit_process_reports_output_that_cannot_be_written():
    # The child prints only once its stdin closes, by which time nobody reads its stdout.
    child = "import sys\nfrom zfsha.fence.agent import exit_process\nsys.stdin.read()\nprint('Status: ON')\nexit_process(0)"
    reader_gone = subprocess.Popen(
        [sys.executable, "-c", child],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={"PYTHONPATH": str(LIB)},
    )
    assert reader_gone.stdin is not None and reader_gone.stdout is not None
    reader_gone.stdout.close()
    reader_gone.stdin.close()
    assert reader_gone.wait(timeout=30) == 120
