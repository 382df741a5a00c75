"""lio-sync-luns run as a process, as Pacemaker runs it: a `zfs` simulator and real rtslib-fb on a
directory tree shaped like configfs (tests/sim/lio/fake_configfs.py).

This proves the agent's flow and its use of rtslib's API; it does not prove that the kernel accepts the
configuration or that an initiator can log in (the virtual-machine lab does).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
AGENT = REPO / "agents" / "lio-sync-luns"
ZFS = REPO / "tests" / "sim" / "lio" / "bin" / "zfs"
IQN = "iqn.2025-01.lab.zfsha:t1"
ESX = "iqn.1998-01.com.vmware:esx1"
PVE = "iqn.1993-08.org.debian:01:pve1"

pytestmark = pytest.mark.skipif(not os.path.isdir("/usr/lib/python3/dist-packages/rtslib_fb"), reason="python3-rtslib-fb missing")


class Node:
    def __init__(self, state: Path) -> None:
        self.state = state
        self.env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "PYTHONPATH": str(REPO / "lib"),
            "ZFSHA_SIM_STATE": str(state),
            "ZFSHA_TOOL_PATH": str(ZFS.parent),
            "ZFSHA_LIO_SIM": str(REPO / "tests" / "sim" / "lio" / "fake_configfs.py"),
            "ZFSHA_ZVOL_DEVICE_ROOT": str(state / "dev" / "zvol"),
            "HA_LOGFACILITY": "none",
            "OCF_RESKEY_target_iqn": IQN,
            "OCF_RESKEY_portals": "169.254.213.10:3260",
            "OCF_RESKEY_datasets": "tank/iscsi",
            "OCF_RESKEY_initiators": f"{ESX}={state}/esx.chap {PVE}={state}/pve.chap",
            "OCF_RESKEY_device_timeout": "2",
            # The run directory (steady monitor memos) per test, not the host's /var/run/zfsha.
            "ZFSHA_SYSROOT": str(state / "root"),
        }
        self.chap("esx.chap", "userid=esx\npassword=esx-secret-1234\n")
        self.chap("pve.chap", "userid=pve\npassword=pve-secret-5678\n")

    def chap(self, name: str, text: str, mode: int = 0o600) -> None:
        path = self.state / name
        path.write_text(text)
        path.chmod(mode)

    def zfs(self, *argv: str, **env: str) -> str:
        done = subprocess.run([str(ZFS), *argv], env={**self.env, **env}, capture_output=True, text=True, check=True)
        return done.stdout

    def agent(self, action: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(AGENT), action], env={**self.env, **env}, capture_output=True, text=True, timeout=60)

    def monitor_imports(self, **env: str) -> tuple[int, set[str]]:
        """A recurring monitor's exit status and the modules it imported (the interpreter's own record)."""
        done = self.agent("monitor", OCF_RESKEY_CRM_meta_interval="10000", PYTHONPROFILEIMPORTTIME="1", **env)
        lines = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
        return done.returncode, {line.rsplit("|", 1)[1].strip() for line in lines}

    @property
    def tpg(self) -> Path:
        return self.state / "configfs" / "target" / "iscsi" / IQN / "tpgt_1"

    def luns(self) -> dict[int, str]:
        """LUN number -> backstore name, read from the tree."""
        found = {}
        for link in glob.glob(f"{self.tpg}/lun/lun_*/*"):
            if os.path.islink(link):
                found[int(Path(link).parent.name.split("_")[1])] = os.path.basename(os.path.realpath(link))
        return found

    def serials(self) -> dict[str, str]:
        found = {}
        for path in glob.glob(f"{self.state}/configfs/target/core/*/*/wwn/vpd_unit_serial"):
            found[Path(path).parents[1].name] = Path(path).read_text().partition(":")[2].strip()
        return found

    def stored(self) -> dict[str, tuple[str, str]]:
        rows = self.zfs("list", "-H", "-r", "-t", "volume", "-o", "name,zfsha:lun,zfsha:serial", "tank").splitlines()
        return {r.split("\t")[0]: tuple(r.split("\t")[1:]) for r in rows}  # type: ignore[misc]


@pytest.fixture
def node(tmp_path):  # type: ignore[no-untyped-def]
    made = Node(tmp_path)
    made.zfs("create", "-p", "tank/iscsi")
    for name in ("vm-100-disk-0", "vm-101-disk-0", "vm-102-disk-0"):
        made.zfs("create", "-V", "1G", f"tank/iscsi/{name}")
    return made


def test_start_exports_every_zvol_and_stores_its_identity(node):
    done = node.agent("start")
    assert done.returncode == 0, done.stderr
    assert node.luns() == {0: "tank-iscsi-vm-100-disk-0", 1: "tank-iscsi-vm-101-disk-0", 2: "tank-iscsi-vm-102-disk-0"}
    stored = node.stored()
    serials = node.serials()
    for number, backstore in node.luns().items():
        zvol = "tank/iscsi/" + backstore[len("tank-iscsi-") :]
        assert stored[zvol] == (str(number), serials[backstore])
    assert (node.tpg / "enable").read_text().strip() == "1"
    assert (node.tpg / "attrib" / "authentication").read_text().strip() == "1"
    assert (node.tpg / "acls" / ESX / "auth" / "userid").read_text().strip() == "esx"
    assert sorted(os.listdir(node.tpg / "acls" / ESX)).count("lun_2") == 1
    assert os.listdir(node.tpg / "np") == ["169.254.213.10:3260"]
    assert node.agent("monitor", OCF_RESKEY_CRM_meta_interval="10000").returncode == 0


def test_second_start_is_a_no_op(node):
    assert node.agent("start").returncode == 0
    again = node.agent("start")
    assert again.returncode == 0
    assert "change(s) applied" not in again.stderr and "create" not in again.stderr


def test_monitor_maps_new_zvols_and_unmaps_vanished_ones_without_renumbering(node):
    assert node.agent("start").returncode == 0
    # A full monitor that finds nothing to do lets the next ones answer from the steady memo.
    assert node.agent("monitor", OCF_RESKEY_CRM_meta_interval="10000").returncode == 0
    before = node.luns()
    node.zfs("destroy", "tank/iscsi/vm-100-disk-0")
    node.zfs("create", "-V", "1G", "tank/iscsi/vm-103-disk-0")
    done = node.agent("monitor", OCF_RESKEY_CRM_meta_interval="10000")
    assert done.returncode == 0, done.stderr
    after = node.luns()
    assert after[1] == before[1] and after[2] == before[2]
    assert after[3] == "tank-iscsi-vm-103-disk-0" and 0 not in after
    assert "tank-iscsi-vm-100-disk-0" not in node.serials()
    assert sorted(os.listdir(node.tpg / "acls" / PVE)).count("lun_3") == 1


def test_failover_to_a_node_with_empty_lio_keeps_numbers_and_serials(node):
    assert node.agent("start").returncode == 0
    luns, serials = node.luns(), node.serials()
    assert node.agent("stop").returncode == 0
    assert node.serials() == {}, "stop must release every zvol"
    shutil.rmtree(node.state / "configfs")  # the other node's LIO knows nothing
    assert node.agent("start").returncode == 0
    assert node.luns() == luns and node.serials() == serials


def test_start_stores_identities_on_zvols_of_every_pool(node):
    """One store per pool (a channel program may touch only its own pool)."""
    node.zfs("create", "-p", "vault/luns")
    node.zfs("create", "-V", "1G", "vault/luns/db-0")
    done = node.agent("start", OCF_RESKEY_datasets="tank/iscsi vault/luns")
    assert done.returncode == 0, done.stderr
    rows = node.zfs("list", "-H", "-r", "-t", "volume", "-o", "name,zfsha:lun,zfsha:serial", "vault").split("\t")
    assert rows[0] == "vault/luns/db-0" and rows[1].strip() not in ("", "-")
    assert len(node.stored()) == 3 and all(lun != "-" for lun, _ in node.stored().values())
    assert len(node.luns()) == 4


def test_first_start_that_cannot_store_identities_fails_with_its_tpg_never_enabled(node):
    """The TPG is built while the identities are stored, and enabled only once they are."""
    (node.state / "zfs-readonly").touch()
    done = node.agent("start")
    assert done.returncode == 1, done.stderr
    reason = "ocf-exit-reason:storing the LUN numbers and serials of 3 zvol(s) on pool tank failed: "
    assert reason + "cannot set zfsha:lun on tank/iscsi/vm-100-disk-0: Read-only file system" in done.stderr
    assert (node.tpg / "enable").read_text().strip() == "0", "initiators could log in to LUNs whose identity is not stored"
    assert len(node.luns()) == 3  # built beside the store
    assert all(stored == ("-", "-") for stored in node.stored().values())
    assert node.agent("stop").returncode == 0
    assert node.luns() == {} and node.serials() == {}


def test_new_zvol_whose_identity_cannot_be_stored_is_not_mapped_on_a_live_tpg(node):
    assert node.agent("start").returncode == 0
    before = node.luns()
    node.zfs("create", "-V", "1G", "tank/iscsi/vm-103-disk-0")
    (node.state / "zfs-readonly").touch()
    done = node.agent("monitor", OCF_RESKEY_CRM_meta_interval="10000")
    assert done.returncode == 1, done.stderr
    assert "cannot set zfsha:lun on tank/iscsi/vm-103-disk-0: Read-only file system" in done.stderr
    assert node.luns() == before


def test_stop_is_idempotent_and_monitor_then_reports_not_running(node):
    assert node.agent("start").returncode == 0
    assert node.agent("stop").returncode == 0
    assert node.agent("stop").returncode == 0
    assert node.agent("monitor").returncode == 7
    assert not (node.state / "configfs" / "target" / "iscsi" / IQN).exists()


def test_stop_with_nothing_there_succeeds(node):
    assert node.agent("stop").returncode == 0
    assert node.agent("monitor").returncode == 7


def test_stop_on_a_suspended_pool_fails_at_once_and_touches_nothing(node):
    """Releasing a backstore of a suspended pool's zvol hangs in the kernel: fail, so Pacemaker fences."""
    assert node.agent("start").returncode == 0
    sysroot = node.state / "sysroot"
    kstat = sysroot / "proc/spl/kstat/zfs/tank"
    kstat.mkdir(parents=True)
    (kstat / "state").write_text("SUSPENDED\n")
    luns = node.luns()
    done = node.agent("stop", ZFSHA_SYSROOT=str(sysroot))
    assert done.returncode == 1, done.stderr
    assert "ocf-exit-reason:pool tank is SUSPENDED (its I/O failed)" in done.stderr
    assert node.luns() == luns and luns
    (kstat / "state").write_text("ONLINE\n")
    assert node.agent("stop", ZFSHA_SYSROOT=str(sysroot)).returncode == 0
    assert node.luns() == {}


def test_reload_with_new_chap_for_one_initiator_leaves_the_other_acl_alone(node):
    assert node.agent("start").returncode == 0
    pve_auth = node.tpg / "acls" / PVE / "auth" / "password"
    untouched = pve_auth.stat().st_mtime_ns
    node.chap("esx.chap", "userid=esx\npassword=esx-rotated-9999\n")
    done = node.agent("reload-agent")
    assert done.returncode == 0, done.stderr
    assert (node.tpg / "acls" / ESX / "auth" / "password").read_text().strip() == "esx-rotated-9999"
    assert pve_auth.stat().st_mtime_ns == untouched
    assert os.path.isdir(node.tpg / "acls" / PVE / "lun_0")


def test_secrets_appear_in_no_output_even_when_debugging(node):
    done = node.agent("start", HA_debug="1")
    node.chap("esx.chap", "userid=esx\npassword=esx-rotated-9999\n")
    reload = node.agent("reload-agent", HA_debug="1")
    for output in (done.stdout + done.stderr, reload.stdout + reload.stderr):
        assert "esx-secret-1234" not in output and "pve-secret-5678" not in output and "esx-rotated-9999" not in output


def test_world_readable_chap_file_is_a_configuration_error(node):
    node.chap("esx.chap", "userid=esx\npassword=esx-secret-1234\n", 0o644)
    done = node.agent("start")
    assert done.returncode == 6
    assert "accessible by others" in done.stderr and "esx-secret-1234" not in done.stderr
    assert node.agent("validate-all").returncode == 6


def test_zvol_without_device_node_is_reported_degraded_and_mapped_once_it_appears(node):
    node.zfs("create", "-V", "1G", "tank/iscsi/slow", ZFSHA_SIM_ZFS_NO_DEVICES="1")
    done = node.agent("start")
    assert done.returncode == 0, done.stderr
    assert "slow has no device node" in done.stderr
    assert node.agent("monitor", OCF_RESKEY_CRM_meta_interval="10000").returncode == 190
    (node.state / "dev" / "zvol" / "tank" / "iscsi" / "slow").touch()
    assert node.agent("monitor", OCF_RESKEY_CRM_meta_interval="10000").returncode == 0
    assert "tank-iscsi-slow" in node.luns().values()


def test_generate_mode_with_saved_config_for_the_proxmox_plugin(node):
    import json

    node.chap("tpg.chap", "userid=pve\npassword=tpg-secret-123\nmutual_userid=san\nmutual_password=san-secret-456\n")
    saved = node.state / "saveconfig.json"
    env = {
        "OCF_RESKEY_acl_mode": "generate",
        "OCF_RESKEY_initiators": "",
        "OCF_RESKEY_chap_file": str(node.state / "tpg.chap"),
        "OCF_RESKEY_save_config": "true",
        "OCF_RESKEY_saveconfig_file": str(saved),
    }
    done = node.agent("start", **env)
    assert done.returncode == 0, done.stderr
    config = json.loads(saved.read_text())
    assert oct(saved.stat().st_mode & 0o777) == "0o600"
    target = next(t for t in config["targets"] if t["wwn"] == IQN)
    tpg = next(t for t in target["tpgs"] if t["tag"] == 1)
    assert {lun["storage_object"] for lun in tpg["luns"]} == {f"/backstores/block/tank-iscsi-vm-10{i}-disk-0" for i in range(3)}
    assert tpg["attributes"]["generate_node_acls"] == 1 and tpg["chap_mutual_userid"] == "san"
    assert node.agent("stop", **env).returncode == 0
    assert json.loads(saved.read_text())["storage_objects"] == []


def test_foreign_backstore_and_other_target_survive_start_and_stop(node):
    assert node.agent("start").returncode == 0
    other = {
        "OCF_RESKEY_target_iqn": "iqn.2025-01.lab.zfsha:other",
        "OCF_RESKEY_datasets": "tank/other",
        "OCF_RESKEY_portals": "169.254.213.11",
    }
    node.zfs("create", "-p", "-V", "1G", "tank/other/vol")
    assert node.agent("start", **other).returncode == 0
    assert node.agent("stop").returncode == 0
    assert list(node.serials()) == ["tank-other-vol"]
    assert node.agent("monitor", OCF_RESKEY_CRM_meta_interval="10000", **other).returncode == 0
    assert node.agent("stop", **other).returncode == 0


def test_steady_monitor_answers_without_rtslib_once_a_full_one_found_nothing_to_do(node):
    assert node.agent("start").returncode == 0
    status, modules = node.monitor_imports()  # the start changed everything: this one looks in full
    assert status == 0 and "rtslib_fb" in modules
    status, modules = node.monitor_imports()
    assert status == 0
    assert "rtslib_fb" not in modules and "zfsha.lio.resource" not in modules
    assert node.agent("monitor").returncode == 0, "a probe always looks in full"


@pytest.mark.parametrize("change", ["tpg disabled", "lun unmapped by hand", "chap file rewritten", "memo too old"])
def test_steady_monitor_sees_a_change_and_hands_over_to_the_full_one(node, change):
    assert node.agent("start").returncode == 0
    assert node.agent("monitor", OCF_RESKEY_CRM_meta_interval="10000").returncode == 0  # full: remembers
    status, modules = node.monitor_imports()
    assert status == 0 and "rtslib_fb" not in modules, "the steady memo was not used before the change"
    if change == "tpg disabled":
        (node.tpg / "enable").write_text("0\n")
    elif change == "lun unmapped by hand":
        shutil.rmtree(node.tpg / "acls" / ESX / "lun_2")  # rmdir on the real configfs
    elif change == "chap file rewritten":
        node.chap("esx.chap", "userid=esx\npassword=esx-secret-4321\n")
    else:
        memo = next((node.state / "root" / "var" / "run" / "zfsha").glob("lio-steady-*"))
        memo.write_text("0" + memo.read_text()[memo.read_text().index("\n") :])
    status, modules = node.monitor_imports()
    assert "zfsha.lio.resource" in modules
    if change in ("tpg disabled", "chap file rewritten"):
        assert status == 1  # drift outside the LUN scope is an error (reload-agent applies new CHAP)
        assert not list((node.state / "root" / "var" / "run" / "zfsha").glob("lio-steady-*")), "a drifted TPG keeps no memo"
    elif change == "lun unmapped by hand":
        assert status == 0 and sorted(os.listdir(node.tpg / "acls" / ESX)).count("lun_2") == 1
    else:
        assert status == 0
