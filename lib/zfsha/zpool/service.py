"""Getting a pool to serve and keeping it serving: the import decisions, the multihost guard, mounts,
and bringing faulted legs back. The pool agent's handlers are a runbook over these steps."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from zfsha.errors import CommandError, ConfigError, GenericError, NotInstalledError, ZfshaError
from zfsha.platform import Platform, host_path
from zfsha.zpool import labels
from zfsha.zpool.pool import ImportRefused, Pool
from zfsha.zpool.refusal import ACTIVE_ELSEWHERE, ALREADY_IMPORTED, NO_HOSTID, NO_SUCH_POOL, NOT_EXPORTED, ImportRefusal
from zfsha.zpool.status import Leg, PoolStatus

if TYPE_CHECKING:
    from zfsha.deadline import Deadline
    from zfsha.iscsi import Initiator, Target

log = logging.getLogger("zfsha.zpool")


def import_pool(pool: Pool, device_dirs: Sequence[str], *, mount: bool, force_import: bool) -> None:
    """Import without -f, unless force_import is set and the legs' labels show the pool was left
    imported by another host that had multihost on: then straight with -f, whose multihost activity
    check still refuses a pool that host writes to (one check, where a refused plain import first
    would cost two). A pool another host left imported with multihost off is never forced: ZFS
    refuses it in the words it uses for a crashed holder, whether or not that host still writes."""
    verdict, state = label_verdict(pool, device_dirs) if force_import else (labels.UNKNOWN, None)
    if verdict == labels.FORCE:
        refusal = try_import(pool, device_dirs, mount=mount, force=True, holder=state.holder() if state else "")
    else:
        refusal = try_import(pool, device_dirs, mount=mount, force=False)
        if refusal is not None and refusal.kind == NOT_EXPORTED and force_import and verdict == labels.UNKNOWN:
            # No label was readable before the plain import (e.g. a leg's device came late): ZFS has
            # just read one, so ask once more.
            verdict, state = label_verdict(pool, device_dirs)
            if verdict == labels.FORCE:
                refusal = try_import(pool, device_dirs, mount=mount, force=True, holder=refusal.holder())
    if refusal is None or refusal.kind == ALREADY_IMPORTED:
        return
    raise refusal_error(pool, refusal, device_dirs, force_import=force_import, verdict=verdict)


def label_verdict(pool: Pool, device_dirs: Sequence[str]) -> tuple[str, labels.OnDisk | None]:
    """What the legs' labels let a forced import do (labels.force_verdict), and what they said."""
    state = read_on_disk(pool, device_dirs)
    return labels.force_verdict(state, pool.platform.hostid()), state


def read_on_disk(pool: Pool, device_dirs: Sequence[str]) -> labels.OnDisk | None:
    """The pool's labels, or None (logged) when they cannot be read: then nothing is forced."""
    try:
        state = pool.on_disk(device_dirs)
    except CommandError as err:
        log.warning("could not read the labels of %s (nothing will be forced): %s", pool.name, err.reason)
        return None
    if state is None:
        log.info("no label of pool %s found in %s", pool.name, " ".join(device_dirs))
    else:
        multihost = {True: "on", False: "off", None: "unknown"}[state.multihost]
        log.info(
            "pool %s on disk: %s, last imported by %s, multihost %s (labels of %s)",
            pool.name,
            {labels.POOL_STATE_ACTIVE: "left imported", labels.POOL_STATE_EXPORTED: "exported"}.get(
                state.state, f"state {state.state}"
            ),
            state.holder(),
            multihost,
            ", ".join(state.devices),
        )
    return state


def try_import(pool: Pool, device_dirs: Sequence[str], *, mount: bool, force: bool, holder: str = "") -> ImportRefusal | None:
    """One zpool import; the refusal, or None when the pool is imported."""
    if force:
        log.warning(
            "pool %s was last imported by %s and not exported, with multihost on: importing with -f "
            "(the multihost activity check refuses it if that host still writes)",
            pool.name,
            holder or "another host",
        )
    try:
        pool.import_(device_dirs, mount=mount, force=force)
        return None
    except ImportRefused as refused:
        return refused.refusal


def refusal_error(
    pool: Pool, refusal: ImportRefusal, device_dirs: Sequence[str], *, force_import: bool, verdict: str
) -> ZfshaError:
    """The exit reason for a refused import: the split-brain guard, a crash that needs -f (and why it
    was not forced), or zpool's own words."""
    if refusal.kind == ACTIVE_ELSEWHERE:
        return GenericError(
            f"pool {pool.name} is in use on {refusal.holder()}: the multihost activity check refused the import "
            f"(split-brain guard); stop it there or fence that node"
        )
    if refusal.kind == NOT_EXPORTED and force_import and verdict == labels.UNGUARDED:
        return GenericError(
            f"pool {pool.name} not exported by {refusal.holder()} and multihost=off: nothing tells whether that host "
            f"still writes to it, so not forced; power it off, then import by hand"
        )
    if refusal.kind == NOT_EXPORTED and force_import:
        return GenericError(
            f"pool {pool.name} not exported by {refusal.holder()}; not forced: its labels (zdb -l -u) did not show "
            f"multihost=on, so nothing would guard -f"
        )
    if refusal.kind == NOT_EXPORTED:
        return GenericError(
            f"pool {pool.name} was last imported by {refusal.holder()} and not exported (crash?); ZFS wants a forced "
            f"import: once that node is fenced, import by hand or set force_import=true (guarded by multihost=on)"
        )
    if refusal.kind == NO_HOSTID:
        return NotInstalledError(f"pool {pool.name} has multihost=on but this node has no hostid: run zgenhostid")
    log.warning("zpool import %s -d %s: %s", pool.name, " -d ".join(device_dirs), refusal.detail)
    if refusal.kind == NO_SUCH_POOL:
        from zfsha.zpool.decisions import pool_not_found_reason

        return GenericError(pool_not_found_reason(pool.name, device_dirs))
    # zpool's words first: Pacemaker keeps only the reason's first 128 bytes.
    return GenericError(f"zpool import {pool.name} failed: {refusal.detail} (from {' '.join(device_dirs)})")


def require_multihost(pool: Pool, *, just_imported: bool, timeout: float | None) -> None:
    """Refuse a pool without multihost (nothing would stop a second importer); a pool this call's
    start imported is exported again first."""
    if pool.get("multihost") == "on":
        return
    if just_imported:
        pool.export(force=False, timeout=timeout)
    raise ConfigError(
        f"pool {pool.name} has multihost=off, so nothing stops a second node importing it; "
        f"run zpool set multihost=on {pool.name} (or set require_multihost=false)"
    )


def ensure_mounted(pool: Pool) -> None:
    pool.mount_all()
    missing = [d.name for d in pool.datasets() if d.should_mount and not d.mounted]
    if missing:
        raise GenericError(f"pool {pool.name} imported but not mounted: {', '.join(missing)}")


def device_present(path: str) -> bool:
    return os.path.exists(host_path(path))


def rename_missing_legs(status: PoolStatus, initiator: Initiator, live: Sequence[Target], deadline: Deadline) -> list[str]:
    """When a leg that could come back has no device name while peers are logged in, have those
    peers' LUNs named again (a returned LUN's partition names can stay gone: Initiator.rename_devices),
    so that bring_back_legs finds the device; returns the devices asked about."""
    from zfsha.zpool.decisions import legs_without_device

    if not live or not legs_without_device(status, device_present):
        return []
    from zfsha.iscsi.sessions import rename_devices

    return rename_devices(initiator, live, deadline)


def bring_back_legs(pool: Pool, status: PoolStatus) -> list[Leg]:
    """Run `zpool online` (and `zpool clear` for a FAULTED one) on the legs whose device returned (the
    peer's session is back); returns the legs it succeeded on. That success is not the leg's return:
    zpool online exits 0 with only a warning on a leg that stays faulted, so the caller reads the
    status again and sorts the legs with returned_legs."""
    from zfsha.zpool.decisions import legs_to_bring_back

    attempted: list[Leg] = []
    for leg in legs_to_bring_back(status, device_present):
        try:
            pool.online(leg.name)
            if leg.state == "FAULTED":
                pool.clear(leg.name)
            attempted.append(leg)
        except CommandError as err:
            log.warning("could not bring leg %s back: %s", leg.path, err.reason)
    return attempted


def pool_leaf_paths(pool: Pool) -> list[str]:
    """The pool's leaf device paths, read before an export (afterwards zpool knows nothing of them);
    [] when its status cannot be read, which then only costs the page-cache flush."""
    try:
        return [leg.path for leg in pool.status().legs]
    except (CommandError, ValueError) as err:
        log.warning("could not list the legs of %s before export (no page cache will be flushed): %s", pool.name, err)
        return []


def drop_stale_page_caches(platform: Platform, leaf_paths: Sequence[str]) -> list[str]:
    """After an export, drop the page cache of this node's own legs (the platform says which devices)
    so a peer importing them through this node's iSCSI target reads what ZFS wrote. A failure is a
    warning: the pool is exported either way. Returns the devices flushed."""
    flushed: list[str] = []
    for device in platform.page_cached_devices(leaf_paths):
        try:
            platform.flush_page_cache(device)
            flushed.append(device)
        except CommandError as err:
            log.warning("could not drop the page cache of %s (a peer may read stale labels through it): %s", device, err.reason)
    if flushed:
        log.info("dropped the page cache of %s", ", ".join(flushed))
    return flushed
