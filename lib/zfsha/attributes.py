"""Node attributes: facts about this node that crm_mon -A and location rules can see.

Published as transient attributes (lifetime reboot) with crm_attribute(8). Outside a cluster
(crm_resource --force-*, a shell) crm_attribute cannot reach the CIB: that is logged, never an
action failure. The last published value is remembered so a steady monitor starts no process.
"""

from __future__ import annotations

import logging
import time

from zfsha.errors import CommandError
from zfsha.paths import memo_name
from zfsha.platform import run_dir

log = logging.getLogger("zfsha.attributes")
TIMEOUT_SECONDS = 5.0
# After a failed publish (no cluster, attrd busy) a steady monitor retries this much later.
RETRY_SECONDS = 300.0


def _memo(name: str):  # type: ignore[no-untyped-def]
    """The file remembering the attribute's last value: the value alone once published; value,
    "failed" and the time (tab-separated) after a failed publish. zfsha.zpool.steady reads it too."""
    return run_dir() / memo_name("attribute", name)


def publish(name: str, value: str, *, only_if_changed: bool = False) -> bool:
    """Set a transient node attribute; True when it is known to be set."""
    try:
        memo = _memo(name)
        if only_if_changed and memo.exists():
            remembered = memo.read_text(encoding="utf-8").split("\t")
            if remembered[0] == value and (len(remembered) == 1 or time.time() - float(remembered[2]) < RETRY_SECONDS):
                return len(remembered) == 1
    except (OSError, ValueError, IndexError):
        memo = None
    from zfsha import run  # only when the value changed: a steady monitor imports no subprocess machinery

    try:
        run.run(["crm_attribute", "--lifetime", "reboot", "--name", name, "--update", value], timeout=TIMEOUT_SECONDS)
        published = True
    except CommandError as err:
        log.warning("could not publish node attribute %s=%s: %s", name, value, err.reason)
        published = False
    if memo is not None:
        try:
            memo.write_text(value if published else f"{value}\tfailed\t{time.time():.0f}", encoding="utf-8")
        except OSError:
            pass
    return published


def withdraw(name: str) -> None:
    """Delete a transient node attribute (the resource stopped here)."""
    try:
        _memo(name).unlink(missing_ok=True)
    except OSError:
        pass
    from zfsha import run

    try:
        run.run(["crm_attribute", "--lifetime", "reboot", "--name", name, "--delete"], timeout=TIMEOUT_SECONDS)
    except CommandError as err:
        log.warning("could not delete node attribute %s: %s", name, err.reason)
