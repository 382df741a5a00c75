"""The resource's parameters, parsed and checked: syntax first (touching nothing), secrets on demand."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass

from zfsha.errors import ConfigError
from zfsha.lio import chap
from zfsha.lio.model import DEFAULT_PORT, Ownership, Portal
from zfsha.zvol import check_dataset_name

ACL_MODES = ("acls", "generate")
# rtslib's own test (normalize_wwn): iqn.YYYY-MM.<something with a dot>, no spaces, no underscores.
_IQN = re.compile(r"^iqn\.[0-9]{4}-[0-1][0-9]\.[^\s_]*\.[^\s_]*$")
_EUI = re.compile(r"^eui\.[0-9a-f]{16}$")
_NAA = re.compile(r"^naa\.[125][0-9a-f]{15}$")
# LIO mapped LUNs are 0-255; without node ACLs a TPG LUN may go to 65535.
MAX_MAPPED_LUN = 255
MAX_TPG_LUN = 65535
# Attributes of every exported LU: UNMAP and WRITE SAME with UNMAP, so thin zvols stay thin.
THIN_ATTRIBUTES = (("emulate_tpu", "1"), ("emulate_tpws", "1"))


def check_wwn(name: str, what: str) -> str:
    """An iSCSI name as rtslib accepts it, lower-cased as rtslib stores it."""
    wwn = name.strip().lower()
    if not (_IQN.match(wwn) or _EUI.match(wwn) or _NAA.match(wwn)):
        raise ConfigError(
            f"{what} {name!r} is not an iSCSI name rtslib accepts (iqn.YYYY-MM.reversed.domain[:id], no '_'; or eui./naa.)"
        )
    return wwn


def parse_portal(text: str) -> Portal:
    """addr, addr:port, [v6addr] or [v6addr]:port."""
    address, port = text, str(DEFAULT_PORT)
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ConfigError(f"portal {text!r}: missing ']'")
        address, rest = text[1:end], text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise ConfigError(f"portal {text!r}: expected [address]:port")
            port = rest[1:]
    elif text.count(":") == 1:
        address, port = text.split(":")
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise ConfigError(f"portal {text!r}: {address!r} is not an IP address") from None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"portal {text!r}: port must be 1-65535")
    shown = f"[{ip.compressed}]" if ip.version == 6 else ip.compressed
    return Portal(shown, int(port))


def split_list(raw: str | None) -> list[str]:
    return [item for item in re.split(r"[\s,]+", raw or "") if item]


@dataclass(frozen=True)
class Initiator:
    iqn: str
    chap_file: str | None


@dataclass(frozen=True)
class LioConfig:
    target_iqn: str
    tpg: int
    portals: tuple[Portal, ...]
    datasets: tuple[str, ...]
    acl_mode: str
    initiators: tuple[Initiator, ...]
    chap_file: str | None
    unmap: bool

    @property
    def ownership(self) -> Ownership:
        return Ownership(self.datasets)

    @property
    def max_lun(self) -> int:
        return MAX_MAPPED_LUN if self.acl_mode == "acls" else MAX_TPG_LUN

    @property
    def uses_chap(self) -> bool:
        return bool(self.chap_file) or any(i.chap_file for i in self.initiators)

    def lu_attributes(self) -> tuple[tuple[str, str], ...]:
        return THIN_ATTRIBUTES if self.unmap else (("emulate_tpu", "0"), ("emulate_tpws", "0"))


def parse(params: Mapping[str, object]) -> LioConfig:
    """Check the parameters' syntax and consistency; reads no file and runs nothing."""
    target_iqn = check_wwn(str(params["target_iqn"] or ""), "target_iqn")
    portals = tuple(parse_portal(p) for p in split_list(str(params.get("portals") or "")))
    if not portals:
        raise ConfigError("portals must list at least one address[:port]")
    if len(set(portals)) != len(portals):
        raise ConfigError("portals lists an address:port twice")
    datasets = tuple(split_list(str(params.get("datasets") or "")))
    if not datasets:
        raise ConfigError("datasets must name at least one dataset holding zvols")
    for dataset in datasets:
        check_dataset_name(dataset)
    for dataset in datasets:
        for other in datasets:
            if other != dataset and other.startswith(dataset + "/"):
                raise ConfigError(f"datasets {dataset} and {other} overlap; list only {dataset}")
    acl_mode = str(params.get("acl_mode") or "acls")
    if acl_mode not in ACL_MODES:
        raise ConfigError(f"acl_mode must be one of {', '.join(ACL_MODES)}")
    initiators = []
    for item in split_list(str(params.get("initiators") or "")):
        iqn, sep, path = item.partition("=")
        if sep and not path.startswith("/"):
            raise ConfigError(f"initiators: CHAP file of {iqn} must be an absolute path")
        initiators.append(Initiator(check_wwn(iqn, "initiator"), path or None))
    if len({i.iqn for i in initiators}) != len(initiators):
        raise ConfigError("initiators lists an initiator twice")
    chap_file = str(params.get("chap_file") or "") or None
    if chap_file and not chap_file.startswith("/"):
        raise ConfigError("chap_file must be an absolute path")
    if acl_mode == "acls":
        if not initiators:
            raise ConfigError("acl_mode=acls needs at least one initiator in initiators (or use acl_mode=generate)")
        with_chap = [i for i in initiators if i.chap_file or chap_file]
        if with_chap and len(with_chap) != len(initiators):
            raise ConfigError("either every initiator has CHAP credentials (its own file or chap_file) or none has")
    elif initiators:
        raise ConfigError("acl_mode=generate admits every initiator; leave initiators empty (or use acl_mode=acls)")
    return LioConfig(
        target_iqn=target_iqn,
        tpg=int(params.get("tpg") or 1),  # type: ignore[call-overload]
        portals=portals,
        datasets=datasets,
        acl_mode=acl_mode,
        initiators=tuple(initiators),
        chap_file=chap_file,
        unmap=bool(params.get("unmap", True)),
    )


@dataclass(frozen=True)
class Credentials:
    """CHAP credentials read from the files: per initiator (ACL mode) and for the TPG (generate mode)."""

    per_initiator: Mapping[str, chap.Chap]
    tpg: chap.Chap | None


def load_credentials(config: LioConfig) -> Credentials:
    default = chap.load(config.chap_file) if config.chap_file else None
    if config.acl_mode == "generate":
        return Credentials({}, default)
    per_initiator = {}
    for initiator in config.initiators:
        credential = chap.load(initiator.chap_file) if initiator.chap_file else default
        if credential is not None:
            per_initiator[initiator.iqn] = credential
    return Credentials(per_initiator, None)
