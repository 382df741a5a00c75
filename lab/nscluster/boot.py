"""Init of one namespace node, and the mount step of run_with_tree.

This file is executed as a script by /usr/bin/python3 inside fresh namespaces, so it uses the
standard library only and imports nothing from the package.

    boot.py node CONFIG.json DELAY  PID 1 of a node: private mounts, corosync, pacemakerd, reaping
    boot.py exec MOUNTS-JSON ARGV   apply the tree mounts in this (private) mount ns, then exec ARGV

A node's life: write our host pid (the power controller finds us by it), wait the boot delay (a
machine's POST: see lab-notes on why fencing needs it), make the mount namespace look like a
freshly booted machine with its own disks, start corosync, wait for it, start pacemakerd, then reap
orphans like any init. SIGTERM is a clean shutdown (pacemakerd first, then corosync); SIGKILL from
the host is a power cut: the kernel kills everything in the PID namespace at once.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time


class Shutdown(Exception):
    """Raised from the SIGTERM handler so a blocking wait returns at once."""


# Pids this init has reaped: a daemon reaped by the orphan loop must not be signalled again.
exited: set[int] = set()


def mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True)


def apply_mounts(ops: list[dict]) -> None:
    for op in ops:
        kind = op["type"]
        if kind == "bind":
            mount("--bind", op["src"], op["dst"])
            if op.get("ro"):
                mount("-o", "remount,bind,ro", op["dst"])
        elif kind == "overlay":
            mount("-t", "overlay", "overlay", "-o", "lowerdir=" + ":".join(op["lower"]), op["dst"])
        elif kind == "tmpfs":
            mount("-t", "tmpfs", "-o", op.get("options", "mode=0755"), "tmpfs", op["dst"])
        elif kind == "mask":
            # Only if the file exists: bind-mounting needs a target.
            if os.path.exists(op["dst"]):
                mount("--bind", "/dev/null", op["dst"])
        else:
            raise ValueError(f"unknown mount type {kind!r}")


def host_pid() -> int:
    """Our pid as the host sees it (read before /proc is remounted for the new PID namespace)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("NSpid:"):
                return int(line.split()[1])
    raise RuntimeError("no NSpid in /proc/self/status")


def write_atomically(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def make_dir(path: str, mode: int, owner: tuple[int, int]) -> None:
    os.makedirs(path, exist_ok=True)
    os.chown(path, *owner)
    os.chmod(path, mode)


def reap_until(deadline: float, pid: int | None = None) -> bool:
    """Reap any children until `pid` has exited (True) or the deadline passes (False)."""
    while time.monotonic() < deadline:
        try:
            reaped, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return True
        if reaped:
            exited.add(reaped)
        if pid is not None and pid in exited:
            return True
        if reaped == 0:
            time.sleep(0.05)
    return False


def stop_daemon(proc: subprocess.Popen | None, timeout: float) -> None:
    if proc is None or proc.pid in exited:
        return
    try:
        os.kill(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    reap_until(time.monotonic() + timeout, proc.pid)


def boot_node(config_path: str, boot_delay: float) -> None:
    with open(config_path) as handle:
        config = json.load(handle)

    def on_term(signum: int, frame: object) -> None:
        raise Shutdown

    # PID 1 of a namespace only receives signals it has a handler for.
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    write_atomically(config["pid_file"], f"{host_pid()}\n")

    corosync = pacemakerd = None
    try:
        time.sleep(boot_delay)
        mount("--make-rprivate", "/")
        mount("-t", "proc", "proc", "/proc")
        apply_mounts(config["mounts"])
        hacluster = (config["hacluster_uid"], config["haclient_gid"])
        for run_dir in ("/run/crm", "/run/pacemaker"):
            make_dir(run_dir, 0o750, hacluster)
        socket.sethostname(config["hostname"])

        env = config["daemon_env"]
        log = open(config["console_log"], "ab", buffering=0)
        corosync = subprocess.Popen(["corosync", "-f"], env=env, cwd="/", stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + config["corosync_timeout"]
        while (
            subprocess.run(["corosync-cfgtool", "-s"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
            != 0
        ):
            if corosync.poll() is not None or time.monotonic() > deadline:
                print("corosync did not come up", file=sys.stderr, flush=True)
                break
            time.sleep(0.1)
        else:
            pacemakerd = subprocess.Popen(["pacemakerd"], env=env, cwd="/", stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        while True:
            try:
                exited.add(os.waitpid(-1, 0)[0])
            except ChildProcessError:
                signal.pause()
    except Shutdown:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stop_daemon(pacemakerd, config["shutdown_timeout"])
        stop_daemon(corosync, 15.0)
    # Returning ends PID 1, and the kernel kills whatever is left in the namespace.


def exec_with_mounts(mounts_json: str, argv: list[str]) -> None:
    apply_mounts(json.loads(mounts_json))
    os.execvp(argv[0], argv)


def main() -> None:
    mode = sys.argv[1]
    if mode == "node":
        boot_node(sys.argv[2], float(sys.argv[3]))
    elif mode == "exec":
        exec_with_mounts(sys.argv[2], sys.argv[3:])
    else:
        sys.exit(f"usage: {sys.argv[0]} node CONFIG DELAY | exec MOUNTS-JSON ARGV...")


if __name__ == "__main__":
    main()
