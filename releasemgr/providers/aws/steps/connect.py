"""Connect to the instance over SSH: the pipeline's paramiko communicator."""

from __future__ import annotations

from releasemgr.pipeline.communicator import CommunicatorError
from releasemgr.pipeline.communicator.ssh import SSHCommunicator, from_packer_options
from releasemgr.pipeline.runner import Cancelled, StepFailed
from releasemgr.pipeline.steps import ConnectStep
from releasemgr.providers.aws.config import CommConfig
from releasemgr.providers.aws.state import AwsState


class StepConnect(ConnectStep):

    def __init__(self, comm: CommConfig):
        self.config = comm

    def run(self, ctx) -> None:
        comm_cfg = self.config
        if comm_cfg.type == "none":
            return
        st: AwsState = ctx.state
        host = st.ssh_host
        if not host:
            raise StepFailed("the instance has no address to connect to (set ssh_interface or ssh_host)")
        try:
            conf = from_packer_options({**comm_cfg.options, "ssh_private_key_file": st.private_key_file},
                                       default_host=host)
        except CommunicatorError as exc:
            raise StepFailed(str(exc)) from None
        conf.host = comm_cfg.ssh_host or host
        if st.host_key and not comm_cfg.ssh_host_key:
            conf.host_key = st.host_key
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
