"""The pool agent's judgements: timeouts, names, which legs to bring back, what a degraded pool says."""

from __future__ import annotations

from zfsha.platform import MultihostTunables
from zfsha.zpool.decisions import (
    ResilverWatch,
    degraded_reason,
    legs_to_bring_back,
    parse_duration,
    pool_not_found_reason,
    resilver_verdict,
    returned_legs,
    start_seconds_needed,
    start_timeout_in,
    start_timeout_problem,
    start_watch,
)
from zfsha.zpool.names import pool_name_problem
from zfsha.zpool.status import Leg, PoolStatus, Scan

DEFAULTS = MultihostTunables(interval_ms=1000, import_intervals=20)


def test_activity_check_floor_is_interval_times_import_intervals() -> None:
    assert DEFAULTS.activity_check_seconds == 20.0
    assert start_seconds_needed(DEFAULTS, device_wait=20, force_import=False) == 55.0
    # A crashed holder: the refused plain import and the forced one each run the check.
    assert start_seconds_needed(DEFAULTS, device_wait=20, force_import=True) == 75.0


def test_start_timeout_shorter_than_the_activity_check_is_reported_with_the_fix() -> None:
    problem = start_timeout_problem(60.0, DEFAULTS, 20, True)
    assert problem is not None and "timeout=75s" in problem and "zfs_multihost_import_intervals 20" in problem
    assert start_timeout_problem(150.0, DEFAULTS, 20, True) is None
    assert "Pacemaker's default is 20s" in (start_timeout_problem(None, DEFAULTS, 20, False) or "")


def test_pacemaker_durations() -> None:
    assert parse_duration("150") == 150
    assert parse_duration("150s") == 150
    assert parse_duration("2min") == 120
    assert parse_duration("1500ms") == 1.5
    assert parse_duration("soon") is None


def test_pool_names_follow_zpool_create() -> None:
    assert pool_name_problem("san-pool") is None
    assert pool_name_problem("mirror1") is not None
    assert pool_name_problem("1pool") is not None
    assert pool_name_problem("a/b") is not None


def status_with(*legs: Leg) -> PoolStatus:
    return PoolStatus("tank", "DEGRADED", legs)


def test_only_returned_legs_that_are_not_offlined_by_an_admin_are_brought_back() -> None:
    returned = Leg("111", "UNAVAIL", "mirror-0", was="/dev/disk/by-path/lun-0")
    still_gone = Leg("222", "UNAVAIL", "mirror-1", was="/dev/disk/by-path/lun-1")
    offlined = Leg("/dev/disk/by-path/lun-2", "OFFLINE", "mirror-2")
    present = {"/dev/disk/by-path/lun-0", "/dev/disk/by-path/lun-2"}
    chosen = legs_to_bring_back(status_with(returned, still_gone, offlined), present.__contains__)
    assert chosen == [returned]


def test_a_leg_still_out_after_zpool_online_did_not_come_back() -> None:
    came_back = Leg("111", "UNAVAIL", "mirror-0", was="/dev/disk/by-path/lun-0")
    stays = Leg("222", "UNAVAIL", "mirror-1", was="/dev/disk/by-path/lun-1")
    after = status_with(
        Leg("/dev/disk/by-path/lun-0", "ONLINE", "mirror-0"), Leg("222", "FAULTED", "mirror-1", was="/dev/disk/by-path/lun-1")
    )
    back, stuck = returned_legs([came_back, stays], after)
    assert back == [came_back]
    assert [(leg.path, leg.state) for leg in stuck] == [("/dev/disk/by-path/lun-1", "FAULTED")]  # as it is now
    resilvering = status_with(Leg("/dev/disk/by-path/lun-1", "DEGRADED", "mirror-1", resilvering=True))
    assert returned_legs([stays], resilvering) == ([stays], [])  # resilvering is back


def test_a_watch_names_each_leg_once_in_the_order_first_given() -> None:
    watch = start_watch(status_with(), ["/dev/b", "/dev/a", "/dev/b", "/dev/a", "/dev/c"], 5.0)
    assert watch.legs == ("/dev/b", "/dev/a", "/dev/c")


def test_degraded_reason_names_the_legs() -> None:
    reason = degraded_reason(status_with(Leg("/dev/a", "ONLINE", "mirror-0"), Leg("9", "UNAVAIL", "mirror-0", was="/dev/b")))
    assert reason == "pool tank DEGRADED, 1/2 legs UNAVAIL: b"


def test_degraded_reason_fits_pacemakers_128_bytes_for_a_lost_peer() -> None:
    peer = "/dev/disk/by-path/ip-10.10.10.2:3260-iscsi-iqn.2025-01.lab.home:storage-b-lun-{}-part1"
    legs = [Leg(f"/dev/disk/by-partlabel/data-a-{n}", "ONLINE", f"mirror-{n}") for n in range(12)]
    legs += [Leg(peer.format(n), "UNAVAIL", f"mirror-{n}") for n in range(12)]
    reason = degraded_reason(PoolStatus("san-pool", "DEGRADED", tuple(legs)))
    assert reason == "pool san-pool DEGRADED, 12/24 legs UNAVAIL: iqn.2025-01.lab.home:storage-b lun 0,1,2,3,4,5,6,7,8,9,10,11"
    assert len(reason) <= 128


# `crm_resource --resource pool --query-xml` as Pacemaker 2.1.5 prints it (CIB_file made with pcs -f).
QUERY_XML = """pool\t(ocf:heartbeat:Dummy):\t Stopped
Resource XML:
<primitive id="pool" class="ocf" type="Dummy" provider="heartbeat">
  <operations>
    <op name="monitor" interval="10s" timeout="20s" id="pool-monitor-interval-10s"/>
    <op name="start" timeout="150s" interval="0s" id="pool-start-interval-0s"/>
    <op name="stop" interval="0s" timeout="20s" id="pool-stop-interval-0s"/>
  </operations>
</primitive>
"""


def test_start_timeout_is_read_from_the_resource_xml() -> None:
    assert start_timeout_in(QUERY_XML) == 150.0
    assert start_timeout_in(QUERY_XML.replace(' timeout="150s"', "")) is None
    assert start_timeout_in("crm_resource: Could not connect") is None


def test_a_running_resilver_is_reported_with_its_percentage_and_legs() -> None:
    peer = "/dev/disk/by-path/ip-10.10.10.2:3260-iscsi-iqn.2025-01.lab.home:storage-b-lun-{}-part1"
    legs = (Leg("/dev/disk/by-partlabel/a-0", "ONLINE", "mirror-0"), Leg(peer.format(0), "ONLINE", "mirror-0", resilvering=True))
    status = PoolStatus("tank", "ONLINE", legs, Scan("resilver", True, 12.5, "resilver in progress, 12.50% done"))
    verdict = resilver_verdict(status, None, now=0.0)
    assert verdict is not None and verdict.active
    assert verdict.phrase == "resilvering 12.50% (iqn.2025-01.lab.home:storage-b lun 0)"


def test_a_resilver_watch_survives_its_file_being_empty() -> None:
    assert ResilverWatch.loads("", fallback_since=5.0) == ResilverWatch(5.0)
    watch = ResilverWatch(7.0, ("/dev/x",), "")
    assert ResilverWatch.loads(watch.dumps(), fallback_since=5.0) == watch


def test_a_missing_pools_reason_names_the_directories_searched_within_128_bytes() -> None:
    dirs = ("/dev/disk/by-path", "/dev/disk/by-partlabel", "/dev/disk/by-id")
    assert pool_not_found_reason("tank", dirs) == (
        "pool tank not found among devices in /dev/disk/by-path /dev/disk/by-partlabel /dev/disk/by-id"
    )
    many = tuple(f"/srv/storage/devices/shelf-{n}/by-partlabel" for n in range(4))
    reason = pool_not_found_reason("san-pool-with-a-long-name", many)
    assert reason == "pool san-pool-with-a-long-name not found among devices in the 4 device_dirs directories"
    assert len(reason.encode()) <= 128
