"""The reconcile plan, desired vs actual, without a kernel: what it does, in which order, and what it never touches."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.unit.lio import memory_lio
from tests.unit.lio.states import ESX, IQN, PVE, backstore, live, mapped, params, want, zvol
from zfsha.lio import config as lio_config
from zfsha.lio import plan
from zfsha.lio.chap import Chap
from zfsha.lio.model import Acl, Backstore, LioState, Ownership, Portal

OWN = Ownership(("tank/iscsi",))


def converge(desired: LioState, actual: LioState) -> tuple[list[plan.Step], LioState]:
    steps = plan.reconcile(desired, actual, OWN)
    after = memory_lio.apply(actual, steps, IQN, 1)
    assert plan.reconcile(desired, after, OWN) == [], "a second plan after applying the first must be empty"
    return steps, after


def actions(steps: list[plan.Step]) -> list[str]:
    return [s.action for s in steps]


def test_from_nothing_creates_bottom_up_and_enables_the_tpg_last():
    desired, _ = want([zvol("vm-1"), zvol("vm-2")])
    steps, after = converge(desired, LioState(tpg=None))
    names = actions(steps)
    assert names[:2] == ["create_target", "create_tpg"]
    assert names[-1] == "enable_tpg"
    assert names.index("create_backstore") < names.index("create_lun") < names.index("create_acl")
    assert names.index("create_acl") < names.index("create_mapped_lun") < names.index("create_portal")
    assert after.tpg is not None and after.tpg.enabled
    assert after.tpg.luns == {0: "tank-iscsi-vm-1", 1: "tank-iscsi-vm-2"}
    assert after.tpg.acls[ESX].mapped_luns == mapped(0, 1)


def test_converged_state_plans_nothing():
    desired, _ = want([zvol("vm-1", 0, "s1"), zvol("vm-2", 1, "s2")])
    _, after = converge(desired, LioState(tpg=None))
    assert plan.reconcile(desired, after, OWN) == []


def test_new_zvol_only_adds_its_backstore_lun_and_mappings():
    desired, _ = want([zvol("vm-1", 0, "s1")])
    _, running = converge(desired, LioState(tpg=None))
    desired, _ = want([zvol("vm-1", 0, "s1"), zvol("vm-2")], running)
    steps, after = converge(desired, running)
    assert {s.scope for s in steps} == {plan.LUN_SCOPE}
    assert {s.action for s in steps} == {"create_backstore", "set_backstore_attribute", "create_lun", "create_mapped_lun"}
    assert after.tpg.luns[0] == "tank-iscsi-vm-1" and after.tpg.luns[1] == "tank-iscsi-vm-2"


def test_vanished_zvol_is_unmapped_and_its_backstore_removed():
    desired, _ = want([zvol("vm-1", 0, "s1"), zvol("vm-2", 1, "s2")])
    _, running = converge(desired, LioState(tpg=None))
    desired, _ = want([zvol("vm-2", 1, "s2")], running)
    steps, after = converge(desired, running)
    assert actions(steps) == ["delete_lun", "delete_backstore"]
    assert steps[0].lun == 0 and steps[1].name == "tank-iscsi-vm-1"
    assert after.tpg.luns == {1: "tank-iscsi-vm-2"}
    assert after.tpg.acls[ESX].mapped_luns == mapped(1)


def test_existing_luns_are_never_renumbered_when_zvols_come_and_go():
    zvols = [zvol(f"vm-{i}") for i in range(5)]
    desired, first = want(zvols)
    _, running = converge(desired, LioState(tpg=None))
    before = {z.name: first.identities[z.name] for z in zvols}
    # vm-0 and vm-2 vanish, two new zvols sort before everyone else
    remaining = [replace(z, lun=before[z.name].lun, serial=before[z.name].serial) for z in zvols if z.name[-1] not in "02"]
    desired, second = want([zvol("aaa"), zvol("aab"), *remaining], running)
    converge(desired, running)
    for z in remaining:
        assert second.identities[z.name] == before[z.name]
    # the numbers just freed (0 and 2) are not handed to new disks in the same pass
    assert {second.identities["tank/iscsi/aaa"].lun, second.identities["tank/iscsi/aab"].lun} == {5, 6}


def test_live_lun_number_wins_over_a_different_stored_one():
    running = live(
        [backstore("vm-1", "s1")], {7: "tank-iscsi-vm-1"}, {ESX: Acl(ESX, None, mapped(7)), PVE: Acl(PVE, None, mapped(7))}
    )
    desired, assignment = want([zvol("vm-1", 3, "s1")], running)
    assert assignment.identities["tank/iscsi/vm-1"].lun == 7
    assert assignment.to_store["tank/iscsi/vm-1"].lun == 7
    assert plan.reconcile(desired, running, OWN) == []


def test_adopts_a_lun_the_proxmox_plugin_created_with_its_random_serial():
    running = live(
        [backstore("vm-100-disk-0", "pve-random"), backstore("vm-1", "s1")],
        {0: "tank-iscsi-vm-1", 1: "tank-iscsi-vm-100-disk-0"},
        {ESX: Acl(ESX, None, mapped(0)), PVE: Acl(PVE, None, mapped(0))},
    )
    desired, assignment = want([zvol("vm-1", 0, "s1"), zvol("vm-100-disk-0")], running)
    chosen = assignment.identities["tank/iscsi/vm-100-disk-0"]
    assert (chosen.lun, chosen.serial) == (1, "pve-random")
    assert set(assignment.to_store) == {"tank/iscsi/vm-100-disk-0"}
    steps, _ = converge(desired, running)
    assert actions(steps) == ["create_mapped_lun", "create_mapped_lun"]


def test_failover_node_exports_the_stored_numbers_and_serials():
    desired, assignment = want([zvol("vm-1", 5, "serial-a"), zvol("vm-2", 0, "serial-b")])
    assert assignment.to_store == {}
    _, after = converge(desired, LioState(tpg=None))
    assert after.tpg.luns == {5: "tank-iscsi-vm-1", 0: "tank-iscsi-vm-2"}
    assert after.backstores["tank-iscsi-vm-1"].serial == "serial-a"


def test_duplicate_stored_identity_keeps_it_on_the_first_and_renews_the_copy():
    _, assignment = want([zvol("copy", 0, "same"), zvol("orig", 0, "same")])
    ids = assignment.identities
    assert ids["tank/iscsi/copy"].serial == "same" and ids["tank/iscsi/copy"].lun == 0
    assert ids["tank/iscsi/copy"].serial != ids["tank/iscsi/orig"].serial
    assert ids["tank/iscsi/copy"].lun != ids["tank/iscsi/orig"].lun
    assert set(assignment.to_store) == {"tank/iscsi/orig"}


def test_duplicate_identity_of_a_live_zvol_stays_with_the_live_one():
    running = live(
        [backstore("orig", "same")], {0: "tank-iscsi-orig"}, {ESX: Acl(ESX, None, mapped(0)), PVE: Acl(PVE, None, mapped(0))}
    )
    _, assignment = want([zvol("copy", 0, "same"), zvol("orig", 0, "same")], running)
    assert assignment.identities["tank/iscsi/orig"].serial == "same"
    assert assignment.identities["tank/iscsi/copy"].serial != "same"
    assert assignment.identities["tank/iscsi/copy"].lun != 0


def test_serial_of_a_backstore_we_do_not_own_is_never_reused():
    foreign = Backstore("other-vol", "/dev/zvol/other/vol", "taken")
    running = LioState(tpg=None, backstores={"other-vol": foreign})
    _, assignment = want([zvol("vm-1", None, "taken")], running)
    assert assignment.identities["tank/iscsi/vm-1"].serial != "taken"


def test_renamed_zvol_releases_the_device_before_its_new_backstore_claims_it():
    running = live(
        [backstore("old", "s1")], {0: "tank-iscsi-old"}, {ESX: Acl(ESX, None, mapped(0)), PVE: Acl(PVE, None, mapped(0))}
    )
    # zfs rename keeps the user properties; the udev link moves to the new name
    renamed = Backstore("tank-iscsi-old", "/dev/zvol/tank/iscsi/new", "s1", running.backstores["tank-iscsi-old"].attributes)
    running = replace(running, backstores={"tank-iscsi-old": renamed})
    desired, assignment = want([zvol("new", 0, "s1")], running)
    assert assignment.identities["tank/iscsi/new"].lun == 0
    steps, after = converge(desired, running)
    assert actions(steps).index("delete_backstore") < actions(steps).index("create_backstore")
    assert after.tpg.luns == {0: "tank-iscsi-new"}


def test_backstore_with_a_wrong_serial_is_replaced_with_its_lun_and_mappings():
    running = live(
        [backstore("vm-1", "wrong")], {0: "tank-iscsi-vm-1"}, {ESX: Acl(ESX, None, mapped(0)), PVE: Acl(PVE, None, mapped(0))}
    )
    desired, _ = want([zvol("vm-1", 0, "right")], running)
    # identity prefers the live serial; force the case of a desired state that differs
    desired = replace(desired, backstores={"tank-iscsi-vm-1": replace(desired.backstores["tank-iscsi-vm-1"], serial="right")})
    steps, after = converge(desired, running)
    assert actions(steps)[:2] == ["delete_lun", "delete_backstore"]
    assert after.backstores["tank-iscsi-vm-1"].serial == "right"
    assert after.tpg.acls[ESX].mapped_luns == mapped(0)


def test_objects_of_other_datasets_and_foreign_luns_are_left_alone():
    mine = backstore("vm-1", "s1")
    other_dataset = backstore("vm-9", "s9", dataset="tank/other")
    lookalike = Backstore("tank-iscsi-disk", "/dev/sdb", "s8")  # our prefix, not our device
    running = live(
        [mine, other_dataset, lookalike],
        {0: "tank-iscsi-vm-1", 4: "tank-other-vm-9", 5: ""},
        {ESX: Acl(ESX, None, mapped(0)), PVE: Acl(PVE, None, mapped(0))},
    )
    desired, assignment = want([zvol("vm-1", 0, "s1"), zvol("vm-2", 4, None)], running)
    assert assignment.identities["tank/iscsi/vm-2"].lun not in (4, 5)
    steps = plan.reconcile(desired, running, OWN)
    touched = {s.name for s in steps} | {s.lun for s in steps if s.action.endswith("lun") and s.action != "create_mapped_lun"}
    assert "tank-other-vm-9" not in touched and "tank-iscsi-disk" not in touched
    assert 4 not in touched and 5 not in touched


def test_backstore_another_tpg_still_exports_is_not_removed():
    running = live(
        [backstore("vm-1", "s1")],
        {0: "tank-iscsi-vm-1"},
        {ESX: Acl(ESX, None, mapped(0)), PVE: Acl(PVE, None, mapped(0))},
        outside_users={"tank-iscsi-vm-1": 1},
    )
    desired, _ = want([], running)
    assert actions(plan.reconcile(desired, running, OWN)) == ["delete_lun"]


def test_chap_change_of_one_initiator_touches_only_that_acl():
    old = Chap("esx", "old-secret-123")
    new = Chap("esx", "new-secret-456")
    pve = Chap("pve", "pve-secret-789")
    running = live(
        [backstore("vm-1", "s1")],
        {0: "tank-iscsi-vm-1"},
        {ESX: Acl(ESX, old, mapped(0)), PVE: Acl(PVE, pve, mapped(0))},
        attributes={"generate_node_acls": "0", "cache_dynamic_acls": "0", "authentication": "1"},
    )
    creds = lio_config.Credentials({ESX: new, PVE: pve}, None)
    desired, _ = want([zvol("vm-1", 0, "s1")], running, creds, initiators=f"{ESX}=/e {PVE}=/p")
    steps = plan.reconcile(desired, running, OWN)
    assert actions(steps) == ["set_acl_chap"]
    assert steps[0].initiator == ESX and steps[0].chap == new


def test_removed_initiator_loses_its_acl_and_nothing_else_changes():
    running = live(
        [backstore("vm-1", "s1")], {0: "tank-iscsi-vm-1"}, {ESX: Acl(ESX, None, mapped(0)), PVE: Acl(PVE, None, mapped(0))}
    )
    desired, _ = want([zvol("vm-1", 0, "s1")], running, initiators=ESX)
    steps = plan.reconcile(desired, running, OWN)
    assert [(s.action, s.initiator) for s in steps] == [("delete_acl", PVE)]


def test_turning_chap_on_sets_credentials_before_requiring_authentication():
    running = live([backstore("vm-1", "s1")], {0: "tank-iscsi-vm-1"}, {ESX: Acl(ESX, None, mapped(0))})
    creds = lio_config.Credentials({ESX: Chap("esx", "esx-secret-123")}, None)
    desired, _ = want([zvol("vm-1", 0, "s1")], running, creds, initiators=f"{ESX}=/e")
    steps = plan.reconcile(desired, running, OWN)
    assert actions(steps) == ["set_acl_chap", "set_tpg_attribute"]
    assert steps[1].attribute == ("authentication", "1")


def test_generate_mode_sets_tpg_chap_and_removes_explicit_acls():
    running = live([backstore("vm-1", "s1")], {0: "tank-iscsi-vm-1"}, {ESX: Acl(ESX, None, mapped(0))})
    tpg_chap = Chap("pve", "pve-secret-123", "target", "target-secret-456")
    desired, _ = want(
        [zvol("vm-1", 0, "s1")], running, lio_config.Credentials({}, tpg_chap), acl_mode="generate", initiators="", chap_file="/c"
    )
    steps, after = converge(desired, running)
    assert ("delete_acl", ESX) == (steps[0].action, steps[0].initiator)
    assert after.tpg.chap == tpg_chap
    assert after.tpg.attributes["generate_node_acls"] == "1"
    assert after.tpg.attributes["demo_mode_write_protect"] == "0"
    assert after.tpg.attributes["authentication"] == "1"


def test_portal_change_replaces_only_the_portal():
    running = live(
        [backstore("vm-1", "s1")], {0: "tank-iscsi-vm-1"}, {ESX: Acl(ESX, None, mapped(0)), PVE: Acl(PVE, None, mapped(0))}
    )
    desired, _ = want([zvol("vm-1", 0, "s1")], running, portals="169.254.213.11 [fd00:213::10]:3261")
    steps, after = converge(desired, running)
    assert actions(steps) == ["delete_portal", "create_portal", "create_portal"]
    assert after.tpg.portals == {Portal("169.254.213.11", 3260), Portal("[fd00:213::10]", 3261)}


def test_disabled_tpg_is_enabled_and_that_is_target_scope():
    running = live(
        [backstore("vm-1", "s1")],
        {0: "tank-iscsi-vm-1"},
        {ESX: Acl(ESX, None, mapped(0)), PVE: Acl(PVE, None, mapped(0))},
        enabled=False,
    )
    desired, _ = want([zvol("vm-1", 0, "s1")], running)
    steps = plan.reconcile(desired, running, OWN)
    assert [(s.action, s.scope) for s in steps] == [("enable_tpg", plan.TARGET_SCOPE)]


def test_only_a_build_from_nothing_or_into_a_disabled_tpg_is_hidden_until_enabled():
    desired, _ = want([zvol("vm-1"), zvol("vm-2")])
    assert plan.hidden_until_enabled(plan.reconcile(desired, LioState(tpg=None), OWN))
    _, running = converge(desired, LioState(tpg=None))
    grown, _ = want([zvol("vm-1", 0, "s1"), zvol("vm-2", 1, "s2"), zvol("vm-3")], running)
    assert not plan.hidden_until_enabled(plan.reconcile(grown, running, OWN)), "the live TPG shows a new LUN at once"
    assert not plan.hidden_until_enabled([])
    stale = live(
        [backstore("vm-1", "wrong"), backstore("vm-9", "s9")],
        {0: "tank-iscsi-vm-1", 9: "tank-iscsi-vm-9"},
        {ESX: Acl(ESX, None, mapped(0, 9)), PVE: Acl(PVE, None, mapped(0, 9))},
        enabled=False,
    )
    desired, _ = want([zvol("vm-1", 0, "s1")], stale)
    steps = plan.reconcile(desired, stale, OWN)
    assert steps[-1].action == "enable_tpg" and "delete_backstore" in actions(steps)
    assert not plan.hidden_until_enabled(steps), "a removal can reach a backstore another TPG exports"


def test_attribute_drift_on_a_backstore_is_fixed_in_place():
    running = live(
        [backstore("vm-1", "s1", attributes=(("emulate_tpu", "0"), ("emulate_tpws", "1")))],
        {0: "tank-iscsi-vm-1"},
        {ESX: Acl(ESX, None, mapped(0)), PVE: Acl(PVE, None, mapped(0))},
    )
    desired, _ = want([zvol("vm-1", 0, "s1")], running)
    steps = plan.reconcile(desired, running, OWN)
    assert [(s.action, s.attribute) for s in steps] == [("set_backstore_attribute", ("emulate_tpu", "1"))]


def test_lun_numbers_beyond_the_mapped_lun_limit_are_not_used_in_acl_mode():
    zvols = [zvol(f"vm-{i:03d}") for i in range(258)]
    _, assignment = want(zvols)
    assert len(assignment.identities) == 256
    assert len(assignment.skipped) == 2
    assert max(i.lun for i in assignment.identities.values()) == 255


def test_backstore_name_collision_skips_the_second_zvol():
    _, assignment = want([zvol("a-b"), zvol("a/b")])
    assert "tank/iscsi/a/b" in assignment.skipped or "tank/iscsi/a-b" in assignment.skipped
    assert len(assignment.identities) == 1


@pytest.mark.parametrize("enabled", [True, False])
def test_teardown_removes_the_tpg_owned_backstores_and_an_empty_target(enabled):
    running = live(
        [backstore("vm-1", "s1"), backstore("vm-9", "s9", dataset="tank/other")],
        {0: "tank-iscsi-vm-1"},
        {ESX: Acl(ESX, None, mapped(0))},
        enabled=enabled,
    )
    steps = plan.teardown(running, OWN, IQN, 1)
    expected = (["disable_tpg"] if enabled else []) + ["delete_tpg", "delete_backstore", "delete_target"]
    assert actions(steps) == expected
    after = memory_lio.apply(running, steps, IQN, 1)
    assert after.tpg is None and set(after.backstores) == {"tank-other-vm-9"}


def test_teardown_after_a_half_failed_stop_finishes_the_job():
    half = LioState(tpg=None, backstores={"tank-iscsi-vm-1": backstore("vm-1", "s1")}, target_exists=True)
    steps = plan.teardown(half, OWN, IQN, 1)
    assert actions(steps) == ["delete_backstore", "delete_target"]
    assert plan.teardown(memory_lio.apply(half, steps, IQN, 1), OWN, IQN, 1) == []


def test_teardown_keeps_the_target_of_other_tpgs_and_shared_backstores():
    running = replace(
        live([backstore("vm-1", "s1")], {0: "tank-iscsi-vm-1"}, outside_users={"tank-iscsi-vm-1": 1}), other_tpgs=frozenset({2})
    )
    assert actions(plan.teardown(running, OWN, IQN, 1)) == ["disable_tpg", "delete_tpg"]
    assert plan.held_elsewhere(running, OWN) == ["tank-iscsi-vm-1"]


def test_nothing_there_tears_down_to_nothing():
    assert plan.teardown(LioState(tpg=None), OWN, IQN, 1) == []


def test_step_descriptions_never_contain_secrets():
    creds = lio_config.Credentials({ESX: Chap("esx", "hunter2-secret", "tgt", "mutual-secret-9")}, None)
    desired, _ = want([zvol("vm-1")], None, creds, initiators=f"{ESX}=/e")
    steps = plan.reconcile(desired, LioState(tpg=None), OWN)
    text = " ".join(s.describe() + repr(s) for s in steps)
    assert "hunter2-secret" not in text and "mutual-secret-9" not in text
    assert "userid esx" in text


def test_params_builder_is_valid():
    assert lio_config.parse(params()).target_iqn == IQN
