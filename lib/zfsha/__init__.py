"""zfsha: Pacemaker agents for highly available ZFS-over-iSCSI storage."""

from zfsha.version import version

__all__ = ["version"]
