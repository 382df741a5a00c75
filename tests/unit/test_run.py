import time

import pytest

from zfsha import deadline, run, secrets
from zfsha.errors import CommandFailed, CommandNotFound, CommandTimeout


def test_captures_output_and_exit_code():
    result = run.run(["sh", "-c", "echo out; echo err >&2; exit 3"], check=False)
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")
    assert result.argv[0] == "sh"


def test_failure_raises_with_redacted_argv_and_stderr():
    with pytest.raises(CommandFailed) as caught:
        run.run(["sh", "-c", "echo bad pw=topsecret >&2; exit 1", "topsecret"], redact=["topsecret"])
    assert "topsecret" not in str(caught.value) and "******" in str(caught.value)
    assert caught.value.returncode == 1


def test_missing_tool_is_not_installed():
    with pytest.raises(CommandNotFound) as caught:
        run.run(["zfsha-no-such-tool"])
    assert caught.value.status == 5


def test_timeout_kills_the_whole_process_group():
    started = time.monotonic()
    with pytest.raises(CommandTimeout):
        run.run(["sh", "-c", "sleep 30 & sleep 30"], timeout=0.5)
    assert time.monotonic() - started < 5


def test_action_deadline_caps_every_timeout():
    deadline.set_current(deadline.Deadline(0.5))
    try:
        with pytest.raises(CommandTimeout):
            run.run(["sleep", "10"], timeout=60)
    finally:
        deadline.set_current(deadline.Deadline(None))


def test_deadline_from_pacemaker_timeout_keeps_a_margin():
    limit = deadline.Deadline.from_environ({"OCF_RESKEY_CRM_meta_timeout": "20000"}, 5)
    assert 17 < limit.remaining() <= 18
    assert deadline.Deadline.from_environ({}, 5).remaining() <= 5


def test_environment_is_clean(monkeypatch):
    monkeypatch.setenv("LEAKY", "1")
    result = run.run(["env"])
    assert "LEAKY" not in result.stdout
    assert "PATH=/usr/sbin:/usr/bin" in result.stdout


def test_tool_path_puts_simulators_first(tmp_path, monkeypatch):
    tool = tmp_path / "zpool"
    tool.write_text("#!/bin/sh\necho simulated\n")
    tool.chmod(0o755)
    monkeypatch.setenv("ZFSHA_TOOL_PATH", str(tmp_path))
    assert run.run(["zpool"]).stdout == "simulated\n"


def test_secret_file_must_not_be_readable_by_others(tmp_path):
    from zfsha.errors import ConfigError

    path = tmp_path / "chap"
    path.write_text("s3cret\n")
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="accessible by others"):
        secrets.read_secret_file(str(path), "CHAP secret")
    path.chmod(0o600)
    assert secrets.read_secret_file(str(path), "CHAP secret") == "s3cret"
    assert secrets.redact("x s3cret y") == "x ****** y"
