"""The virtual-machine lab: real ZFS, LIO and open-iscsi in Debian guests under qemu.

`python3 -m lab.vm build-image` builds (or reuses) the base image; see README.md here.
"""

from lab.vm.guest import ExecResult, Guest, GuestCommandError, HostNic, Identity, Nic, Segment
from lab.vm.image import Image, ensure_image
from lab.vm.lab import Lab

__all__ = ["ExecResult", "Guest", "GuestCommandError", "HostNic", "Identity", "Image", "Lab", "Nic", "Segment", "ensure_image"]
