"""Making sure the peer targets' sessions exist before a pool import, without letting a dead peer
eat an action's deadline, and having a returned peer's LUNs named again."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from zfsha.deadline import Deadline
from zfsha.errors import CommandError
from zfsha.iscsi import Chap, Initiator, Session, Target
from zfsha.paths import memo_name
from zfsha.platform import run_dir

log = logging.getLogger("zfsha.iscsi")

# A start may spend this long on one peer's login; a monitor retries a missing session at most
# once a minute and only briefly, so a dead peer cannot eat the monitor's deadline.
START_LOGIN_SECONDS = 30.0
MONITOR_LOGIN_SECONDS = 5.0
MONITOR_LOGIN_EVERY = 60.0
# Naming a returned peer's LUNs again (Initiator.rename_devices) is asked at most this often per target.
RENAME_EVERY = 60.0
RENAME_SECONDS = 10.0


def ensure_sessions(
    initiator: Initiator, wanted: Sequence[Target], chap: Chap | None, deadline: Deadline, *, starting: bool
) -> list[Target]:
    """Log in to every wanted target not logged in; a peer that does not answer is not an error.

    Returns the targets logged in afterwards (read again only if a login was tried). Outside a start,
    a missing session is retried at most once a minute and only briefly.
    """
    if not wanted:
        return []
    existing: dict[Target, Session] | None
    try:
        existing = {session.target: session for session in initiator.sessions()}
    except CommandError as err:
        log.warning("cannot list iSCSI sessions: %s", err.reason)
        existing = None
    tried = False
    for target in wanted:
        session = None if existing is None else existing.get(target)
        if session is not None:
            if not session.logged_in:
                log.warning("iSCSI session to %s is %s (the initiator keeps retrying it)", target, session.state)
            continue
        if not starting and not login_due(target):
            continue
        budget = START_LOGIN_SECONDS if starting else MONITOR_LOGIN_SECONDS
        tried = True
        try:
            initiator.login(target, chap, deadline.cap(budget) or budget)
            log.info("logged in to %s", target)
        except CommandError as err:
            log.warning("peer target %s unavailable, continuing without its legs: %s", target, err.reason)
    if existing is None or tried:
        return logged_in(initiator, wanted)
    return [target for target in wanted if target in existing and existing[target].logged_in]


def logged_in(initiator: Initiator, wanted: Sequence[Target]) -> list[Target]:
    try:
        return [s.target for s in initiator.sessions() if s.logged_in and s.target in wanted]
    except CommandError:
        return []


def login_due(target: Target) -> bool:
    """At most one login attempt per target a minute from monitors (remembered in the run dir)."""
    return _due("login", target, MONITOR_LOGIN_EVERY)


def rename_devices(initiator: Initiator, live: Sequence[Target], deadline: Deadline) -> list[str]:
    """Some leg's device name is missing although its peer may be back: have the LUNs of the logged-in
    targets named again (at most once a minute per target, so a LUN that stays unreadable costs
    little); returns the devices asked about. A failure is a warning: the leg stays out meanwhile."""
    devices: list[str] = []
    for target in live:
        if not _due("rename", target, RENAME_EVERY):
            continue
        try:
            renamed = initiator.rename_devices(target, deadline.cap(RENAME_SECONDS) or RENAME_SECONDS)
        except CommandError as err:
            log.warning("could not have the devices of %s named again: %s", target, err.reason)
            continue
        if renamed:
            log.info("asked udev to name the devices of %s again: %s", target, " ".join(renamed))
        devices += renamed
    return devices


def _due(kind: str, target: Target, every: float) -> bool:
    memo = run_dir() / memo_name(kind, str(target))
    try:
        if time.time() - memo.stat().st_mtime < every:
            return False
    except FileNotFoundError:
        pass
    memo.touch()
    return True


def wait_for_devices(initiator: Initiator, targets: Sequence[Target], seconds: float) -> None:
    """Wait (bounded) until every logged-in target's LUNs have device nodes; import without the rest."""
    if not targets:
        return
    initiator.settle(min(seconds, 10.0))
    ends = time.monotonic() + seconds
    while True:
        waiting = [target for target in targets if not initiator.device_paths(target)]
        if not waiting:
            return
        if time.monotonic() >= ends:
            log.warning("no devices from %s after %.0fs: importing without them", ", ".join(map(str, waiting)), seconds)
            return
        time.sleep(0.5)
