"""The agent run as Pacemaker runs it (a process, OCF_RESKEY_* in its environment) against the
command simulators in tests/sim: start, monitor, stop, degraded legs, suspension, multihost refusal,
a crashed holder, hangs, CHAP and validate-all."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sim import world as w

REPO = Path(__file__).resolve().parents[3]
AGENT = REPO / "agents" / "zfs-iscsi-pool"
HOST = socket.gethostname()
PEER = f"{w.PEER_IQN}@{w.PEER_PORTAL}"


class Run:
    def __init__(self, state: Path, **extra_env: str) -> None:
        self.state = state
        self.extra_env = extra_env

    def __call__(
        self, action: str, timeout_ms: int | None = None, depth: int = 0, **params: str
    ) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "PYTHONPATH": f"{REPO / 'lib'}:{REPO}",
            "ZFSHA_TOOL_PATH": w.tool_path(),
            "ZFSHA_SIM_STATE": str(self.state),
            "ZFSHA_SYSROOT": w.sysroot(self.state),
            "HA_LOGFACILITY": "none",
            "OCF_ROOT": "/usr/lib/ocf",
            "OCF_RESOURCE_INSTANCE": "pool",
            "OCF_CHECK_LEVEL": str(depth),
            "OCF_RESKEY_pool": "tank",
            "OCF_RESKEY_peer_targets": PEER,
            "OCF_RESKEY_device_wait": "2",
        }
        if timeout_ms is not None:
            env["OCF_RESKEY_CRM_meta_timeout"] = str(timeout_ms)
        env.update(self.extra_env)
        env.update({f"OCF_RESKEY_{k}": v for k, v in params.items()})
        return subprocess.run([sys.executable, str(AGENT), action], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def agent(tmp_path: Path) -> Run:
    w.standard_world(tmp_path, host=HOST)
    return Run(tmp_path)


def exit_reason(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("ocf-exit-reason:")]
    return lines[-1][len("ocf-exit-reason:") :] if lines else ""


def change(state: Path, edit) -> None:  # type: ignore[no-untyped-def]
    with w.world(state) as data:
        edit(data)


def set_peer(up: bool):  # type: ignore[no-untyped-def]
    def edit(data: dict) -> None:
        data["targets"][PEER]["up"] = up

    return edit


def test_start_logs_in_imports_mounts_and_is_idempotent(agent: Run) -> None:
    assert agent("monitor").returncode == 7
    assert agent("start").returncode == 0
    data = w.read(agent.state)
    assert data["sessions"][HOST] == [PEER]
    assert data["pools"]["tank"]["holder"] == HOST
    assert sorted(data["pools"]["tank"]["mounted"]) == ["tank", "tank/nfs"]
    assert agent("start").returncode == 0
    assert agent("monitor").returncode == 0
    assert agent("monitor", depth=10).returncode == 0
    assert agent("stop").returncode == 0
    assert agent("stop").returncode == 0
    assert agent("monitor").returncode == 7


@contextlib.contextmanager
def calls_of(tool: str, tmp_path: Path) -> Iterator[Path]:
    """While inside, the agent's `tool` runs through a wrapper that appends its arguments to the yielded file."""
    log = tmp_path / f"{tool}.calls"
    wrapper = tmp_path / f"{tool}-bin"
    wrapper.mkdir()
    (wrapper / tool).write_text(f'#!/bin/sh\necho "$@" >> {log}\nexec {w.tool_path()}/{tool} "$@"\n')
    (wrapper / tool).chmod(0o755)
    original = w.tool_path
    try:
        w.tool_path = lambda: f"{wrapper}:{original()}"  # type: ignore[assignment]
        yield log
    finally:
        w.tool_path = original  # type: ignore[assignment]


def test_healthy_depth0_monitor_starts_no_zpool(agent: Run, tmp_path: Path) -> None:
    assert agent("start").returncode == 0
    with calls_of("zpool", tmp_path) as log:
        assert agent("monitor").returncode == 0
        assert not log.exists()
        change(agent.state, set_peer(False))
        assert agent("monitor").returncode == 190
        assert log.exists()  # a degraded pool is looked at closely: that is where zpool status earns its cost
        # Its legs are still gone, so nothing is onlined and the status is read once, not again after.
        assert [line.split()[0] for line in log.read_text().splitlines()] == ["status"]


def test_a_close_look_lists_the_iscsi_sessions_once_unless_it_logs_in(agent: Run, tmp_path: Path) -> None:
    """ensure_sessions' own listing answers which sessions are up; it reads them again only after a login."""
    assert agent("start").returncode == 0
    with calls_of("iscsiadm", tmp_path) as log:
        assert agent("monitor", depth=10).returncode == 0
        assert log.read_text().splitlines() == ["-m session -P 1"]
        log.unlink()
        change(agent.state, set_peer(False))
        change(agent.state, lambda data: data["sessions"][HOST].clear())  # the peer's session went away
        degraded = agent("monitor", depth=10)
        assert degraded.returncode == 190, degraded.stderr
        assert exit_reason(degraded).endswith("; 1 iSCSI session(s) down")
        calls = [line.split()[:2] for line in log.read_text().splitlines()]
        assert calls[0] == ["-m", "session"] and calls[-1] == ["-m", "session"] and len(calls) >= 3, calls  # login tried


def test_a_down_peer_is_not_an_error_and_the_pool_starts_degraded(agent: Run) -> None:
    change(agent.state, set_peer(False))
    result = agent("start")
    assert result.returncode == 0, result.stderr
    assert "unavailable, continuing without its legs" in result.stderr
    monitor = agent("monitor")
    assert monitor.returncode == 190
    assert (
        exit_reason(monitor)
        == "pool tank DEGRADED, 2/4 legs UNAVAIL: iqn.2025-01.lab.home:storage-b lun 0,1; 1 iSCSI session(s) down"
    )
    assert "storage-b-lun-0-part1 (UNAVAIL)" in monitor.stderr  # full paths in the log


@pytest.mark.parametrize("zfs_version", ["2.1.11", "2.3.1"])  # text status, JSON status
def test_legs_come_back_and_the_pool_stays_degraded_until_resilvered(tmp_path: Path, zfs_version: str) -> None:
    """ZFS reads ONLINE right after `zpool online`, before the resilver has run: a failover then would
    find the peer's copy stale, so the monitor says 190 until zpool status shows the resilver finished."""
    w.standard_world(tmp_path, host=HOST, zfs_version=zfs_version)
    agent = Run(tmp_path)
    assert agent("start").returncode == 0
    change(agent.state, set_peer(False))
    degraded = agent("monitor")
    assert degraded.returncode == 190
    assert "storage-b lun 0,1" in exit_reason(degraded)
    change(agent.state, set_peer(True))
    back = agent("monitor")
    assert "brought leg" in back.stderr
    assert back.returncode == 190, back.stderr
    assert exit_reason(back) == "pool tank ONLINE; resilver pending (iqn.2025-01.lab.home:storage-b lun 0,1)"
    assert attribute_memo(agent.state) == "RESILVERING"
    running = agent("monitor")  # depth 0: the watch file makes it read zpool status
    assert running.returncode == 190
    assert exit_reason(running) == "pool tank ONLINE; resilvering 50.00% (iqn.2025-01.lab.home:storage-b lun 0,1)"
    assert "resilver in progress, 50.00% done" in running.stderr  # the progress, logged
    finished = agent("monitor")
    assert finished.returncode == 0, finished.stderr
    assert "resilver finished" in finished.stderr
    assert attribute_memo(agent.state) == "ONLINE"
    assert w.read(agent.state)["pools"]["tank"]["faulted"] == []
    assert not list((agent.state / "root" / HOST / "var/run/zfsha").glob("resilver-*"))


def test_a_resilver_started_by_import_is_watched_from_start(agent: Run) -> None:
    """A start whose import resilvers a stale leg: the depth-0 monitor reports it although kstat says ONLINE."""

    def resilver_on_import(data: dict) -> None:
        legs = ["data-storage-b-0"]
        data["pools"]["tank"]["resilver"] = {"percent": 0.0, "started": None, "pending_reads": 0, "legs": legs}
        data["resilver_step"] = 40.0  # start's status read shows 40%, the monitors' 80%, then finished

    change(agent.state, resilver_on_import)
    started = agent("start")
    assert started.returncode == 0, started.stderr
    assert attribute_memo(agent.state) == "RESILVERING"
    running = agent("monitor")
    assert running.returncode == 190
    assert exit_reason(running) == "pool tank ONLINE; resilvering 80.00% (iqn.2025-01.lab.home:storage-b lun 0)"
    finished = agent("monitor")
    assert finished.returncode == 0 and "resilver finished" in finished.stderr
    assert attribute_memo(agent.state) == "ONLINE"


def test_a_leg_zpool_online_cannot_bring_back_is_warned_about_once_and_not_watched(tmp_path: Path) -> None:
    """zpool online exits 0 on a leg that stays faulted: only the leg that really returned is logged as
    brought back and awaited, the other is warned about once, and no monitor names a leg twice."""
    w.standard_world(tmp_path, host=HOST)
    agent = Run(tmp_path)
    assert agent("start").returncode == 0
    change(agent.state, set_peer(False))
    assert agent("monitor").returncode == 190

    def back_but_lun0_unusable(data: dict) -> None:
        data["targets"][PEER]["up"] = True
        data["unusable_disks"] = ["data-storage-b-0"]
        data["resilver_pending_reads"] = 50  # the resilver stays awaited through the monitors below

    change(agent.state, back_but_lun0_unusable)
    first = agent("monitor")
    assert first.returncode == 190, first.stderr
    assert "brought leg /dev/disk/by-path/ip-127.0.0.2:3260-iscsi-iqn.2025-01.lab.home:storage-b-lun-1-part1 " in first.stderr
    assert "storage-b-lun-0-part1 of tank back" not in first.stderr
    assert first.stderr.count("left it UNAVAIL") == 1
    peer = "iqn.2025-01.lab.home:storage-b"
    reason = f"pool tank DEGRADED, 1/4 legs UNAVAIL: {peer} lun 0; resilver pending ({peer} lun 1)"
    assert exit_reason(first) == reason
    for _ in range(2):
        again = agent("monitor")
        assert again.returncode == 190, again.stderr
        assert exit_reason(again) == reason  # the pending leg named once, the stuck one not at all
        assert "left it" not in again.stderr and "brought leg" not in again.stderr
    change(agent.state, lambda data: data.update(unusable_disks=[]))
    healed = agent("monitor")
    assert "storage-b-lun-0-part1 of tank back" in healed.stderr
    assert exit_reason(healed) == "pool tank ONLINE; resilver pending (iqn.2025-01.lab.home:storage-b lun 1,0)"


def test_when_no_leg_comes_back_no_resilver_is_awaited(agent: Run) -> None:
    assert agent("start").returncode == 0
    change(agent.state, set_peer(False))
    assert agent("monitor").returncode == 190

    def back_but_unusable(data: dict) -> None:
        data["targets"][PEER]["up"] = True
        data["unusable_disks"] = ["data-storage-b-0", "data-storage-b-1"]

    change(agent.state, back_but_unusable)
    monitors = [agent("monitor") for _ in range(2)]
    assert [m.returncode for m in monitors] == [190, 190]
    assert monitors[0].stderr.count("left it UNAVAIL") == 2 and "left it" not in monitors[1].stderr
    for monitor in monitors:
        assert "brought leg" not in monitor.stderr
        assert exit_reason(monitor) == "pool tank DEGRADED, 2/4 legs UNAVAIL: iqn.2025-01.lab.home:storage-b lun 0,1"
    assert not list((agent.state / "root" / HOST / "var/run/zfsha").glob("resilver-*"))
    assert attribute_memo(agent.state) == "DEGRADED"


def attribute_memo(state: Path) -> str:
    """The health value the agent last published (crm_attribute fails outside a cluster: the memo holds it)."""
    memo = state / "root" / HOST / "var/run/zfsha/attribute-zfs-pool-tank-health"
    return memo.read_text().split("\t")[0]


def test_a_returned_lun_whose_partitions_lost_their_names_is_named_again_and_resilvers(agent: Run) -> None:
    """The lab (scenario 7): a change event handled while the peer was away removed udev's names of
    its LUN's partition, and its return made none; the leg stayed UNAVAIL "label is missing" for good.
    The monitor has the returned peer's LUNs and their partitions named again, then brings the legs back."""
    assert agent("start").returncode == 0
    change(agent.state, set_peer(False))
    assert agent("monitor").returncode == 190

    def back_unnamed(data: dict) -> None:
        data["targets"][PEER]["up"] = True
        data["unnamed"] = {HOST: [PEER]}

    change(agent.state, back_unnamed)
    lun0 = w.lun_path(w.read(agent.state), w.read(agent.state)["pools"]["tank"]["vdevs"][0][1])
    assert (agent.state / "root" / HOST / lun0.lstrip("/")).is_symlink()  # the disk's by-path name is there
    assert not (agent.state / "root" / HOST / (lun0 + w.PART).lstrip("/")).exists()  # its partition's is not
    first = agent("monitor")
    assert first.returncode == 190, first.stderr
    assert f"asked udev to name the devices of {PEER} again: /dev/sda /dev/sda1 /dev/sdb /dev/sdb1" in first.stderr
    assert first.stderr.count("brought leg") == 2
    assert w.read(agent.state)["unnamed"][HOST] == []
    assert "resilver pending" in exit_reason(first)
    agent("monitor")
    finished = agent("monitor")
    assert finished.returncode == 0, finished.stderr
    assert "asked udev" not in finished.stderr


def test_stop_drops_the_page_cache_of_the_local_legs_and_their_disks_after_export(agent: Run) -> None:
    """A peer imports this node's legs through its LIO fileio target, i.e. through this node's page
    cache, which ZFS's own writes bypassed: after the export the cache of each local partition and of
    the whole disk the target exports is dropped. The peer's LUNs are left alone."""
    assert agent("start").returncode == 0
    assert w.read(agent.state)["flushed"] == {}
    stopped = agent("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert w.read(agent.state)["flushed"] == {HOST: ["/dev/vdb1", "/dev/vdb", "/dev/vdc1", "/dev/vdc"]}
    assert "dropped the page cache of /dev/vdb1, /dev/vdb, /dev/vdc1, /dev/vdc" in stopped.stderr
    assert agent("stop").returncode == 0  # nothing imported: nothing exported, nothing flushed
    assert len(w.read(agent.state)["flushed"][HOST]) == 4


def test_a_failed_flush_is_a_warning_not_a_failed_stop(agent: Run) -> None:
    assert agent("start").returncode == 0
    change(agent.state, lambda data: data.update({"flush_fails": ["/dev/vdb"]}))
    stopped = agent("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert "could not drop the page cache of /dev/vdb" in stopped.stderr and "BLKFLSBUF" in stopped.stderr
    assert w.read(agent.state)["flushed"][HOST] == ["/dev/vdb1", "/dev/vdc1", "/dev/vdc"]
    assert w.read(agent.state)["pools"]["tank"]["holder"] is None


def test_suspended_pool_is_an_error_while_imported_and_stop_fails_fast(agent: Run) -> None:
    assert agent("start").returncode == 0

    def suspend(data: dict) -> None:
        data["pools"]["tank"]["suspended"] = True
        data["hang"]["suspended export"] = 60

    change(agent.state, suspend)
    monitor = agent("monitor")
    assert monitor.returncode == 1
    assert "SUSPENDED" in exit_reason(monitor)
    started = time.monotonic()
    stop = agent("stop", timeout_ms=20000)
    assert stop.returncode == 1
    assert "SUSPENDED" in exit_reason(stop) and "fence" in exit_reason(stop)
    assert time.monotonic() - started < 10


def test_hanging_export_fails_the_stop_inside_its_deadline(agent: Run) -> None:
    assert agent("start").returncode == 0
    change(agent.state, lambda data: data["hang"].update({"zpool export": 60}))
    started = time.monotonic()
    stop = agent("stop", timeout_ms=8000)
    assert time.monotonic() - started < 8
    assert stop.returncode == 1
    assert "hung" in exit_reason(stop)


def test_busy_export_escalates_only_when_configured(agent: Run) -> None:
    assert agent("start").returncode == 0
    change(agent.state, lambda data: data["pools"]["tank"].update({"busy": True}))
    refused = agent("stop", export_escalation="none")
    assert refused.returncode == 1 and "busy" in exit_reason(refused)
    assert agent("stop").returncode == 0
    assert w.read(agent.state)["pools"]["tank"]["holder"] is None


def held_by_other_host(alive: bool):  # type: ignore[no-untyped-def]
    def edit(data: dict) -> None:
        w.add_host(data, "storage-b")
        data["hosts"]["storage-b"]["alive"] = alive
        data["pools"]["tank"].update(
            holder="storage-b", exported=False, last_host="storage-b", last_hostid=data["hosts"]["storage-b"]["hostid"]
        )

    return edit


def test_multihost_refusal_names_the_holder_and_is_never_forced(agent: Run) -> None:
    change(agent.state, held_by_other_host(alive=True))
    hostid = f"{w.hostid_of('storage-b'):x}"
    for params in ({}, {"force_import": "true"}):
        result = agent("start", **params)
        assert result.returncode == 1
        assert f"storage-b (hostid 0x{hostid})" in exit_reason(result)
        assert "multihost" in exit_reason(result)
    assert w.read(agent.state)["pools"]["tank"]["holder"] == "storage-b"


def test_crashed_holder_needs_the_force_opt_in(agent: Run) -> None:
    change(agent.state, held_by_other_host(alive=False))
    refused = agent("start")
    assert refused.returncode == 1
    assert "not exported" in exit_reason(refused) and "force_import=true" in exit_reason(refused)
    forced = agent("start", force_import="yes")
    assert forced.returncode == 0, forced.stderr
    assert w.read(agent.state)["pools"]["tank"]["holder"] == HOST


def test_crashed_holder_with_multihost_is_forced_after_a_single_activity_check(agent: Run) -> None:
    change(agent.state, held_by_other_host(alive=False))
    forced = agent("start", force_import="true")
    assert forced.returncode == 0, forced.stderr
    data = w.read(agent.state)
    assert data["pools"]["tank"]["holder"] == HOST
    # The labels showed multihost on: -f at once, not a refused plain import first (two checks).
    assert data["activity_checks"] == {HOST: 1}
    assert "multihost on" in forced.stderr


def test_live_holder_of_a_multihost_off_pool_is_never_forced(agent: Run) -> None:
    change(agent.state, held_by_other_host(alive=True))
    change(agent.state, lambda data: data["pools"]["tank"].update({"multihost": "off"}))
    # Even with both opt-outs: ZFS's refusal reads as for a crashed holder, and -f would double-import.
    result = agent("start", force_import="true", require_multihost="false")
    assert result.returncode == 1
    assert "multihost=off" in exit_reason(result) and "not forced" in exit_reason(result)
    assert f"storage-b (hostid 0x{w.hostid_of('storage-b'):x})" in exit_reason(result)
    assert w.read(agent.state)["pools"]["tank"]["holder"] == "storage-b"


def test_a_crashed_holder_is_not_forced_when_no_label_can_be_read(agent: Run) -> None:
    change(agent.state, held_by_other_host(alive=False))
    change(agent.state, lambda data: data.update({"labels_unreadable": True}))
    result = agent("start", force_import="true")
    assert result.returncode == 1
    assert "not forced" in exit_reason(result) and "did not show multihost=on" in exit_reason(result)
    assert w.read(agent.state)["pools"]["tank"]["holder"] == "storage-b"  # not imported here


def test_pool_without_multihost_is_refused_and_left_exported(agent: Run) -> None:
    change(agent.state, lambda data: data["pools"]["tank"].update({"multihost": "off"}))
    result = agent("start")
    assert result.returncode == 6
    assert "multihost=off" in exit_reason(result)
    assert w.read(agent.state)["pools"]["tank"]["holder"] is None
    assert agent("start", require_multihost="false").returncode == 0


def test_a_missing_pool_says_where_it_was_looked_for_within_128_bytes(agent: Run) -> None:
    result = agent("start", pool="no-such-pool")
    assert result.returncode == 1
    reason = exit_reason(result)
    assert reason == "pool no-such-pool not found among devices in /dev/disk/by-partlabel /dev/disk/by-id /dev/disk/by-path"
    assert len(reason.encode()) <= 128
    assert "no such pool available" in result.stderr  # zpool's own words are in the log


def test_no_hostid_refuses_start(agent: Run) -> None:
    change(agent.state, lambda data: data["hosts"][HOST].update({"hostid": 0}))
    result = agent("start")
    assert result.returncode == 5
    assert "zgenhostid" in exit_reason(result)


def test_chap_secret_comes_from_a_private_file_and_never_shows(agent: Run, tmp_path: Path) -> None:
    change(agent.state, lambda data: data["targets"][PEER].update({"chap": ["iscsiuser", "tops3cret-value"]}))
    secret = tmp_path / "chap"
    secret.write_text("tops3cret-value\n")
    secret.chmod(0o644)
    loose = agent("start", chap_user="iscsiuser", chap_secret_file=str(secret))
    assert loose.returncode == 6 and "accessible by others" in exit_reason(loose)
    secret.chmod(0o600)
    result = agent("start", chap_user="iscsiuser", chap_secret_file=str(secret))
    assert result.returncode == 0, result.stderr
    assert w.read(agent.state)["sessions"][HOST] == [PEER]
    assert "tops3cret-value" not in result.stderr + result.stdout


def test_zfs_23_json_status_gives_the_same_degraded_reason(tmp_path: Path) -> None:
    w.standard_world(tmp_path, host=HOST, zfs_version="2.3.1")
    agent = Run(tmp_path)
    assert agent("start").returncode == 0
    change(tmp_path, set_peer(False))
    monitor = agent("monitor")
    assert monitor.returncode == 190
    assert "2/4 legs UNAVAIL: iqn.2025-01.lab.home:storage-b lun 0,1" in exit_reason(monitor)


def test_validate_all_depth0_checks_parameters_only(agent: Run) -> None:
    assert agent("validate-all").returncode == 0
    assert agent("validate-all", pool="mirror").returncode == 6
    bad = agent("validate-all", peer_targets="10.10.10.2")
    assert bad.returncode == 6 and "IQN@PORTAL" in exit_reason(bad)
    assert agent("validate-all", chap_user="u").returncode == 6
    # Depth 0 touches nothing: a node without hostid still validates.
    change(agent.state, lambda data: data["hosts"][HOST].update({"hostid": 0}))
    assert agent("validate-all").returncode == 0
    assert agent("validate-all", depth=10).returncode == 5


def test_validate_all_depth10_names_a_slow_replacement_timeout(agent: Run) -> None:
    assert agent("start").returncode == 0  # discovery creates the node record
    assert agent("validate-all", depth=10).returncode == 0
    record = next((agent.state / "root" / HOST / "etc/iscsi/nodes").rglob("default"))
    record.write_text(record.read_text().replace("replacement_timeout = 5", "replacement_timeout = 120"))
    result = agent("validate-all", depth=10)
    assert result.returncode == 6
    assert "replacement_timeout is 120s" in exit_reason(result) and "-v 5" in exit_reason(result)


def test_probe_with_an_unreadable_configuration_reports_not_running(agent: Run) -> None:
    result = agent("monitor", pool="")
    assert result.returncode == 7
    assert agent("stop", pool="").returncode == 0


def test_freebsd_backend_iscsictl_sysctl_kstat_and_fail_on_disconnection(tmp_path: Path) -> None:
    """The same decisions through the FreeBSD answers: iscsictl sessions (CHAP from a private
    iscsi.conf, never argv), the kstat sysctl, kern.hostid, kern.iscsi.fail_on_disconnection."""
    w.standard_world(tmp_path, host=HOST, chap=("iscsiuser", "bsd-s3cret"))
    agent = Run(tmp_path, ZFSHA_PLATFORM="freebsd")
    secret = tmp_path / "chap"
    secret.write_text("bsd-s3cret\n")
    secret.chmod(0o600)
    chap = {"chap_user": "iscsiuser", "chap_secret_file": str(secret)}
    assert agent("monitor", **chap).returncode == 7
    started = agent("start", **chap)
    assert started.returncode == 0, started.stderr
    assert "bsd-s3cret" not in started.stderr
    assert w.read(tmp_path)["sessions"][HOST] == [PEER]
    assert agent("monitor", **chap).returncode == 0
    change(tmp_path, set_peer(False))
    assert agent("monitor", **chap).returncode == 190
    change(tmp_path, lambda data: data.update({"fail_on_disconnection": 0}))
    validated = agent("validate-all", depth=10, **chap)
    assert validated.returncode == 6 and "kern.iscsi.fail_on_disconnection" in exit_reason(validated)
    assert agent("stop", **chap).returncode == 0
    assert w.read(tmp_path)["flushed"] == {}  # GEOM disks have no page cache in front of ctld
    assert agent("monitor", **chap).returncode == 7


def test_a_hanging_login_cannot_eat_the_monitors_deadline(agent: Run) -> None:
    change(agent.state, set_peer(False))
    assert agent("start").returncode == 0  # without the peer: DEGRADED

    def peer_back_but_login_hangs(data: dict) -> None:
        data["targets"][PEER]["up"] = True
        data["hang"]["iscsiadm login"] = 60

    change(agent.state, peer_back_but_login_hangs)
    started = time.monotonic()
    first = agent("monitor", timeout_ms=20000)
    assert time.monotonic() - started < 15
    assert first.returncode == 190
    started = time.monotonic()
    again = agent("monitor", timeout_ms=20000)
    assert time.monotonic() - started < 4  # no second attempt within a minute
    assert again.returncode == 190


def test_a_blocked_zpool_status_does_not_time_the_monitor_out(agent: Run) -> None:
    """zpool status waits on ZFS's namespace lock while another import scan holds it (seen in the lab:
    a second pool resource's import scan, a multihost activity check long): a monitor that waited for
    it timed out, and Pacemaker restarted a serving pool. It answers from the lock-free state instead."""
    assert agent("start").returncode == 0
    change(agent.state, set_peer(False))
    change(agent.state, lambda data: data["hang"].update({"zpool status": 60}))
    started = time.monotonic()
    monitor = agent("monitor", timeout_ms=20000)
    seconds = time.monotonic() - started
    assert monitor.returncode == 190, monitor.stderr
    assert exit_reason(monitor) == "pool tank DEGRADED (zpool status busy: legs not read)"
    assert "did not answer" in monitor.stderr
    assert seconds < 20, f"the monitor took {seconds:.1f} s of its 20 s"


def test_a_blocked_zpool_status_during_a_resilver_watch_still_says_degraded(tmp_path: Path) -> None:
    w.standard_world(tmp_path, host=HOST)
    agent = Run(tmp_path)
    assert agent("start").returncode == 0
    change(agent.state, set_peer(False))
    assert agent("monitor").returncode == 190
    change(agent.state, set_peer(True))
    assert agent("monitor").returncode == 190  # legs brought back: the resilver watch is on
    change(agent.state, lambda data: data["hang"].update({"zpool status": 60}))
    monitor = agent("monitor", timeout_ms=20000)
    assert monitor.returncode == 190, monitor.stderr
    assert exit_reason(monitor) == "pool tank ONLINE; resilver state unknown (zpool status busy)"
    assert attribute_memo(agent.state) == "RESILVERING"


def test_zfs_without_json_status_is_not_asked_for_it(agent: Run, tmp_path: Path) -> None:
    """ZFS 2.1 (Debian 12) has no zpool status -j: its version is read from sysfs, so no refused call
    costs the monitor a process start."""
    assert agent("start").returncode == 0
    change(agent.state, set_peer(False))
    log = tmp_path / "zpool-calls"
    wrapper = tmp_path / "wrap"
    wrapper.mkdir()
    (wrapper / "zpool").write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {w.tool_path()}/zpool "$@"\n')
    (wrapper / "zpool").chmod(0o755)
    monitor = Run(agent.state, ZFSHA_TOOL_PATH=f"{wrapper}:{w.tool_path()}")("monitor")
    assert monitor.returncode == 190, monitor.stderr
    calls = log.read_text().splitlines()
    assert any(call.startswith("status") for call in calls), calls
    assert not [call for call in calls if "-j" in call.split()], calls
