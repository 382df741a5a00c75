"""ocf:zfsha:lio-sync-luns on real LIO, seen by a real open-iscsi initiator in another guest.

storage-a is the target: a small pool on its data disk with a few zvols below lunpool/iscsi, exported
by the installed agent run through `crm_resource --force-*` (no cluster needed) in ACL mode, listing
storage-b's initiator name with its own mutual-CHAP credentials file. storage-b logs in as any
initiator would and checks what the agent promises: the right credentials get in and see every zvol
at the LUN number and with the unit serial stored on the zvol; data written lands on the zvol; a
wrong secret, a target failing mutual CHAP, or an unlisted initiator name is refused; a zvol created
after start is mapped by the next monitor; stop lets the pool export, and a re-export after the pool
comes back keeps numbers, serials and data (what an initiator sees after a failover).

The tests run in order and share the guests (module scope), as the storage scenario does.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab.vm import storage
from lab.vm.guest import ExecResult, Guest
from lab.vm.lab import Lab

pytestmark = pytest.mark.lab

POOL = "lunpool"
DATASET = f"{POOL}/iscsi"
FIRST_ZVOLS = ("vm-100-disk-0", "vm-101-disk-0", "vm-102-disk-0")
LATE_ZVOL = "vm-103-disk-0"
TARGET_IQN = "iqn.2024-01.local.lab:san.storage-a"
CHAP_FILE = "/etc/zfsha/chap/storage-b"
UNLISTED_IQN = "iqn.2024-01.local.lab:intruder"
PATTERN = "/root/pattern"
PATTERN_MIB = 4
# What a recurring monitor gets from Pacemaker; without an interval the agent takes the call for a
# probe, which reports state and never syncs.
RECURRING = {"CRM_meta_interval": "30000"}


@dataclass
class San:
    lab: Lab
    target: Guest
    initiator: Guest
    portal: str
    chap: storage.InitiatorChap

    def agent(self, action: str, **extra: str) -> ExecResult:
        """Run the installed agent's action through crm_resource on the target, as an admin would."""
        params = {
            "target_iqn": TARGET_IQN,
            "portals": f"{self.portal}:{storage.ISCSI_PORT}",
            "datasets": DATASET,
            "acl_mode": "acls",
            "initiators": f"{self.initiator.identity.iqn}={CHAP_FILE}",
            **extra,
        }
        argv = ["crm_resource", f"--force-{action}", "--class", "ocf", "--provider", "zfsha", "--agent", "lio-sync-luns"]
        for name, value in params.items():
            argv += ["--option", f"{name}={value}"]
        return self.target.exec(argv, timeout=240)

    def stored_identity(self, zvol: str) -> tuple[int, str]:
        """The LUN number and serial the agent stored on the zvol (zfsha:lun, zfsha:serial)."""
        argv = ["zfs", "get", "-H", "-p", "-o", "value", "zfsha:lun,zfsha:serial", f"{DATASET}/{zvol}"]
        lun, serial = self.target.exec(argv, check=True).stdout.split()
        assert lun.isdigit() and serial != "-", f"{zvol} carries no identity: lun {lun}, serial {serial}"
        return int(lun), serial

    def login(self, iface: str = "default") -> ExecResult:
        return storage.node_login(self.initiator, self.portal, TARGET_IQN, iface=iface)

    def logout(self, iface: str = "default") -> None:
        storage.node_logout(self.initiator, self.portal, TARGET_IQN, iface=iface)

    def luns(self) -> dict[int, str]:
        return storage.visible_luns(self.initiator, self.portal, TARGET_IQN)


def target_exists(san: San) -> bool:
    return san.target.exec(["test", "-d", f"/sys/kernel/config/target/iscsi/{TARGET_IQN}"]).rc == 0


def block_backstores(san: San) -> list[str]:
    """Devices of the block backstores LIO holds open on the target."""
    script = "from rtslib_fb import RTSRoot\nfor so in RTSRoot().storage_objects: print(so.udev_path)"
    return san.target.exec(["python3", "-c", script], check=True).stdout.split()


@pytest.fixture(scope="module")
def san(storage_lab: Lab, zfsha_deb: Path) -> Iterator[San]:
    """The package installed on both guests; on storage-a the pool, its zvols and the CHAP credentials file."""
    storage_lab.install_deb(zfsha_deb, ["storage-a", "storage-b"])
    target, initiator = storage_lab["storage-a"], storage_lab["storage-b"]
    target.exec(["zpool", "create", "-f", "-o", "ashift=12", POOL, storage.local_disk("storage-a-d0")], timeout=180, check=True)
    target.exec(["zfs", "create", DATASET], check=True)
    for zvol in FIRST_ZVOLS:
        target.exec(["zfs", "create", "-s", "-V", "32M", f"{DATASET}/{zvol}"], timeout=120, check=True)
    chap = storage.InitiatorChap("storage-b", secrets.token_hex(8), "storage-a", secrets.token_hex(8))
    target.exec(["mkdir", "-p", "-m", "700", str(Path(CHAP_FILE).parent)], check=True)
    target.write_file(
        CHAP_FILE,
        f"userid={chap.userid}\npassword={chap.password}\nmutual_userid={chap.mutual_userid}\n"
        f"mutual_password={chap.mutual_password}\n",
        mode=0o600,
    )
    yield San(storage_lab, target, initiator, storage_lab.storage_address("storage-a"), chap)


@pytest.fixture(scope="module")
def started(san: San) -> ExecResult:
    """The agent's start, run once; the first test checks it, the others build on it."""
    result = san.agent("start")
    storage.set_node(san.initiator, san.portal, TARGET_IQN, san.chap)
    return result


def test_chap_file_readable_by_others_is_refused(san: San) -> None:
    san.target.exec(["chmod", "644", CHAP_FILE], check=True)
    try:
        refused = san.agent("start")
    finally:
        san.target.exec(["chmod", "600", CHAP_FILE], check=True)
    assert refused.rc != 0, refused
    assert "accessible by others" in refused.stdout + refused.stderr, refused
    assert target_exists(san) is False


def test_listed_initiator_with_its_chap_sees_each_zvol_at_its_stored_lun_and_serial(san: San, started: ExecResult) -> None:
    assert started.rc == 0, started
    expected = {zvol: san.stored_identity(zvol) for zvol in FIRST_ZVOLS}
    assert len({lun for lun, _ in expected.values()}) == len(FIRST_ZVOLS)
    assert len({serial for _, serial in expected.values()}) == len(FIRST_ZVOLS)

    login = san.login()
    assert login.rc == 0, login
    assert storage.session_initiator_names(san.initiator, TARGET_IQN) == [san.initiator.identity.iqn]
    luns = san.luns()
    assert sorted(luns) == sorted(lun for lun, _ in expected.values())
    for zvol, (lun, serial) in expected.items():
        assert storage.unit_serial(san.initiator, luns[lun]) == serial, zvol


def test_secrets_stay_out_of_the_agents_output_and_the_journal(san: San, started: ExecResult) -> None:
    journal = san.target.exec(["journalctl", "-b", "--no-pager", "-o", "cat"], timeout=120).stdout
    # The agent's own report of its work reached where we look, so the absence below means something.
    assert f"applied to TPG 1 of {TARGET_IQN}" in journal + started.stdout + started.stderr
    for secret in (san.chap.password, san.chap.mutual_password):
        assert secret not in started.stdout + started.stderr
        assert secret not in journal


def test_initiator_writes_and_reads_back_data_that_lands_on_the_zvol(san: San) -> None:
    lun, _ = san.stored_identity(FIRST_ZVOLS[0])
    device = san.luns()[lun]
    san.initiator.sh(f"head -c {PATTERN_MIB}M /dev/urandom > {PATTERN}")
    written = san.initiator.exec(["sha256sum", PATTERN], check=True).stdout.split()[0]
    san.initiator.exec(["dd", f"if={PATTERN}", f"of={device}", "bs=1M", "oflag=direct", "conv=fsync"], timeout=180, check=True)
    read_back = san.initiator.sh(f"dd if={device} bs=1M count={PATTERN_MIB} iflag=direct status=none | sha256sum", timeout=180)
    assert read_back.stdout.split()[0] == written
    on_zvol = san.target.sh(
        f"dd if=/dev/zvol/{DATASET}/{FIRST_ZVOLS[0]} bs=1M count={PATTERN_MIB} iflag=direct status=none | sha256sum",
        timeout=180,
    )
    assert on_zvol.stdout.split()[0] == written


def test_wrong_chap_secret_is_refused(san: San) -> None:
    """A second interface under the same (listed) initiator name: only the secret differs."""
    iface = "wrongsecret"
    storage.add_iface(san.initiator, iface, san.initiator.identity.iqn)
    wrong = storage.InitiatorChap(san.chap.userid, secrets.token_hex(8), san.chap.mutual_userid, san.chap.mutual_password)
    storage.set_node(san.initiator, san.portal, TARGET_IQN, wrong, iface=iface)
    refused = san.login(iface)
    assert refused.rc != 0, refused
    assert len(storage.session_initiator_names(san.initiator, TARGET_IQN)) == 1  # only the default interface's

    # The same interface with the right secret gets in: the refusal was the secret's.
    storage.set_node(san.initiator, san.portal, TARGET_IQN, san.chap, iface=iface)
    admitted = san.login(iface)
    try:
        assert admitted.rc == 0, admitted
        assert len(storage.session_initiator_names(san.initiator, TARGET_IQN)) == 2
    finally:
        san.logout(iface)


def test_initiator_refuses_a_target_that_fails_mutual_chap(san: San) -> None:
    """The initiator expects other target credentials than the agent configured: no session."""
    iface = "wrongmutual"
    storage.add_iface(san.initiator, iface, san.initiator.identity.iqn)
    expecting_other = storage.InitiatorChap(san.chap.userid, san.chap.password, san.chap.mutual_userid, secrets.token_hex(8))
    storage.set_node(san.initiator, san.portal, TARGET_IQN, expecting_other, iface=iface)
    refused = san.login(iface)
    assert refused.rc != 0, refused
    assert len(storage.session_initiator_names(san.initiator, TARGET_IQN)) == 1


def test_unlisted_initiator_is_refused_even_with_valid_chap(san: San) -> None:
    iface = "unlisted"
    storage.add_iface(san.initiator, iface, UNLISTED_IQN)
    storage.set_node(san.initiator, san.portal, TARGET_IQN, san.chap, iface=iface)
    san.target.exec(["dmesg", "--clear"], check=True)
    refused = san.login(iface)
    assert refused.rc != 0, refused
    assert UNLISTED_IQN not in storage.session_initiator_names(san.initiator, TARGET_IQN)
    # The target saw the login under that name and turned it away (not a network or interface fault).
    assert UNLISTED_IQN in san.target.exec(["dmesg"], check=True).stdout


def test_monitor_maps_a_zvol_created_after_start(san: San) -> None:
    before = san.luns()
    san.target.exec(["zfs", "create", "-s", "-V", "32M", f"{DATASET}/{LATE_ZVOL}"], timeout=120, check=True)
    storage.wait_for_path(san.target, f"/dev/zvol/{DATASET}/{LATE_ZVOL}")
    monitored = san.agent("check", **RECURRING)
    assert monitored.rc == 0, monitored
    lun, serial = san.stored_identity(LATE_ZVOL)
    assert lun not in before

    storage.rescan_sessions(san.initiator)
    deadline = time.monotonic() + 60
    while lun not in san.luns():
        assert time.monotonic() < deadline, f"LUN {lun} never appeared on the initiator: {san.luns()}"
        time.sleep(2)
        storage.rescan_sessions(san.initiator)
    assert storage.unit_serial(san.initiator, san.luns()[lun]) == serial
    assert sorted(san.luns()) == sorted([*before, lun])


def test_identity_store_is_one_channel_program_that_stores_all_or_nothing(san: San) -> None:
    """The installed library's store on real ZFS, on volumes the agent does not export."""
    scratch = f"{POOL}/scratch"
    for name in ("a", "b"):
        san.target.exec(["zfs", "create", "-p", "-s", "-V", "8M", f"{scratch}/{name}"], timeout=120, check=True)
    script = (
        "import sys\nfrom zfsha import zvol\nfrom zfsha.errors import GenericError\n"
        "try:\n"
        f"    zvol.store_identities({{'{scratch}/a': (7, 'serial-a'), '{scratch}/gone': (8, 'serial-gone')}})\n"
        "except GenericError as failed:\n"
        "    print(failed)\n"
        "else:\n"
        "    sys.exit('a store naming a missing zvol succeeded')\n"
    )
    refused = san.target.exec(["python3", "-c", script])
    assert refused.rc == 0, refused
    why = f"cannot set zfsha:lun on {scratch}/gone: No such file or directory"
    assert refused.stdout.strip() == f"storing the LUN numbers and serials of 2 zvol(s) on pool {POOL} failed: {why}"

    def stored(name: str) -> list[str]:
        argv = ["zfs", "get", "-H", "-o", "value", "zfsha:lun,zfsha:serial", f"{scratch}/{name}"]
        return san.target.exec(argv, check=True).stdout.split()

    assert stored("a") == ["-", "-"], "a refused store left part of its identities behind"
    both = f"{{'{scratch}/a': (7, 'serial-a'), '{scratch}/b': (9, 'serial-b')}}"
    script = f"from zfsha import zvol\nzvol.store_identities({both})\n"
    san.target.exec(["python3", "-c", script], check=True)
    assert (stored("a"), stored("b")) == (["7", "serial-a"], ["9", "serial-b"])


def test_stop_releases_the_zvols_so_the_pool_exports(san: San) -> None:
    """Stopped while the initiator is still logged in, as Pacemaker stops it before a failover."""
    assert f"/dev/zvol/{DATASET}/{LATE_ZVOL}" in block_backstores(san)
    held = san.target.exec(["zpool", "export", POOL], timeout=120)
    assert held.rc != 0, "the pool exported while its zvols were exported over iSCSI: the check below proves nothing"
    stopped = san.agent("stop")
    assert stopped.rc == 0, stopped
    assert target_exists(san) is False
    assert block_backstores(san) == []
    again = san.agent("stop")
    assert again.rc == 0, again
    exported = san.target.exec(["zpool", "export", POOL], timeout=120)
    assert exported.rc == 0, exported
    san.logout()


def test_reexport_after_the_pool_returns_keeps_lun_numbers_serials_and_data(san: San) -> None:
    """What an initiator sees after a failover: the next export reads the identity from the zvols."""
    san.target.exec(["zpool", "import", "-d", "/dev/disk/by-id", POOL], timeout=180, check=True)
    zvols = (*FIRST_ZVOLS, LATE_ZVOL)
    expected = {zvol: san.stored_identity(zvol) for zvol in zvols}
    started = san.agent("start")
    assert started.rc == 0, started
    # The node record was gone here in the lab after the target vanished under a live session
    # (iscsiadm: No records found); an initiator re-adds it, as after a rediscovery.
    storage.set_node(san.initiator, san.portal, TARGET_IQN, san.chap)
    login = san.login()
    assert login.rc == 0, login
    luns = san.luns()
    assert sorted(luns) == sorted(lun for lun, _ in expected.values())
    for zvol, (lun, serial) in expected.items():
        assert storage.unit_serial(san.initiator, luns[lun]) == serial, zvol
    written = san.initiator.exec(["sha256sum", PATTERN], check=True).stdout.split()[0]
    device = luns[expected[FIRST_ZVOLS[0]][0]]
    read_back = san.initiator.sh(f"dd if={device} bs=1M count={PATTERN_MIB} iflag=direct status=none | sha256sum", timeout=180)
    assert read_back.stdout.split()[0] == written
    san.logout()
    assert san.agent("stop").rc == 0
