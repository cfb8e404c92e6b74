"""The `null` builder: provisioners over SSH against an existing host; no artifact."""

from __future__ import annotations

from releasemgr.pipeline.communicator import CommunicatorError
from releasemgr.pipeline.communicator.ssh import SSHCommunicator, from_packer_options
from releasemgr.pipeline.runner import Step, StepFailed
from releasemgr.pipeline.steps import ConnectStep, StepProvision


class StepConnectSSH(ConnectStep):

    def run(self, ctx) -> None:
        cfg = ctx.source_config
        if cfg.get("communicator") == "none":
            ctx.communicator = None
            return
        try:
            conf = from_packer_options(cfg)
        except CommunicatorError as exc:
            raise StepFailed(str(exc)) from None
        ctx.say(f"Connecting to {conf.host}:{conf.port} over SSH...")
        try:
            comm = SSHCommunicator(conf, on_info=ctx.say)
            comm.connect()
        except CommunicatorError as exc:
            raise StepFailed(str(exc)) from None
        ctx.communicator = comm


def steps(ctx) -> list[Step]:
    return [StepConnectSSH(), StepProvision()]
