"""The simulated FreeBSD tools: jail(8), jls(8), jexec(8), zfs-jail(8), ifconfig(8), kldstat(8), arping
(ports net/arping), rpcinfo(8), showmount(8), pgrep(1), mount(8) -p.

Each reproduces the documented options zfsha uses, the output format and the exit status, including the
failures an admin meets: a jail that already exists (or is still dying), a dataset busy in another jail,
a missing interface, the nfsd module not loaded. Where a message is not fixed by a man page it follows
the tool's source (err(3)/warnx(3) forms, "tool: message"). Nothing here touches the real host.
"""

from __future__ import annotations

import getopt
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from jailconf import ConfError, ConfJail, exhibit, flag, parse
from state import INSIDE_VARIABLE, locked, read

BIN_DIR = Path(__file__).resolve().parent / "bin"
RPC_PROGRAMS = {"rpcbind": 100000, "portmapper": 100000, "nfs": 100003, "mountd": 100005}


def err(tool: str, message: str, status: int = 1) -> int:
    print(f"{tool}: {message}", file=sys.stderr)
    return status


def inside() -> str | None:
    return os.environ.get(INSIDE_VARIABLE) or None


def find_jail(state: dict[str, Any], key: str, dying: bool = False) -> dict[str, Any] | None:
    for jail in state["jails"].values():
        if (jail["name"] == key or str(jail["jid"]) == key) and (dying or not jail["dying"]):
            return jail
    return None


def conf_flag(jail: dict[str, Any], name: str) -> bool:
    return flag(jail["params"], name)


def conf_value(jail: dict[str, Any], name: str, default: str = "") -> str:
    values = jail["params"].get(name)
    return values[-1] if values else default


def new_process(state: dict[str, Any], jail: dict[str, Any], name: str, title: str) -> None:
    state["next_pid"] += 1
    jail["processes"].append({"pid": state["next_pid"], "name": name, "title": title})


# --- jail(8) -----------------------------------------------------------------------------------------


def jail_main(argv: list[str]) -> int:
    try:
        opts, args = getopt.getopt(argv, "cdf:e:hiJ:lmn:p:qrRs:u:U:v")
    except getopt.GetoptError as problem:
        return err("jail", str(problem))
    given = dict(opts)
    conf_path = given.get("-f", "/etc/jail.conf")
    quiet = "-q" in given
    if "-e" in given:
        confs = load_conf(conf_path)
        if confs is None:
            return 1
        for conf in confs:
            print(exhibit(conf, given["-e"]))
        return 0
    if "-c" in given and "-r" not in given:
        if len(args) != 1 or "=" in args[0]:
            return err("jail", "the simulator supports only: jail [-q] -f conf -c name")
        return create(conf_path, args[0], quiet)
    if "-r" in given and "-c" not in given:
        status = 0
        for name in args:
            status |= remove(conf_path, name, quiet)
        return status
    return err("jail", "the simulator supports only -c, -r and -e")


def load_conf(path: str) -> list[ConfJail] | None:
    try:
        text = Path(path).read_text()
    except OSError as problem:
        err("jail", f"{path}: {problem.strerror}")
        return None
    try:
        return parse(text)
    except ConfError as problem:
        err("jail", f"{path}: {problem}")
        return None


def run_host_hooks(conf: dict[str, list[str]], name: str, hook: str) -> bool:
    """exec.* commands run in the system environment by sh(1); jail(8): all must succeed."""
    env = {"PATH": f"{BIN_DIR}:/usr/bin:/bin", **{k: v for k, v in os.environ.items() if k.startswith("ZFSHA_")}}
    env.pop(INSIDE_VARIABLE, None)
    for command in conf.get(hook, []):
        done = subprocess.run(["/bin/sh", "-c", command], env=env, capture_output=True, text=True)
        sys.stdout.write(done.stdout)
        sys.stderr.write(done.stderr)
        if done.returncode != 0:
            err("jail", f"{name}: {hook} {command}: failed")
            return False
    return True


def create(conf_path: str, name: str, quiet: bool) -> int:
    confs = load_conf(conf_path)
    if confs is None:
        return 1
    conf = next((c for c in confs if c.name == name), None)
    if conf is None:
        return err("jail", f'"{name}" not found')
    params = conf.params
    with locked() as state:
        existing = state["jails"].get(name)
        if existing and not existing["dying"]:
            return err("jail", f'"{name}" already exists')
    path = params.get("path", [""])[-1]
    if not path.startswith("/"):
        return err("jail", f"{name}: path {path}: not an absolute pathname")
    if not Path(path).is_dir():
        return err("jail", f"{name}: path {path}: No such file or directory")
    if not run_host_hooks(params, name, "exec.prestart"):
        return 1
    with locked() as state:
        existing = state["jails"].get(name)
        if existing and existing["dying"]:
            # The kernel refuses a name still held by a dying jail (kern_jail.c, vfs_opterror).
            return err("jail", f'{name}: jail "{name}" already exists')
        jid = state["next_jid"]
        state["next_jid"] += 1
        state["jails"][name] = {
            "name": name,
            "jid": jid,
            "path": path,
            "params": params,
            "vnet": flag(params, "vnet") or params.get("vnet", [""])[-1] == "new",
            "dying": False,
            "processes": [],
            "exports": [],
            "nfs_versions": [],
        }
    if not quiet:
        print(f"{name}: created")
    ok = run_host_hooks(params, name, "exec.created")
    if ok:
        for interface in params.get("vnet.interface", []):
            if ifconfig_main([interface, "vnet", name]) != 0:
                ok = False
                break
    if ok:
        for command in params.get("exec.start", []) + params.get("command", []):
            if jexec_main([name, *shlex.split(command)]) != 0:
                err("jail", f"{name}: exec.start {command}: failed")
                ok = False
                break
    ok = ok and run_host_hooks(params, name, "exec.poststart")
    with locked() as state:
        jail = state["jails"][name]
        if not ok or (not flag(params, "persist") and not jail["processes"]):
            # jail(8) clears the temporary persist; a jail without processes goes away with it.
            destroy(state, jail)
    return 0 if ok else 1


def destroy(state: dict[str, Any], jail: dict[str, Any]) -> None:
    """The prison is freed: its vnet returns physical interfaces to the host, its datasets detach."""
    for interface in state["interfaces"].values():
        if interface["vnet"] == jail["name"]:
            interface["vnet"] = None
            interface["addresses"] = []
    for dataset in state["datasets"].values():
        if dataset["jail"] == jail["name"]:
            dataset["jail"] = None
    del state["jails"][jail["name"]]


def remove(conf_path: str, name: str, quiet: bool) -> int:
    confs = load_conf(conf_path) if Path(conf_path).exists() else []
    conf = next((c for c in confs or [] if c.name == name), None)
    with locked() as state:
        jail = find_jail(state, name)
    if jail is None:
        err("jail", f'"{name}" not found')
        # jail.c: a configured jail that is not running is only warned about; an unknown one fails.
        return 0 if conf is not None else 1
    params = conf.params if conf is not None else {}
    if not run_host_hooks(params, name, "exec.prestop"):
        return 1
    for command in params.get("exec.stop", []):
        if jexec_main([name, *shlex.split(command)]) != 0:
            return err("jail", f"{name}: exec.stop {command}: failed")
    with locked() as state:
        jail = state["jails"][name]
        unkillable = set(state["faults"].get("unkillable", []))
        # SIGTERM, stop.timeout, then jail_remove(2) kills what is left; a process stuck in the kernel
        # (uninterruptible I/O) survives and keeps the jail dying.
        jail["processes"] = [p for p in jail["processes"] if p["name"] in unkillable]
        if jail["processes"]:
            jail["dying"] = True
        else:
            destroy(state, jail)
    if not quiet:
        print(f"{name}: removed")
    run_host_hooks(params, name, "exec.poststop")
    return 0


# --- jls(8) ------------------------------------------------------------------------------------------


def jls_main(argv: list[str]) -> int:
    json_out = False
    rest = []
    i = 0
    while i < len(argv):
        if argv[i] == "--libxo":
            json_out = "json" in argv[i + 1]
            i += 2
            continue
        if argv[i].startswith("--libxo"):
            json_out = "json" in argv[i]
        else:
            rest.append(argv[i])
        i += 1
    try:
        opts, params = getopt.getopt(rest, "dhNnqsvj:")
    except getopt.GetoptError as problem:
        return err("jls", str(problem))
    given = dict(opts)
    state = locked_read()
    with_dying = "-d" in given
    if "-j" in given:
        jail = find_jail(state, given["-j"], dying=with_dying)
        if jail is None:
            return err("jls", f'jail "{given["-j"]}" not found')
        jails = [jail]
    else:
        jails = [j for j in state["jails"].values() if with_dying or not j["dying"]]
    if json_out:
        import json

        shown = params or ["jid", "ip4.addr", "host.hostname", "path"]
        rows = [{p: jls_value(state, j, p, typed=True) for p in shown} for j in jails]
        print(json.dumps({"__version": "2", "jail-information": {"jail": rows}}))
        return 0
    if not params:
        print("   JID  IP Address      Hostname                      Path")
        for j in jails:
            print(f"{j['jid']:>6}  {'-':<15} {conf_value(j, 'host.hostname', '-'):<29} {j['path']}")
        return 0
    for j in jails:
        values = [jls_value(state, j, p) for p in params]
        if "-n" in given:
            values = [f"{p}={v}" for p, v in zip(params, values)]
        print(" ".join(str(v) for v in values))
    return 0


def locked_read() -> dict[str, Any]:
    return read()


def jls_value(state: dict[str, Any], jail: dict[str, Any], param: str, typed: bool = False) -> Any:
    if param == "jid":
        return jail["jid"] if typed else str(jail["jid"])
    if param == "name":
        return jail["name"]
    if param == "path":
        return jail["path"]
    if param == "dying":
        return jail["dying"] if typed else str(jail["dying"]).lower()
    if param == "vnet":
        return "new" if jail["vnet"] else "inherit"
    if param == "enforce_statfs":
        return conf_value(jail, param, "2")
    if param.startswith("allow.") or param == "persist":
        value = conf_flag(jail, param)
        return value if typed else str(value).lower()
    return conf_value(jail, param, "")


# --- jexec(8) and the jail's rc(8) -------------------------------------------------------------------


def jexec_main(argv: list[str]) -> int:
    try:
        _opts, args = getopt.getopt(argv, "lu:U:")
    except getopt.GetoptError as problem:
        return err("jexec", str(problem))
    if not args:
        return err("jexec", "usage: jexec [-l] [-u username | -U username] jail [command ...]")
    with locked() as state:
        jail = find_jail(state, args[0])
    if jail is None:
        return err("jexec", f'jail "{args[0]}" not found')
    command = args[1:] or ["/bin/sh"]
    program = os.path.basename(command[0])
    if program == "sh" and command[1:] in (["/etc/rc"], ["/etc/rc.shutdown"]):
        return rc_boot(jail["name"]) if command[1] == "/etc/rc" else rc_shutdown(jail["name"])
    tools = {
        "pgrep": pgrep_main,
        "rpcinfo": rpcinfo_main,
        "showmount": showmount_main,
        "ifconfig": ifconfig_main,
        "zfs": zfs_main,
    }
    if program not in tools:
        return err("jexec", f"execvp: {command[0]}: No such file or directory")
    previous = os.environ.get(INSIDE_VARIABLE)
    os.environ[INSIDE_VARIABLE] = jail["name"]
    try:
        return tools[program](command[1:])
    finally:
        if previous is None:
            os.environ.pop(INSIDE_VARIABLE, None)
        else:
            os.environ[INSIDE_VARIABLE] = previous


def read_rc_conf(root: str) -> dict[str, str]:
    settings: dict[str, str] = {}
    path = Path(root) / "etc" / "rc.conf"
    if not path.exists():
        return settings
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "=" in line:
            key, _, value = line.partition("=")
            settings[key.strip()] = value.strip().strip("\"'")
    return settings


def enabled(settings: dict[str, str], key: str) -> bool:
    return settings.get(key, "NO").upper() in ("YES", "TRUE", "ON", "1")


def rc_boot(name: str) -> int:
    """What /etc/rc does inside the jail for the rc.conf(5) knobs an NFS jail uses."""
    with locked() as state:
        jail = state["jails"][name]
        root = jail["path"]
        settings = read_rc_conf(root)
        for if_name, interface in state["interfaces"].items():
            if interface["vnet"] != name:
                continue
            addresses = settings.get(f"ipv4_addrs_{if_name}", "").split()
            inet = re.search(r"inet\s+(\S+)", settings.get(f"ifconfig_{if_name}", ""))
            if inet:
                addresses.append(inet.group(1))
            interface["addresses"] = [a.split("/")[0] for a in addresses]
        if enabled(settings, "zfs_enable"):
            statfs = int(conf_value(jail, "enforce_statfs", "2"))
            may_mount = conf_flag(jail, "allow.mount") and conf_flag(jail, "allow.mount.zfs") and statfs < 2
            for ds_name, dataset in state["datasets"].items():
                if dataset["jail"] != name or dataset["jailed"] != "on":
                    continue
                if not may_mount:
                    print(f"cannot mount '{ds_name}': Operation not permitted", file=sys.stderr)
                    continue
                target = root.rstrip("/") + dataset["mountpoint"]
                if not any(m["path"] == target for m in state["mounts"]):
                    state["mounts"].append({"source": ds_name, "path": target, "type": "zfs", "jail": name})
        nfs = enabled(settings, "nfs_server_enable")
        if nfs or enabled(settings, "rpcbind_enable"):
            new_process(state, jail, "rpcbind", "rpcbind")
        if nfs:
            # rc.d/nfsd: nfsd needs the kernel module loaded outside the jail and allow.nfsd on a vnet jail.
            if "nfsd" not in state["kld"]:
                print("nfsd: nfssvc: Operation not supported (nfsd module not loaded)", file=sys.stderr)
            elif not (jail["vnet"] and conf_flag(jail, "allow.nfsd")):
                print("nfsd: nfssvc: Operation not permitted", file=sys.stderr)
            else:
                new_process(state, jail, "mountd", "/usr/sbin/mountd -r")
                jail["exports"] = served_exports(state, jail)
                new_process(state, jail, "nfsd", "nfsd: master")
                new_process(state, jail, "nfsd", "nfsd: server")
                jail["nfs_versions"] = [3, 4] if enabled(settings, "nfsv4_server_enable") else [3]
    return 0


def served_exports(state: dict[str, Any], jail: dict[str, Any]) -> list[str]:
    """mountd(8) reads exports(5) when it starts: lines whose directory is not there are skipped."""
    root = jail["path"].rstrip("/")
    path = Path(root) / "etc" / "exports"
    served = []
    if not path.exists():
        return served
    mounted = {m["path"] for m in state["mounts"]}
    for line in path.read_text().splitlines():
        words = line.split("#", 1)[0].split()
        if not words or words[0].startswith("V4:"):
            continue
        directory = words[0]
        is_mount = root + directory in mounted
        if "-alldirs" in words and not is_mount:
            print(f"mountd: {directory}: not a mount point, -alldirs line ignored", file=sys.stderr)
            continue
        if is_mount or Path(root + directory).is_dir():
            served.append(directory)
    return served


def rc_shutdown(name: str) -> int:
    with locked() as state:
        jail = state["jails"][name]
        # A process stuck in the kernel ignores rc.shutdown's signals as it ignores jail -r's.
        stuck = set(state["faults"].get("unkillable", []))
        stopped = {"nfsd", "mountd", "rpcbind"} - stuck
        jail["processes"] = [p for p in jail["processes"] if p["name"] not in stopped]
        jail["exports"] = []
        jail["nfs_versions"] = []
        if enabled(read_rc_conf(jail["path"]), "zfs_enable"):
            state["mounts"] = [m for m in state["mounts"] if m["jail"] != name]
        for interface in state["interfaces"].values():
            if interface["vnet"] == name:
                interface["addresses"] = []
    return 0


# --- pgrep(1) ----------------------------------------------------------------------------------------


def pgrep_main(argv: list[str]) -> int:
    try:
        opts, args = getopt.getopt(argv, "lxj:")
    except getopt.GetoptError as problem:
        return err("pgrep", str(problem), 2)
    given = dict(opts)
    if len(args) != 1:
        return err("pgrep", "usage: pgrep [-lx] [-j jail] pattern", 2)
    state = locked_read()
    here = inside()
    matched = []
    for jail in state["jails"].values():
        if here and jail["name"] != here:
            continue
        wanted = given.get("-j")
        if wanted not in (None, "any") and wanted not in (str(jail["jid"]), jail["name"]):
            continue
        for process in jail["processes"]:
            hit = process["name"] == args[0] if "-x" in given else re.search(args[0], process["name"])
            if hit:
                matched.append(process)
    for process in matched:
        print(f"{process['pid']} {process['name']}" if "-l" in given else process["pid"])
    return 0 if matched else 1


# --- ifconfig(8) -------------------------------------------------------------------------------------


def ifconfig_main(argv: list[str]) -> int:
    here = inside()
    with locked() as state:
        visible = {n: i for n, i in state["interfaces"].items() if i["vnet"] == here}
        if argv == ["-l"]:
            print(" ".join(["lo0", *visible]))
            return 0
        if not argv:
            return err("ifconfig", "the simulator needs an interface name")
        name = argv[0]
        if len(argv) == 3 and argv[1] in ("vnet", "-vnet"):
            if here:
                return err("ifconfig", "SIOCSIFVNET: Operation not permitted")
            jail = find_jail(state, argv[2])
            if jail is None:
                return err("ifconfig", f'jail "{argv[2]}" not found')
            interface = state["interfaces"].get(name)
            if argv[1] == "vnet":
                # ifconfig(8) vnet: move the interface from the host into the jail's vnet.
                if interface is None or interface["vnet"] is not None:
                    return err("ifconfig", f"interface {name} does not exist")
                if not jail["vnet"]:
                    return err("ifconfig", "SIOCSIFVNET: Invalid argument")
                interface["vnet"] = jail["name"]
            else:
                # ifconfig(8) -vnet: reclaim an interface the jail holds.
                if interface is None or interface["vnet"] != jail["name"]:
                    return err("ifconfig", "SIOCSIFRVNET: Device not configured")
                interface["vnet"] = None
                interface["addresses"] = []
            return 0
        if name not in visible:
            return err("ifconfig", f"interface {name} does not exist")
        interface = visible[name]
        print(f"{name}: flags=8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST> metric 0 mtu 1500")
        for address in interface["addresses"]:
            print(f"\tinet {address} netmask 0xffffff00")
        return 0


# --- kldstat(8) --------------------------------------------------------------------------------------


def kldstat_main(argv: list[str]) -> int:
    try:
        opts, _ = getopt.getopt(argv, "dhqvi:m:n:")
    except getopt.GetoptError as problem:
        return err("kldstat", str(problem))
    given = dict(opts)
    modules = locked_read()["kld"]
    wanted = given.get("-m") or given.get("-n", "").removesuffix(".ko")
    if wanted:
        if wanted not in modules:
            return 1 if "-q" in given else err("kldstat", f"can't find module {wanted}: No such file or directory")
        if "-q" not in given:
            print("Id  Refs Name")
            print(f"{modules.index(wanted) + 1:>3} 1 {wanted}")
        return 0
    print("Id Refs Address                Size Name")
    for index, module in enumerate(modules, 1):
        print(f"{index:>2} 1 0xffffffff80200000 100000 {module if module == 'kernel' else module + '.ko'}")
    return 0


# --- arping (ports net/arping) -----------------------------------------------------------------------


def arping_main(argv: list[str]) -> int:
    try:
        opts, args = getopt.getopt(argv, "qc:i:w:W:")
    except getopt.GetoptError as problem:
        return err("arping", str(problem))
    given = dict(opts)
    if len(args) != 1:
        return err("arping", "usage: arping [-q] [-c count] [-i interface] <host>")
    target = args[0]
    count = int(given.get("-c", "1"))
    state = locked_read()
    interface = given.get("-i")
    if interface and (interface not in state["interfaces"] or state["interfaces"][interface]["vnet"] is not None):
        return err("arping", f"libnet_init(LIBNET_LINK, {interface}): {interface}: no such interface")
    holders = [a for i in state["interfaces"].values() if i["vnet"] for a in i["addresses"]]
    answered = target in state["neighbours"] or target in holders
    quiet = "-q" in given
    if not quiet:
        print(f"ARPING {target}")
        for index in range(count):
            print(f"60 bytes from 02:00:5e:00:53:01 ({target}): index={index} time=0.300 msec" if answered else "Timeout")
        print(f"\n--- {target} statistics ---")
        received = count if answered else 0
        unanswered = 100 - 100 * received // count
        print(f"{count} packets transmitted, {received} packets received, {unanswered:3d}% unanswered (0 extra)")
    return 0 if answered else 1


# --- rpcinfo(8), showmount(8) ------------------------------------------------------------------------


def target_jail(state: dict[str, Any], host: str) -> dict[str, Any] | None:
    here = inside()
    if here and host in ("localhost", "127.0.0.1"):
        return find_jail(state, here)
    for interface in state["interfaces"].values():
        if interface["vnet"] and host in interface["addresses"]:
            return find_jail(state, interface["vnet"])
    return None


def running(jail: dict[str, Any], name: str) -> bool:
    return any(p["name"] == name for p in jail["processes"])


def rpcinfo_main(argv: list[str]) -> int:
    try:
        opts, args = getopt.getopt(argv, "n:tup")
    except getopt.GetoptError as problem:
        return err("rpcinfo", str(problem))
    given = dict(opts)
    if "-t" not in given or len(args) not in (2, 3):
        return err("rpcinfo", "the simulator supports only: rpcinfo [-n portnum] -t host prognum [versnum]")
    host, program = args[0], args[1]
    number = RPC_PROGRAMS.get(program) or (int(program) if program.isdigit() else None)
    if number is None:
        return err("rpcinfo", f"{program} is unknown service")
    state = locked_read()
    jail = target_jail(state, host)
    if jail is None:
        return err("rpcinfo", "RPC: Port mapper failure - RPC: Timed out" if "-n" not in given else "RPC: Timed out")
    if "-n" not in given and not running(jail, "rpcbind"):
        return err("rpcinfo", "RPC: Port mapper failure - RPC: Unable to receive; errno = Connection refused")
    versions = {
        100000: [2, 3, 4] if running(jail, "rpcbind") else [],
        100003: jail["nfs_versions"] if running(jail, "nfsd") else [],
        100005: [1, 3] if running(jail, "mountd") else [],
    }
    served = versions.get(number, [])
    if not served:
        if "-n" in given:
            return err("rpcinfo", "RPC: Unable to receive; errno = Connection refused")
        print("rpcinfo: RPC: Program not registered", file=sys.stderr)
        print(f"program {number} is not available")
        return 1
    asked = [int(args[2])] if len(args) == 3 else served
    for version in asked:
        if version not in served:
            low, high = min(served), max(served)
            print(f"rpcinfo: RPC: Program/version mismatch; low version = {low}, high version = {high}", file=sys.stderr)
            print(f"program {number} version {version} is not available")
            return 1
        print(f"program {number} version {version} ready and waiting")
    return 0


def showmount_main(argv: list[str]) -> int:
    try:
        opts, args = getopt.getopt(argv, "ade3")
    except getopt.GetoptError as problem:
        return err("showmount", str(problem))
    if "-e" not in dict(opts) or len(args) != 1:
        return err("showmount", "the simulator supports only: showmount -e host")
    host = args[0]
    state = locked_read()
    jail = target_jail(state, host)
    if jail is None:
        print("RPC: Port mapper failure - RPC: Timed out", file=sys.stderr)
        return err("showmount", "can't do exports rpc")
    if not running(jail, "mountd") or not running(jail, "rpcbind"):
        print("RPC: Program not registered", file=sys.stderr)
        return err("showmount", "can't do exports rpc")
    print(f"Exports list on {host}:")
    for directory in jail["exports"]:
        print(f"{directory:<34} Everyone")
    return 0


# --- zfs jail / unjail (zfs-jail(8)) and the few zfs reads around them -------------------------------


def related(a: str, b: str) -> bool:
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def zfs_main(argv: list[str]) -> int:
    if not argv:
        return err("zfs", "missing command", 2)
    command, args = argv[0], argv[1:]
    here = inside()
    with locked() as state:
        datasets = state["datasets"]
        if command in ("jail", "unjail"):
            if here:
                return err("zfs", f"cannot {command}: permission denied")
            if len(args) != 2:
                return err("zfs", f"usage: {command} <jailid|jailname> <filesystem>", 2)
            jail = find_jail(state, args[0])
            if jail is None:
                print("invalid jail id or name", file=sys.stderr)
                return err("zfs", f"usage: {command} <jailid|jailname> <filesystem>", 2)
            name = args[1]
            if name not in datasets:
                return err("zfs", f"cannot open '{name}': dataset does not exist")
            dataset = datasets[name]
            if command == "jail":
                if dataset["jail"] == jail["name"]:
                    return err("zfs", f"cannot jail '{name}': pool or dataset exists")
                # zfs-jail(8): a jailed dataset's children cannot go to another jail.
                if any(related(other, name) and d["jail"] not in (None, jail["name"]) for other, d in datasets.items()):
                    return err("zfs", f"cannot jail '{name}': pool or dataset is busy")
                dataset["jail"] = jail["name"]
                return 0
            if dataset["jail"] != jail["name"]:
                return err("zfs", f"cannot unjail '{name}': no such pool or dataset")
            if any(m["source"] == name and m["jail"] == jail["name"] for m in state["mounts"]):
                # Modelled: a dataset still mounted inside the jail cannot be taken back from it.
                return err("zfs", f"cannot unjail '{name}': pool or dataset is busy")
            dataset["jail"] = None
            return 0
        visible = {n: d for n, d in datasets.items() if not here or d["jail"] == here}
        if command == "get":
            _opts, rest = getopt.getopt(args, "Hpo:")
            if len(rest) != 2:
                return err("zfs", "the simulator supports only: zfs get -H -o value <property> <dataset>", 2)
            prop, name = rest
            if name not in visible:
                return err("zfs", f"cannot open '{name}': dataset does not exist")
            mounted = any(m["source"] == name for m in state["mounts"])
            dataset = visible[name]
            values = {"jailed": dataset["jailed"], "mountpoint": dataset["mountpoint"], "mounted": "yes" if mounted else "no"}
            print(values.get(prop, "-"))
            return 0
        if command == "list":
            _opts, rest = getopt.getopt(args, "Hro:t:")
            names = rest or sorted(visible)
            for name in names:
                if name not in visible:
                    return err("zfs", f"cannot open '{name}': dataset does not exist")
                print(name)
            return 0
    return err("zfs", f"the simulator does not implement zfs {command}", 2)


# --- mount(8) -p -------------------------------------------------------------------------------------


def mount_main(argv: list[str]) -> int:
    if argv != ["-p"]:
        return err("mount", "the simulator supports only: mount -p")
    for mount in locked_read()["mounts"]:
        print(f"{mount['source']}\t{mount['path']}\t{mount['type']}\trw,nfsv4acls\t0 0")
    return 0


TOOLS = {
    "jail": jail_main,
    "jls": jls_main,
    "jexec": jexec_main,
    "zfs": zfs_main,
    "ifconfig": ifconfig_main,
    "kldstat": kldstat_main,
    "arping": arping_main,
    "rpcinfo": rpcinfo_main,
    "showmount": showmount_main,
    "pgrep": pgrep_main,
    "mount": mount_main,
}


def main() -> None:
    tool = os.path.basename(sys.argv[0])
    sys.exit(TOOLS[tool](sys.argv[1:]))
