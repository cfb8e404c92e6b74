"""The `null` builder: provisioners over SSH against an existing host; no artifact."""

from __future__ import annotations

from releasemgr.common.durations import seconds as parse_duration
from releasemgr.pipeline.runner import Step, StepFailed
from releasemgr.pipeline.steps import ConnectStep, StepProvision


def ssh_config_from(cfg: dict, *, default_host: str | None = None):
    """Packer's communicator options -> SSHConfig."""
    from releasemgr.pipeline.communicator import SSHConfig

    host = cfg.get("ssh_host") or default_host
    if not host:
        raise StepFailed("ssh_host is required to connect")
    try:
        timeout = parse_duration(cfg.get("ssh_timeout"), 300.0)
    except ValueError as exc:
        raise StepFailed(str(exc)) from None
    return SSHConfig(
        host=str(host), port=int(cfg.get("ssh_port") or 22), username=str(cfg.get("ssh_username") or "root"),
        private_key_file=cfg.get("ssh_private_key_file"), password=cfg.get("ssh_password"),
        agent_auth=bool(cfg.get("ssh_agent_auth", True)),
        bastion_host=cfg.get("ssh_bastion_host"), bastion_port=int(cfg.get("ssh_bastion_port") or 22),
        bastion_username=cfg.get("ssh_bastion_username"),
        bastion_private_key_file=cfg.get("ssh_bastion_private_key_file"),
        bastion_password=cfg.get("ssh_bastion_password"), timeout=timeout,
        handshake_attempts=int(cfg.get("ssh_handshake_attempts") or 10),
        known_hosts_file=cfg.get("ssh_known_hosts_file"), host_key=cfg.get("ssh_host_key"),
        trust_on_first_use=bool(cfg.get("ssh_trust_on_first_use", False)), pty=bool(cfg.get("ssh_pty", False)),
        keepalive_interval=parse_duration(cfg.get("ssh_keep_alive_interval"), 5.0, negative=True))


class StepConnectSSH(ConnectStep):

    def run(self, ctx) -> None:
        cfg = ctx.source_config
        if cfg.get("communicator") == "none":
            ctx.communicator = None
            return
        from releasemgr.pipeline.communicator import CommunicatorError, SSHCommunicator

        conf = ssh_config_from(cfg)
        ctx.say(f"Connecting to {conf.host}:{conf.port} over SSH...")
        try:
            comm = SSHCommunicator(conf, on_info=ctx.say)
            comm.connect()
        except CommunicatorError as exc:
            raise StepFailed(str(exc)) from None
        ctx.communicator = comm


def steps(ctx) -> list[Step]:
    return [StepConnectSSH(), StepProvision()]
