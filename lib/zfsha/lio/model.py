"""The shape of an LIO iSCSI export, used for both the desired and the actual state.

One object per real thing, as in rtslib: a block backstore (storage object), and the target portal
group (TPG) this resource owns with its portals, LUNs and node ACLs. Plain values, so plans can be
computed and tested without a kernel.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

from zfsha.lio.chap import Chap
from zfsha.zvol import device_root

DEFAULT_PORT = 3260


@dataclass(frozen=True, order=True)
class Portal:
    """A network portal; IPv6 addresses are kept in brackets, as rtslib names them in configfs."""

    address: str
    port: int = DEFAULT_PORT

    def __str__(self) -> str:
        return f"{self.address}:{self.port}"

    @property
    def ip(self) -> str:
        return self.address.strip("[]")

    @property
    def is_wildcard(self) -> bool:
        return ipaddress.ip_address(self.ip).is_unspecified


@dataclass(frozen=True)
class Backstore:
    """A block storage object; attributes hold only the ones this agent manages."""

    name: str
    device: str
    serial: str
    attributes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Acl:
    """A node ACL: one initiator, its CHAP credentials, and its mapped LUNs as (mapped LUN, TPG LUN)."""

    initiator: str
    chap: Chap | None = None
    mapped_luns: frozenset[tuple[int, int]] = frozenset()


@dataclass(frozen=True)
class Tpg:
    """The target portal group this resource owns."""

    target: str
    tag: int
    enabled: bool = False
    portals: frozenset[Portal] = frozenset()
    # LUN number -> name of the block backstore behind it ("" when it is not a block backstore).
    luns: Mapping[int, str] = field(default_factory=dict)
    acls: Mapping[str, Acl] = field(default_factory=dict)
    attributes: Mapping[str, str] = field(default_factory=dict)
    # TPG-wide CHAP (generate-node-acls mode); None means no credentials set.
    chap: Chap | None = None


@dataclass(frozen=True)
class LioState:
    """Everything the plan looks at.

    For the actual state, `backstores` holds every block backstore on the node, `outside_users` how
    many LUNs outside this resource's TPG use each, and `other_tpgs` the target's other TPG tags.
    """

    tpg: Tpg | None
    backstores: Mapping[str, Backstore] = field(default_factory=dict)
    target_exists: bool = False
    outside_users: Mapping[str, int] = field(default_factory=dict)
    other_tpgs: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Ownership:
    """Which backstores belong to the zvols of these datasets.

    A backstore is named as the Proxmox ZFS-over-iSCSI LIO plugin names it: the dataset with '/'
    replaced by '-', a '-', then the zvol's path below the dataset (again with '-' for '/'); for a zvol
    directly under the dataset this is exactly the plugin's name, so both manage the same objects. A
    backstore is ours only if its name has one of our prefixes AND its device is a zvol below that
    dataset: a prefix alone is ambiguous (tank/a and tank/a-b), a device path alone is not a name.
    """

    datasets: tuple[str, ...]

    @staticmethod
    def prefix(dataset: str) -> str:
        return dataset.replace("/", "-") + "-"

    def dataset_of(self, zvol_name: str) -> str | None:
        candidates = [d for d in self.datasets if zvol_name.startswith(d + "/")]
        return max(candidates, key=len) if candidates else None

    def backstore_name(self, zvol_name: str) -> str:
        dataset = self.dataset_of(zvol_name)
        if dataset is None:
            raise ValueError(f"{zvol_name} is not below {', '.join(self.datasets)}")
        return self.prefix(dataset) + zvol_name[len(dataset) + 1 :].replace("/", "-")

    def owns(self, backstore: Backstore) -> bool:
        for dataset in self.datasets:
            if not backstore.name.startswith(self.prefix(dataset)):
                continue
            for root in {device_root(), "/dev"}:
                if backstore.device.startswith(f"{root}/{dataset}/"):
                    return True
        return False
