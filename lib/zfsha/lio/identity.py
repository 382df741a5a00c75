"""The SCSI identity of each zvol: its LUN number and unit serial, stable across failover.

Rules, in order of precedence:
1. What initiators see right now wins: a zvol already exported in our TPG keeps its live LUN number
   and serial (nothing is ever renumbered under a connected initiator), and the zvol's stored identity
   is updated to match (this adopts LUNs the Proxmox plugin created by itself).
2. Otherwise the identity stored on the zvol (zfsha:lun, zfsha:serial) is used, so after a failover
   the other node exports the same disk under the same number and serial.
3. Otherwise the lowest free LUN number and a new random serial, which are then stored on the zvol.
Two zvols can carry the same stored identity (`zfs send -p` copies properties, a property set on a
parent is inherited): the one exported live, else the first by name, keeps it; the other gets a new
one. A serial is never reused while a backstore outside this resource's zvols carries it: two disks
with one serial would be merged by multipath.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from zfsha.lio.model import LioState, Ownership
from zfsha.zvol import Zvol


@dataclass(frozen=True)
class Identity:
    lun: int
    serial: str


@dataclass(frozen=True)
class Assignment:
    identities: Mapping[str, Identity]
    # zvol name -> identity to store on it (differs from what it carries)
    to_store: Mapping[str, Identity]
    # zvols left out, with why (no free LUN number, name collision)
    skipped: Mapping[str, str]


def new_serial() -> str:
    return str(uuid.uuid4())


def assign(
    zvols: Sequence[Zvol],
    own: Ownership,
    actual: LioState,
    max_lun: int,
    make_serial: Callable[[], str] = new_serial,
) -> Assignment:
    skipped: dict[str, str] = {}
    by_backstore: dict[str, Zvol] = {}
    for zvol in sorted(zvols, key=lambda z: z.name):
        name = own.backstore_name(zvol.name)
        if name in by_backstore:
            skipped[zvol.name] = f"its backstore name {name} collides with {by_backstore[name].name}"
            continue
        by_backstore[name] = zvol

    live_luns: dict[str, list[int]] = {}
    taken_luns: set[int] = set()
    # Numbers of LUNs about to be removed: a renamed zvol may take its number back, but a new zvol
    # does not get it in the same pass (an initiator would see another disk at a number it just used).
    vanishing: set[int] = set()
    tpg = actual.tpg
    for number, backstore in sorted((tpg.luns if tpg else {}).items()):
        if backstore in by_backstore:
            live_luns.setdefault(backstore, []).append(number)
        elif backstore in actual.backstores and own.owns(actual.backstores[backstore]):
            vanishing.add(number)
        else:
            taken_luns.add(number)  # a LUN we do not manage keeps its number
    # Serials of backstores that stay (not ours to replace or remove) cannot be handed out.
    claimed = {b.serial for name, b in actual.backstores.items() if name not in by_backstore and not own.owns(b) and b.serial}

    def live_backstore(zvol: Zvol, name: str):  # type: ignore[no-untyped-def]
        live = actual.backstores.get(name)
        return live if live is not None and live.device == zvol.device else None

    # Live first, then those with a stored identity, then new ones; by name within each group.
    def rank(item: tuple[str, Zvol]) -> tuple[int, str]:
        name, zvol = item
        if name in live_luns or live_backstore(zvol, name) is not None:
            return (0, zvol.name)
        return (1 if zvol.lun is not None or zvol.serial else 2, zvol.name)

    identities: dict[str, Identity] = {}
    for name, zvol in sorted(by_backstore.items(), key=rank):
        live = live_backstore(zvol, name)
        serial = None
        for candidate in (live.serial if live else None, zvol.serial):
            if candidate and candidate not in claimed:
                serial = candidate
                break
        while serial is None or serial in claimed:
            serial = make_serial()
        lun = None
        numbers = live_luns.get(name, [])
        candidates = ([zvol.lun] if zvol.lun in numbers else []) + numbers + ([zvol.lun] if zvol.lun is not None else [])
        for candidate in candidates:
            if candidate is not None and candidate <= max_lun and candidate not in taken_luns:
                lun = candidate
                break
        if lun is None:
            lun = next((n for n in range(max_lun + 1) if n not in taken_luns and n not in vanishing), None)
        if lun is None:
            skipped[zvol.name] = f"no free LUN number up to {max_lun}"
            continue
        claimed.add(serial)
        taken_luns.add(lun)
        identities[zvol.name] = Identity(lun, serial)

    to_store = {
        zvol.name: identities[zvol.name]
        for zvol in zvols
        if zvol.name in identities and (zvol.lun, zvol.serial) != (identities[zvol.name].lun, identities[zvol.name].serial)
    }
    return Assignment(identities, to_store, skipped)
