"""The one module that touches LIO: reads the actual state and applies plans through rtslib-fb.

rtslib is imported lazily (a probe of a resource that is not running never pays for it). rtslib works
on configfs under /sys/kernel/config/target; `ZFSHA_LIO_SIM` (tests only, like ZFSHA_TOOL_PATH for
commands) names a Python file whose `install(rtslib_fb)` points rtslib at a directory tree shaped
like configfs, for hosts without the LIO kernel modules.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from types import ModuleType
from typing import Any

from zfsha import secrets
from zfsha.errors import GenericError, NotInstalledError
from zfsha.lio.chap import Chap
from zfsha.lio.model import Acl, Backstore, LioState, Portal, Tpg
from zfsha.lio.plan import Step

SIM_VARIABLE = "ZFSHA_LIO_SIM"
MANAGED_LU_ATTRIBUTES = ("emulate_tpu", "emulate_tpws")
MANAGED_TPG_ATTRIBUTES = ("generate_node_acls", "cache_dynamic_acls", "demo_mode_write_protect", "authentication")
# Serialises this agent's resources on one node: two TPGs exporting one dataset share backstores.
LOCK_FILE = "/run/zfsha-lio-sync-luns.lock"

log = logging.getLogger("zfsha.lio")
_loaded: ModuleType | None = None


def rtslib() -> ModuleType:
    global _loaded
    if _loaded is not None:
        return _loaded
    try:
        import rtslib_fb
    except ImportError:
        raise NotInstalledError("python3-rtslib-fb is not installed (apt install python3-rtslib-fb)") from None
    sim = os.environ.get(SIM_VARIABLE)
    if sim:
        spec = importlib.util.spec_from_file_location("zfsha_lio_sim", sim)
        if spec is None or spec.loader is None:
            raise NotInstalledError(f"{SIM_VARIABLE}={sim} is not a Python file")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.install(rtslib_fb)
    _loaded = rtslib_fb
    return rtslib_fb


def configfs_root() -> str:
    from rtslib_fb.node import CFSNode

    rtslib()
    return CFSNode.configfs_dir


@contextlib.contextmanager
def node_lock() -> Iterator[None]:
    """Hold the node-wide lock of this agent (skipped where /run is not writable)."""
    try:
        handle = open(LOCK_FILE, "a")
    except OSError as err:
        log.debug("no lock file %s (%s); going on unlocked", LOCK_FILE, err.strerror)
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _storage_key(path: str) -> tuple[str, ...]:
    """A storage object's configfs directory as rtslib's so_from_path reads it: (<plugin>_<index>, name)."""
    return tuple(path.rstrip("/").split("/")[-2:])


def _chap(node: Any) -> Chap | None:
    userid = node.chap_userid or ""
    password = secrets.register(node.chap_password or "")
    mutual_userid = node.chap_mutual_userid or ""
    mutual_password = secrets.register(node.chap_mutual_password or "")
    if not userid and not password and not mutual_userid:
        return None
    return Chap(userid, password, mutual_userid, mutual_password)


class LioTarget:
    """One resource's view of LIO: its target IQN and TPG tag."""

    def __init__(self, target_iqn: str, tag: int) -> None:
        self.target_iqn = target_iqn
        self.tag = tag

    @property
    def present(self) -> bool:
        """Whether LIO is loaded at all (no configfs target directory: nothing can be exported)."""
        return os.path.isdir(configfs_root())

    # -- reading ----------------------------------------------------------------------------------

    def tpg_enabled(self) -> bool | None:
        """Whether this resource's TPG is enabled; None when it does not exist. Looks up the one TPG
        (a few configfs reads) instead of reading the whole target as read() does; loads nothing."""
        lib = rtslib()
        if not self.present:
            return None
        fabric = lib.FabricModule("iscsi")
        if not fabric.exists:
            return None
        try:
            return bool(lib.TPG(lib.Target(fabric, self.target_iqn, "lookup"), self.tag, "lookup").enable)
        except lib.RTSLibNotInCFS:
            return None

    def read(self) -> LioState:
        lib = rtslib()
        if not self.present:
            return LioState(tpg=None)
        backstores = {}
        blocks: dict[tuple[str, ...], str] = {}
        for storage in lib.tcm.StorageObject.all():
            if storage.plugin != "block":
                continue
            blocks[_storage_key(storage.path)] = storage.name
            try:
                serial = storage.wwn
            except lib.RTSLibError:
                serial = ""  # never configured (a creation that failed half-way)
            attributes = []
            for key in MANAGED_LU_ATTRIBUTES:
                with contextlib.suppress(lib.RTSLibError, OSError):
                    attributes.append((key, storage.get_attribute(key)))
            backstores[storage.name] = Backstore(storage.name, storage.udev_path, serial, tuple(attributes))
        outside: dict[str, int] = {}
        tpg_state = None
        target_exists = False
        other_tpgs: set[int] = set()
        for fabric in lib.FabricModule.all():
            if not fabric.exists:
                continue
            for target in fabric.targets:
                ours = fabric.name == "iscsi" and target.wwn == self.target_iqn
                target_exists = target_exists or ours
                for tpg in target.tpgs:
                    if ours and tpg.tag == self.tag:
                        tpg_state = self._read_tpg(lib, tpg, blocks)
                        continue
                    if ours:
                        other_tpgs.add(tpg.tag)
                    for lun in tpg.luns:
                        name = self._backstore_of(lib, lun, blocks)
                        outside[name] = outside.get(name, 0) + 1
        return LioState(
            tpg=tpg_state,
            backstores=backstores,
            target_exists=target_exists,
            outside_users=outside,
            other_tpgs=frozenset(other_tpgs),
        )

    @staticmethod
    def _backstore_of(lib: ModuleType, lun: Any, blocks: Mapping[tuple[str, ...], str]) -> str:
        """The block backstore behind a LUN ("" for another kind or a broken link), from the last two
        components of the LUN's link, which name the storage object as rtslib's LUN.storage_object
        reads them: one readlink per LUN instead of resolving the path (a lstat per component) and
        building a storage object, which read() has already done for every backstore."""
        try:
            link = os.readlink(f"{lun.path}/{lun.alias}")
        except (lib.RTSLibError, OSError):
            return ""
        return blocks.get(_storage_key(link), "")

    @staticmethod
    def _tpg_lun_of(lib: ModuleType, mapped: Any) -> int:
        """The number of the TPG LUN a mapped LUN points at, from the last component of its link
        (lun_<n>), which is what rtslib's MappedLUN.tpg_lun matches; that property lists and builds
        every LUN of the TPG for each mapped LUN (quadratic in the LUNs of an ACL)."""
        try:
            return int(os.path.basename(os.readlink(f"{mapped.path}/{mapped.alias}").rstrip("/")).split("_")[1])
        except (OSError, IndexError, ValueError):
            raise lib.RTSLibBrokenLink("Broken MappedLUN, no TPG LUN found") from None

    def _read_tpg(self, lib: ModuleType, tpg: Any, blocks: Mapping[tuple[str, ...], str]) -> Tpg:
        luns = {lun.lun: self._backstore_of(lib, lun, blocks) for lun in tpg.luns}
        acls = {}
        for acl in tpg.node_acls:
            mapped = frozenset((m.mapped_lun, self._tpg_lun_of(lib, m)) for m in acl.mapped_luns)
            acls[acl.node_wwn] = Acl(acl.node_wwn, _chap(acl), mapped)
        attributes = {}
        for key in MANAGED_TPG_ATTRIBUTES:
            with contextlib.suppress(lib.RTSLibError, OSError):
                attributes[key] = tpg.get_attribute(key)
        return Tpg(
            target=self.target_iqn,
            tag=tpg.tag,
            enabled=tpg.enable,
            portals=frozenset(Portal(p.ip_address, p.port) for p in tpg.network_portals),
            luns=luns,
            acls=acls,
            attributes=attributes,
            chap=_chap(tpg),
        )

    # -- applying ---------------------------------------------------------------------------------

    def apply(self, steps: Sequence[Step]) -> None:
        """Perform the steps in order; the first failure stops with a reason naming the step."""
        if not steps:
            return
        lib = rtslib()
        try:
            lib.RTSRoot()  # mounts configfs and loads target_core_mod when needed, as targetcli does
        except lib.RTSLibError as err:
            raise GenericError(f"LIO is not available: {err}") from None
        session = _Session(lib, self.target_iqn, self.tag)
        for step in steps:
            log.info("%s", step.describe())
            try:
                getattr(session, step.action)(step)
            except (lib.RTSLibError, OSError) as err:
                hint = ""
                if step.action == "create_portal" and step.portal is not None and not step.portal.is_wildcard:
                    hint = " (is the address up? a portal on a VIP that is not up yet needs net.ipv4.ip_nonlocal_bind=1)"
                raise GenericError(secrets.redact(f"{step.describe()} failed: {err}{hint}")) from None

    def save(self, path: str) -> None:
        """Save the live configuration where targetcli and the Proxmox plugin read it, durably."""
        lib = rtslib()
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        try:
            lib.RTSRoot().save_to_file(path)
        except (lib.RTSLibError, OSError) as err:
            raise GenericError(f"saving the LIO configuration to {path} failed: {err}") from None
        # A node killed right after a save must not come back with an empty file.
        os.sync()


class _Session:
    """rtslib objects of one apply, looked up once; one method per plan action."""

    def __init__(self, lib: ModuleType, target_iqn: str, tag: int) -> None:
        self.lib = lib
        self.target_iqn = target_iqn
        self.tag = tag
        self._fabric: Any = None
        self._target: Any = None
        self._tpg: Any = None
        self._storage: dict[str, Any] = {}
        self._acls: dict[str, Any] = {}

    def fabric(self) -> Any:
        if self._fabric is None:
            self._fabric = self.lib.FabricModule("iscsi")
        return self._fabric

    def target(self, mode: str = "lookup") -> Any:
        if self._target is None:
            self._target = self.lib.Target(self.fabric(), self.target_iqn, mode)
        return self._target

    def tpg(self, mode: str = "lookup") -> Any:
        if self._tpg is None:
            self._tpg = self.lib.TPG(self.target(), self.tag, mode)
        return self._tpg

    def storage(self, name: str) -> Any:
        if name not in self._storage:
            self._storage[name] = self.lib.BlockStorageObject(name)
        return self._storage[name]

    def acl(self, initiator: str, mode: str = "lookup") -> Any:
        if initiator not in self._acls:
            self._acls[initiator] = self.lib.NodeACL(self.tpg(), initiator, mode)
        return self._acls[initiator]

    # removals
    def delete_acl(self, step: Step) -> None:
        self.acl(step.initiator).delete()
        del self._acls[step.initiator]

    def delete_mapped_lun(self, step: Step) -> None:
        self.lib.MappedLUN(self.acl(step.initiator), step.mapped_lun).delete()

    def delete_lun(self, step: Step) -> None:
        self.lib.LUN(self.tpg(), step.lun).delete()

    def delete_portal(self, step: Step) -> None:
        assert step.portal is not None
        self.lib.NetworkPortal(self.tpg(), step.portal.address, step.portal.port, "lookup").delete()

    def delete_backstore(self, step: Step) -> None:
        try:
            storage = self.storage(step.name)
        except self.lib.RTSLibNotInCFS:
            return
        storage.delete()
        self._storage.pop(step.name, None)

    def disable_tpg(self, step: Step) -> None:
        self.tpg().enable = False

    def delete_tpg(self, step: Step) -> None:
        self.tpg().delete()
        self._tpg = None
        self._acls.clear()

    def delete_target(self, step: Step) -> None:
        self.target().delete()
        self._target = None

    # creations
    def create_target(self, step: Step) -> None:
        self._target = self.lib.Target(self.fabric(), self.target_iqn, "create")

    def create_tpg(self, step: Step) -> None:
        self._tpg = self.lib.TPG(self.target(), self.tag, "create")

    def create_backstore(self, step: Step) -> None:
        backstore = step.backstore
        assert backstore is not None
        self._storage[backstore.name] = self.lib.BlockStorageObject(backstore.name, dev=backstore.device, wwn=backstore.serial)

    def set_backstore_attribute(self, step: Step) -> None:
        assert step.attribute is not None
        self.storage(step.name).set_attribute(*step.attribute)

    def create_lun(self, step: Step) -> None:
        self.lib.LUN(self.tpg(), step.lun, storage_object=self.storage(step.name))

    def create_acl(self, step: Step) -> None:
        self._acls[step.initiator] = self.lib.NodeACL(self.tpg(), step.initiator, "create")

    def set_acl_chap(self, step: Step) -> None:
        _set_chap(self.acl(step.initiator), step.chap)

    def create_mapped_lun(self, step: Step) -> None:
        self.lib.MappedLUN(self.acl(step.initiator), step.mapped_lun, tpg_lun=step.lun, write_protect=False)

    def set_tpg_chap(self, step: Step) -> None:
        _set_chap(self.tpg(), step.chap)

    def set_tpg_attribute(self, step: Step) -> None:
        assert step.attribute is not None
        self.tpg().set_attribute(*step.attribute)

    def create_portal(self, step: Step) -> None:
        assert step.portal is not None
        self.lib.NetworkPortal(self.tpg(), step.portal.address, step.portal.port, "create")

    def enable_tpg(self, step: Step) -> None:
        self.tpg().enable = True


def _set_chap(node: Any, chap: Chap | None) -> None:
    """Write credentials (empty strings clear them: rtslib writes the kernel's NULL)."""
    node.chap_userid = chap.userid if chap else ""
    node.chap_password = chap.password if chap else ""
    node.chap_mutual_userid = chap.mutual_userid if chap else ""
    node.chap_mutual_password = chap.mutual_password if chap else ""
