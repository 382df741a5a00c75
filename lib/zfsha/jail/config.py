"""A jail's configured parameters, as jail(8) itself reads them from jail.conf(5).

`jail -f <conf> -e <separator>` (jail(8), option -e) prints every configured non-wildcard jail on one line,
its parameters separated by the separator, each as `name`, or `name=value[,value...]` with values quoted
the way jail(8) quotes them (a value with blanks or quotes, or an empty one, is quoted and backslashes
escape). Letting jail(8) parse the file means variables, `+=` and global parameters are resolved exactly
as `jail -c` will resolve them.
"""

from __future__ import annotations

from dataclasses import dataclass

from zfsha.errors import ConfigError

SEPARATOR = "\t"


@dataclass(frozen=True)
class JailConfig:
    name: str
    # Parameter name -> values; a valueless boolean (`vnet;`, `allow.nfsd;`) has an empty tuple.
    params: dict[str, tuple[str, ...]]

    def value(self, name: str, default: str = "") -> str:
        values = self.params.get(name)
        return values[-1] if values else default

    def values(self, name: str) -> tuple[str, ...]:
        return self.params.get(name, ())

    def flag(self, name: str) -> bool:
        """A boolean as jail(8) takes it: `x;` or `x = true` is on; `nox;` (`allow.nox;`) or `x = false` is off."""
        if name in self.params:
            values = self.params[name]
            return not values or values[-1].lower() not in ("false", "0", "no")
        return False

    @property
    def path(self) -> str:
        return self.value("path")

    @property
    def vnet(self) -> bool:
        # jail(8): vnet is "new" for an own network stack; the bare boolean form means the same.
        return self.flag("vnet") or self.value("vnet") == "new"


def split_quoted(line: str, separator: str = SEPARATOR) -> list[str]:
    """Split one -e line on the separator, honouring jail(8)'s quoting."""
    fields: list[str] = []
    current: list[str] = []
    quote = ""
    i = 0
    while i < len(line):
        c = line[i]
        if c == "\\" and i + 1 < len(line):
            current.append(line[i + 1])
            i += 2
            continue
        if quote:
            if c == quote:
                quote = ""
            else:
                current.append(c)
        elif c in "\"'":
            quote = c
        elif line.startswith(separator, i):
            fields.append("".join(current))
            current = []
            i += len(separator)
            continue
        else:
            current.append(c)
        i += 1
    fields.append("".join(current))
    return fields


def parse_exhibit(text: str, jail: str) -> JailConfig:
    """The configuration of one jail from `jail -e` output; ConfigError when the file does not define it."""
    for line in text.splitlines():
        if not line.strip():
            continue
        params: dict[str, tuple[str, ...]] = {}
        for item in split_quoted(line):
            name, sep, value = item.partition("=")
            params[name] = tuple(value.split(",")) if sep else ()
        if params.get("name", ("",))[-1] == jail:
            return JailConfig(jail, params)
    raise ConfigError(f"jail {jail} is not defined in the jail.conf")


def problems(config: JailConfig, interface: str, datasets: tuple[str, ...]) -> list[str]:
    """What in the configuration keeps this jail from serving NFS from handed-over datasets.

    jail(8) allow.nfsd: nfsd/mountd run only in a vnet jail with allow.nfsd, whose root is a mount point,
    with enforce_statfs 1 or 2 (1 when file systems mounted below the jail root are exported).
    jail(8) allow.mount.zfs and zfs-jail(8): mounting a handed-over dataset inside needs allow.mount,
    allow.mount.zfs and enforce_statfs below 2. jail(8): a jail without exec.start or command must be
    persistent, and exec.start would boot the jail's services before the agent handed over the dataset
    and interface, so the agent runs /etc/rc itself.
    """
    found = []
    if not config.path.startswith("/"):
        found.append("path is not set to an absolute directory")
    if not config.vnet:
        found.append("vnet is not set (nfsd runs only in a VNET jail)")
    if not config.flag("allow.nfsd"):
        found.append("allow.nfsd is not set")
    statfs = config.value("enforce_statfs", "2")
    if statfs not in ("1", "2"):
        found.append(f"enforce_statfs is {statfs}; mountd in a jail needs 1 or 2")
    if datasets:
        if not (config.flag("allow.mount") and config.flag("allow.mount.zfs")):
            found.append("allow.mount and allow.mount.zfs must be set to mount the handed-over datasets")
        if statfs != "1":
            found.append(f"enforce_statfs is {statfs}; mounting and exporting handed-over datasets needs 1")
    if not config.flag("persist"):
        found.append("persist is not set (the agent creates the jail first and starts /etc/rc after the handover)")
    for hook in ("exec.start", "command"):
        if config.values(hook):
            found.append(f"{hook} is set: it would start services before the dataset and interface are handed over")
    moved = config.values("vnet.interface")
    if moved and interface not in moved:
        found.append(f"vnet.interface names {','.join(moved)}, not {interface}")
    return found
