"""Connect to the instance over SSH: the pipeline's paramiko communicator."""

from __future__ import annotations

from releasemgr.pipeline.communicator import CommunicatorError
from releasemgr.pipeline.communicator.ssh import SSHCommunicator, from_packer_options
from releasemgr.pipeline.runner import Cancelled, StepFailed
from releasemgr.pipeline.steps import ConnectStep


class StepConnect(ConnectStep):

    def run(self, ctx) -> None:
        cfg = ctx.source_config
        if cfg.get("communicator") == "none":
            return
        host = ctx.generated.get("ssh_host")
        if not host:
            raise StepFailed("the instance has no address to connect to (set ssh_interface or ssh_host)")
        try:
            conf = from_packer_options({**cfg, "ssh_private_key_file": ctx.generated.get("private_key_file")},
                                       default_host=host)
        except CommunicatorError as exc:
            raise StepFailed(str(exc)) from None
        conf.host = str(cfg.get("ssh_host") or host)
        learned = ctx.generated.get("host_key")
        if learned and not cfg.get("ssh_host_key"):
            conf.host_key = learned
        elif not conf.known_hosts_file and not conf.host_key:
            conf.trust_on_first_use = True
            ctx.say("No host key in the console output: trusting the first key seen, for this build only")
        ctx.say(f"Waiting for SSH to become available on {conf.host}:{conf.port}...")
        comm = SSHCommunicator(conf, on_info=ctx.say)
        ctx.communicator = comm
        try:
            comm.connect()
        except CommunicatorError as exc:
            if ctx.cancel_event.is_set():
                raise Cancelled() from None
            raise StepFailed(str(exc)) from None
        fp = getattr(comm, "host_key_fingerprint", None)
        if fp:
            ctx.say(f"Host key {fp} ({'learned from the console' if conf.host_key else 'trusted on first use'})")
