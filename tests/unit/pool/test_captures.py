"""The parsers and decisions on output captured from real ZFS 2.1.11 and open-iscsi 2.1.8 in the VM
lab (tests/unit/data/zpool, README there), and the simulator held to the same shapes."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from tests.sim import world as w
from zfsha.iscsi import openiscsi
from zfsha.platform import Linux, zfs_members
from zfsha.zpool.decisions import (
    RESILVER_START_GRACE_SECONDS,
    degraded_reason,
    legs_to_bring_back,
    resilver_verdict,
    start_seconds_needed,
    start_watch,
)
from zfsha.zpool.labels import FORCE, PLAIN, POOL_STATE_ACTIVE, UNGUARDED, force_verdict, on_disk, parse_zdb_label
from zfsha.zpool.refusal import ACTIVE_ELSEWHERE, parse_refusal
from zfsha.zpool.status import parse_text

HOST = socket.gethostname()
DATA = Path(__file__).resolve().parents[1] / "data" / "zpool"
ISCSI_LEG = "/dev/disk/by-path/ip-169.254.210.1:3260-iscsi-iqn.2024-01.local.lab:target.storage-a-lun-0-part1"

pytestmark = pytest.mark.skipif(not (DATA / "README.md").exists(), reason="no captures from the VM lab yet")


def captured(name: str) -> str:
    return (DATA / name).read_text()


def test_real_degraded_status_names_the_lost_iscsi_leg() -> None:
    status = parse_text(captured("zpool_status_P.degraded.txt"), "mpool")
    assert status.state == "DEGRADED" and not status.suspended
    assert [(leg.path, leg.state, leg.vdev) for leg in status.unhealthy_legs] == [(ISCSI_LEG, "UNAVAIL", "mirror-0")]
    assert degraded_reason(status) == "pool mpool DEGRADED, 1/2 legs UNAVAIL: iqn.2024-01.local.lab:target.storage-a lun 0"


def test_real_online_status_has_two_healthy_legs() -> None:
    status = parse_text(captured("zpool_status_P.online.txt"), "mpool")
    assert status.state == "ONLINE"
    assert [leg.healthy for leg in status.legs] == [True, True]
    assert status.legs[0].path == "/dev/disk/by-id/virtio-storage-b-d0-part1"


def test_real_short_name_status_parses_too() -> None:
    status = parse_text(captured("zpool_status.degraded.txt"))
    assert [leg.name for leg in status.unhealthy_legs] == [
        "ip-169.254.210.1:3260-iscsi-iqn.2024-01.local.lab:target.storage-a-lun-0"
    ]


def test_the_returned_leg_is_brought_back_once_its_partition_exists() -> None:
    status = parse_text(captured("zpool_status_P.degraded.txt"), "mpool")
    assert legs_to_bring_back(status, lambda path: False) == []
    assert [leg.path for leg in legs_to_bring_back(status, {ISCSI_LEG}.__contains__)] == [ISCSI_LEG]


def test_onlined_but_not_yet_resilvered_pool_is_still_degraded() -> None:
    """Right after `zpool online` ZFS reads ONLINE with no scan line: the leg has not caught up yet."""
    degraded = parse_text(captured("zpool_status_P.degraded.txt"), "mpool")
    watch = start_watch(degraded, [ISCSI_LEG], now=1000.0)
    onlined = parse_text(captured("zpool_status.onlined_before_resilver.txt"), "mpool")
    assert onlined.state == "ONLINE" and not onlined.unhealthy_legs and onlined.scan is None
    verdict = resilver_verdict(onlined, watch, now=1010.0)
    assert verdict is not None and verdict.active
    assert verdict.phrase == "resilver pending (iqn.2024-01.local.lab:target.storage-a lun 0)"
    assert (
        degraded_reason(onlined, verdict.phrase)
        == "pool mpool ONLINE; resilver pending (iqn.2024-01.local.lab:target.storage-a lun 0)"
    )
    # Without a watch (nothing was brought back) the same status is simply ONLINE.
    assert resilver_verdict(onlined, None, now=1010.0) is None


def test_real_finished_resilver_ends_the_watch() -> None:
    degraded = parse_text(captured("zpool_status_P.degraded.txt"), "mpool")
    watch = start_watch(degraded, [ISCSI_LEG], now=1000.0)
    resilvered = parse_text(captured("zpool_status.resilvered.txt"), "mpool")
    verdict = resilver_verdict(resilvered, watch, now=1030.0)
    assert verdict is not None and not verdict.active
    assert verdict.phrase.startswith("resilver finished (iqn.2024-01.local.lab:target.storage-a lun 0): resilvered 1.21M")


def test_a_resilver_finished_before_the_bring_back_does_not_end_the_watch() -> None:
    """A pool that resilvered after an earlier outage shows that old scan line until the new resilver
    starts: it is the watch's baseline, not its end."""
    earlier = parse_text(captured("zpool_status.resilvered.txt"), "mpool")
    watch = start_watch(earlier, [ISCSI_LEG], now=1000.0)
    verdict = resilver_verdict(earlier, watch, now=1010.0)
    assert verdict is not None and verdict.active and verdict.phrase.startswith("resilver pending")


def test_a_watch_without_any_resilver_ends_after_the_grace() -> None:
    degraded = parse_text(captured("zpool_status_P.degraded.txt"), "mpool")
    watch = start_watch(degraded, [ISCSI_LEG], now=1000.0)
    onlined = parse_text(captured("zpool_status.onlined_before_resilver.txt"), "mpool")
    still = resilver_verdict(onlined, watch, now=1000.0 + RESILVER_START_GRACE_SECONDS - 1)
    assert still is not None and still.active
    given_up = resilver_verdict(onlined, watch, now=1000.0 + RESILVER_START_GRACE_SECONDS)
    assert given_up is not None and not given_up.active and "no resilver started 120s" in given_up.phrase


def test_real_multihost_refusal_names_host_and_hostid() -> None:
    assert captured("zpool_import.mmp_refused.rc").strip() == "1"
    refusal = parse_refusal(captured("zpool_import.mmp_refused.stderr.txt"))
    assert (refusal.kind, refusal.host, refusal.hostid) == (ACTIVE_ELSEWHERE, "storage-b", "57e7f46e")
    assert refusal.holder() == "storage-b (hostid 0x57e7f46e)"


def test_real_refusals_give_their_detail_on_one_line_without_the_lead() -> None:
    assert parse_refusal(captured("zpool_import_f.stale_leg.stderr.txt")).detail == (
        "one or more devices is currently unavailable"
    )
    assert parse_refusal(captured("zpool_import.mmp_refused.stderr.txt")).detail == (
        "pool is imported on storage-b (hostid: 0x57e7f46e) Export the pool on the other system, then run 'zpool import'."
    )


def test_real_import_scan_of_a_pool_held_elsewhere_names_the_holder() -> None:
    refusal = parse_refusal(captured("zpool_import_scan.mmp_active.txt"))
    assert (refusal.kind, refusal.holder()) == (ACTIVE_ELSEWHERE, "storage-b (hostid 0x57e7f46e)")


def test_real_kstat_words_are_health_words() -> None:
    assert captured("kstat_state.online.txt").strip() == "ONLINE"
    assert captured("kstat_state.degraded.txt").strip() == "DEGRADED"


def test_zfs_21_has_no_json_status_so_text_is_used() -> None:
    # Pool.status falls back to text on any failure of -j; this is the failure 2.1 gives.
    assert captured("zpool_status_j.rc").strip() == "2"
    assert captured("zpool_status_j.stderr.txt").startswith("invalid option 'j'")


def test_real_sessions_logged_in_and_after_the_target_died() -> None:
    up = openiscsi.parse_sessions(captured("iscsiadm_session_P3.txt"))
    assert [(str(s.target), s.state, s.logged_in) for s in up] == [
        ("iqn.2024-01.local.lab:target.storage-a@169.254.210.1:3260", "LOGGED_IN", True)
    ]
    down = openiscsi.parse_sessions(captured("iscsiadm_session_P3.target_down.txt"))
    assert [(s.state, s.logged_in) for s in down] == [("FREE", False)]


def test_real_multihost_tunables_give_a_20s_activity_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parameters = tmp_path / "sys/module/zfs/parameters"
    parameters.mkdir(parents=True)
    for name in ("zfs_multihost_interval", "zfs_multihost_import_intervals", "zfs_multihost_fail_intervals"):
        (parameters / name).write_text(captured(f"param_{name}.txt"))
    monkeypatch.setenv("ZFSHA_SYSROOT", str(tmp_path))
    tunables = Linux().multihost_tunables()
    assert tunables is not None and tunables.activity_check_seconds == 20.0 and tunables.fail_intervals == 10
    assert start_seconds_needed(tunables, device_wait=20, force_import=False) == 55.0


def test_real_zpool_get_reports_multihost_on() -> None:
    rows = [line.split("\t") for line in captured("zpool_get_H_p_all.txt").splitlines()]
    assert ["mpool", "multihost", "on", "local"] in rows


def test_simulated_degraded_status_has_the_real_shape(tmp_path: Path) -> None:
    """The simulator's degraded output parses to what the real one does: the lost leg keeps its
    -part1 path, the pool is DEGRADED, the kstat word agrees."""
    host = socket.gethostname()
    target = w.standard_world(tmp_path, host=host, pool="mpool", mirrors=1)
    env = {"ZFSHA_SIM_STATE": str(tmp_path), "PATH": "/usr/bin:/bin"}
    tool = f"{w.tool_path()}/"
    iqn, portal = target.split("@")
    subprocess.run(
        [tool + "iscsiadm", "-m", "discovery", "-t", "sendtargets", "-p", portal], env=env, check=True, capture_output=True
    )
    subprocess.run(
        [tool + "iscsiadm", "-m", "node", "-T", iqn, "-p", portal, "--login"], env=env, check=True, capture_output=True
    )
    subprocess.run([tool + "zpool", "import", "-d", "/dev/disk/by-path", "mpool"], env=env, check=True)
    with w.world(tmp_path) as data:
        data["targets"][target]["up"] = False
    text = subprocess.run([tool + "zpool", "status", "-P", "mpool"], env=env, check=True, capture_output=True, text=True).stdout
    simulated, real = parse_text(text, "mpool"), parse_text(captured("zpool_status_P.degraded.txt"), "mpool")
    assert (simulated.state, len(simulated.legs)) == (real.state, len(real.legs))
    assert [(leg.state, leg.path.endswith("-lun-0-part1"), leg.was) for leg in simulated.unhealthy_legs] == [
        ("UNAVAIL", True, "")
    ]
    assert (tmp_path / "root" / host / "proc/spl/kstat/zfs/mpool/state").read_text() == captured("kstat_state.degraded.txt")
    sessions = subprocess.run([tool + "iscsiadm", "-m", "session", "-P", "3"], env=env, capture_output=True, text=True).stdout
    assert [(s.state, s.logged_in) for s in openiscsi.parse_sessions(sessions)] == [("FREE", False)]


@pytest.mark.parametrize(
    ("capture", "multihost", "verdict"),
    [
        ("zdb_l_u.multihost_off_live", False, UNGUARDED),
        ("zdb_l_u.multihost_on_live", True, FORCE),
        ("zdb_l_u.multihost_on_crashed", True, FORCE),
    ],
)
def test_real_labels_tell_a_multihost_holder_from_one_without(capture: str, multihost: bool, verdict: str) -> None:
    label = parse_zdb_label((DATA / f"{capture}.txt").read_text(), "/dev/disk/by-partlabel/storage-a-d0")
    assert label is not None
    assert (label.pool, label.state, label.hostid, label.hostname) == ("fpool", POOL_STATE_ACTIVE, 0x57E7F46E, "storage-b")
    assert label.pool_guid == 4270164396783847886
    state = on_disk("fpool", [label])
    assert state is not None and state.multihost is multihost
    assert state.best is not None and state.best.txg == max(uberblock.txg for uberblock in label.uberblocks)
    assert force_verdict(state, my_hostid=0x1234) == verdict
    assert force_verdict(state, my_hostid=0x57E7F46E) == PLAIN  # the holder itself needs no force


def test_the_first_uberblocks_after_multihost_was_set_are_still_unguarded() -> None:
    label = parse_zdb_label((DATA / "zdb_l_u.multihost_on_live.txt").read_text(), "leg")
    assert label is not None
    assert [uberblock.multihost for uberblock in sorted(label.uberblocks, key=lambda u: u.txg)][:2] == [False, False]


def test_real_blkid_probe_names_the_pools_leg_only() -> None:
    assert zfs_members((DATA / "blkid_p_o_export.txt").read_text(), "fpool") == ["/dev/disk/by-partlabel/storage-a-d0"]


def test_a_device_without_a_zfs_label_parses_to_none() -> None:
    assert parse_zdb_label("failed to unpack label 0\nfailed to unpack label 1\n", "/dev/vda") is None


def test_simulated_labels_have_the_real_shape(tmp_path: Path) -> None:
    """The simulator's zdb output parses as the real one does (hostid, holder, multihost)."""
    w.standard_world(tmp_path, host=HOST)
    with w.world(tmp_path) as data:
        data["pools"]["tank"].update(exported=False)
    device = f"{w.BY_PARTLABEL}/data-{HOST}-0{w.PART}"
    env = {"ZFSHA_SIM_STATE": str(tmp_path), "ZFSHA_SIM_HOST": HOST, "PATH": "/usr/bin:/bin"}
    text = subprocess.run([str(w.BIN / "zdb"), "-l", "-u", device], env=env, capture_output=True, text=True, check=True)
    label = parse_zdb_label(text.stdout, device)
    assert label is not None and label.hostname == HOST and label.state == POOL_STATE_ACTIVE
    assert on_disk("tank", [label]).multihost is True  # type: ignore[union-attr]
