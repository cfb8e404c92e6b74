"""The communicator options every remote builder shares (Packer SDK ``communicator.Config``)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping

from ._model import BOOL, DURATION, LIST_NUMBER, LIST_STRING, NUMBER, STRING, Body, Option, at_most_one, error
from ._types import is_set, is_true

COMMUNICATORS = ("ssh", "winrm", "none")

OPTIONS: tuple[Option, ...] = (
    Option("communicator", STRING, default="ssh", choices=COMMUNICATORS,
           doc="How to talk to the machine: ssh, winrm or none."),
    Option("pause_before_connecting", DURATION, doc="Wait this long after the machine is reachable before connecting."),
    # ssh
    Option("ssh_host", STRING, doc="Address to connect to; by default the builder's own idea of the address."),
    Option("ssh_port", NUMBER, default=22, doc="SSH port."),
    Option("ssh_username", STRING, doc="User to connect as (required with the ssh communicator)."),
    Option("ssh_password", STRING, doc="Password for the SSH user. Prefer keys, and never write it in the template."),
    Option("ssh_keypair_name", STRING, doc="Name of an existing key pair to use instead of a temporary one."),
    Option("temporary_key_pair_name", STRING, doc="Name of the temporary key pair (default: generated)."),
    Option("temporary_key_pair_type", STRING, default="rsa", choices=("rsa", "ed25519"),
           doc="Type of the temporary key pair."),
    Option("temporary_key_pair_bits", NUMBER, doc="Size in bits of the temporary RSA key."),
    Option("ssh_ciphers", LIST_STRING, doc="Ciphers the client offers."),
    Option("ssh_clear_authorized_keys", BOOL, default=False,
           doc="Remove the temporary key from authorized_keys at the end."),
    Option("ssh_key_exchange_algorithms", LIST_STRING, doc="Key exchange algorithms the client offers."),
    Option(
        "ssh_private_key_file",
        STRING,
        doc="Path to the private key to authenticate with.",
        local_path=True,
        unless=(("communicator", "none"), ("communicator", "winrm")),
    ),
    Option("ssh_certificate_file", STRING, doc="Path to a user certificate for the private key."),
    Option("ssh_pty", BOOL, default=False, doc="Request a PTY for commands."),
    Option("ssh_known_hosts_file", STRING, local_path=True,
           doc="releasemgr: check the host key against this known_hosts file (Packer does not check host keys)."),
    Option("ssh_host_key", STRING, doc="releasemgr: accept only this host key (\"ssh-ed25519 AAAA...\")."),
    Option("ssh_trust_on_first_use", BOOL, default=False,
           doc="releasemgr: accept the first host key seen, for this build only."),
    Option("ssh_timeout", DURATION, default="5m", doc="How long to wait for SSH to become available."),
    Option("ssh_wait_timeout", DURATION, doc="Old name of ssh_timeout."),
    Option("ssh_agent_auth", BOOL, default=False, doc="Authenticate with the local SSH agent."),
    Option("ssh_disable_agent_forwarding", BOOL, default=False, doc="Do not forward the SSH agent."),
    Option("ssh_handshake_attempts", NUMBER, default=10, doc="Handshake attempts before giving up."),
    Option("ssh_bastion_host", STRING, doc="Bastion (jump) host to connect through."),
    Option("ssh_bastion_port", NUMBER, default=22, doc="Bastion SSH port."),
    Option("ssh_bastion_agent_auth", BOOL, default=False, doc="Authenticate to the bastion with the SSH agent."),
    Option("ssh_bastion_username", STRING, doc="User on the bastion."),
    Option("ssh_bastion_password", STRING, doc="Password on the bastion."),
    Option("ssh_bastion_interactive", BOOL, default=False, doc="Use keyboard-interactive auth on the bastion."),
    Option(
        "ssh_bastion_private_key_file",
        STRING,
        doc="Private key for the bastion (default: ssh_private_key_file).",
        local_path=True,
        unless=(("ssh_bastion_host", None), ("communicator", "none"), ("communicator", "winrm")),
    ),
    Option("ssh_bastion_certificate_file", STRING, doc="Certificate for the bastion key."),
    Option("ssh_file_transfer_method", STRING, default="scp", choices=("scp", "sftp"), doc="How files are copied."),
    Option("ssh_proxy_host", STRING, doc="SOCKS proxy to connect through."),
    Option("ssh_proxy_port", NUMBER, default=1080, doc="SOCKS proxy port."),
    Option("ssh_proxy_username", STRING, doc="SOCKS proxy user."),
    Option("ssh_proxy_password", STRING, doc="SOCKS proxy password."),
    Option("ssh_keep_alive_interval", DURATION, default="5s",
           doc="Interval of keep-alive messages; negative disables them."),
    Option("ssh_read_write_timeout", DURATION, doc="Timeout of one read or write on the connection (default: none)."),
    Option("ssh_remote_tunnels", LIST_STRING, doc="Remote port forwards, as for `ssh -R`."),
    Option("ssh_local_tunnels", LIST_STRING, doc="Local port forwards, as for `ssh -L`."),
    Option("ssh_public_key", LIST_NUMBER, doc="Internal: public key bytes (set by builders)."),
    Option("ssh_private_key", LIST_NUMBER, doc="Internal: private key bytes (set by builders)."),
    # winrm
    Option("winrm_username", STRING, doc="User to connect as (required with the winrm communicator)."),
    Option("winrm_password", STRING, doc="Password for the WinRM user."),
    Option("winrm_host", STRING, doc="Address to connect to."),
    Option("winrm_no_proxy", BOOL, default=False, doc="Ignore HTTP proxy settings for WinRM."),
    Option("winrm_port", NUMBER, doc="WinRM port (default 5985, or 5986 with winrm_use_ssl)."),
    Option("winrm_timeout", DURATION, default="30m", doc="How long to wait for WinRM to become available."),
    Option("winrm_use_ssl", BOOL, default=False, doc="Use HTTPS."),
    Option("winrm_insecure", BOOL, default=False, doc="Do not verify the server certificate."),
    Option("winrm_use_ntlm", BOOL, default=False, doc="Use NTLM authentication."),
)

GROUPS = (at_most_one("ssh_bastion_host", "ssh_proxy_host"),)

# Each option's default, in one place: the docs show it and the builders fall back to it
# (pipeline.communicator.ssh.config reads ssh_* from here). None: no default.
DEFAULTS: Mapping[str, Any] = MappingProxyType({o.name: o.default for o in OPTIONS})


def communicator_type(body: Body) -> str | None:
    """ssh, winrm, none; None when it is only known at build time."""
    value = body.attrs.get("communicator")
    if not is_set(value):
        return "ssh"
    return value if isinstance(value, str) else None


def check_communicator(body: Body, environ: Mapping[str, str], *, where: str):
    """The rules of the SDK's ``Config.Prepare`` that need more than one option."""
    a = body.attrs
    kind = communicator_type(body)
    if kind == "ssh":
        for name in ("ssh_local_tunnels", "ssh_remote_tunnels"):
            tunnels = a.get(name)
            for i, spec in enumerate(tunnels if isinstance(tunnels, list) else []):
                if isinstance(spec, str) and spec.count(":") < 2:
                    yield error(
                        f'Invalid value for "{name}" in {where}',
                        f'"{spec}" is not a tunnel: write it as for ssh -L/-R, "port:host:hostport" '
                        '(or "bind_address:port:host:hostport").',
                        (name, i),
                    )
        if not is_set(a.get("ssh_username")):
            yield error(
                f'Missing required argument "ssh_username" in {where}',
                "An ssh_username must be specified when the communicator is ssh (the default).",
            )
        if is_set(a.get("ssh_certificate_file")) and not is_set(a.get("ssh_private_key_file")):
            yield error(
                f'"ssh_certificate_file" needs "ssh_private_key_file" in {where}',
                "ssh_private_key_file must be specified if ssh_certificate_file is specified.",
                ("ssh_certificate_file",),
            )
        if is_set(a.get("ssh_bastion_certificate_file")) and not is_set(a.get("ssh_bastion_private_key_file")):
            yield error(
                f'"ssh_bastion_certificate_file" needs "ssh_bastion_private_key_file" in {where}',
                "ssh_bastion_private_key_file must be specified if ssh_bastion_certificate_file is specified.",
                ("ssh_bastion_certificate_file",),
            )
        if is_set(a.get("ssh_bastion_host")) and not (
            is_set(a.get("ssh_bastion_password"))
            or is_set(a.get("ssh_bastion_private_key_file"))
            or is_set(a.get("ssh_private_key_file"))
            or is_true(a.get("ssh_bastion_agent_auth"))
        ):
            yield error(
                f"No way to authenticate to the SSH bastion in {where}",
                "ssh_bastion_password, ssh_bastion_private_key_file or ssh_bastion_agent_auth must be specified.",
                ("ssh_bastion_host",),
            )
    elif kind == "winrm":
        if not is_set(a.get("winrm_username")):
            yield error(
                f'Missing required argument "winrm_username" in {where}',
                "winrm_username must be specified when the communicator is winrm.",
            )
