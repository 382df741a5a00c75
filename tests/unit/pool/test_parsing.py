# ruff: noqa: E501  (zpool status lines are as long as zpool prints them)
"""Parsing of zpool / iscsiadm / iscsictl output into what the pool agent decides on.

The samples here follow the documented formats (zpool-status(8), OpenZFS 2.1 text and 2.3 JSON);
test_captures.py runs the same parsers over output captured from real ZFS in the VM lab.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from zfsha.errors import ConfigError
from zfsha.iscsi import Target, iscsictl, openiscsi, parse_targets
from zfsha.zpool.pool import parse_datasets
from zfsha.zpool.refusal import ACTIVE_ELSEWHERE, NO_HOSTID, NO_SUCH_POOL, NOT_EXPORTED, parse_refusal
from zfsha.zpool.status import parse_json, parse_text

REPO = Path(__file__).resolve().parents[3]

DEGRADED_21 = """\
  pool: tank
 state: DEGRADED
status: One or more devices could not be used because the label is missing or
\tinvalid.  Sufficient replicas exist for the pool to continue
\tfunctioning in a degraded state.
action: Replace the device using 'zpool replace'.
   see: https://openzfs.github.io/openzfs-docs/msg/ZFS-8000-4J
config:

\tNAME                                                                   STATE     READ WRITE CKSUM
\ttank                                                                   DEGRADED     0     0     0
\t  mirror-0                                                             DEGRADED     0     0     0
\t    /dev/disk/by-partlabel/data-a-0                                    ONLINE       0     0     0
\t    9170245375128347817                                                UNAVAIL      0     0     0  was /dev/disk/by-path/ip-10.10.10.2:3260-iscsi-iqn.2025-01.lab.home:storage-b-lun-0
\t  mirror-1                                                             ONLINE       0     0     0
\t    /dev/disk/by-partlabel/data-a-1                                    ONLINE       0     0     0
\t    /dev/disk/by-path/ip-10.10.10.2:3260-iscsi-iqn.2025-01.lab.home:storage-b-lun-1  ONLINE       0     0     0
\tlogs
\t  /dev/disk/by-partlabel/slog-a                                        ONLINE       0     0     0
\tspares
\t  /dev/disk/by-partlabel/spare-a                                       AVAIL

errors: No known data errors
"""

RESILVERING_21 = """\
  pool: tank
 state: ONLINE
status: One or more devices is currently being resilvered.  The pool will
\tcontinue to function, possibly in a degraded state.
action: Wait for the resilver to complete.
  scan: resilver in progress since Sat Nov 21 12:00:00 2026
\t1073741824 scanned at 107374182/s, 536870912 issued at 53687091/s, 2147483648 total
\t536870912 resilvered, 25.00% done, 00:00:30 to go
config:

\tNAME                                 STATE     READ WRITE CKSUM
\ttank                                 ONLINE       0     0     0
\t  mirror-0                           ONLINE       0     0     0
\t    /dev/vdb                         ONLINE       0     0     0
\t    /dev/sda                         ONLINE       0     0     0  (resilvering)

errors: No known data errors
"""

SUSPENDED_21 = """\
  pool: tank
 state: UNAVAIL
status: One or more devices are faulted in response to IO failures.
action: Make sure the affected devices are connected, then run 'zpool clear'.
   see: https://openzfs.github.io/openzfs-docs/msg/ZFS-8000-HC
config:

\tNAME          STATE     READ WRITE CKSUM
\ttank          UNAVAIL      0     0     0  insufficient replicas
\t  mirror-0    UNAVAIL      0    12     0  insufficient replicas
\t    /dev/vdb  FAULTED      3    14     0  too many errors
\t    /dev/sda  FAULTED      0    10     0  too many errors

errors: List of errors unavailable: pool I/O is currently suspended
"""

JSON_23 = {
    "output_version": {"command": "zpool status", "vers_major": 0, "vers_minor": 1},
    "pools": {
        "tank": {
            "name": "tank",
            "state": "DEGRADED",
            "pool_guid": 1234,
            "vdevs": {
                "tank": {
                    "name": "tank",
                    "vdev_type": "root",
                    "state": "DEGRADED",
                    "vdevs": {
                        "mirror-0": {
                            "name": "mirror-0",
                            "vdev_type": "mirror",
                            "state": "DEGRADED",
                            "vdevs": {
                                "/dev/vdb": {"name": "/dev/vdb", "vdev_type": "disk", "path": "/dev/vdb", "state": "ONLINE"},
                                "5555": {
                                    "name": "5555",
                                    "vdev_type": "disk",
                                    "guid": 5555,
                                    "path": "/dev/disk/by-path/ip-10.10.10.2:3260-iscsi-iqn.x:b-lun-0",
                                    "state": "UNAVAIL",
                                    "not_present": 1,
                                },
                            },
                        }
                    },
                }
            },
            "scan_stats": {"function": "RESILVER", "state": "SCANNING", "to_examine": 200, "issued": 50},
        }
    },
}


def test_degraded_text_names_the_missing_leg_by_its_old_path() -> None:
    status = parse_text(DEGRADED_21, "tank")
    assert status.state == "DEGRADED"
    assert [(leg.path, leg.state, leg.vdev) for leg in status.unhealthy_legs] == [
        ("/dev/disk/by-path/ip-10.10.10.2:3260-iscsi-iqn.2025-01.lab.home:storage-b-lun-0", "UNAVAIL", "mirror-0")
    ]
    assert status.unhealthy_legs[0].name == "9170245375128347817"
    assert len(status.legs) == 5  # four data legs and the log; the spare is not a leg
    assert status.vdev_states["mirror-1"] == "ONLINE"
    assert not status.suspended


def test_resilver_progress_is_read_from_the_scan_lines() -> None:
    status = parse_text(RESILVERING_21)
    assert status.resilvering
    assert status.scan is not None and status.scan.percent == 25.0
    assert status.scan.summary == "resilver in progress, 25.00% done, 00:00:30 to go"
    assert [leg.resilvering for leg in status.legs] == [False, True]


def test_suspended_pool_is_recognised_from_status_and_errors() -> None:
    status = parse_text(SUSPENDED_21)
    assert status.suspended
    assert {leg.state for leg in status.legs} == {"FAULTED"}


def test_json_status_gives_the_same_answers_as_text() -> None:
    status = parse_json(JSON_23, "tank")
    assert status.state == "DEGRADED"
    missing = status.unhealthy_legs
    assert [(leg.name, leg.path) for leg in missing] == [("5555", "/dev/disk/by-path/ip-10.10.10.2:3260-iscsi-iqn.x:b-lun-0")]
    assert status.scan is not None and status.scan.running and status.scan.percent == 25.0


def test_a_finished_json_resilver_is_dated_so_a_later_one_reads_differently() -> None:
    document = json.loads(json.dumps(JSON_23))
    document["pools"]["tank"]["scan_stats"].update(state="FINISHED", end_time="Sat Nov 21 12:34:43 2026")
    scan = parse_json(document, "tank").scan
    assert scan is not None and not scan.running
    assert scan.summary == "resilver finished on Sat Nov 21 12:34:43 2026"


def test_status_for_a_pool_not_in_the_output_is_an_error() -> None:
    with pytest.raises(ValueError):
        parse_text(DEGRADED_21, "other")


@pytest.mark.parametrize(
    ("message", "kind", "host", "hostid"),
    [
        (
            "cannot import 'tank': pool is imported on storage-a (hostid: 0x1a2b3c4d)\n"
            "Export the pool on the other system, then run 'zpool import'.",
            ACTIVE_ELSEWHERE,
            "storage-a",
            "1a2b3c4d",
        ),
        (
            "cannot import 'tank': pool is imported on host 'storage-a' (hostid=1a2b3c4d).\n"
            "Export the pool on the other system, then run 'zpool import'.",
            ACTIVE_ELSEWHERE,
            "storage-a",
            "1a2b3c4d",
        ),
        (
            "cannot import 'tank': pool was previously in use from another system.\n"
            "Last accessed by storage-a (hostid=1a2b3c4d) at Sat Nov 21 12:00:00 2026\n"
            "The pool can be imported, use 'zpool import -f' to import the pool.",
            NOT_EXPORTED,
            "storage-a",
            "1a2b3c4d",
        ),
        (
            "Cannot import 'tank': pool has the multihost property on and the\n"
            "system's hostid is not set. Set a unique hostid with the zgenhostid(8) command.",
            NO_HOSTID,
            "",
            "",
        ),
        ("cannot import 'tank': no such pool available", NO_SUCH_POOL, "", ""),
    ],
)
def test_import_refusals_name_the_holder(message: str, kind: str, host: str, hostid: str) -> None:
    refusal = parse_refusal(message)
    assert (refusal.kind, refusal.host, refusal.hostid) == (kind, host, hostid)


def test_peer_targets_are_iqn_at_portal_with_default_port() -> None:
    assert parse_targets("iqn.2025-01.lab.home:storage-b@10.10.10.2, iqn.2025-01.lab.home:c@[fd00::3]:3261") == [
        Target("iqn.2025-01.lab.home:storage-b", "10.10.10.2:3260"),
        Target("iqn.2025-01.lab.home:c", "[fd00::3]:3261"),
    ]
    with pytest.raises(ConfigError):
        parse_targets("10.10.10.2 iqn.2025-01.lab.home:storage-b")


OPENISCSI_P1 = """\
Target: iqn.2025-01.lab.home:storage-b (non-flash)
\tCurrent Portal: 10.10.10.2:3260,1
\tPersistent Portal: 10.10.10.2:3260,1
\t\t**********
\t\tInterface:
\t\t**********
\t\tIface Name: default
\t\tSID: 1
\t\tiSCSI Connection State: TRANSPORT WAIT
\t\tiSCSI Session State: FAILED
\t\tInternal iscsid Session State: REOPEN
Target: iqn.2025-01.lab.home:storage-c (non-flash)
\tCurrent Portal: 10.10.10.3:3260,1
\tPersistent Portal: 10.10.10.3:3260,1
\t\tiSCSI Session State: LOGGED_IN
"""


def test_open_iscsi_sessions_carry_their_state() -> None:
    sessions = openiscsi.parse_sessions(OPENISCSI_P1)
    assert [(str(s.target), s.state, s.logged_in) for s in sessions] == [
        ("iqn.2025-01.lab.home:storage-b@10.10.10.2:3260", "FAILED", False),
        ("iqn.2025-01.lab.home:storage-c@10.10.10.3:3260", "LOGGED_IN", True),
    ]


def test_iscsictl_sessions_list_their_disks() -> None:
    text = (
        "Target name                          Target portal    State\n"
        "iqn.2025-01.lab.home:storage-b       10.10.10.2       Connected: da1 da2\n"
        "iqn.2025-01.lab.home:storage-c       10.10.10.3:3261  Connecting\n"
    )
    sessions = iscsictl.parse_sessions(text)
    assert [(str(s.target), s.logged_in, s.devices) for s in sessions] == [
        ("iqn.2025-01.lab.home:storage-b@10.10.10.2:3260", True, ("da1", "da2")),
        ("iqn.2025-01.lab.home:storage-c@10.10.10.3:3261", False, ()),
    ]


def test_chap_goes_into_the_node_record_as_a_private_file(tmp_path: Path) -> None:
    record = tmp_path / "default"
    record.write_text("# BEGIN RECORD 2.1.8\nnode.session.auth.authmethod = None\nnode.session.timeo.replacement_timeout = 5\n")
    openiscsi.set_record_values(record, {"node.session.auth.authmethod": "CHAP", "node.session.auth.password": "s3cret"})
    values = openiscsi.parse_record(record.read_text())
    assert values["node.session.auth.authmethod"] == "CHAP"
    assert values["node.session.auth.password"] == "s3cret"
    assert values["node.session.timeo.replacement_timeout"] == "5"
    assert record.stat().st_mode & 0o077 == 0


def test_datasets_from_zfs_list() -> None:
    datasets = parse_datasets("tank\tyes\ton\t/tank\ntank/vols\tno\toff\tnone\ntank/nfs\tno\ton\t/tank/nfs\n")
    assert [(d.name, d.should_mount and not d.mounted) for d in datasets] == [
        ("tank", False),
        ("tank/vols", False),
        ("tank/nfs", True),
    ]


def test_own_target_is_recognised_by_a_local_non_loopback_portal():
    import json
    import subprocess

    from zfsha.iscsi import Target, served_here

    shown = json.loads(
        subprocess.run(["ip", "-j", "-4", "addr", "show", "scope", "global"], capture_output=True, text=True).stdout
    )
    own = [info["local"] for link in shown for info in link.get("addr_info", [])]
    if not own:
        pytest.skip("this machine has no global IPv4 address")
    iqn = "iqn.2025-01.lab.home:storage-a"
    assert served_here(Target(iqn, f"{own[0]}:3260"))
    assert not served_here(Target(iqn, "203.0.113.7:3260"))
    # seed 000 logs in to its own target through localhost on purpose: never skipped
    assert not served_here(Target(iqn, "127.0.0.1:3260"))
    assert not served_here(Target(iqn, "localhost:3260"))


def test_own_target_is_told_from_a_peer_where_any_address_can_be_bound():
    """The storage nodes set net.ipv4.ip_nonlocal_bind=1 (README: the LIO portal binds the VIP before
    IPaddr2 adds it); there a bind succeeds for the peer's address too, and the lab saw the pool agent
    treat both storage nodes' targets as its own and manage no session at all."""
    import shutil
    import subprocess

    if shutil.which("unshare") is None or subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode != 0:
        pytest.skip("needs a network namespace (unshare -n, root)")
    script = (
        "import sys; sys.path.insert(0, 'lib'); from zfsha.iscsi import Target, served_here; "
        "iqn = 'iqn.2025-01.lab.home:storage-a'; "
        "print(served_here(Target(iqn, '192.0.2.1:3260')), served_here(Target(iqn, '192.0.2.2:3260')))"
    )
    namespace = (
        "set -e; ip link set lo up; ip addr add 192.0.2.1/24 dev lo; "
        f'sysctl -qw net.ipv4.ip_nonlocal_bind=1; exec {sys.executable} -c "$0"'
    )
    done = subprocess.run(["unshare", "-n", "sh", "-c", namespace, script], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False"]  # its own address; the peer's on the same subnet
