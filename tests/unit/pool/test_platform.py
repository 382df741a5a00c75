"""Linux answers read from files (through ZFSHA_SYSROOT): hostid and the kstat state word."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from zfsha.platform import Linux, current
from zfsha.zpool.kstat import NOT_IMPORTED, read_state


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ZFSHA_SYSROOT", str(tmp_path))
    return tmp_path


def test_hostid_comes_from_etc_hostid_in_host_byte_order(root: Path) -> None:
    assert Linux().hostid() == 0
    (root / "etc").mkdir()
    (root / "etc/hostid").write_bytes((0x57E7F46E).to_bytes(4, sys.byteorder))
    assert Linux().hostid() == 0x57E7F46E


def test_spl_hostid_module_parameter_wins(root: Path) -> None:
    parameters = root / "sys/module/spl/parameters"
    parameters.mkdir(parents=True)
    (parameters / "spl_hostid").write_text("0\n")
    assert Linux().hostid() == 0
    (parameters / "spl_hostid").write_text("1234\n")
    assert Linux().hostid() == 1234


def test_kstat_tells_not_imported_from_no_zfs_module(root: Path) -> None:
    assert read_state("tank") is None  # no kstat tree: ask zpool
    (root / "proc/spl/kstat/zfs").mkdir(parents=True)
    assert read_state("tank") == NOT_IMPORTED
    (root / "proc/spl/kstat/zfs/tank").mkdir()
    (root / "proc/spl/kstat/zfs/tank/state").write_text("SUSPENDED\n")
    assert read_state("tank") == "SUSPENDED"


def test_platform_is_chosen_by_os_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZFSHA_PLATFORM", raising=False)
    assert current().name == ("freebsd" if sys.platform.startswith("freebsd") else "linux")
    monkeypatch.setenv("ZFSHA_PLATFORM", "freebsd")
    assert current().name == "freebsd"
