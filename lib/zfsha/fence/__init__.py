"""The fencing framework, in the conventions of fence-agents.

A fence agent file declares a `FenceAgent` with its own `FenceOption`s and a `connect(options)` factory
returning a `PowerDevice`, then calls `agent.main()`. The framework verifies every power change by
reading the state back from the device before it reports success.
"""

from zfsha.fence.agent import FenceAgent
from zfsha.fence.device import CyclesPower, FenceError, ListsOutlets, PowerDevice
from zfsha.fence.options import FenceOption, FenceOptions

__all__ = ["CyclesPower", "FenceAgent", "FenceError", "FenceOption", "FenceOptions", "ListsOutlets", "PowerDevice"]
