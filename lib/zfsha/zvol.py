"""ZFS volumes: discovery under datasets, their stable SCSI identity, and their device nodes.

The identity an initiator sees (LUN number, unit serial) is stored on the zvol itself as ZFS user
properties, so it travels with the pool to whichever node imports it.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from zfsha import deadline, run
from zfsha.errors import CommandFailed, ConfigError, GenericError, one_line
from zfsha.paths import zvol_device_root as device_root

LUN_PROPERTY = "zfsha:lun"
SERIAL_PROPERTY = "zfsha:serial"
LIST_COLUMNS = ("name", "volsize", "volblocksize", "volmode", LUN_PROPERTY, SERIAL_PROPERTY)
_DATASET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*(/[A-Za-z0-9_.: -]+)*$")
_SERIAL = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.:_-]{0,63}$")


def check_dataset_name(name: str) -> None:
    if not _DATASET.match(name) or name.endswith("/") or "//" in name:
        raise ConfigError(f"{name!r} is not a ZFS dataset name")


def valid_serial(serial: str) -> bool:
    return bool(_SERIAL.match(serial))


@dataclass(frozen=True)
class Zvol:
    """One ZFS volume and the identity stored on it (None where nothing is stored yet)."""

    name: str
    volsize: int
    volblocksize: int
    lun: int | None = None
    serial: str | None = None

    @property
    def device(self) -> str:
        return f"{device_root()}/{self.name}"


def _stored_lun(raw: str) -> int | None:
    try:
        number = int(raw)
    except ValueError:
        return None
    return number if number >= 0 else None


def parse_list(output: str) -> list[Zvol]:
    """Parse `zfs list -H -p -o <LIST_COLUMNS>`; volumes without a device node (volmode=none) are skipped."""
    zvols = []
    for line in output.splitlines():
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(LIST_COLUMNS):
            raise GenericError(f"unexpected zfs list output line: {line!r}")
        name, volsize, volblocksize, volmode, lun, serial = fields
        if volmode == "none":
            continue
        zvols.append(
            Zvol(
                name=name,
                volsize=int(volsize),
                volblocksize=int(volblocksize),
                lun=_stored_lun(lun) if lun != "-" else None,
                serial=serial if serial != "-" and valid_serial(serial) else None,
            )
        )
    return zvols


def discover(datasets: Sequence[str]) -> list[Zvol]:
    """Every volume at or below the datasets, sorted by name."""
    done = run.run(["zfs", "list", "-H", "-p", "-r", "-t", "volume", "-o", ",".join(LIST_COLUMNS), *datasets], timeout=30)
    return sorted(parse_list(done.stdout), key=lambda zvol: zvol.name)


def datasets_missing(datasets: Sequence[str]) -> list[str]:
    """The datasets that do not exist (validate: a typo should read as one, not as 'no LUNs')."""
    missing = []
    for dataset in datasets:
        done = run.run(["zfs", "list", "-H", "-o", "name", dataset], check=False, timeout=30)
        if done.returncode != 0:
            missing.append(dataset)
    return missing


# One channel program per pool stores every new identity: one process and one txg sync instead of a
# `zfs set` (and its sync) per zvol. It checks every change before making any, so a refusal leaves
# nothing half stored. argv: the two property names, then name, LUN, serial per zvol.
STORE_PROGRAM = """
local argv = (...)["argv"]
local lun_property, serial_property = argv[1], argv[2]
for i = 3, #argv, 3 do
    for _, pair in ipairs({{lun_property, argv[i + 1]}, {serial_property, argv[i + 2]}}) do
        local err = zfs.check.set_prop(argv[i], pair[1], pair[2])
        if err ~= 0 then
            error("cannot set " .. pair[1] .. " on " .. argv[i] .. ": error " .. err)
        end
    end
end
for i = 3, #argv, 3 do
    zfs.sync.set_prop(argv[i], lun_property, argv[i + 1])
    zfs.sync.set_prop(argv[i], serial_property, argv[i + 2])
end
"""


def refusal(stderr: str) -> str | None:
    """STORE_PROGRAM's own reason, with the errno named: "cannot set P on NAME: <strerror>"."""
    found = re.search(r"(cannot set \S+ on .+): error (\d+)", stderr)
    return None if found is None else f"{found.group(1)}: {os.strerror(int(found.group(2)))}"


def store_identities(identities: Mapping[str, tuple[int, str]]) -> None:
    """Write identities (zvol name -> LUN, serial) onto the zvols, so every later export (any node)
    reuses them: one `zfs program` per pool, from standard input."""
    by_pool: dict[str, list[str]] = {}
    for name, (lun, serial) in sorted(identities.items()):
        by_pool.setdefault(name.split("/", 1)[0], []).extend((name, str(lun), serial))
    for pool, triples in sorted(by_pool.items()):
        argv = ["zfs", "program", pool, "-", LUN_PROPERTY, SERIAL_PROPERTY, *triples]
        try:
            run.run(argv, input=STORE_PROGRAM, timeout=60)
        except CommandFailed as failed:
            detail = refusal(failed.stderr) or one_line(failed.stderr) or f"exit {failed.returncode}"
            what = f"the LUN numbers and serials of {len(triples) // 3} zvol(s) on pool {pool}"
            raise GenericError(f"storing {what} failed: {detail}") from None


def wait_for_devices(zvols: Iterable[Zvol], timeout: float, poll: float = 0.1) -> list[Zvol]:
    """Wait (bounded by timeout and the action deadline) for device nodes; returns the ones still missing."""
    pending = [zvol for zvol in zvols if not os.path.exists(zvol.device)]
    limit = deadline.current().cap(timeout)
    end = time.monotonic() + (limit if limit is not None else timeout)
    while pending and time.monotonic() < end:
        time.sleep(poll)
        pending = [zvol for zvol in pending if not os.path.exists(zvol.device)]
    return pending
