"""The legs' labels (zdb -l -u) and what they let a forced import do: the newest uberblock decides
whether ZFS's multihost activity check will guard an import -f."""

from __future__ import annotations

from zfsha.zpool.labels import (
    FORCE,
    MMP_MAGIC,
    PLAIN,
    POOL_STATE_ACTIVE,
    POOL_STATE_EXPORTED,
    UNGUARDED,
    UNKNOWN,
    DeviceLabel,
    Uberblock,
    force_verdict,
    on_disk,
)

ME, OTHER = 0x1111, 0x2222


def uberblock(txg: int, delay: int | None, timestamp: int = 100, seq: int = 0, magic: int = MMP_MAGIC) -> Uberblock:
    return Uberblock(txg, timestamp, magic, delay, seq)


def label(*uberblocks: Uberblock, device: str = "/dev/a", state: int = POOL_STATE_ACTIVE, hostid: int = OTHER,
          txg: int = 10, pool: str = "tank", guid: int = 7) -> DeviceLabel:  # fmt: skip
    return DeviceLabel(device, pool, guid, state, txg, hostid, "storage-b", tuple(uberblocks))


def test_a_pool_left_imported_by_a_multihost_host_is_forced() -> None:
    state = on_disk("tank", [label(uberblock(10, 250_000_000))])
    assert state is not None and state.multihost is True
    assert force_verdict(state, ME) == FORCE
    assert state.holder() == "storage-b (hostid 0x2222)"


def test_a_pool_left_imported_with_multihost_off_is_never_forced() -> None:
    # ZFS skips the activity check for an MMP uberblock whose mmp_delay is 0.
    assert force_verdict(on_disk("tank", [label(uberblock(10, 0))]), ME) == UNGUARDED


def test_exported_or_own_pools_need_no_force() -> None:
    assert force_verdict(on_disk("tank", [label(uberblock(10, 0), state=POOL_STATE_EXPORTED)]), ME) == PLAIN
    assert force_verdict(on_disk("tank", [label(uberblock(10, 0), hostid=ME)]), ME) == PLAIN


def test_no_label_or_no_mmp_fields_is_unknown_and_so_not_forced() -> None:
    assert force_verdict(on_disk("tank", []), ME) == UNKNOWN
    assert force_verdict(on_disk("tank", [label(pool="other")]), ME) == UNKNOWN
    assert force_verdict(on_disk("tank", [label()]), ME) == UNKNOWN  # no uberblock read
    assert force_verdict(on_disk("tank", [label(uberblock(10, None, magic=0))]), ME) == UNKNOWN  # pre-MMP writer


def test_the_newest_uberblock_across_legs_decides() -> None:
    # A stale leg still carries multihost=on from before the property was turned off: the other leg's
    # newer txg wins, as ZFS's own uberblock selection would.
    stale = label(uberblock(8, 250_000_000), device="/dev/stale", txg=8)
    fresh = label(uberblock(9, 0), uberblock(10, 0), device="/dev/fresh", txg=10)
    state = on_disk("tank", [stale, fresh])
    assert state is not None and state.best == uberblock(10, 0)
    assert force_verdict(state, ME) == UNGUARDED
    assert state.devices == ("/dev/stale", "/dev/fresh")
    # Same txg: the later timestamp, then the higher MMP sequence.
    tie = on_disk("tank", [label(uberblock(10, 0, timestamp=5), uberblock(10, 9, timestamp=6, seq=1), uberblock(10, 0, 6, 0))])
    assert tie is not None and tie.best is not None and tie.best.mmp_delay == 9


def test_two_pools_of_one_name_the_last_written_counts() -> None:
    old = label(uberblock(10, 250_000_000), device="/dev/old", guid=1, txg=10)
    new = label(uberblock(50, 0), device="/dev/new", guid=2, txg=50)
    state = on_disk("tank", [old, new])
    assert state is not None and state.devices == ("/dev/new",) and force_verdict(state, ME) == UNGUARDED
