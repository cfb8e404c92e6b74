"""What the ssh communicator needs to know: `SSHConfig`, and `from_packer_options()`, which
reads it from a builder's Packer-style `ssh_*` options.

The defaults are the schema's (`template/schema/communicator.py`), the ones `release
validate` and the generated docs show, so a template means the same thing everywhere."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from releasemgr.pipeline.communicator.base import CommunicatorError
from releasemgr.common.durations import seconds as parse_duration
from releasemgr.template.schema.communicator import DEFAULTS


def _seconds(name: str) -> float:
    return parse_duration(DEFAULTS[name])


@dataclass
class SSHConfig:
    host: str
    port: int = DEFAULTS["ssh_port"]
    username: str = "root"  # the schema has none: ssh_username is required in templates
    private_key_file: str | None = None
    password: str | None = field(default=None, repr=False)
    agent_auth: bool = DEFAULTS["ssh_agent_auth"]
    bastion_host: str | None = None
    bastion_port: int = DEFAULTS["ssh_bastion_port"]
    bastion_username: str | None = None  # default: username
    bastion_private_key_file: str | None = None  # default: private_key_file
    bastion_password: str | None = field(default=None, repr=False)  # default: password
    timeout: float = _seconds("ssh_timeout")  # keep retrying while the host boots
    handshake_attempts: int = DEFAULTS["ssh_handshake_attempts"]
    connect_timeout: float = 10.0  # one attempt
    known_hosts_file: str | None = None
    host_key: str | None = None  # "ssh-ed25519 AAAA…": when set, only this key is accepted
    trust_on_first_use: bool = DEFAULTS["ssh_trust_on_first_use"]
    keepalive_interval: float = _seconds("ssh_keep_alive_interval")
    pty: bool = DEFAULTS["ssh_pty"]
    bastion_host_key: str | None = None  # like host_key, for the bastion
    directory_transfer: str = "auto"  # auto (tar stream when the host has tar) | tar | sftp
    remote_tar: str = "tar"  # the tar program on the host (e.g. "gtar" on BSDs)


def from_packer_options(cfg: Mapping, *, default_host: str | None = None) -> SSHConfig:
    """Packer's communicator options (`ssh_host`, `ssh_port`, …) -> SSHConfig.

    `default_host` is the builder's own idea of the address (an instance's IP), used when
    `ssh_host` is not set. An option that is unset (or null) takes the schema's default.
    Raises CommunicatorError for a missing host or a bad duration."""
    def given(name: str):
        value = cfg.get(name)
        return DEFAULTS[name] if value is None or value == "" else value

    host = cfg.get("ssh_host") or default_host
    if not host:
        raise CommunicatorError("ssh_host is required to connect")
    try:
        timeout = parse_duration(given("ssh_timeout"))
        keepalive = parse_duration(given("ssh_keep_alive_interval"), negative=True)  # -1s: off, as in Packer
    except ValueError as exc:
        raise CommunicatorError(str(exc)) from None
    return SSHConfig(
        host=str(host), port=int(given("ssh_port") or DEFAULTS["ssh_port"]),
        username=str(cfg.get("ssh_username") or "root"),
        private_key_file=cfg.get("ssh_private_key_file"), password=cfg.get("ssh_password"),
        agent_auth=bool(given("ssh_agent_auth")),
        bastion_host=cfg.get("ssh_bastion_host"),
        bastion_port=int(given("ssh_bastion_port") or DEFAULTS["ssh_bastion_port"]),
        bastion_username=cfg.get("ssh_bastion_username"),
        bastion_private_key_file=cfg.get("ssh_bastion_private_key_file"),
        bastion_password=cfg.get("ssh_bastion_password"), timeout=timeout,
        handshake_attempts=int(given("ssh_handshake_attempts") or DEFAULTS["ssh_handshake_attempts"]),
        known_hosts_file=cfg.get("ssh_known_hosts_file"), host_key=cfg.get("ssh_host_key"),
        trust_on_first_use=bool(given("ssh_trust_on_first_use")), pty=bool(given("ssh_pty")),
        keepalive_interval=keepalive)
