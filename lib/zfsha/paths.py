"""Where zfsha reads the host's files and keeps its own, with nothing but os.

Every host file the library reads goes through host_path(), so tests can point it at a simulated
root (ZFSHA_SYSROOT, where "{hostname}" stands for this node's name: nodes of a namespace cluster
share a simulator but not their /proc). Light enough for a steady monitor (zfsha.ocf.steady).
"""

from __future__ import annotations

import os

SYSROOT_VARIABLE = "ZFSHA_SYSROOT"
# Where udev links zvols (/dev/zvol/<pool>/<name>); tests point it at a directory of plain files.
ZVOL_DEVICE_ROOT_VARIABLE = "ZFSHA_ZVOL_DEVICE_ROOT"
# /var/run: FreeBSD has no /run, and on Linux /var/run is a link to /run (a tmpfs, cleared at boot).
RUN_DIR = "/var/run/zfsha"
# What a file name in the run directory may hold of a name it is derived from; the rest becomes "_".
_FILE_NAME_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def host_path(path: str) -> str:
    root = os.environ.get(SYSROOT_VARIABLE, "")
    if not root:
        return path
    if "{hostname}" in root:
        root = root.replace("{hostname}", os.uname().nodename)
    return root + path


def zvol_device_root() -> str:
    return os.environ.get(ZVOL_DEVICE_ROOT_VARIABLE, "/dev/zvol")


def run_file(name: str) -> str:
    """A file in the run directory (cleared at boot), without creating the directory."""
    return f"{host_path(RUN_DIR)}/{name}"


def memo_name(kind: str, subject: str) -> str:
    """The run-directory file name of a memo of this kind about `subject` (an attribute, a target):
    letters, digits, _ . - of the subject kept, anything else "_"."""
    return f"{kind}-{''.join(char if char in _FILE_NAME_SAFE else '_' for char in subject)}"
