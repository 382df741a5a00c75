"""Reading jail(8) -e output and deciding whether a jail.conf can serve NFS from handed-over datasets."""

from zfsha.jail.config import parse_exhibit, problems, split_quoted

SEED_JAIL = (
    "name=iscsinfs\tpath=/jail/iscsinfs\thost.hostname=iscsinfs.example.com\tvnet\tvnet.interface=nfs0\t"
    "devfs_ruleset=5\tmount.devfs\texec.consolelog=/var/log/jail_iscsinfs_console.log\tpersist\t"
    "allow.nfsd\tallow.mount\tallow.mount.zfs\tenforce_statfs=1"
)


def test_quoted_values_keep_their_separators_and_escapes():
    assert split_quoted('name=a\texec.start="/bin/sh /etc/rc"\tx=\'say "hi"\'\ty="a\\"b"') == [
        "name=a",
        "exec.start=/bin/sh /etc/rc",
        'x=say "hi"',
        'y=a"b',
    ]


def test_the_jail_is_found_among_several_and_booleans_have_no_values():
    config = parse_exhibit("name=other\tpath=/x\n" + SEED_JAIL + "\n", "iscsinfs")
    assert config.path == "/jail/iscsinfs"
    assert config.vnet and config.flag("allow.nfsd") and not config.flag("allow.quotas")
    assert config.values("vnet.interface") == ("nfs0",)


def test_seed_jail_without_pool_hooks_is_accepted():
    assert problems(parse_exhibit(SEED_JAIL, "iscsinfs"), "nfs0", ("data1/nfs1",)) == []


def test_enforce_statfs_2_serves_only_without_handed_over_datasets():
    config = parse_exhibit(SEED_JAIL.replace("enforce_statfs=1", "enforce_statfs=2"), "iscsinfs")
    assert problems(config, "nfs0", ()) == []
    assert any("needs 1" in p for p in problems(config, "nfs0", ("data1/nfs1",)))


def test_enforce_statfs_0_is_refused_for_mountd():
    config = parse_exhibit(SEED_JAIL.replace("enforce_statfs=1", "enforce_statfs=0"), "iscsinfs")
    assert any("1 or 2" in p for p in problems(config, "nfs0", ()))


def test_exec_start_and_a_foreign_vnet_interface_are_refused():
    changed = SEED_JAIL.replace("vnet.interface=nfs0", 'vnet.interface=em1\texec.start="/bin/sh /etc/rc"')
    config = parse_exhibit(changed, "iscsinfs")
    found = problems(config, "nfs0", ())
    assert any("exec.start" in p for p in found) and any("em1" in p for p in found)


def test_false_booleans_are_off():
    config = parse_exhibit(SEED_JAIL.replace("allow.nfsd", "allow.nfsd=false"), "iscsinfs")
    assert "allow.nfsd is not set" in problems(config, "nfs0", ())
