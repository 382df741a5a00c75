"""Logging the way cluster admins look for it: syslog, HA_LOGFILE/HA_DEBUGLOG, and stderr by hand.

Follows the conventions of ocf-shellfuncs: HA_LOGFACILITY names the syslog facility ("none" turns syslog
off), HA_LOGFILE receives info and above, HA_DEBUGLOG receives debug when HA_debug=1. When no cluster
daemon runs the agent (crm_resource --force-*, a shell), messages also go to stderr. Every known secret
is redacted by every handler.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping

from zfsha import secrets

PRIORITIES = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


class SyslogHandler(logging.Handler):
    """Syslog through libc (the C syslog module): cheap to import, unlike logging.handlers,
    which matters to a monitor Pacemaker runs every few seconds."""

    def __init__(self, ident: str, facility: str) -> None:
        import syslog

        super().__init__()
        self._syslog = syslog
        syslog.openlog(ident, syslog.LOG_PID, getattr(syslog, f"LOG_{facility.upper()}", syslog.LOG_DAEMON))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._syslog.syslog(PRIORITIES.get(record.levelno, 6), self.format(record))
        except Exception:
            self.handleError(record)


class RedactingFilter(logging.Filter):
    """Render the message now and strip every registered secret from it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = secrets.redact(record.getMessage())
        record.args = None
        return True


def setup(tag: str, environ: Mapping[str, str] = os.environ, stderr_level: int | None = None) -> logging.Logger:
    """Configure the root logger for one agent run; returns the logger named 'zfsha'.

    stderr_level forces a stderr handler at that level (fence agents: the fencer logs their stderr);
    otherwise stderr is used only when no cluster daemon runs the agent.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    debug = environ.get("HA_debug", "0") not in ("", "0", "false", "no")
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    plain = logging.Formatter("%(levelname)s: %(message)s")
    stamped = logging.Formatter(f"%(asctime)s {tag}[{os.getpid()}]: %(levelname)s: %(message)s")

    handlers: list[logging.Handler] = []
    facility = environ.get("HA_LOGFACILITY", "daemon")
    if facility != "none" and os.path.exists("/dev/log"):
        syslog = SyslogHandler(tag, facility)
        syslog.setFormatter(plain)
        handlers.append(syslog)
    if environ.get("HA_LOGFILE"):
        handlers.append(_file_handler(environ["HA_LOGFILE"], logging.INFO, stamped))
    if debug and environ.get("HA_DEBUGLOG"):
        handlers.append(_file_handler(environ["HA_DEBUGLOG"], logging.DEBUG, stamped))
    if stderr_level is not None or not environ.get("PCMK_service"):
        stderr = logging.StreamHandler(sys.stderr)
        stderr.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        stderr.setLevel(logging.DEBUG if debug else (stderr_level or logging.INFO))
        handlers.append(stderr)
    for handler in handlers:
        handler.addFilter(RedactingFilter())
        root.addHandler(handler)
    return logging.getLogger("zfsha")


def _file_handler(path: str, level: int, formatter: logging.Formatter) -> logging.Handler:
    try:
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        handler = logging.NullHandler()
    handler.setLevel(level)
    handler.setFormatter(formatter)
    return handler
