"""The state the target should have, from the parameters, the zvols and their identities."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from zfsha.lio.config import Credentials, LioConfig
from zfsha.lio.identity import Identity
from zfsha.lio.model import Acl, Backstore, LioState, Tpg
from zfsha.zvol import Zvol


def tpg_attributes(config: LioConfig) -> dict[str, str]:
    """ACL mode: only listed initiators. Generate mode (what the Proxmox plugin expects): every
    initiator gets a dynamic ACL with all LUNs writable, remembered across logins."""
    authentication = "1" if config.uses_chap else "0"
    if config.acl_mode == "generate":
        return {
            "generate_node_acls": "1",
            "cache_dynamic_acls": "1",
            "demo_mode_write_protect": "0",
            "authentication": authentication,
        }
    return {"generate_node_acls": "0", "cache_dynamic_acls": "0", "authentication": authentication}


def build(config: LioConfig, zvols: Sequence[Zvol], identities: Mapping[str, Identity], credentials: Credentials) -> LioState:
    own = config.ownership
    backstores: dict[str, Backstore] = {}
    luns: dict[int, str] = {}
    for zvol in zvols:
        identity = identities.get(zvol.name)
        if identity is None:
            continue
        name = own.backstore_name(zvol.name)
        backstores[name] = Backstore(name, zvol.device, identity.serial, config.lu_attributes())
        luns[identity.lun] = name
    acls: dict[str, Acl] = {}
    if config.acl_mode == "acls":
        mapped = frozenset((number, number) for number in luns)
        for initiator in config.initiators:
            acls[initiator.iqn] = Acl(initiator.iqn, credentials.per_initiator.get(initiator.iqn), mapped)
    tpg = Tpg(
        target=config.target_iqn,
        tag=config.tpg,
        enabled=True,
        portals=frozenset(config.portals),
        luns=luns,
        acls=acls,
        attributes=tpg_attributes(config),
        chap=credentials.tpg,
    )
    return LioState(tpg=tpg, backstores=backstores, target_exists=True)
