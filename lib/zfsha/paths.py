"""Where zfsha reads the host's files and keeps its own.

Every host file the library reads goes through host_path(), so tests can point it at a simulated
root (ZFSHA_SYSROOT, where "{hostname}" stands for this node's name: nodes of a namespace cluster
share a simulator but not their /proc). A steady monitor (zfsha.steady) uses these without the os
module, whose import is a fifth of its cost: it passes the environment it decoded itself, and the
functions here touch the system only through posix, os's own backend.
"""

from __future__ import annotations

import posix

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

SYSROOT_VARIABLE = "ZFSHA_SYSROOT"
# Where udev links zvols (/dev/zvol/<pool>/<name>); tests point it at a directory of plain files.
ZVOL_DEVICE_ROOT_VARIABLE = "ZFSHA_ZVOL_DEVICE_ROOT"
# /var/run: FreeBSD has no /run, and on Linux /var/run is a link to /run (a tmpfs, cleared at boot).
RUN_DIR = "/var/run/zfsha"
# What a file name in the run directory may hold of a name it is derived from; the rest becomes "_".
_FILE_NAME_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def process_environ() -> Mapping[str, str]:
    import os

    return os.environ


def host_path(path: str, environ: Mapping[str, str] | None = None) -> str:
    root = (environ if environ is not None else process_environ()).get(SYSROOT_VARIABLE, "")
    if not root:
        return path
    if "{hostname}" in root:
        root = root.replace("{hostname}", posix.uname().nodename)
    return root + path


def zvol_device_root(environ: Mapping[str, str] | None = None) -> str:
    return (environ if environ is not None else process_environ()).get(ZVOL_DEVICE_ROOT_VARIABLE, "/dev/zvol")


def run_file(name: str, environ: Mapping[str, str] | None = None) -> str:
    """A file in the run directory (cleared at boot), without creating the directory."""
    return f"{host_path(RUN_DIR, environ)}/{name}"


def exists(path: str) -> bool:
    return posix.access(path, 0)  # F_OK


def memo_name(kind: str, subject: str) -> str:
    """The run-directory file name of a memo of this kind about `subject` (an attribute, a target):
    letters, digits, _ . - of the subject kept, anything else "_"."""
    return f"{kind}-{''.join(char if char in _FILE_NAME_SAFE else '_' for char in subject)}"
