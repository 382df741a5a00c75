"""The reconcile plan: desired vs actual state -> the ordered steps that turn one into the other.

Order matters on a live target: removals first (a renamed zvol's old backstore must release the device
before the new one claims it, a LUN number must be free before it is reused), then creation from the
bottom up (target, TPG, backstores, LUNs, ACLs with their CHAP and mapped LUNs, TPG CHAP and
attributes, portals), and the TPG is enabled last so no initiator logs in to a half-built TPG.
Only objects this resource owns are ever removed: its own TPG's contents, and backstores of its
datasets' zvols that no LUN outside its TPG still uses.

Each step has a scope: "lun" steps follow zvols appearing and vanishing (the sync monitor performs);
"target" steps change the TPG itself (start and reload-agent perform; monitor reports them as drift).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from zfsha.lio.chap import Chap
from zfsha.lio.model import Backstore, LioState, Ownership, Portal, Tpg

LUN_SCOPE = "lun"
TARGET_SCOPE = "target"


@dataclass(frozen=True)
class Step:
    """One change to the target. `describe()` names it for logs; secrets are never part of it."""

    action: str
    scope: str
    backstore: Backstore | None = None
    name: str = ""
    lun: int | None = None
    mapped_lun: int | None = None
    initiator: str = ""
    chap: Chap | None = None
    portal: Portal | None = None
    attribute: tuple[str, str] | None = None

    def describe(self) -> str:
        parts = [self.action.replace("_", " ")]
        if self.name:
            parts.append(self.name)
        if self.backstore is not None:
            parts.append(f"{self.backstore.name} ({self.backstore.device}, serial {self.backstore.serial})")
        if self.initiator:
            parts.append(f"for {self.initiator}")
        if self.mapped_lun is not None:
            parts.append(f"mapped LUN {self.mapped_lun}")
        if self.lun is not None:
            parts.append(f"LUN {self.lun}")
        if self.portal is not None:
            parts.append(str(self.portal))
        if self.attribute is not None:
            parts.append(f"{self.attribute[0]}={self.attribute[1]}")
        if self.action.endswith("_chap"):
            parts.append("(cleared)" if self.chap is None else f"(userid {self.chap.userid})")
        return " ".join(parts)


def _step(action: str, scope: str = TARGET_SCOPE, **fields: object) -> Step:
    return Step(action, scope, **fields)  # type: ignore[arg-type]


def _owned_names(actual: LioState, desired: LioState, own: Ownership) -> set[str]:
    return set(desired.backstores) | {name for name, b in actual.backstores.items() if own.owns(b)}


def reconcile(desired: LioState, actual: LioState, own: Ownership) -> list[Step]:
    """Steps that make the actual state the desired one, touching only what `own` owns."""
    want = desired.tpg
    if want is None:
        raise ValueError("desired state without a TPG")
    have = actual.tpg or Tpg(want.target, want.tag)
    owned = _owned_names(actual, desired, own)
    removals: list[Step] = []
    creations: list[Step] = []

    # Backstores whose device or serial differ are replaced (a serial cannot change while exported).
    replaced = {
        name
        for name, wanted in desired.backstores.items()
        if name in actual.backstores
        and (actual.backstores[name].device, actual.backstores[name].serial) != (wanted.device, wanted.serial)
        and not actual.outside_users.get(name)
    }
    stale = sorted(
        name
        for name, b in actual.backstores.items()
        if own.owns(b) and name not in desired.backstores and not actual.outside_users.get(name)
    )

    doomed_luns = {
        number
        for number, backstore in have.luns.items()
        if backstore in owned and (want.luns.get(number) != backstore or backstore in replaced or backstore in stale)
    }
    # A LUN we do not manage sitting on a number we want is left alone; identity assignment avoids it.
    for initiator, acl in sorted(have.acls.items()):
        if initiator not in want.acls:
            removals.append(_step("delete_acl", initiator=initiator))
            continue
        wanted_mapped = want.acls[initiator].mapped_luns
        for mapped, tpg_lun in sorted(acl.mapped_luns):
            if tpg_lun in doomed_luns and tpg_lun in have.luns and have.luns[tpg_lun] in owned:
                continue  # goes with its LUN
            if (mapped, tpg_lun) not in wanted_mapped:
                removals.append(_step("delete_mapped_lun", LUN_SCOPE, initiator=initiator, mapped_lun=mapped, lun=tpg_lun))
    removals.extend(_step("delete_lun", LUN_SCOPE, lun=number, name=have.luns[number]) for number in sorted(doomed_luns))
    removals.extend(_step("delete_portal", portal=portal) for portal in sorted(have.portals - want.portals))
    removals.extend(_step("delete_backstore", LUN_SCOPE, name=name) for name in [*stale, *sorted(replaced)])

    if not actual.target_exists:
        creations.append(_step("create_target", name=want.target))
    if actual.tpg is None:
        creations.append(_step("create_tpg", name=f"{want.target} tpg {want.tag}"))
    for name, wanted in sorted(desired.backstores.items()):
        existing = actual.backstores.get(name)
        if existing is None or name in replaced:
            creations.append(_step("create_backstore", LUN_SCOPE, backstore=wanted))
            current: dict[str, str] = {}
        else:
            current = dict(existing.attributes)
        for key, value in wanted.attributes:
            if current.get(key) != value:
                creations.append(_step("set_backstore_attribute", LUN_SCOPE, name=name, attribute=(key, value)))
    for number, backstore in sorted(want.luns.items()):
        if number in doomed_luns or have.luns.get(number) != backstore:
            creations.append(_step("create_lun", LUN_SCOPE, lun=number, name=backstore))
    for initiator, acl in sorted(want.acls.items()):
        existing_acl = have.acls.get(initiator)
        if existing_acl is None:
            creations.append(_step("create_acl", initiator=initiator))
        if (existing_acl.chap if existing_acl else None) != acl.chap:
            creations.append(_step("set_acl_chap", initiator=initiator, chap=acl.chap))
        present = set() if existing_acl is None else existing_acl.mapped_luns
        for mapped, tpg_lun in sorted(acl.mapped_luns):
            if (mapped, tpg_lun) not in present or tpg_lun in doomed_luns:
                creations.append(_step("create_mapped_lun", LUN_SCOPE, initiator=initiator, mapped_lun=mapped, lun=tpg_lun))
    if have.chap != want.chap:
        creations.append(_step("set_tpg_chap", chap=want.chap))
    for key, value in sorted(want.attributes.items()):
        if have.attributes.get(key) != value:
            creations.append(_step("set_tpg_attribute", attribute=(key, value)))
    creations.extend(_step("create_portal", portal=portal) for portal in sorted(want.portals - have.portals))
    if not have.enabled:
        creations.append(_step("enable_tpg", name=f"{want.target} tpg {want.tag}"))
    return removals + creations


def teardown(actual: LioState, own: Ownership, target: str, tag: int) -> list[Step]:
    """Steps that remove everything this resource owns, so the backstores release the zvols."""
    steps: list[Step] = []
    if actual.tpg is not None:
        if actual.tpg.enabled:
            steps.append(_step("disable_tpg", name=f"{target} tpg {tag}"))
        steps.append(_step("delete_tpg", name=f"{target} tpg {tag}"))
    steps.extend(
        _step("delete_backstore", LUN_SCOPE, name=name)
        for name, backstore in sorted(actual.backstores.items())
        if own.owns(backstore) and not actual.outside_users.get(name)
    )
    if actual.target_exists and not actual.other_tpgs:
        steps.append(_step("delete_target", name=target))
    return steps


def held_elsewhere(actual: LioState, own: Ownership) -> list[str]:
    """Our backstores that LUNs outside our TPG still use (they keep their zvols open)."""
    return sorted(name for name, b in actual.backstores.items() if own.owns(b) and actual.outside_users.get(name))


def hidden_until_enabled(steps: Sequence[Step]) -> bool:
    """Steps that build a TPG no initiator can use before their last one enables it: they end with
    enable_tpg and remove or disable nothing (a TPG not enabled yet takes no logins)."""
    if not steps or steps[-1].action != "enable_tpg":
        return False
    return not any(step.action.startswith(("delete_", "disable_")) for step in steps)


def only(steps: Iterable[Step], scope: str) -> list[Step]:
    return [step for step in steps if step.scope == scope]
