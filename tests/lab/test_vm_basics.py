"""The measured storage scenario on real ZFS, LIO and open-iscsi in qemu guests.

storage-a exports its data disk over iSCSI; storage-b mirrors its own disk with that LUN in a
multihost pool. A second host that sees the pool's disk must be refused the import while storage-b
holds it, and a hard power cut of storage-a must leave the pool on storage-b DEGRADED, not suspended.
Along the way the real output of zpool/iscsiadm is kept for the unit tests' parsers (see conftest).
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from lab.vm import storage
from lab.vm.capture import capture
from lab.vm.guest import ExecResult, HostNic
from lab.vm.lab import Lab

pytestmark = pytest.mark.lab

POOL = "mpool"


def test_guests_apply_their_identity_and_reach_each_other(storage_lab: Lab) -> None:
    for name in ("storage-a", "storage-b"):
        guest = storage_lab[name]
        rc, hostname, _ = guest.exec(["hostname"])
        assert (rc, hostname.strip()) == (0, name)
        assert guest.exec(["hostid"]).stdout.strip() == guest.identity.hostid
        assert guest.read_file("/etc/iscsi/initiatorname.iscsi").decode().strip() == f"InitiatorName={guest.identity.iqn}"
        assert guest.exec(["systemctl", "--failed", "--no-legend", "--plain"]).stdout == ""
        failing = guest.exec(["sh", "-c", "echo out; echo err >&2; exit 3"], input="ignored")
        assert failing == ExecResult(3, "out\n", "err\n")
    peer = storage_lab.storage_address("storage-a")
    assert storage_lab["storage-b"].exec(["ping", "-c", "1", "-W", "5", peer]).rc == 0


def test_guest_reaches_a_udp_service_on_host_loopback(storage_lab: Lab) -> None:
    """What a fence agent in a guest needs: IPMI is UDP, and guestfwd only forwards TCP."""
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(60)
    port = server.getsockname()[1]

    def echo_once() -> None:
        data, peer = server.recvfrom(512)
        server.sendto(b"pong:" + data, peer)

    responder = threading.Thread(target=echo_once)
    responder.start()
    try:
        script = (
            "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(20); "
            f"s.sendto(b'ping', ('{HostNic().host}', {port})); print(s.recv(512).decode())"
        )
        result = storage_lab["storage-b"].exec(["python3", "-c", script], timeout=60)
    finally:
        responder.join(timeout=70)
        server.close()
    assert (result.rc, result.stdout.strip()) == (0, "pong:ping"), result


def test_install_deb_installs_a_package_in_every_running_guest(storage_lab: Lab, tmp_path: Path) -> None:
    tree = tmp_path / "pkg"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN" / "control").write_text(
        "Package: zfsha-lab-probe\nVersion: 1.0\nArchitecture: all\nMaintainer: lab <lab@zfsha.invalid>\n"
        "Description: proves lab.vm can install a package\n"
    )
    payload = os.urandom(3 << 20)  # bigger than one guest-file-write chunk, incompressible
    (tree / "usr/share/zfsha-lab-probe").mkdir(parents=True)
    (tree / "usr/share/zfsha-lab-probe/payload").write_bytes(payload)
    deb = tmp_path / "zfsha-lab-probe_1.0_all.deb"
    subprocess.run(["dpkg-deb", "--build", "-Znone", str(tree), str(deb)], check=True, capture_output=True)
    started = time.monotonic()
    storage_lab.install_deb(deb)
    print(f"{deb.stat().st_size >> 10} KiB .deb installed in 2 guests in {time.monotonic() - started:.1f} s")
    for name in ("storage-a", "storage-b"):
        guest = storage_lab[name]
        assert guest.exec(["dpkg-query", "-W", "-f", "${Status}", "zfsha-lab-probe"]).stdout == "install ok installed"
        assert guest.read_file("/usr/share/zfsha-lab-probe/payload") == payload


@pytest.fixture(scope="module")
def facts() -> dict[str, str]:
    """What the storage scenario's first test learnt that its continuation checks (the data checksum)."""
    return {}


def test_multihost_mirror_over_iscsi_survives_hard_kill_of_target_host(
    storage_lab: Lab, capture_dir: Path, facts: dict[str, str]
) -> None:
    node_a, node_b = storage_lab["storage-a"], storage_lab["storage-b"]
    portal = storage_lab.storage_address("storage-a")
    iqn = storage.export_disks(node_a, [storage.local_disk("storage-a-d0")], portal)
    storage.login(node_b, portal, iqn, replacement_timeout=10)
    remote_leg = storage.lun_path(portal, iqn, 0)
    storage.wait_for_path(node_b, remote_leg)
    local_leg = storage.local_disk("storage-b-d0")

    node_b.exec(
        [
            "zpool",
            "create",
            "-f",
            "-o",
            "multihost=on",
            "-o",
            "ashift=12",
            "-O",
            "compression=lz4",
            POOL,
            "mirror",
            local_leg,
            remote_leg,
        ],
        timeout=180,
        check=True,
    )
    node_b.sh(f"head -c 8388608 /dev/urandom > /{POOL}/data && sync && zpool sync {POOL}")
    checksum = node_b.exec(["sha256sum", f"/{POOL}/data"], check=True).stdout.split()[0]
    facts["checksum"] = checksum

    capture(capture_dir, "zpool_list_H_p.online", node_b, ["zpool", "list", "-H", "-p"])
    capture(capture_dir, "zpool_list_H_p_o_name_health.online", node_b, ["zpool", "list", "-H", "-p", "-o", "name,health"])
    capture(capture_dir, "zpool_status.online", node_b, ["zpool", "status", POOL])
    capture(capture_dir, "zpool_status_P.online", node_b, ["zpool", "status", "-P", POOL])
    capture(capture_dir, "zpool_get_H_p_all", node_b, ["zpool", "get", "-H", "-p", "all", POOL])
    capture(capture_dir, "zpool_status_j", node_b, ["zpool", "status", "-j", POOL])
    capture(capture_dir, "zfs_version", node_b, ["zfs", "version"])
    capture(capture_dir, "kstat_state.online", node_b, ["cat", f"/proc/spl/kstat/zfs/{POOL}/state"])
    capture(capture_dir, "iscsiadm_session", node_b, ["iscsiadm", "-m", "session"])
    capture(capture_dir, "iscsiadm_session_P3", node_b, ["iscsiadm", "-m", "session", "-P", "3"])
    for parameter in ("zfs_multihost_interval", "zfs_multihost_import_intervals", "zfs_multihost_fail_intervals"):
        capture(capture_dir, f"param_{parameter}", node_b, ["cat", f"/sys/module/zfs/parameters/{parameter}"])

    # Exported, the pool shows up in a scan of by-path (the local virtio disk and the iSCSI LUN).
    node_b.exec(["zpool", "export", POOL], timeout=120, check=True)
    scan = capture(capture_dir, "zpool_import_scan", node_b, ["zpool", "import", "-d", "/dev/disk/by-path"])
    assert POOL in scan.stdout and scan.rc == 0
    # Re-import from the two legs themselves: by-path names of virtio disks (pci-0000:00:05.0) are the
    # same on every guest, so a label pointing there would send the peer to its own disk later.
    node_b.exec(["zpool", "import", "-d", f"{local_leg}-part1", "-d", f"{remote_leg}-part1", POOL], timeout=120, check=True)

    # storage-a sees its own disk through its own portal, as any other host on the SAN could: while
    # storage-b holds the pool with multihost=on, the activity check must refuse the import.
    storage.login(node_a, portal, iqn)
    storage.wait_for_path(node_a, remote_leg)
    capture(capture_dir, "zpool_import_scan.mmp_active", node_a, ["zpool", "import", "-d", "/dev/disk/by-path"])
    started = time.monotonic()
    refused = capture(
        capture_dir, "zpool_import.mmp_refused", node_a, ["zpool", "import", "-d", "/dev/disk/by-path", POOL], timeout=300
    )
    print(f"import refused after {time.monotonic() - started:.1f} s")
    assert refused.rc != 0, refused
    assert "storage-b" in refused.stderr, refused
    assert storage.pool_health(node_a, POOL) == ""
    storage.logout(node_a, portal, iqn)

    # Hard power cut of the target host: the iSCSI leg fails after replacement_timeout and the mirror
    # carries on with the local leg.
    node_a.kill()
    killed = time.monotonic()
    health = ""
    while time.monotonic() - killed < 180:
        node_b.exec(["zpool", "sync", POOL], timeout=120)
        health = storage.pool_health(node_b, POOL)
        if health != "ONLINE":
            break
        time.sleep(2)
    print(f"pool {health} {time.monotonic() - killed:.1f} s after the power cut")
    # Give ZFS a moment to settle the vdev state before recording it.
    time.sleep(3)
    assert storage.pool_health(node_b, POOL) == "DEGRADED"
    assert node_b.exec(["sha256sum", f"/{POOL}/data"], check=True).stdout.split()[0] == checksum
    node_b.sh(f"head -c 1048576 /dev/urandom > /{POOL}/after-kill && zpool sync {POOL}", timeout=120)
    assert storage.pool_health(node_b, POOL) == "DEGRADED"

    capture(capture_dir, "zpool_status.degraded", node_b, ["zpool", "status", POOL])
    capture(capture_dir, "zpool_status_P.degraded", node_b, ["zpool", "status", "-P", POOL])
    capture(capture_dir, "zpool_list_H_p.degraded", node_b, ["zpool", "list", "-H", "-p"])
    capture(capture_dir, "zpool_status_x.degraded", node_b, ["zpool", "status", "-x"])
    capture(capture_dir, "kstat_state.degraded", node_b, ["cat", f"/proc/spl/kstat/zfs/{POOL}/state"])
    capture(capture_dir, "iscsiadm_session.target_down", node_b, ["iscsiadm", "-m", "session"])
    capture(capture_dir, "iscsiadm_session_P3.target_down", node_b, ["iscsiadm", "-m", "session", "-P", "3"])


def test_mirror_resilvers_and_the_peer_imports_after_the_holder_dies(
    storage_lab: Lab, capture_dir: Path, facts: dict[str, str]
) -> None:
    """Continues the scenario above: storage-a returns, the mirror heals, then storage-b dies and
    storage-a imports the pool from its own disk once the activity check sees no writer."""
    node_a, node_b = storage_lab["storage-a"], storage_lab["storage-b"]
    assert storage.pool_health(node_b, POOL) == "DEGRADED" and not node_a.running, "needs the previous test"
    portal = storage_lab.storage_address("storage-a")
    iqn = storage.target_iqn(node_a)
    remote_leg = storage.lun_path(portal, iqn, 0)

    node_a.power_on()
    print(f"storage-a ready again in {node_a.wait_ready():.0f} s")
    # The target comes back from saveconfig.json; storage-b's initiator keeps reopening the session.
    assert iqn in node_a.exec(["targetcli", "ls", "/iscsi"], check=True).stdout
    deadline = time.monotonic() + 120
    while "LOGGED_IN" not in node_b.exec(["iscsiadm", "-m", "session", "-P", "1"]).stdout:
        assert time.monotonic() < deadline, "iSCSI session did not recover"
        time.sleep(2)
    storage.wait_for_path(node_b, remote_leg)
    capture(capture_dir, "zpool_online", node_b, ["zpool", "online", POOL, remote_leg])
    # ONLINE right after `zpool online` does not mean resynced: the resilver starts asynchronously, and
    # until it has run the returning leg still misses the outage's writes (its peer could not import
    # from it). Wait for the scan line that says it happened.
    deadline = time.monotonic() + 300
    while "resilvered" not in node_b.exec(["zpool", "status", POOL]).stdout:
        assert time.monotonic() < deadline, "resilver never completed"
        node_b.exec(["zpool", "wait", "-t", "resilver", POOL], timeout=300)
        time.sleep(1)
    node_b.exec(["zpool", "sync", POOL], timeout=120, check=True)
    capture(capture_dir, "zpool_status.resilvered", node_b, ["zpool", "status", POOL])
    assert storage.pool_health(node_b, POOL) == "ONLINE"

    node_b.kill()
    node_a.exec(["targetcli", "clearconfig", "confirm=True"], timeout=120, check=True)
    capture(capture_dir, "zpool_import_scan.holder_dead", node_a, ["zpool", "import", "-d", "/dev/disk/by-id"])
    started = time.monotonic()
    plain = capture(
        capture_dir, "zpool_import.holder_dead", node_a, ["zpool", "import", "-d", "/dev/disk/by-id", POOL], timeout=300
    )
    print(f"import without -f: rc {plain.rc} after {time.monotonic() - started:.1f} s")
    if plain.rc != 0:
        started = time.monotonic()
        forced = capture(
            capture_dir,
            "zpool_import_f.holder_dead",
            node_a,
            ["zpool", "import", "-f", "-d", "/dev/disk/by-id", POOL],
            timeout=300,
        )
        print(f"import -f: rc {forced.rc} after {time.monotonic() - started:.1f} s")
        assert forced.rc == 0, forced
    assert storage.pool_health(node_a, POOL) == "DEGRADED"
    assert node_a.exec(["sha256sum", f"/{POOL}/data"], check=True).stdout.split()[0] == facts["checksum"]
    capture(capture_dir, "zpool_status.imported_after_holder_death", node_a, ["zpool", "status", POOL])
