"""Parameters and CHAP files: syntax refused with a reason, secrets only from private files."""

from __future__ import annotations

import os

import pytest

from tests.unit.lio.states import ESX, params
from zfsha import secrets
from zfsha.errors import ConfigError
from zfsha.lio import chap
from zfsha.lio import config as lio_config
from zfsha.lio.model import Portal


@pytest.mark.parametrize(
    "text, portal",
    [
        ("169.254.213.10", Portal("169.254.213.10", 3260)),
        ("169.254.213.10:3261", Portal("169.254.213.10", 3261)),
        ("[fd00:213::0010]:3262", Portal("[fd00:213::10]", 3262)),
        ("[fd00:213::1]", Portal("[fd00:213::1]", 3260)),
        ("fd00:213::1", Portal("[fd00:213::1]", 3260)),
    ],
)
def test_portal_syntax(text, portal):
    assert lio_config.parse_portal(text) == portal


@pytest.mark.parametrize("text", ["999.1.1.1", "vip.example:3260", "169.254.213.1:0", "[fd00::1", "169.254.213.1:x"])
def test_bad_portals_are_refused(text):
    with pytest.raises(ConfigError):
        lio_config.parse_portal(text)


@pytest.mark.parametrize(
    "overrides, words",
    [
        ({"target_iqn": "iqn.2024-01.lab:b"}, "rtslib accepts"),
        ({"target_iqn": "iqn.2024-01.local.lab:my_target"}, "rtslib accepts"),
        ({"initiators": ""}, "needs at least one initiator"),
        ({"acl_mode": "generate"}, "leave initiators empty"),
        ({"datasets": "tank/iscsi tank/iscsi/sub"}, "overlap"),
        ({"datasets": "tank@snap"}, "not a ZFS dataset name"),
        ({"portals": ""}, "at least one"),
        ({"initiators": f"{ESX}=/etc/chap iqn.1993-08.org.debian:01:pve1"}, "every initiator has CHAP"),
        ({"initiators": f"{ESX}=relative/path"}, "absolute path"),
        ({"initiators": f"{ESX} {ESX}"}, "twice"),
    ],
)
def test_inconsistent_parameters_are_refused_with_a_reason(overrides, words):
    with pytest.raises(ConfigError, match=words):
        lio_config.parse(params(**overrides))


def test_iscsi_names_are_lower_cased_as_rtslib_stores_them():
    assert lio_config.parse(params(target_iqn="iqn.2025-01.Lab.ZFSHA:T1")).target_iqn == "iqn.2025-01.lab.zfsha:t1"


def test_chap_file_default_applies_to_listed_initiators(tmp_path):
    credentials = tmp_path / "chap"
    credentials.write_text("userid=all\npassword=shared-secret-1\n")
    credentials.chmod(0o600)
    config = lio_config.parse(params(chap_file=str(credentials)))
    loaded = lio_config.load_credentials(config)
    assert {c.userid for c in loaded.per_initiator.values()} == {"all"} and len(loaded.per_initiator) == 2


def write(path, text, mode=0o600):  # type: ignore[no-untyped-def]
    path.write_text(text)
    os.chmod(path, mode)
    return str(path)


def test_chap_file_with_mutual_credentials(tmp_path):
    path = write(
        tmp_path / "c", "# esx1\nuserid=esx1\npassword=initiator-secret\nmutual_userid=target\nmutual_password=target-secret\n"
    )
    loaded = chap.load(path)
    assert loaded.mutual and loaded.userid == "esx1"
    assert "initiator-secret" not in repr(loaded) and "target-secret" not in repr(loaded)
    assert "initiator-secret" not in secrets.redact("password initiator-secret and target-secret")
    assert "target-secret" not in secrets.redact("target-secret")


def test_chap_file_readable_by_others_is_refused(tmp_path):
    path = write(tmp_path / "c", "userid=u\npassword=p-secret-123\n", 0o644)
    with pytest.raises(ConfigError, match="accessible by others"):
        chap.load(path)


@pytest.mark.parametrize(
    "text, words",
    [
        ("userid=u\n", "needs both"),
        ("userid=u\npassword=a b\n", "without spaces"),
        ("userid=u\npassword=p1-secret\nmutual_userid=t\n", "mutual CHAP needs both"),
        ("userid=u\npassword=same-secret\nmutual_userid=t\nmutual_password=same-secret\n", "must differ"),
        ("user=u\npassword=p\n", "expected one of"),
    ],
)
def test_bad_chap_files_are_refused_without_showing_the_secret(tmp_path, text, words):
    path = write(tmp_path / "c", text)
    with pytest.raises(ConfigError, match=words) as caught:
        chap.load(path)
    assert "same-secret" not in caught.value.reason and "p1-secret" not in caught.value.reason
