"""iSCSI initiator sessions to the peers whose LUNs hold the pool's other legs.

Targets are configured as IQN@PORTAL words. Each platform's initiator (open-iscsi on Linux, iscsictl
on FreeBSD) answers the same questions: which sessions exist, log in to a target, let device nodes
settle, which device paths a target's LUNs have, name a returned LUN's partitions again, and whether a
dead peer is noticed quickly enough.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from zfsha.errors import ConfigError

_IQN = re.compile(r"^(iqn\.\d{4}-\d{2}\.[^\s@]+|eui\.[0-9A-Fa-f]{16}|naa\.[0-9A-Fa-f]{16,32})$")
_PORTAL = re.compile(r"^(\[[0-9A-Fa-f:]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$")
DEFAULT_PORT = 3260


@dataclass(frozen=True)
class Target:
    iqn: str
    portal: str  # host:port (port added when omitted)

    @property
    def address(self) -> str:
        return self.portal.rsplit(":", 1)[0]

    def __str__(self) -> str:
        return f"{self.iqn}@{self.portal}"


@dataclass(frozen=True)
class Chap:
    user: str
    secret: str


@dataclass(frozen=True)
class Session:
    target: Target
    state: str  # LOGGED_IN when usable; FAILED while open-iscsi retries a lost connection
    devices: tuple[str, ...] = ()

    @property
    def logged_in(self) -> bool:
        return self.state == "LOGGED_IN"


def served_here(target: Target) -> bool:
    """Whether the target's portal is one of this node's own non-loopback addresses.

    Seed 004 lists both storage nodes' targets on the one pool resource, which runs on either node:
    the node's own target holds its local disks, which ZFS must use directly. A loopback portal is kept
    (seed 000 logs in to its own target through localhost on purpose, so paths match on both nodes).
    The routing table answers without starting a process: a datagram socket connected to one of this
    node's addresses (a UDP connect sends nothing) gets that address as its source, one connected to
    a peer gets this node's own. Binding the address would not tell: with net.ipv4.ip_nonlocal_bind=1,
    which a portal on a VIP needs (README), every bind succeeds, and every peer looked like this node.
    """
    import ipaddress
    import socket

    host = target.address.strip("[]")
    try:
        # As ASCII bytes (parse_targets admits nothing else): a str host is encoded with the idna
        # codec, whose import (stringprep, unicodedata) the depth-0 monitor would pay on every run.
        infos = socket.getaddrinfo(host.encode("ascii"), None, proto=socket.IPPROTO_UDP)
    except socket.gaierror:
        return False
    for family, _, _, _, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0])
        if address.is_loopback:
            continue
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            try:
                probe.connect((sockaddr[0], 9, *sockaddr[2:]))
            except OSError:
                continue  # no route to it: not this node's
            if ipaddress.ip_address(probe.getsockname()[0]) == address:
                return True
    return False


def parse_targets(text: str) -> list[Target]:
    """IQN@PORTAL words separated by spaces or commas, e.g.
    'iqn.2025-01.lab.home:storage-b@10.10.10.2:3260'."""
    targets: list[Target] = []
    for word in re.split(r"[\s,]+", text.strip()):
        if not word:
            continue
        iqn, at, portal = word.rpartition("@")
        if not at or not _IQN.match(iqn) or not _PORTAL.match(portal):
            raise ConfigError(f"peer target {word!r} is not IQN@PORTAL (e.g. iqn.2025-01.lab.home:storage-b@10.10.10.2:3260)")
        if not re.search(r":\d+$", portal) or portal.endswith("]"):
            portal = f"{portal}:{DEFAULT_PORT}"
        targets.append(Target(iqn, portal))
    return targets


class Initiator(Protocol):
    tool: str

    def sessions(self) -> list[Session]: ...

    def login(self, target: Target, chap: Chap | None, timeout: float) -> None:
        """Log in within timeout seconds (idempotent); raises zfsha.errors.CommandError when the
        peer does not answer."""

    def settle(self, timeout: float) -> None:
        """Wait until the kernel has created device nodes for new LUNs."""

    def device_paths(self, target: Target) -> list[str]:
        """Device paths of the target's LUNs present now."""

    def rename_devices(self, target: Target, timeout: float) -> list[str]:
        """Have the device names that come from what the target's LUNs hold (partition labels, ZFS
        labels) made again from the LUNs as they are now, and wait for them; returns the devices
        asked about. Raises zfsha.errors.CommandError when that cannot be asked."""

    def slow_failure(self, target: Target, max_seconds: int) -> str | None:
        """Why a dead peer would hang I/O longer than max_seconds, naming the fix; None when fine."""
