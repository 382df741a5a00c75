"""FreeBSD jails for zfsha: a `Jail` driven through jail(8), jls(8), jexec(8); what the host hands it
(zfs-jail(8) datasets, the ifconfig(8) VNET interface); host prerequisites; NFS checks over RPC."""

from zfsha.jail.config import JailConfig, problems
from zfsha.jail.jail import Jail, JailState

__all__ = ["Jail", "JailConfig", "JailState", "problems"]
