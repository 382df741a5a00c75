#!/usr/bin/python3
"""Status and reboot time of fence_ipmi vs fence_ipmilan against the same lab BMC, in one run.

Run from the repo root: `/usr/bin/python3 bench/fence_ipmi.py [rounds]`. Prints medians and
extremes in seconds; never fails on a number (the issue's goal is fence_ipmi at most half).

Rounds are interleaved (one of every case per round) so that load from other work on the machine
falls on both agents alike. The last lines are what no fence_ipmi status can go below: the
interpreter's start, and that plus importing pyghmi's RMCP+ session (which loads cryptography's
OpenSSL backend, needed for AES), with nothing sent.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fence.ipmi_fixtures import PYTHON, Finished, bmc_options, fence_ipmi, fence_ipmilan, running_bmc, timed

Case = tuple[Callable[[], Finished], tuple[int, ...]]


def python(code: str) -> Finished:
    return timed([PYTHON, "-c", code], "", {"PATH": "/usr/bin:/bin"}, 60)


def measure(cases: dict[str, Case], rounds: int) -> dict[str, list[float]]:
    seconds: dict[str, list[float]] = {label: [] for label in cases}
    for _ in range(rounds):
        for label, (run, expect) in cases.items():
            result = run()
            if result.returncode not in expect:
                raise SystemExit(f"{label}: unexpected exit {result.returncode}: {result.stdout}{result.stderr}")
            seconds[label].append(result.seconds)
    return seconds


def line(label: str, seconds: list[float]) -> str:
    return f"{label:<50} median {statistics.median(seconds):6.3f}  min {min(seconds):6.3f}  max {max(seconds):6.3f}"


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    with running_bmc() as bmc:
        cases: dict[str, Case] = {
            "status  fence_ipmi": (lambda: fence_ipmi(bmc_options(bmc, action="status")), (0,)),
            "status  fence_ipmilan": (lambda: fence_ipmilan(bmc_options(bmc, action="status")), (0,)),
            "reboot  fence_ipmi": (lambda: fence_ipmi(bmc_options(bmc, action="reboot")), (0,)),
            "reboot  fence_ipmilan (default power_wait=2)": (lambda: fence_ipmilan(bmc_options(bmc, action="reboot")), (0,)),
            "reboot  fence_ipmilan (power_wait=0)": (
                lambda: fence_ipmilan(bmc_options(bmc, action="reboot", power_wait="0")),
                (0,),
            ),
            "floor   python3 -c pass": (lambda: python("pass"), (0,)),
            "floor   python3 + pyghmi session import": (
                lambda: python("import os\nfrom pyghmi.ipmi.private import session\nos._exit(0)"),
                (0,),
            ),
        }
        results = measure(cases, rounds)
    print(f"lab BMC (pyghmi server, lab.peers.ipmi) on 127.0.0.1, {rounds} interleaved rounds, seconds per process")
    for label, seconds in results.items():
        print(line(label, seconds))
    for action in ("status", "reboot"):
        ours = statistics.median(results[f"{action}  fence_ipmi"])
        theirs = statistics.median(next(v for k, v in results.items() if k.startswith(f"{action}  fence_ipmilan")))
        print(f"{action}: fence_ipmi / fence_ipmilan (defaults) = {ours / theirs:.2f}")
    floor = statistics.median(results["floor   python3 + pyghmi session import"])
    theirs = statistics.median(results["status  fence_ipmilan"])
    print(f"status floor (interpreter + pyghmi import) / fence_ipmilan = {floor / theirs:.2f}")


if __name__ == "__main__":
    main()
