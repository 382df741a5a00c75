"""A small agent used to exercise the OCF framework: its state is a file."""

from __future__ import annotations

from pathlib import Path

from zfsha.ocf import Action, Agent, ConfigError, Context, OcfStatus, Param

agent = Agent(
    name="example",
    shortdesc="Example agent",
    longdesc="Keeps a state file to exercise the framework.",
    params=[
        Param("state_file", "Where the state is kept", required=True, unique_group="state"),
        Param("size", "A size", type="integer", default=3, minimum=1),
        Param("verbose", "Be chatty", type="boolean", default=False, reloadable=True),
        Param("mode", "Mode", type="select", choices=("fast", "safe"), default="safe"),
        Param("old_size", "Old name of size", type="integer", deprecated=True, replaced_with="size"),
        Param("health", "Reported health", default="ok"),
    ],
    actions=[
        Action("start", timeout=20),
        Action("stop", timeout=20),
        Action("monitor", timeout=20, interval=10, depth=0),
        Action("validate-all", timeout=5),
        Action("reload-agent", timeout=5),
        Action("meta-data", timeout=5),
    ],
)


@agent.validate
def validate(ctx: Context) -> None:
    if ctx.params.health == "invalid":
        raise ConfigError("health must not be 'invalid'")
    if ctx.depth >= 10 and not Path(ctx.params.state_file).parent.is_dir():
        raise ConfigError(f"directory of {ctx.params.state_file} does not exist")


@agent.action("start")
def start(ctx: Context) -> None:
    Path(ctx.params.state_file).write_text(str(ctx.params.size))


@agent.action("stop")
def stop(ctx: Context) -> None:
    Path(ctx.params.state_file).unlink(missing_ok=True)


@agent.action("monitor")
def monitor(ctx: Context):  # type: ignore[no-untyped-def]
    if not Path(ctx.params.state_file).exists():
        return OcfStatus.NOT_RUNNING
    if ctx.params.health == "degraded":
        return ctx.degraded("one leg is missing")
    return OcfStatus.SUCCESS


if __name__ == "__main__":
    agent.main()
