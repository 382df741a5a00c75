"""How fence options become the address, scheme and TLS choice of a plug."""

import pytest

from zfsha.errors import ConfigError
from zfsha.fence import FenceOption, FenceOptions
from zfsha.plugs.settings import settings_from_options

NAMES = (
    "type", "ip", "ipport", "username", "password", "ssl", "ssl_secure", "ssl_insecure", "ssl_ca_file", "cli_transport",
    "ssh_options", "cmd_prompt", "cli_status_command", "cli_on_command", "cli_off_command", "login_timeout", "shell_timeout",
)  # fmt: skip


def settings(**values: str):
    return settings_from_options(FenceOptions([FenceOption(name, name, name) for name in NAMES], values))


@pytest.mark.parametrize(
    "family, scheme, port",
    [("tasmota", "http", 80), ("shelly1", "http", 80), ("shelly2", "http", 80), ("homeassistant", "https", 8123),
     ("kasa", "tcp", 9999)],
)  # fmt: skip
def test_each_family_has_its_usual_scheme_and_port(family: str, scheme: str, port: int):
    plug = settings(type=family, ip="plug.lan")
    assert (plug.scheme, plug.port) == (scheme, port)


def test_home_assistant_speaks_plain_http_only_when_the_address_says_so():
    plug = settings(type="homeassistant", ip="http://ha.lan:8124")
    assert (plug.scheme, plug.host, plug.port) == ("http", "ha.lan", 8124)


def test_a_ca_file_or_ssl_flag_turns_https_on_and_ssl_insecure_turns_verification_off():
    assert settings(type="shelly2", ip="p", ssl_ca_file="/etc/ca.pem").verify == "/etc/ca.pem"
    assert settings(type="tasmota", ip="p", ssl="1").scheme == "https"
    insecure = settings(type="tasmota", ip="p", ssl_insecure="1")
    assert (insecure.scheme, insecure.verify, insecure.port) == ("https", False, 443)


def test_cli_defaults_to_ssh_and_needs_a_login_name():
    assert settings(type="cli", ip="pdu", username="ubnt").port == 22
    assert settings(type="cli", ip="pdu", username="ubnt", cli_transport="telnet").port == 23
    with pytest.raises(ConfigError, match="username"):
        settings(type="cli", ip="pdu")


@pytest.mark.parametrize("ip", ["ftp://x", "http://x/api", "http://x:notaport"])
def test_addresses_that_are_not_a_host_or_base_url_are_refused(ip: str):
    with pytest.raises(ConfigError, match="ip"):
        settings(type="tasmota", ip=ip)


def test_labels_name_family_and_address_for_error_messages():
    assert settings(type="kasa", ip="fd00::7").label == "kasa [fd00::7]:9999"
