"""lio-sync-luns' steady monitor: nothing it exports has changed since a full reconcile found nothing to do.

The full monitor reads the target through rtslib, lists the zvols and their stored identities with
zfs, and plans. When the plan is empty and nothing is wrong it remembers what it saw, in terms that
cost a few file reads (observed()): its parameters, the CHAP files' inode, size and mtime, the zvol
device nodes below its datasets, and its TPG's shape in configfs (enabled, portals, each LUN's
storage object and that object's device, each ACL's mapped LUNs). A recurring depth-0 monitor that
observes the same within STEADY_SECONDS answers 0 without loading rtslib or running zfs. What these
terms do not show (an attribute or a CHAP value set by hand with targetcli, a zfsha:lun property
edited by hand, a new zvol whose device node never appears) the next full monitor finds, at most
STEADY_SECONDS later.
"""

from __future__ import annotations

import posix  # os's own backend: the steady path does not import os (zfsha.steady)

from zfsha.paths import memo_name, zvol_device_root
from zfsha.steady import recall

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

# How long a full reconcile's observation answers steady monitors (the default monitor runs every 30 s).
STEADY_SECONDS = 300.0
PARAM_PREFIX = "OCF_RESKEY_"
META_PREFIX = "OCF_RESKEY_CRM_meta_"


def _target_and_tag(environ: Mapping[str, str]) -> tuple[str, str]:
    """The resource's unique group: its target's IQN and its TPG's tag (1 when unset)."""
    return environ.get("OCF_RESKEY_target_iqn", ""), environ.get("OCF_RESKEY_tpg") or "1"


def memo_of(environ: Mapping[str, str]) -> str:
    """One memo per TPG."""
    return memo_name("lio-steady", "-".join(_target_and_tag(environ)))


def observed(environ: Mapping[str, str], configfs: str) -> str:
    """What a steady check compares, one fact a line."""
    params = sorted((k, v) for k, v in environ.items() if k.startswith(PARAM_PREFIX) and not k.startswith(META_PREFIX))
    lines = [f"configfs {configfs}", *(f"param {key}={value}" for key, value in params)]
    lines += [f"file {path} {stamp}" for path, stamp in _credential_stamps(environ)]
    for dataset in sorted(set(environ.get("OCF_RESKEY_datasets", "").split())):
        lines += [f"zvol {path} {device}" for path, device in _device_nodes(f"{zvol_device_root(environ)}/{dataset}")]
    target, tag = _target_and_tag(environ)
    lines += list(_tpg_shape(f"{configfs}/iscsi/{target}/tpgt_{tag}"))
    return "\n".join(lines)


def luns_as_before(environ: Mapping[str, str]) -> bool:
    remembered = recall(memo_of(environ), STEADY_SECONDS, environ)
    if remembered is None or not remembered.startswith("configfs "):
        return False
    configfs = remembered.partition("\n")[0][len("configfs ") :]
    return observed(environ, configfs) == remembered


def _credential_stamps(environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """(path, inode:size:mtime) of every CHAP file the parameters name; no secret is read."""
    paths = [environ.get("OCF_RESKEY_chap_file", "")]
    paths += [word.partition("=")[2] for word in environ.get("OCF_RESKEY_initiators", "").split()]
    stamps = []
    for path in sorted({path for path in paths if path}):
        try:
            stat = posix.stat(path)
            stamps.append((path, f"{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}"))
        except OSError as err:
            stamps.append((path, f"error {err.errno}"))
    return stamps


def _device_nodes(directory: str) -> Iterator[tuple[str, str]]:
    """(path, link target) of every entry below a dataset's zvol directory (udev's links), depth first."""
    try:
        entries = sorted(posix.scandir(directory), key=lambda entry: entry.name)
    except FileNotFoundError:
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            yield from _device_nodes(entry.path)
        else:
            yield entry.path, posix.readlink(entry.path) if entry.is_symlink() else "-"


def _read(path: str) -> str:
    """A small configfs attribute, stripped. Plain posix calls: a TextIOWrapper per LUN cost more
    than the rest of a LUN's reads together."""
    fd = posix.open(path, posix.O_RDONLY)
    try:
        return posix.read(fd, 4096).strip().decode(errors="replace")
    finally:
        posix.close(fd)


def _tpg_shape(tpg: str) -> Iterator[str]:
    yield f"enable {_read(f'{tpg}/enable')}"  # no TPG: OSError, never steady
    yield f"portals {' '.join(sorted(posix.listdir(f'{tpg}/np')))}"
    for lun in sorted(posix.listdir(f"{tpg}/lun")):
        for entry in posix.scandir(f"{tpg}/lun/{lun}"):
            if entry.is_symlink():
                yield f"lun {lun} {entry.name} {posix.readlink(entry.path)} {_read(f'{entry.path}/udev_path')}"
    for acl in sorted(posix.listdir(f"{tpg}/acls")):
        mapped = sorted(name for name in posix.listdir(f"{tpg}/acls/{acl}") if name.startswith("lun_"))
        yield f"acl {acl} {' '.join(mapped)}"
