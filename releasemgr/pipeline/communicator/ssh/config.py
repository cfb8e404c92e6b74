"""What the ssh communicator needs to know: `SSHConfig`, and `from_packer_options()`, which
reads it from a builder's Packer-style `ssh_*` options."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from releasemgr.pipeline.communicator.base import CommunicatorError
from releasemgr.pipeline.durations import parse_duration


@dataclass
class SSHConfig:
    host: str
    port: int = 22
    username: str = "root"
    private_key_file: str | None = None
    password: str | None = field(default=None, repr=False)
    agent_auth: bool = True
    bastion_host: str | None = None
    bastion_port: int = 22
    bastion_username: str | None = None  # default: username
    bastion_private_key_file: str | None = None  # default: private_key_file
    bastion_password: str | None = field(default=None, repr=False)  # default: password
    timeout: float = 300.0  # Packer's ssh_timeout: keep retrying while the host boots
    handshake_attempts: int = 10
    connect_timeout: float = 10.0  # one attempt
    known_hosts_file: str | None = None
    host_key: str | None = None  # "ssh-ed25519 AAAA…": when set, only this key is accepted
    trust_on_first_use: bool = False
    keepalive_interval: float = 5.0
    pty: bool = False
    bastion_host_key: str | None = None  # like host_key, for the bastion
    directory_transfer: str = "auto"  # auto (tar stream when the host has tar) | tar | sftp
    remote_tar: str = "tar"  # the tar program on the host (e.g. "gtar" on BSDs)


def from_packer_options(cfg: Mapping, *, default_host: str | None = None) -> SSHConfig:
    """Packer's communicator options (`ssh_host`, `ssh_port`, …) -> SSHConfig.

    `default_host` is the builder's own idea of the address (an instance's IP), used when
    `ssh_host` is not set. Raises CommunicatorError for a missing host or a bad duration."""
    host = cfg.get("ssh_host") or default_host
    if not host:
        raise CommunicatorError("ssh_host is required to connect")
    try:
        timeout = parse_duration(cfg.get("ssh_timeout"), 300.0)
        keepalive = parse_duration(cfg.get("ssh_keep_alive_interval"), 5.0)
    except ValueError as exc:
        raise CommunicatorError(str(exc)) from None
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
        keepalive_interval=keepalive)
