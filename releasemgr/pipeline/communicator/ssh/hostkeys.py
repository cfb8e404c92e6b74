"""Host-key checking, before any credential is sent: a pinned key, a known_hosts file, or
trust on first use (remembered for the life of the communicator, so a reconnect after a
reboot still refuses a different key)."""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Callable

from releasemgr.pipeline.communicator.base import CommunicatorError

from .config import SSHConfig


def fingerprint(key) -> str:
    """OpenSSH's SHA256 fingerprint of a paramiko key."""
    return blob_fingerprint(key.asbytes())


def blob_fingerprint(blob: bytes) -> str:
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def key_blob(line: str) -> tuple[str, bytes]:
    """("ssh-ed25519", raw key) from a "ssh-ed25519 AAAA…" line."""
    parts = line.split()
    if len(parts) < 2:
        raise CommunicatorError(f"host_key {line[:40]!r} is not in the form 'ssh-ed25519 AAAA…'")
    try:
        return parts[0], base64.b64decode(parts[1], validate=True)
    except ValueError:
        raise CommunicatorError(f"host_key {line[:40]!r}: the key is not valid base64") from None


def allowed_key_types(names: list[str]) -> list[str]:
    """The host-key algorithms that produce keys of these types (an RSA key signs three ways)."""
    out = []
    for name in names:
        out.extend(["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] if name == "ssh-rsa" else [name])
    return out


def host_name(host: str, port: int) -> str:
    """How known_hosts names a host: `host`, or `[host]:port` off port 22."""
    return host if port == 22 else f"[{host}]:{port}"


class HostKeyVerifier:
    """Checks the keys of the target host and of the bastion against `config`."""

    def __init__(self, config: SSHConfig, on_info: Callable[[str], None]):
        self.config = config
        self.on_info = on_info
        self.fingerprint: str | None = None  # of the target's key, once seen
        self.learned_host_key: str | None = None  # "type base64" of the target's key (TOFU memory)
        self._learned_bastion_key: str | None = None

    def _known_hosts(self):
        import paramiko

        path = self.config.known_hosts_file
        if not path:
            return None
        try:
            return paramiko.HostKeys(os.path.expanduser(path))
        except OSError as e:
            raise CommunicatorError(f"cannot read known_hosts file {path}: {e.strerror or e}") from None
        except Exception as e:  # a malformed line
            text = str(e).strip() or type(e).__name__
            raise CommunicatorError(f"cannot parse known_hosts file {path}: {text}") from None

    def _is_bastion(self, host: str, port: int) -> bool:
        cfg = self.config
        return bool(cfg.bastion_host) and host == cfg.bastion_host and port == cfg.bastion_port

    def expected_key_types(self, host: str, port: int) -> list[str]:
        """Ask the server for a key type we can check (like OpenSSH does with known_hosts)."""
        pinned = self.config.bastion_host_key if self._is_bastion(host, port) else self.config.host_key
        if pinned:
            return allowed_key_types([key_blob(pinned)[0]])
        known = self._known_hosts()
        if known is not None:
            entry = known.lookup(host_name(host, port))
            if entry:
                return allowed_key_types(list(entry.keys()))
        return []

    def check(self, transport, host: str, port: int, pinned: str | None, *, bastion: bool) -> None:
        """Accept the key `transport` received, or raise CommunicatorError saying why not.

        The first rule that applies decides: the pinned key, then the known_hosts entry,
        then trust on first use; with none of them configured, nothing is accepted."""
        key = transport.get_remote_server_key()
        fp = fingerprint(key)
        label = f"{'bastion ' if bastion else ''}{host}:{port}"
        if not bastion:
            self.fingerprint = fp
        if pinned:
            self._check_pinned(key, fp, label, pinned)
            return
        known = self._known_hosts()
        if known is not None and self._check_known(known, key, fp, label, host, port):
            return
        if self.config.trust_on_first_use:
            self._check_first_use(key, fp, label, bastion=bastion)
            return
        raise CommunicatorError(
            f"no way to check the host key of {label} (it presented {key.get_name()} {fp})",
            "set a known_hosts file, the expected host key (ssh_host_key), or trust_on_first_use = true "
            "for hosts the build itself just started")

    def _check_pinned(self, key, fp: str, label: str, pinned: str) -> None:
        kind, blob = key_blob(pinned)
        if blob != key.asbytes():
            raise CommunicatorError(
                f"host key verification failed for {label}: it presented {key.get_name()} {fp}, "
                f"which is not the expected host key ({kind} {blob_fingerprint(blob)})",
                "the host is not the one the builder started, or the expected key is stale; "
                "nothing was sent to it")
        self.on_info(f"Host key {fp} of {label} matches the key the builder learned")

    def _check_known(self, known, key, fp: str, label: str, host: str, port: int) -> bool:
        """True when known_hosts vouches for the key; False when it has no entry and trust on
        first use may decide; raises on a mismatch."""
        known_hosts = self.config.known_hosts_file
        entry = known.lookup(host_name(host, port)) or {}
        if entry:
            if any(k.asbytes() == key.asbytes() for k in entry.values()):
                self.on_info(f"Host key {fp} of {label} verified against {known_hosts}")
                return True
            raise CommunicatorError(
                f"host key verification failed for {label}: it presented {key.get_name()} {fp}, which does "
                f"not match {known_hosts}",
                "someone may be intercepting the connection, or the host was rebuilt: "
                "update known_hosts only if you know why the key changed")
        if not self.config.trust_on_first_use:
            raise CommunicatorError(
                f"host key verification failed for {label}: {host_name(host, port)} is not in "
                f"{known_hosts} (it presented {key.get_name()} {fp})",
                f"add it (ssh-keyscan -p {port} {host} >> {known_hosts}) after checking "
                "the fingerprint, or set ssh_host_key / trust_on_first_use")
        return False

    def _check_first_use(self, key, fp: str, label: str, *, bastion: bool) -> None:
        learned = self._learned_bastion_key if bastion else self.learned_host_key
        if learned is None:
            seen = f"{key.get_name()} {key.get_base64()}"
            if bastion:
                self._learned_bastion_key = seen
            else:
                self.learned_host_key = seen
            self.on_info(f"Trusting host key {fp} of {label} on first use (for this build only)")
            return
        if learned.split()[1] == key.get_base64():
            self.on_info(f"Host key {fp} of {label} is the one trusted on first use")
            return
        raise CommunicatorError(
            f"host key verification failed for {label}: it presented {key.get_name()} {fp}, but this build "
            f"trusted {blob_fingerprint(base64.b64decode(learned.split()[1]))} on first use",
            "the host key changed during the build; something else may answer on that address")
