"""Builders of desired and actual states for the plan tests (no kernel involved)."""

from __future__ import annotations

from zfsha.lio import config as lio_config
from zfsha.lio import desired, identity
from zfsha.lio.chap import Chap
from zfsha.lio.model import Acl, Backstore, LioState, Portal, Tpg
from zfsha.zvol import Zvol

IQN = "iqn.2025-01.lab.zfsha:t1"
ESX = "iqn.1998-01.com.vmware:esx1"
PVE = "iqn.1993-08.org.debian:01:pve1"
DATASET = "tank/iscsi"
THIN = (("emulate_tpu", "1"), ("emulate_tpws", "1"))
ACL_ATTRIBUTES = {"generate_node_acls": "0", "cache_dynamic_acls": "0", "authentication": "0"}


def params(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "target_iqn": IQN,
        "tpg": 1,
        "portals": "169.254.213.10:3260",
        "datasets": DATASET,
        "acl_mode": "acls",
        "initiators": f"{ESX} {PVE}",
        "chap_file": None,
        "unmap": True,
    }
    values.update(overrides)
    return values


def zvol(name: str, lun: int | None = None, serial: str | None = None) -> Zvol:
    return Zvol(f"{DATASET}/{name}", 1 << 30, 16384, lun, serial)


def serials(prefix: str = "new"):  # type: ignore[no-untyped-def]
    counter = iter(range(1000))
    return lambda: f"{prefix}-{next(counter)}"


def want(
    zvols: list[Zvol],
    actual: LioState | None = None,
    credentials: lio_config.Credentials | None = None,
    **overrides: object,
) -> tuple[LioState, identity.Assignment]:
    config = lio_config.parse(params(**overrides))
    actual = actual or LioState(tpg=None)
    assignment = identity.assign(zvols, config.ownership, actual, config.max_lun, serials())
    creds = credentials or lio_config.Credentials({}, None)
    return desired.build(config, zvols, assignment.identities, creds), assignment


def backstore(name: str, serial: str, *, dataset: str = DATASET, attributes=THIN) -> Backstore:  # type: ignore[no-untyped-def]
    return Backstore(f"{dataset.replace('/', '-')}-{name}", f"/dev/zvol/{dataset}/{name}", serial, attributes)


def live(
    backstores: list[Backstore],
    luns: dict[int, str],
    acls: dict[str, Acl] | None = None,
    *,
    enabled: bool = True,
    attributes: dict[str, str] | None = None,
    portals: frozenset[Portal] = frozenset({Portal("169.254.213.10", 3260)}),
    chap: Chap | None = None,
    outside_users: dict[str, int] | None = None,
) -> LioState:
    return LioState(
        tpg=Tpg(IQN, 1, enabled, portals, luns, acls or {}, attributes or dict(ACL_ATTRIBUTES), chap),
        backstores={b.name: b for b in backstores},
        target_exists=True,
        outside_users=outside_users or {},
    )


def mapped(*numbers: int) -> frozenset[tuple[int, int]]:
    return frozenset((n, n) for n in numbers)
