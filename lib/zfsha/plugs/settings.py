"""How to reach one plug: the family, the address, credentials and transport choices, from fence options."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from zfsha.errors import ConfigError
from zfsha.fence import FenceOptions

FAMILIES = ("tasmota", "shelly1", "shelly2", "kasa", "homeassistant", "cli")

# The port each family listens on out of the box; ipport overrides it.
DEFAULT_PORTS = {
    "tasmota": {"http": 80, "https": 443},
    "shelly1": {"http": 80, "https": 443},
    "shelly2": {"http": 80, "https": 443},
    "homeassistant": {"http": 8123, "https": 8123},
    "kasa": {"tcp": 9999},
    "cli": {"ssh": 22, "telnet": 23},
}

DEFAULT_PROMPT = r"[#$>] $"


@dataclass(frozen=True)
class CliCommands:
    """Shell command templates of a command-line plug; {plug} is the outlet."""

    status: str = "cat /proc/power/relay{plug}"
    on: str = "echo 1 > /proc/power/relay{plug}"
    off: str = "echo 0 > /proc/power/relay{plug}"
    listing: str = "ls /proc/power"


@dataclass(frozen=True)
class PlugSettings:
    family: str
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    # http or https for the HTTP families, ssh or telnet for cli, tcp for kasa.
    scheme: str = "http"
    # requests' verify: True (system CAs), a CA file, or False (ssl_insecure).
    verify: bool | str = True
    connect_timeout: float = 5.0
    command_timeout: float = 3.0
    ssh_options: tuple[str, ...] = ()
    prompt: str = DEFAULT_PROMPT
    commands: CliCommands = field(default_factory=CliCommands)

    @property
    def label(self) -> str:
        """How error messages name the device: family and address."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.family} {host}:{self.port}"

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def settings_from_options(options: FenceOptions) -> PlugSettings:
    """PlugSettings for the fence options; ConfigError names the option that is wrong."""
    import shlex

    family = options.text("type")
    if family not in FAMILIES:
        raise ConfigError(f"option type (--type) is required: one of {', '.join(FAMILIES)}")
    raw_ip = (options.text("ip") or "").strip()
    host, url_scheme, url_port = _split_address(raw_ip)
    scheme = _scheme(family, options, url_scheme)
    port = url_port or options.integer("ipport") or DEFAULT_PORTS[family][scheme]
    if not 0 < port < 65536:
        raise ConfigError(f"option ipport must be a TCP port (1-65535), got {port}")
    ca_file = options.text("ssl_ca_file")
    verify: bool | str = ca_file or True
    if options.flag("ssl_insecure"):
        verify = False
    username = options.text("username") or None
    if family == "cli" and not username:
        raise ConfigError("option username (--username) is required for type cli: the login name")
    try:
        ssh_options = tuple(shlex.split(options.text("ssh_options") or ""))
    except ValueError as err:
        raise ConfigError(f"option ssh_options cannot be split into words: {err}") from None
    commands = CliCommands(
        status=options.text("cli_status_command") or CliCommands.status,
        on=options.text("cli_on_command") or CliCommands.on,
        off=options.text("cli_off_command") or CliCommands.off,
    )
    return PlugSettings(
        family=family,
        host=host,
        port=port,
        username=username,
        password=options.text("password") or None,
        scheme=scheme,
        verify=verify,
        connect_timeout=options.seconds("login_timeout") or 5.0,
        command_timeout=options.seconds("shell_timeout") or 3.0,
        ssh_options=ssh_options,
        prompt=options.text("cmd_prompt") or DEFAULT_PROMPT,
        commands=commands,
    )


def _split_address(raw_ip: str) -> tuple[str, str | None, int | None]:
    """host, and scheme and port when ip was given as a URL (http://ha.lan:8123)."""
    if not raw_ip:
        raise ConfigError("option ip (--ip) is required: the address of the plug")
    if "://" not in raw_ip:
        return raw_ip.strip("[]"), None, None
    parts = urlsplit(raw_ip)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise ConfigError(f"option ip must be a host name, an address or http(s)://host[:port], got {raw_ip!r}")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"option ip has an invalid port: {raw_ip!r}") from None
    return parts.hostname, parts.scheme, port


def _scheme(family: str, options: FenceOptions, url_scheme: str | None) -> str:
    if family == "kasa":
        return "tcp"
    if family == "cli":
        return options.text("cli_transport") or "ssh"
    if url_scheme:
        return url_scheme
    if any(options.flag(name) for name in ("ssl", "ssl_secure", "ssl_insecure")) or options.text("ssl_ca_file"):
        return "https"
    # A Home Assistant token must not cross the network in clear text unless the admin says so
    # (ip=http://...); Tasmota and Shelly firmware speak plain HTTP only, so that is their default.
    return "https" if family == "homeassistant" else "http"
