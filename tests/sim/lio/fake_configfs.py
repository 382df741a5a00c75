"""A directory tree shaped like LIO's configfs, for rtslib-fb on hosts without the target kernel modules.

Loaded by lib/zfsha/lio/rtslib_backend.py when ZFSHA_LIO_SIM names this file (tests only). It points
rtslib at $ZFSHA_SIM_STATE/configfs/target and plays the kernel's part there, so the real rtslib code
runs unchanged: a mkdir gets the attribute files and default groups the kernel would create, writing
an attribute that does not exist fails (configfs cannot create files), an rmdir fails while the
directory holds user-created children or a storage object is still exported by a LUN, and a device
claimed by an enabled storage object is "in use". Devices are plain files standing in for zvols.

What it does NOT prove: that the kernel accepts these values, that logins, CHAP and I/O work, or any
timing. That is the virtual-machine lab's job (real LIO).
"""

from __future__ import annotations

import errno
import glob
import os
import re
import shutil
from types import ModuleType, SimpleNamespace

NULL = "NULL"
AUTH = {"userid": NULL, "password": NULL, "userid_mutual": NULL, "password_mutual": NULL, "authenticate_target": "0"}
SO_ATTRIBUTES = {
    "block_size": "512",
    "hw_block_size": "512",
    "emulate_tpu": "0",
    "emulate_tpws": "0",
    "emulate_write_cache": "0",
    "emulate_3pc": "1",
    "is_nonrot": "0",
    "unmap_granularity": "1",
    "max_unmap_lba_count": "0",
}
TPG_ATTRIBUTES = {
    "authentication": "1",
    "generate_node_acls": "0",
    "cache_dynamic_acls": "0",
    "demo_mode_write_protect": "1",
    "prod_mode_write_protect": "0",
    "default_cmdsn_depth": "64",
    "login_timeout": "15",
}
# Directories the kernel creates with their parent; everything else is made by a user's mkdir.
DEFAULT_GROUPS = {
    "attrib",
    "auth",
    "param",
    "wwn",
    "alua",
    "pr",
    "statistics",
    "fabric_statistics",
    "discovery_auth",
    "lun",
    "np",
    "acls",
}


def state_root() -> str:
    return os.path.join(os.environ.get("ZFSHA_SIM_STATE", "/tmp/zfsha-sim"), "configfs")


def _files(path: str, files: dict[str, str]) -> None:
    os.makedirs(path, exist_ok=True)
    for name, content in files.items():
        with open(os.path.join(path, name), "w") as handle:
            handle.write(content + "\n")


def _populate(root: str, path: str) -> None:
    """Create what the kernel creates when a user makes the directory `path`."""
    parts = os.path.relpath(path, root).split("/")
    if parts[0] == "core" and len(parts) == 2:
        _files(path, {"hba_info": f"HBA Index: {parts[1].rsplit('_', 1)[-1]} plugin: iblock version: v5.0", "hba_mode": "0"})
    elif parts[0] == "core" and len(parts) == 3:
        info = "Status: DEACTIVATED  Max Queue Depth: 0  readonly: 0"
        _files(path, {"enable": "0", "control": "", "udev_path": "", "info": info})
        _files(os.path.join(path, "attrib"), SO_ATTRIBUTES)
        _files(os.path.join(path, "wwn"), {"vpd_unit_serial": "T10 VPD Unit Serial Number:"})
        _files(os.path.join(path, "pr"), {"res_aptpl_metadata": ""})
        os.makedirs(os.path.join(path, "alua"), exist_ok=True)
    elif parts[0] == "iscsi" and len(parts) == 1:
        _files(path, {"lio_version": "Datera Inc. iSCSI Target v4.1.0 (zfsha fake configfs)"})
        _files(os.path.join(path, "discovery_auth"), {"enforce_discovery_auth": "0", **AUTH})
    elif parts[0] == "iscsi" and len(parts) == 2:
        os.makedirs(os.path.join(path, "fabric_statistics"), exist_ok=True)
    elif parts[0] == "iscsi" and len(parts) == 3:
        _files(path, {"enable": "0"})
        _files(os.path.join(path, "attrib"), TPG_ATTRIBUTES)
        _files(os.path.join(path, "auth"), AUTH)
        _files(os.path.join(path, "param"), {"AuthMethod": "CHAP,None", "TargetAlias": "LIO Target"})
        for group in ("lun", "np", "acls"):
            os.makedirs(os.path.join(path, group), exist_ok=True)
    elif parts[0] == "iscsi" and len(parts) == 5 and parts[3] == "np":
        _files(path, {"iser": "0"})
    elif parts[0] == "iscsi" and len(parts) == 5 and parts[3] == "lun":
        _files(path, {"alua_tg_pt_gp": "", "alua_tg_pt_offline": "0"})
    elif parts[0] == "iscsi" and len(parts) == 5 and parts[3] == "acls":
        _files(path, {"cmdsn_depth": "64", "tag": "", "info": f"No active iSCSI Session for Initiator Endpoint: {parts[4]}"})
        _files(os.path.join(path, "attrib"), {"dataout_timeout": "3"})
        _files(os.path.join(path, "auth"), AUTH)
    elif parts[0] == "iscsi" and len(parts) == 6 and parts[3] == "acls":
        _files(path, {"write_protect": "0"})


def _removable(path: str) -> bool:
    """A directory the kernel lets go of: only attribute files and (recursively) default groups."""
    for entry in os.scandir(path):
        if entry.is_symlink():
            return False
        if entry.is_dir() and (entry.name not in DEFAULT_GROUPS or not _removable(entry.path)):
            return False
    return True


def _exported(root: str, path: str) -> bool:
    real = os.path.realpath(path)
    for link in glob.glob(f"{root}/iscsi/*/tpgt_*/lun/lun_*/*"):
        if os.path.islink(link) and os.path.realpath(link) == real:
            return True
    return False


def _claimed(root: str, device: str) -> bool:
    for storage in glob.glob(f"{root}/core/*/*"):
        try:
            with open(f"{storage}/enable") as enable, open(f"{storage}/udev_path") as udev:
                if enable.read().strip() == "1" and udev.read().strip() == device:
                    return True
        except OSError:
            continue
    return False


def install(rtslib_fb: ModuleType) -> None:
    """Point rtslib at the fake tree and play the kernel's part there."""
    from rtslib_fb import fabric, node, root, target, tcm, utils

    base = state_root()
    tree = os.path.join(base, "target")
    # The kernel creates target/ and its core/ group when target_core_mod loads.
    os.makedirs(os.path.join(tree, "core"), exist_ok=True)
    node.CFSNode.configfs_dir = tree
    real_os = os

    def mkdir(path: str, mode: int = 0o777) -> None:
        real_os.mkdir(path, mode)
        if path.startswith(tree + "/"):
            _populate(tree, path)

    def rmdir(path: str) -> None:
        if not path.startswith(tree + "/"):
            real_os.rmdir(path)
            return
        parts = os.path.relpath(path, tree).split("/")
        if parts[0] == "core" and len(parts) == 3 and _exported(tree, path):
            raise OSError(errno.EBUSY, "storage object is exported by a LUN", path)
        if not _removable(path):
            raise OSError(errno.ENOTEMPTY, "directory has user-created children", path)
        shutil.rmtree(path)

    # rtslib's modules use `os.mkdir`/`os.rmdir` through their own `os` name.
    shim = SimpleNamespace(**{name: getattr(os, name) for name in dir(os) if not name.startswith("__")})
    shim.mkdir = mkdir
    shim.rmdir = rmdir
    shim.path = os.path
    node.os = shim  # type: ignore[attr-defined]

    real_fwrite = utils.fwrite

    def fwrite(path: str, string: str) -> None:
        path = str(path)
        if not path.startswith(tree + "/"):
            real_fwrite(path, string)
            return
        if not os.path.isfile(path):
            raise OSError(errno.ENOENT, "configfs cannot create attribute files", path)
        value = str(string)
        if path.endswith("/wwn/vpd_unit_serial"):
            value = f"T10 VPD Unit Serial Number: {value.strip()}\n"
        elif path.endswith("/control"):
            match = re.search(r"udev_path=(\S+)", value)
            if match:
                real_fwrite(os.path.join(os.path.dirname(path), "udev_path"), match.group(1))
        elif re.search(r"/core/[^/]+/[^/]+/enable$", path) and value.strip() == "1":
            info = "Status: ACTIVATED  Max Queue Depth: 128  SectorSize: 512  HwMaxSectors: 128\n"
            info += "        iBlock device: zd0  Major: 230 Minor: 0  CLAIMED: IBLOCK\n        readonly: 0"
            real_fwrite(os.path.join(os.path.dirname(path), "info"), info)
        real_fwrite(path, value)

    for module in (utils, node, tcm, target, fabric, root):
        if hasattr(module, "fwrite"):
            module.fwrite = fwrite  # type: ignore[attr-defined]

    def no_kernel_module(*_args: object) -> None:
        return None

    root.mount_configfs = no_kernel_module  # type: ignore[attr-defined]
    root.modprobe = no_kernel_module  # type: ignore[attr-defined]
    fabric.modprobe = no_kernel_module  # type: ignore[attr-defined]
    tcm.get_blockdev_type = lambda path: 0 if os.path.exists(path) else None  # type: ignore[attr-defined]
    tcm.is_dev_in_use = lambda path: _claimed(tree, str(path))  # type: ignore[attr-defined]
    # A lock file rtslib takes while numbering backstores; keep it in the test's state.
    tcm.lock_file = os.path.join(base, "rtslib_backstore.lock")  # type: ignore[attr-defined]
