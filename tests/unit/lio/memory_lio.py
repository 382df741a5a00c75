"""LIO's semantics for plan steps, on plain values: lets tests check that a plan reaches its goal.

Mirrors what rtslib and the kernel do that matters to ordering: deleting a LUN deletes the mapped LUNs
that point at it, deleting an ACL or TPG deletes what is inside, a backstore cannot be deleted while a
LUN exports it, a LUN or mapped LUN cannot be created twice or point at something missing.
"""

from __future__ import annotations

from dataclasses import replace

from zfsha.lio.model import Acl, LioState, Tpg
from zfsha.lio.plan import Step


class Refused(Exception):
    pass


def apply(state: LioState, steps: list[Step], target: str, tag: int) -> LioState:
    tpg = state.tpg
    backstores = dict(state.backstores)
    target_exists = state.target_exists
    for step in steps:
        a = step.action
        if a == "create_target":
            if target_exists:
                raise Refused("target exists")
            target_exists = True
        elif a == "create_tpg":
            if tpg is not None or not target_exists:
                raise Refused("tpg exists or no target")
            tpg = Tpg(target, tag, attributes={"authentication": "1", "generate_node_acls": "0", "cache_dynamic_acls": "0"})
        elif a == "delete_target":
            if tpg is not None:
                raise Refused("target still has our tpg")
            target_exists = False
        elif a == "create_backstore":
            assert step.backstore is not None
            if step.backstore.name in backstores:
                raise Refused(f"backstore {step.backstore.name} exists")
            if any(b.device == step.backstore.device for b in backstores.values()):
                raise Refused(f"device {step.backstore.device} in use")
            backstores[step.backstore.name] = replace(step.backstore, attributes=())
        elif a == "set_backstore_attribute":
            assert step.attribute is not None
            current = dict(backstores[step.name].attributes)
            current[step.attribute[0]] = step.attribute[1]
            backstores[step.name] = replace(backstores[step.name], attributes=tuple(sorted(current.items())))
        elif a == "delete_backstore":
            if step.name not in backstores:
                raise Refused("no such backstore")
            if tpg is not None and step.name in tpg.luns.values():
                raise Refused(f"backstore {step.name} still exported")
            del backstores[step.name]
        elif tpg is None:
            raise Refused(f"{a} without a tpg")
        elif a == "create_lun":
            if step.lun in tpg.luns or step.name not in backstores:
                raise Refused(f"LUN {step.lun} exists or backstore missing")
            tpg = replace(tpg, luns={**tpg.luns, step.lun: step.name})
        elif a == "delete_lun":
            luns = dict(tpg.luns)
            del luns[step.lun]
            acls = {
                i: replace(acl, mapped_luns=frozenset(m for m in acl.mapped_luns if m[1] != step.lun))
                for i, acl in tpg.acls.items()
            }
            tpg = replace(tpg, luns=luns, acls=acls)
        elif a == "create_acl":
            if step.initiator in tpg.acls:
                raise Refused("acl exists")
            tpg = replace(tpg, acls={**tpg.acls, step.initiator: Acl(step.initiator)})
        elif a == "delete_acl":
            tpg = replace(tpg, acls={i: acl for i, acl in tpg.acls.items() if i != step.initiator})
        elif a == "set_acl_chap":
            acl = tpg.acls[step.initiator]
            tpg = replace(tpg, acls={**tpg.acls, step.initiator: replace(acl, chap=step.chap)})
        elif a == "create_mapped_lun":
            acl = tpg.acls[step.initiator]
            if step.lun not in tpg.luns or any(m[0] == step.mapped_lun for m in acl.mapped_luns):
                raise Refused("mapped LUN exists or TPG LUN missing")
            updated = replace(acl, mapped_luns=acl.mapped_luns | {(step.mapped_lun, step.lun)})
            tpg = replace(tpg, acls={**tpg.acls, step.initiator: updated})
        elif a == "delete_mapped_lun":
            acl = tpg.acls[step.initiator]
            updated = replace(acl, mapped_luns=frozenset(m for m in acl.mapped_luns if m[0] != step.mapped_lun))
            tpg = replace(tpg, acls={**tpg.acls, step.initiator: updated})
        elif a == "set_tpg_chap":
            tpg = replace(tpg, chap=step.chap)
        elif a == "set_tpg_attribute":
            assert step.attribute is not None
            tpg = replace(tpg, attributes={**tpg.attributes, step.attribute[0]: step.attribute[1]})
        elif a == "create_portal":
            if step.portal in tpg.portals:
                raise Refused("portal exists")
            tpg = replace(tpg, portals=tpg.portals | {step.portal})
        elif a == "delete_portal":
            tpg = replace(tpg, portals=tpg.portals - {step.portal})
        elif a == "enable_tpg":
            tpg = replace(tpg, enabled=True)
        elif a == "disable_tpg":
            tpg = replace(tpg, enabled=False)
        elif a == "delete_tpg":
            tpg = None
        else:
            raise AssertionError(f"unknown action {a}")
    return replace(state, tpg=tpg, backstores=backstores, target_exists=target_exists)
