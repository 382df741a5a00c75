"""The one command runner: every process zfsha starts is started here.

argv lists only (never a shell), full paths resolved on a fixed PATH, a clean environment, a timeout
capped by the action's deadline, captured output, and every secret redacted from what is logged or
raised.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from zfsha import deadline, secrets
from zfsha.errors import CommandFailed, CommandNotFound, CommandTimeout, one_line

SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/sbin:/usr/local/bin"
# Extra directories searched first, e.g. a test's command simulators.
TOOL_PATH_VARIABLE = "ZFSHA_TOOL_PATH"
# Variables a child may inherit; everything else is dropped.
PASSED_VARIABLES = ("TZ", "ZFSHA_SIM_STATE", "PYTHONPATH", TOOL_PATH_VARIABLE)

log = logging.getLogger("zfsha.run")


@dataclass(frozen=True)
class Completed:
    """What a finished command produced."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float


def search_path() -> str:
    extra = os.environ.get(TOOL_PATH_VARIABLE, "")
    return f"{extra}:{SYSTEM_PATH}" if extra else SYSTEM_PATH


def which(tool: str) -> str | None:
    """Full path of a tool, or None; absolute paths are taken as they are."""
    if os.path.isabs(tool):
        return tool if os.access(tool, os.X_OK) else None
    return shutil.which(tool, path=search_path())


def child_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {"PATH": search_path(), "LC_ALL": "C", "LANG": "C"}
    env.update({name: os.environ[name] for name in PASSED_VARIABLES if name in os.environ})
    if extra:
        env.update(extra)
    return env


def describe(argv: Sequence[str], extra_secrets: Iterable[str] = ()) -> str:
    return secrets.redact(" ".join(argv), list(extra_secrets))


def run(
    argv: Sequence[str],
    *,
    redact: Iterable[str] = (),
    input: str | None = None,
    check: bool = True,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
) -> Completed:
    """Run argv to completion and return what it produced.

    Raises CommandNotFound when the tool is not installed, CommandTimeout when the timeout (capped by
    the current action's deadline) passes, and with check, CommandFailed on a non-zero exit. The child
    runs in its own process group so a timeout kills everything it started.
    """
    hidden = [s for s in redact if s]
    for secret in hidden:
        secrets.register(secret)
    if not argv:
        raise ValueError("empty argv")
    path = which(argv[0])
    shown = describe(argv, hidden)
    if path is None:
        raise CommandNotFound(f"{argv[0]} is not installed (searched {search_path()})", tuple(argv), None)
    full = (path, *argv[1:])
    limit = deadline.current().cap(timeout)
    log.debug("run: %s (timeout %s)", shown, "none" if limit is None else f"{limit:.1f}s")
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            full,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_environment(env),
            text=True,
            errors="replace",
            start_new_session=True,
            cwd="/",
        )
    except OSError as err:
        raise CommandNotFound(f"cannot start {shown}: {err.strerror}", tuple(argv), None) from None
    try:
        stdout, stderr = process.communicate(input=input, timeout=limit)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        seconds = time.monotonic() - started
        raise CommandTimeout(f"{shown} did not finish within {seconds:.1f}s", tuple(argv), None) from None
    seconds = time.monotonic() - started
    stdout = secrets.redact(stdout, hidden) if hidden else stdout
    stderr = secrets.redact(stderr, hidden)
    result = Completed(tuple(argv), process.returncode, stdout, stderr, seconds)
    log.debug("run: %s exited %d after %.2fs", shown, process.returncode, seconds)
    if check and process.returncode != 0:
        detail = one_line(stderr or stdout) or "no output"
        raise CommandFailed(f"{shown} failed (exit {process.returncode}): {detail}", tuple(argv), process.returncode, stderr)
    return result


def _kill_group(process: subprocess.Popen[str]) -> None:
    """Kill the child and everything it started; a process in D state is left to the kernel."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        process.communicate(timeout=2)
    except subprocess.TimeoutExpired:
        log.warning("run: pid %d did not die after SIGKILL (uninterruptible I/O?)", process.pid)
