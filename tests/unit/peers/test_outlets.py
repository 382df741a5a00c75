from lab.peers.outlets import Outlet, PowerBoard


def test_switch_runs_the_hook_of_the_new_state_once(hooks):
    board = PowerBoard([hooks.outlet("node1")])
    assert board.set("node1", False) is True
    assert board.set("node1", False) is False
    board.wait_hooks()
    assert hooks.lines() == ["node1 off"]
    board.close()


def test_cycle_runs_off_then_on(hooks):
    board = PowerBoard([hooks.outlet("node2")])
    board.cycle("node2")
    board.wait_hooks()
    assert hooks.lines() == ["node2 off", "node2 on"]
    assert board.is_on("node2")
    board.close()


def test_outlet_without_hook_only_holds_state():
    board = PowerBoard([Outlet("a", on=False)])
    assert board.toggle("a") is True
    assert board.snapshot() == {"a": True}
    assert board.wait_hooks()
    assert board.hook_runs == []
    board.close()


def test_failing_hook_is_recorded_not_raised():
    board = PowerBoard([Outlet("a", off_hook=["false"])])
    board.set("a", False)
    board.wait_hooks()
    assert [run.returncode for run in board.hook_runs] == [1]
    board.close()
