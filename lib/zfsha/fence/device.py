"""What the fencing framework asks of a power device, whatever protocol it speaks."""

from __future__ import annotations

from typing import Protocol

from zfsha.errors import GenericError


class FenceError(GenericError):
    """A fence operation failed; the reason is one line an admin can act on."""


class PowerDevice(Protocol):
    """One connection to a device that switches outlets (plugs, relays, chassis power)."""

    def power_state(self, plug: str | None) -> bool:
        """True when the outlet is on, False when off; raise FenceError when the device cannot say."""
        ...

    def set_power(self, plug: str | None, on: bool) -> None:
        """Ask the device to switch the outlet; the framework verifies the result separately."""
        ...

    def close(self) -> None: ...


class ListsOutlets(Protocol):
    def list_outlets(self) -> dict[str, str]:
        """Outlet id -> alias (name shown to admins)."""
        ...


class CyclesPower(Protocol):
    def power_cycle(self, plug: str | None) -> None:
        """Ask the device for an off-then-on cycle in one command."""
        ...
