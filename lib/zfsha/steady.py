"""A recurring depth-0 monitor's answer for a resource that is as it was, before the framework loads.

Pacemaker runs a healthy resource's monitor every few seconds, and nearly every time the answer is
"as before". An agent may say what "as before" means in a few file reads (a check over the
environment Pacemaker passes); when the check holds, the agent exits 0 having imported nothing but
the check's own light modules. Anything else - another action, a probe, a deeper check, a state the
check does not recognise, an error while checking - goes on to the full agent, which validates,
decides, repairs, logs and reports as usual. A check may therefore say "as before" only where the full
monitor would answer 0 and do nothing; the parameters it does not read were validated by the start
this monitor follows (Pacemaker restarts or reloads a resource whose parameters change).
"""

from __future__ import annotations

import posix
import sys

TYPE_CHECKING = False  # typing itself is not imported on this path
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence


def is_recurring_depth_0_monitor(argv: Sequence[str], environ: Mapping[str, str]) -> bool:
    """A monitor Pacemaker repeats at an interval (not a probe) at OCF_CHECK_LEVEL 0."""
    return (
        len(argv) == 2
        and argv[1] == "monitor"
        and environ.get("OCF_CHECK_LEVEL", "0") in ("", "0")
        and environ.get("OCF_RESKEY_CRM_meta_interval", "0") not in ("", "0")
    )


def exit_if_steady(as_before: Callable[[Mapping[str, str]], bool]) -> None:
    """Exit 0 now when this run is a recurring depth-0 monitor and `as_before` holds; else return.

    The environment is decoded here from posix, as os.environ would decode it, so that this path
    never imports the os module (a fifth of a steady monitor's cost)."""
    environ = {
        name.decode(errors="surrogateescape"): value.decode(errors="surrogateescape") for name, value in posix.environ.items()
    }
    if not is_recurring_depth_0_monitor(sys.argv, environ):
        return
    try:
        steady = as_before(environ)
    except (OSError, ValueError):  # unreadable or odd: the full monitor finds out what it is
        return
    if steady:
        raise SystemExit(0)


def use_site_packages() -> None:
    """Leaving the steady path: add the site directories, which the agents' -S left out (their
    dependencies, lxml, rtslib, pyghmi, are distro packages there), as site would without .pth files."""
    import os
    import site

    sys.path += [path for path in site.getsitepackages() if path not in sys.path and os.path.isdir(path)]


# ---- what a full run saw, for the next steady check ----------------------------------------------


def recall(name: str, max_age: float, environ: Mapping[str, str]) -> str | None:
    """The observation remembered under `name` in the run directory, if made at most max_age seconds ago."""
    import time

    from zfsha.paths import run_file

    try:
        with open(run_file(name, environ), "rb") as memo:
            made, _, observed = memo.read().decode().partition("\n")
        return observed if 0 <= time.time() - float(made) <= max_age else None
    except (OSError, ValueError):
        return None


def remember(name: str, observed: str, made: float) -> None:
    """Keep what a full run observed at time `made` (taken before it looked), replacing it whole."""
    from zfsha.platform import run_dir

    path = run_dir() / name
    fresh = path.with_name(f"{name}.new")
    fresh.write_text(f"{made}\n{observed}", encoding="utf-8")
    fresh.replace(path)


def forget(name: str) -> None:
    import os

    from zfsha.paths import run_file

    try:
        os.unlink(run_file(name))
    except FileNotFoundError:
        pass
