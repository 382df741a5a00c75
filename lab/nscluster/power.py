"""Power control of namespace nodes, usable from any process that can read the state directory.

A node is "powered" while its init (boot.py, PID 1 of the node's PID namespace) lives. Power-off
kills that init with SIGKILL, which makes the kernel kill every process of the node at once: a real
power cut, with no shutdown. Power-on starts a new init, detached from the caller so that a BMC
emulator calling this returns at once; the init waits `boot_delay` before anything starts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

from . import procs
from .layout import BOOT_SCRIPT, DAEMON_PATH, PYTHON, Layout
from .network import netns_path

LAUNCH_TIMEOUT = 10.0


def init_pid(layout: Layout, name: str) -> int | None:
    """The host pid of the node's init while it is powered, else None."""
    try:
        pid = int(layout.pid_file(name).read_text())
    except (FileNotFoundError, ValueError):
        return None
    # Guard against pid reuse: it must be this node's init.
    if procs.is_alive(pid) and str(layout.boot_config(name)) in procs.cmdline(pid):
        return pid
    return None


def power_state(layout: Layout, name: str) -> bool:
    return init_pid(layout, name) is not None


def power_on(layout: Layout, name: str, boot_delay: float = 8.0) -> int:
    """Start the node unless it is on; returns its init's host pid."""
    running = init_pid(layout, name)
    if running is not None:
        return running
    spec = layout.load()
    node = spec.node(name)
    layout.pid_file(name).unlink(missing_ok=True)
    argv = [
        "nsenter",
        f"--net={netns_path(node.netns)}",
        "--",
        "unshare",
        "--pid",
        "--fork",
        "--mount",
        "--uts",
        "--ipc",
        "--kill-child",
        "--",
        PYTHON,
        str(BOOT_SCRIPT),
        "node",
        str(layout.boot_config(name)),
        str(boot_delay),
    ]
    with open(layout.console_log(name), "ab") as console:
        # A new session: the node must outlive a caller that exits (the CLI, a BMC request).
        launcher = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=console,
            start_new_session=True,
            cwd="/",
            env={"PATH": DAEMON_PATH},
        )
    deadline = time.monotonic() + LAUNCH_TIMEOUT
    while (pid := init_pid(layout, name)) is None:
        if launcher.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"node {name} did not start; see {layout.console_log(name)}")
        time.sleep(0.02)
    return pid


def power_off(layout: Layout, name: str) -> None:
    """Cut the power: SIGKILL the node's init and wait until every process of the node is gone."""
    pid = init_pid(layout, name)
    if pid is None:
        return
    pidns = procs.namespace(pid, "pid_for_children") or procs.namespace(pid, "pid")
    procs.kill_and_wait([pid], signal.SIGKILL, timeout=10.0)
    if pidns is not None:
        # The kernel reaps the namespace when its init dies; wait until it has.
        procs.wait_gone(procs.pids_in_namespaces("pid", [pidns]), timeout=10.0)
    layout.pid_file(name).unlink(missing_ok=True)


def shutdown(layout: Layout, names: list[str], timeout: float = 60.0) -> None:
    """Clean shutdown of several nodes at once (pacemakerd, then corosync), then power off."""
    pids = [pid for name in names if (pid := init_pid(layout, name)) is not None]
    # A node whose corosync a test froze would hang its shutdown: let it run again first.
    pidns = [ns for pid in pids if (ns := procs.namespace(pid, "pid"))]
    for pid in procs.pids_in_namespaces("pid", pidns):
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
    procs.kill_and_wait(pids, signal.SIGTERM, timeout=timeout)
    for name in names:
        power_off(layout, name)
