"""The OCF Resource Agent API 1.1 framework.

An agent file declares an `Agent` with its `Param`s and `Action`s, registers one handler per action with
`@agent.action("start")` (and its checks with `@agent.validate`), and ends with `agent.main()`.
Handlers raise `zfsha.errors` exceptions with a one-line reason, or return an `OcfStatus` / `Outcome`.
"""

from zfsha.errors import (
    ArgsError,
    ConfigError,
    GenericError,
    NotInstalledError,
    NotRunningError,
    OcfStatus,
    PermissionDenied,
    UnimplementedError,
    ZfshaError,
)
from zfsha.ocf.agent import Agent, Context, Outcome
from zfsha.ocf.declaration import Action, Param

__all__ = [
    "Action",
    "Agent",
    "ArgsError",
    "ConfigError",
    "Context",
    "GenericError",
    "NotInstalledError",
    "NotRunningError",
    "OcfStatus",
    "Outcome",
    "Param",
    "PermissionDenied",
    "UnimplementedError",
    "ZfshaError",
]
