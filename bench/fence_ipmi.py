#!/usr/bin/python3
"""Status and reboot time of fence_ipmi vs fence_ipmilan against the same lab BMC, in one run.

Run from the repo root: `/usr/bin/python3 bench/fence_ipmi.py [rounds]`. Prints medians and
extremes in seconds; never fails on a number (the issue's goal is fence_ipmi at most half).
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fence.ipmi_fixtures import Finished, bmc_options, fence_ipmi, fence_ipmilan, running_bmc


def measure(run: Callable[[], Finished], rounds: int, expect: tuple[int, ...]) -> list[float]:
    seconds = []
    for _ in range(rounds):
        result = run()
        if result.returncode not in expect:
            raise SystemExit(f"unexpected exit {result.returncode}: {result.stdout}{result.stderr}")
        seconds.append(result.seconds)
    return seconds


def line(label: str, seconds: list[float]) -> str:
    return f"{label:<44} median {statistics.median(seconds):6.3f}  min {min(seconds):6.3f}  max {max(seconds):6.3f}"


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    with running_bmc() as bmc:
        cases = {
            "status  fence_ipmi": (lambda: fence_ipmi(bmc_options(bmc, action="status")), (0,)),
            "status  fence_ipmilan": (lambda: fence_ipmilan(bmc_options(bmc, action="status")), (0,)),
            "reboot  fence_ipmi": (lambda: fence_ipmi(bmc_options(bmc, action="reboot")), (0,)),
            "reboot  fence_ipmilan (default power_wait=2)": (lambda: fence_ipmilan(bmc_options(bmc, action="reboot")), (0,)),
            "reboot  fence_ipmilan (power_wait=0)": (
                lambda: fence_ipmilan(bmc_options(bmc, action="reboot", power_wait="0")),
                (0,),
            ),
        }
        results = {label: measure(run, rounds, expect) for label, (run, expect) in cases.items()}
    print(f"lab BMC (pyghmi server, lab.peers.ipmi) on 127.0.0.1, {rounds} rounds each, seconds per process")
    for label, seconds in results.items():
        print(line(label, seconds))
    for action in ("status", "reboot"):
        ours = statistics.median(results[f"{action}  fence_ipmi"])
        theirs = statistics.median(next(v for k, v in results.items() if k.startswith(f"{action}  fence_ipmilan")))
        print(f"{action}: fence_ipmi / fence_ipmilan (defaults) = {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
