"""The `ssh` communicator (paramiko): commands, SFTP and tar-stream transfers to a host.

paramiko is imported inside the functions that need it, so `SSHConfig` can be built
(and templates validated) without paying for the import.

Connecting follows Packer: keep trying while the host boots (`timeout`), count failed
handshakes and authentications (`handshake_attempts`), check the host key before sending
any credential. Commands run through the login shell with variables exported in the
command itself (sshd drops client-sent variables unless AcceptEnv allows them). Each
command prints its shell's pid first (stripped from the output), so a cancel or a timeout
can kill the command's whole process group: sshd makes every session its own group.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import os
import posixpath
import re
import selectors
import socket
import stat
import tarfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from .base import (Communicator, CommunicatorCancelled, CommunicatorError, ConnectionLost, LineCallback, LineSplitter,
                   env_prefix, shell_quote, upload_target)

SFTP_REQUEST = 255 * 1024  # OpenSSH's sftp-server takes messages up to 256 KiB
READ_CHUNK = 1 << 20
SFTP_SESSIONS = 6  # parallel SFTP sessions for the per-file directory fallback
WINDOW = 1 << 20  # receive window: larger ones make paramiko's buffer copies dominate downloads
MAX_PACKET = 1 << 15
PREFERRED_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr", "aes256-ctr", "aes192-ctr")
PID_LINE = re.compile(rb"(?:^|(?<=\n))__releasemgr_pid__=(\d+)\r?\n")
KILL_GRACE = 1.0


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


def fingerprint(key) -> str:
    """OpenSSH's SHA256 fingerprint of a paramiko key."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")


def _key_blob(line: str) -> tuple[str, bytes]:
    parts = line.split()
    if len(parts) < 2:
        raise CommunicatorError(f"host_key {line[:40]!r} is not in the form 'ssh-ed25519 AAAA…'")
    try:
        return parts[0], base64.b64decode(parts[1], validate=True)
    except ValueError:
        raise CommunicatorError(f"host_key {line[:40]!r}: the key is not valid base64") from None


def _allowed_key_types(names: list[str]) -> list[str]:
    out = []
    for name in names:
        out.extend(["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] if name == "ssh-rsa" else [name])
    return out


class SSHCommunicator(Communicator):
    """A connection to `config.host`, opened on first use (or by `connect()`).

    `close()` drops the connection; a later call reconnects (after a reboot, say) and,
    with trust_on_first_use, still refuses a host key different from the one it learned."""

    def __init__(self, config: SSHConfig, *, on_info: Callable[[str], None] | None = None):
        super().__init__()
        self.config = config
        self.on_info = on_info or (lambda _msg: None)
        self.host_key_fingerprint: str | None = None
        self.learned_host_key: str | None = None  # "type base64" of the host key seen (TOFU memory)
        self._learned_bastion_key: str | None = None
        self._transport = None
        self._bastion = None
        self._sftp = None
        self._has_tar: bool | None = None
        self.last_directory_transfer: str | None = None  # "tar" or "sftp": how the last directory moved
        self._lock = threading.RLock()
        self._active: set = set()  # channels of running transfers, closed by cancel()
        self._connecting = None  # the transport in its handshake, closed by cancel()

    @property
    def where(self) -> str:
        via = f" via {self.config.bastion_host}:{self.config.bastion_port}" if self.config.bastion_host else ""
        return f"{self.config.host}:{self.config.port}{via}"

    # -- connecting ----------------------------------------------------------------------
    def connect(self, timeout: float | None = None) -> None:
        """Connect now, retrying while the host boots for `config.timeout` seconds (or
        `timeout`, when shorter); a no-op when connected."""
        with self._lock:
            if self._transport is not None and self._transport.is_active():
                return
            self._drop()
            self._transport = self._connect_with_retries(timeout)
            self._has_tar = None

    def _connect_with_retries(self, limit: float | None = None):
        import paramiko

        cfg = self.config
        wait = cfg.timeout if limit is None else min(cfg.timeout, limit)
        deadline = time.monotonic() + wait
        failures, last_error = 0, "no attempt made"
        self.on_info("Waiting for SSH to become available...")
        while True:
            self._check_cancel(f"SSH connection to {self.where}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CommunicatorError(
                    f"timed out after {wait:g}s waiting for SSH on {self.where}: {last_error}",
                    "check that the host is up, that sshd listens on that port and that nothing "
                    "(security group, firewall) blocks it; raise ssh_timeout for slow boots")
            try:
                sock = self._open_socket(min(cfg.connect_timeout, remaining))
            except CommunicatorError:
                raise
            except (_Unreachable, OSError, EOFError, paramiko.SSHException) as e:
                last_error = str(e) if isinstance(e, _Unreachable) else _describe(e)
                self._sleep(min(1.0, max(0.0, deadline - time.monotonic())))
                continue
            try:
                transport = self._handshake(sock, cfg.host, cfg.port, min(cfg.connect_timeout, remaining))
            except paramiko.ssh_exception.IncompatiblePeer as e:
                sock.close()
                raise CommunicatorError(f"{self.where}: no algorithm in common with the server: {_describe(e)}",
                                        "a pinned host_key or known_hosts entry of another key type than the "
                                        "server's host keys causes this") from None
            except (OSError, EOFError, paramiko.SSHException) as e:
                sock.close()
                failures += 1
                last_error = f"SSH handshake failed: {_describe(e)}"
                if failures >= cfg.handshake_attempts:
                    raise CommunicatorError(f"{self.where}: {last_error} ({failures} attempts)",
                                            "is this port an SSH server? check ssh_port and ssh_handshake_attempts")
                self._sleep(min(1.0, max(0.0, deadline - time.monotonic())))
                continue
            try:
                self._check_host_key(transport, cfg.host, cfg.port, cfg.host_key, bastion=False)
                self._authenticate(transport, cfg.username, cfg.private_key_file, cfg.password, cfg.agent_auth,
                                   f"{cfg.host}:{cfg.port}")
            except (_AuthFailed, OSError, EOFError, paramiko.SSHException) as e:
                transport.close()
                failures += 1
                last_error = str(e) if isinstance(e, _AuthFailed) else f"SSH authentication failed: {_describe(e)}"
                if failures >= cfg.handshake_attempts or time.monotonic() >= deadline:
                    raise CommunicatorError(
                        f"{last_error} ({failures} attempts)",
                        "check ssh_username, that the public key is in the user's authorized_keys "
                        "(or the password), and ssh_handshake_attempts") from None
                self._sleep(min(1.0, max(0.0, deadline - time.monotonic())))
                continue
            except BaseException:
                transport.close()
                raise
            if cfg.keepalive_interval and cfg.keepalive_interval > 0:
                transport.set_keepalive(max(1, int(cfg.keepalive_interval)))
            self.on_info("Connected to SSH!")
            return transport

    def _sleep(self, seconds: float) -> None:
        if self._cancel.wait(seconds):
            self._check_cancel(f"SSH connection to {self.where}")

    def _open_socket(self, timeout: float):
        cfg = self.config
        if not cfg.bastion_host:
            return self._tcp_connect(cfg.host, cfg.port, timeout)
        try:
            bastion = self._bastion_transport(timeout)
        except (OSError, EOFError, paramiko_errors()) as e:
            raise _Unreachable(f"bastion {cfg.bastion_host}:{cfg.bastion_port}: {_describe(e)}") from None
        # a direct-tcpip channel through the bastion is the socket of the real connection
        try:
            return bastion.open_channel("direct-tcpip", (cfg.host, cfg.port), ("127.0.0.1", 0), timeout=timeout)
        except (OSError, EOFError, paramiko_errors()) as e:
            text = getattr(e, "text", None) or _describe(e)
            raise _Unreachable(f"the bastion cannot reach {cfg.host}:{cfg.port}: {text}") from None

    def _tcp_connect(self, host: str, port: int, timeout: float) -> socket.socket:
        """A TCP connection that cancel() interrupts (a blocking connect would not notice)."""
        last: BaseException = OSError(f"{host} has no address")
        for family, kind, proto, _, addr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
            sock = socket.socket(family, kind, proto)
            try:
                sock.setblocking(False)
                rc = sock.connect_ex(addr)
                if rc not in (0, errno.EINPROGRESS):
                    raise OSError(rc, os.strerror(rc))
                if rc:
                    with selectors.DefaultSelector() as sel:
                        sel.register(sock, selectors.EVENT_WRITE)
                        sel.register(self._cancel, selectors.EVENT_READ)
                        ready = sel.select(timeout)
                    self._check_cancel(f"SSH connection to {self.where}")
                    if not ready:
                        raise socket.timeout("timed out")
                    err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        raise OSError(err, os.strerror(err))
                sock.setblocking(True)
                sock.settimeout(timeout)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return sock
            except CommunicatorCancelled:
                sock.close()
                raise
            except OSError as e:
                sock.close()
                last = e
        raise last

    def _bastion_transport(self, timeout: float):
        import paramiko

        cfg = self.config
        if self._bastion is not None and self._bastion.is_active():
            return self._bastion
        where = f"bastion {cfg.bastion_host}:{cfg.bastion_port}"
        sock = self._tcp_connect(cfg.bastion_host, cfg.bastion_port, timeout)
        try:
            transport = self._handshake(sock, cfg.bastion_host, cfg.bastion_port, timeout)
        except (OSError, EOFError, paramiko.SSHException):
            sock.close()
            raise
        try:
            self._check_host_key(transport, cfg.bastion_host, cfg.bastion_port, cfg.bastion_host_key, bastion=True)
            self._authenticate(transport, cfg.bastion_username or cfg.username,
                               cfg.bastion_private_key_file or cfg.private_key_file,
                               cfg.bastion_password if cfg.bastion_password is not None else cfg.password,
                               cfg.agent_auth, where)
        except _AuthFailed as e:
            transport.close()
            raise CommunicatorError(str(e), "check ssh_bastion_username and the bastion's credentials") from None
        except BaseException:
            transport.close()
            raise
        if cfg.keepalive_interval and cfg.keepalive_interval > 0:
            transport.set_keepalive(max(1, int(cfg.keepalive_interval)))
        self._bastion = transport
        return transport

    def _handshake(self, sock, host: str, port: int, timeout: float):
        import paramiko

        transport = paramiko.Transport(sock, default_window_size=WINDOW, default_max_packet_size=MAX_PACKET)
        opts = transport.get_security_options()
        ciphers = list(opts.ciphers)
        preferred = [c for c in PREFERRED_CIPHERS if c in ciphers]
        opts.ciphers = preferred + [c for c in ciphers if c not in preferred]
        allowed = self._expected_key_types(host, port)
        if allowed:
            keys = [k for k in opts.key_types if k in allowed]
            if keys:
                opts.key_types = keys
        self._connecting = transport  # cancel() closes it, which ends start_client at once
        try:
            transport.start_client(timeout=timeout)
        except BaseException:
            transport.close()
            self._check_cancel(f"SSH connection to {self.where}")
            raise
        finally:
            self._connecting = None
        return transport

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
            raise CommunicatorError(f"cannot parse known_hosts file {path}: {_describe(e)}") from None

    @staticmethod
    def _host_name(host: str, port: int) -> str:
        return host if port == 22 else f"[{host}]:{port}"

    def _expected_key_types(self, host: str, port: int) -> list[str]:
        """Ask the server for a key type we can check (like OpenSSH does with known_hosts)."""
        pinned = self.config.bastion_host_key if host == self.config.bastion_host and port == self.config.bastion_port \
            and self.config.bastion_host else self.config.host_key
        if pinned:
            return _allowed_key_types([_key_blob(pinned)[0]])
        known = self._known_hosts()
        if known is not None:
            entry = known.lookup(self._host_name(host, port))
            if entry:
                return _allowed_key_types(list(entry.keys()))
        return []

    def _check_host_key(self, transport, host: str, port: int, pinned: str | None, *, bastion: bool) -> None:
        key = transport.get_remote_server_key()
        fp = fingerprint(key)
        seen = f"{key.get_name()} {key.get_base64()}"
        label = f"{'bastion ' if bastion else ''}{host}:{port}"
        if not bastion:
            self.host_key_fingerprint = fp
        if pinned:
            kind, blob = _key_blob(pinned)
            if blob != key.asbytes():
                raise CommunicatorError(
                    f"host key verification failed for {label}: it presented {key.get_name()} {fp}, "
                    f"which is not the expected host key ({kind} {_blob_fingerprint(blob)})",
                    "the host is not the one the builder started, or the expected key is stale; "
                    "nothing was sent to it")
            self.on_info(f"Host key {fp} of {label} matches the key the builder learned")
            return
        known = self._known_hosts()
        if known is not None:
            entry = known.lookup(self._host_name(host, port)) or {}
            if entry:
                if any(k.asbytes() == key.asbytes() for k in entry.values()):
                    self.on_info(f"Host key {fp} of {label} verified against {self.config.known_hosts_file}")
                    return
                raise CommunicatorError(
                    f"host key verification failed for {label}: it presented {key.get_name()} {fp}, which does "
                    f"not match {self.config.known_hosts_file}",
                    "someone may be intercepting the connection, or the host was rebuilt: "
                    "update known_hosts only if you know why the key changed")
            if not self.config.trust_on_first_use:
                raise CommunicatorError(
                    f"host key verification failed for {label}: {self._host_name(host, port)} is not in "
                    f"{self.config.known_hosts_file} (it presented {key.get_name()} {fp})",
                    f"add it (ssh-keyscan -p {port} {host} >> {self.config.known_hosts_file}) after checking "
                    "the fingerprint, or set ssh_host_key / trust_on_first_use")
        if self.config.trust_on_first_use:
            learned = self._learned_bastion_key if bastion else self.learned_host_key
            if learned is None:
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
                f"trusted {_blob_fingerprint(base64.b64decode(learned.split()[1]))} on first use",
                "the host key changed during the build; something else may answer on that address")
        raise CommunicatorError(
            f"no way to check the host key of {label} (it presented {key.get_name()} {fp})",
            "set a known_hosts file, the expected host key (ssh_host_key), or trust_on_first_use = true "
            "for hosts the build itself just started")

    def _authenticate(self, transport, username: str, key_file: str | None, password: str | None,
                      agent_auth: bool, where: str) -> None:
        import paramiko

        tried: list[str] = []
        errors: list[str] = []

        def done() -> bool:
            return transport.is_authenticated()

        if key_file:
            tried.append(f"publickey {key_file}")
            pkey = _load_key(key_file)
            try:
                transport.auth_publickey(username, pkey)
            except paramiko.AuthenticationException as e:
                errors.append(_describe(e))
        if not done() and agent_auth and os.environ.get("SSH_AUTH_SOCK"):
            try:
                agent_keys = paramiko.Agent().get_keys()
            except Exception:  # an agent that does not answer is not an error: try the rest
                agent_keys = ()
            for akey in agent_keys:
                tried.append("agent key")
                try:
                    transport.auth_publickey(username, akey)
                    break
                except paramiko.AuthenticationException as e:
                    errors.append(_describe(e))
        if not done() and password is not None:
            tried.append("password")
            try:
                transport.auth_password(username, password)
            except paramiko.BadAuthenticationType as e:
                if "keyboard-interactive" in (e.allowed_types or []):
                    try:
                        transport.auth_interactive(username, lambda _t, _i, prompts: [password for _ in prompts])
                    except paramiko.AuthenticationException as e2:
                        errors.append(_describe(e2))
                else:
                    errors.append(f"server allows only {', '.join(e.allowed_types or [])}")
            except paramiko.AuthenticationException as e:
                errors.append(_describe(e))
        if done():
            return
        if not transport.is_active():
            raise _AuthFailed(f"SSH authentication for {username}@{where}: the connection closed")
        if not tried:
            raise CommunicatorError(f"no SSH credentials for {username}@{where}",
                                    "set ssh_private_key_file or ssh_password, or run an ssh-agent")
        raise _AuthFailed(f"SSH authentication failed for {username}@{where} (tried {', '.join(tried)})")

    def _conn(self, timeout: float | None = None):
        self._check_cancel(f"SSH on {self.where}")
        self.connect(timeout)
        return self._transport

    # -- commands ------------------------------------------------------------------------
    def run(self, command: str, *, env: Mapping[str, str] | None = None, on_stdout: LineCallback | None = None,
            on_stderr: LineCallback | None = None, timeout: float | None = None) -> int:
        import paramiko

        prefix = env_prefix(env)
        deadline = None if timeout is None else time.monotonic() + timeout
        transport = self._conn(timeout)  # a command's timeout also bounds waiting for a reconnect
        try:
            chan = transport.open_session(timeout=self.config.connect_timeout)
            if self.config.pty:
                chan.get_pty(term="vt100", width=200, height=50)
            chan.exec_command("echo __releasemgr_pid__=$$\n" + prefix + command)
            chan.shutdown_write()  # no stdin: a command that reads it sees EOF instead of hanging
        except (OSError, EOFError, paramiko.SSHException) as e:
            self._lost(e)
            cls = CommunicatorError if self._transport is not None else ConnectionLost
            raise cls(f"{self.where}: cannot start a command: {_describe(e)}") from None
        try:
            return self._pump(chan, command, LineSplitter(on_stdout), LineSplitter(on_stderr), timeout, deadline)
        finally:
            chan.close()

    def _pump(self, chan, command: str, out: LineSplitter, err: LineSplitter, timeout: float | None,
              deadline: float | None) -> int:
        import paramiko

        pid: int | None = None
        head = b""  # stdout before the pid line is complete
        sel = selectors.DefaultSelector()
        sel.register(chan.fileno(), selectors.EVENT_READ)
        sel.register(self._cancel, selectors.EVENT_READ)
        try:
            while True:
                if self._cancel.is_set():
                    self._kill(chan, pid)
                    raise CommunicatorCancelled(f"{self.where}: command cancelled: {_short(command)}")
                if deadline is not None and time.monotonic() >= deadline:
                    self._kill(chan, pid)
                    raise CommunicatorError(f"{self.where}: command timed out after {timeout:g}s and was killed: "
                                            f"{_short(command)}")
                while chan.recv_ready():
                    data = chan.recv(1 << 16)
                    if head is not None:
                        # the pid line comes first, unless the login shell's rc files print something
                        head += data
                        found = split_pid_line(head)
                        if found:
                            (pid, data), head = found, None
                        elif len(head) > 8192:
                            data, head = head, None  # no pid line (an unusual shell): pass everything on
                        else:
                            continue
                    out.feed(data)
                while chan.recv_stderr_ready():
                    err.feed(chan.recv_stderr(1 << 16))
                if chan.eof_received and not chan.recv_ready() and not chan.recv_stderr_ready():
                    break
                if chan.closed and not chan.recv_ready() and not chan.recv_stderr_ready():
                    break
                wait = 0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic()))
                sel.select(wait)
            if head:
                out.feed(head)
            out.close()
            err.close()
            # the exit status follows EOF closely; wait for it, still honouring cancel and timeout
            while not chan.exit_status_ready():
                if self._cancel.is_set():
                    self._kill(chan, pid)
                    raise CommunicatorCancelled(f"{self.where}: command cancelled: {_short(command)}")
                if chan.closed or not self._transport.is_active():
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    self._kill(chan, pid)
                    raise CommunicatorError(f"{self.where}: command timed out after {timeout:g}s: {_short(command)}")
                chan.status_event.wait(0.2)
            status = chan.recv_exit_status() if chan.exit_status_ready() else -1
            if status == -1:
                # no status (paramiko's -1): the command died of a signal (exit-signal), or the
                # connection dropped, which the transport notices a moment after the channel closes
                end = time.monotonic() + 0.5
                while self._transport.is_active() and time.monotonic() < end:
                    time.sleep(0.02)
                if not self._transport.is_active():
                    self._drop()
                    raise ConnectionLost(f"{self.where}: the connection closed while running: {_short(command)}")
            return status
        except (OSError, EOFError, paramiko.SSHException) as e:
            self._lost(e)
            raise ConnectionLost(f"{self.where}: connection lost while running {_short(command)}: "
                                 f"{_describe(e)}") from None
        finally:
            sel.close()

    def _kill(self, chan, pid: int | None) -> None:
        """TERM the command's process group (its shell leads it), KILL what is left."""
        if pid is None:
            _send_signal(chan, "TERM")
        for sig in ("TERM", "KILL"):
            if pid is not None:
                self._fire(f"kill -{sig} -{pid} 2>/dev/null || kill -{sig} {pid} 2>/dev/null; true")
            end = time.monotonic() + KILL_GRACE
            while time.monotonic() < end and not chan.exit_status_ready() and not chan.closed:
                chan.status_event.wait(0.05)
            if chan.exit_status_ready() or chan.closed:
                if pid is not None and sig == "TERM":
                    # the shell is gone; members of its group that ignored TERM still get KILL
                    self._fire(f"kill -KILL -{pid} 2>/dev/null; true")
                break
        chan.close()

    def _fire(self, command: str) -> None:
        """Run a short command and wait briefly for it (used while cancelling)."""
        try:
            c = self._transport.open_session(timeout=5)
            c.exec_command(command)
            c.status_event.wait(5)
            c.close()
        except Exception:  # best effort: the connection may be gone, which ends the command anyway
            pass

    # -- cancel and close ------------------------------------------------------------------------
    def cancel(self) -> None:
        super().cancel()
        for chan in [*self._active, self._connecting]:
            if chan is None:
                continue
            try:
                chan.close()
            except Exception:
                pass

    def _lost(self, error) -> None:
        if self._transport is not None and not self._transport.is_active():
            self._drop()

    def _drop(self) -> None:
        for obj in (self._sftp, self._transport):
            if obj is not None:
                try:
                    obj.close()
                except Exception:
                    pass
        self._sftp = None
        self._transport = None

    def close(self) -> None:
        with self._lock:
            self._drop()
            if self._bastion is not None:
                try:
                    self._bastion.close()
                except Exception:
                    pass
                self._bastion = None

    # -- files ---------------------------------------------------------------------------
    def _sftp_client(self):
        import paramiko

        transport = self._conn()
        if self._sftp is None or self._sftp.sock.closed:
            try:
                self._sftp = paramiko.SFTPClient.from_transport(transport)
            except (OSError, EOFError, paramiko.SSHException) as e:
                self._lost(e)
                raise CommunicatorError(f"{self.where}: cannot start SFTP: {_describe(e)}",
                                        "the server needs an sftp subsystem (Subsystem sftp …)") from None
        return self._sftp

    def _transfer(self, what: str, fn):
        """Run a transfer, turning library errors into one message."""
        import paramiko

        try:
            return fn()
        except CommunicatorError:
            raise
        except paramiko.SFTPError as e:  # a protocol-level complaint of the SFTP server
            if self._cancel.is_set():
                self._sftp = None
                raise CommunicatorCancelled(f"{self.where}: {what} cancelled") from None
            self._sftp = None
            raise CommunicatorError(f"{self.where}: {what} failed: SFTP: {_describe(e)}") from None
        except (OSError, EOFError, paramiko.SSHException) as e:
            if self._cancel.is_set():
                self._sftp = None
                raise CommunicatorCancelled(f"{self.where}: {what} cancelled") from None
            self._lost(e)
            if isinstance(e, (EOFError, paramiko.SSHException)) or (
                    isinstance(e, OSError) and e.errno is None and self._transport is None):
                raise ConnectionLost(f"{self.where}: {what} failed: {_describe(e)}") from None
            raise CommunicatorError(f"{self.where}: {what} failed: {_describe(e)}") from None

    def upload(self, local: str | Path, remote: str) -> None:
        src = Path(local)
        if not src.exists():
            raise CommunicatorError(f"upload source {src} does not exist")
        is_dir, target = upload_target(local, remote)
        if not is_dir:
            self._transfer(f"upload of {src} to {target}", lambda: self._put_file(src, target))
            return
        if self._use_tar():
            self._transfer(f"upload of {src}/ to {target}", lambda: self._put_tree_tar(src, target))
        else:
            self._transfer(f"upload of {src}/ to {target}", lambda: self._put_tree_sftp(src, target))

    def upload_bytes(self, data: bytes, remote: str, mode: int = 0o644) -> None:
        def put():
            sftp = self._sftp_client()
            with self._open_for_write(sftp, remote) as fo:
                fo.set_pipelined(True)
                for i in range(0, len(data), SFTP_REQUEST):
                    self._check_cancel(f"{self.where}: upload to {remote}")
                    fo.write(data[i:i + SFTP_REQUEST])
            sftp.chmod(remote, mode)

        self._transfer(f"upload to {remote}", put)

    def download(self, remote: str, local: str | Path) -> None:
        def get():
            sftp = self._sftp_client()
            try:
                st = sftp.stat(remote)
            except FileNotFoundError:
                raise CommunicatorError(f"{self.where}: download source {remote} does not exist") from None
            if stat.S_ISDIR(st.st_mode):
                name = posixpath.basename(remote.rstrip("/")) or "root"
                dest = Path(local) if remote.endswith("/") else Path(local) / name
                if self._use_tar():
                    self._get_tree_tar(remote, dest)
                else:
                    self._get_tree_sftp(sftp, remote, dest)
            else:
                dest = Path(local)
                if str(local).endswith(("/", os.sep)) or dest.is_dir():
                    dest = dest / posixpath.basename(remote)
                self._get_file(sftp, remote, dest, st.st_mode)

        self._transfer(f"download of {remote}", get)

    def _use_tar(self) -> bool:
        mode = self.config.directory_transfer
        if mode not in ("auto", "tar", "sftp"):
            raise CommunicatorError(f"directory_transfer must be auto, tar or sftp, not {mode!r}")
        if mode == "sftp":
            self.last_directory_transfer = "sftp"
            return False
        if self._has_tar is None:
            self._has_tar = self.run(f"command -v {shell_quote(self.config.remote_tar)} >/dev/null 2>&1") == 0
        if mode == "tar" and not self._has_tar:
            raise CommunicatorError(f"{self.where}: directory_transfer = tar, but the host has no "
                                    f"{self.config.remote_tar}")
        self.last_directory_transfer = "tar" if self._has_tar else "sftp"
        return self._has_tar

    def _open_for_write(self, sftp, remote: str):
        try:
            return sftp.open(remote, "wb")
        except FileNotFoundError:
            self._mkdirs(sftp, posixpath.dirname(remote))
            return sftp.open(remote, "wb")

    def _mkdirs(self, sftp, path: str) -> None:
        if path in ("", "/", "."):
            return
        try:
            if stat.S_ISDIR(sftp.stat(path).st_mode):
                return
            raise CommunicatorError(f"{self.where}: {path} exists and is not a directory")
        except FileNotFoundError:
            pass
        self._mkdirs(sftp, posixpath.dirname(path.rstrip("/")))
        try:
            sftp.mkdir(path)
        except OSError:
            if not stat.S_ISDIR(sftp.stat(path).st_mode):
                raise

    def _put_file(self, src: Path, remote: str, sftp=None) -> None:
        sftp = sftp or self._sftp_client()
        with open(src, "rb") as fi, self._open_for_write(sftp, remote) as fo:
            fo.set_pipelined(True)
            fo.MAX_REQUEST_SIZE = SFTP_REQUEST
            self._active.add(sftp.sock)
            try:
                while chunk := fi.read(SFTP_REQUEST):  # one request per read: paramiko slices bigger writes
                    self._check_cancel(f"{self.where}: upload of {src}")
                    fo.write(chunk)
            finally:
                self._active.discard(sftp.sock)
        sftp.chmod(remote, stat.S_IMODE(src.stat().st_mode))

    def _get_file(self, sftp, remote: str, dest: Path, mode: int) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with sftp.open(remote, "rb") as fr, open(dest, "wb") as fo:
            fr.MAX_REQUEST_SIZE = SFTP_REQUEST
            fr.prefetch()
            self._active.add(sftp.sock)
            try:
                while data := fr.read(READ_CHUNK):
                    self._check_cancel(f"{self.where}: download of {remote}")
                    fo.write(data)
            finally:
                self._active.discard(sftp.sock)
        os.chmod(dest, stat.S_IMODE(mode))

    def _put_tree_sftp(self, src: Path, target: str) -> None:
        """The per-file fallback: directories first, then the files over a few SFTP sessions."""
        sftp = self._sftp_client()
        self._mkdirs(sftp, target.rstrip("/") or "/")
        files: list[tuple[Path, str]] = []
        for dirpath, dirnames, filenames in os.walk(src):
            rel = os.path.relpath(dirpath, src)
            rdir = target if rel == "." else posixpath.join(target, *Path(rel).parts)
            for name in dirnames:
                s, r = Path(dirpath) / name, posixpath.join(rdir, name)
                if s.is_symlink():
                    self._put_symlink(sftp, s, r)
                    continue
                try:
                    sftp.mkdir(r, stat.S_IMODE(s.stat().st_mode))
                except OSError:
                    if not stat.S_ISDIR(sftp.stat(r).st_mode):
                        raise
            for name in filenames:
                s, r = Path(dirpath) / name, posixpath.join(rdir, name)
                if s.is_symlink():
                    self._put_symlink(sftp, s, r)
                else:
                    files.append((s, r))
        self._put_files_parallel(files)

    def _put_files_parallel(self, files: list[tuple[Path, str]]) -> None:
        """Each small file costs round trips (open, close, chmod); a few SFTP sessions side by
        side overlap them. The first error stops the others and is raised."""
        import paramiko

        sftp = self._sftp_client()
        if len(files) < 2 * SFTP_SESSIONS:
            for s, r in files:
                self._put_file(s, r, sftp)
            return
        transport = self._conn()
        clients = [sftp] + [paramiko.SFTPClient.from_transport(transport) for _ in range(SFTP_SESSIONS - 1)]
        todo = iter(files)
        lock = threading.Lock()
        errors: list[BaseException] = []

        def worker(client) -> None:
            while not errors:
                with lock:
                    item = next(todo, None)
                if item is None:
                    return
                try:
                    self._put_file(item[0], item[1], client)
                except BaseException as e:  # handed to the calling thread
                    errors.append(e)

        threads = [threading.Thread(target=worker, args=(c,), daemon=True) for c in clients]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            for c in clients[1:]:
                c.close()
        if errors:
            raise errors[0]

    def _put_symlink(self, sftp, s: Path, remote: str) -> None:
        try:
            sftp.remove(remote)
        except OSError:
            pass
        sftp.symlink(os.readlink(s), remote)

    def _put_tree_tar(self, src: Path, target: str) -> None:
        """One tar stream over one channel: no round trip per file."""
        transport = self._conn()
        chan = transport.open_session(timeout=self.config.connect_timeout)
        q = shell_quote(target)
        chan.exec_command(f"mkdir -p {q} && {shell_quote(self.config.remote_tar)} -xf - -C {q}")
        self._active.add(chan)
        try:
            writer = _ChannelWriter(chan, self)
            with tarfile.open(fileobj=writer, mode="w|", bufsize=1 << 20, format=tarfile.PAX_FORMAT) as tar:
                tar.add(str(src), arcname=".", filter=_anonymous)
            chan.shutdown_write()
            errors = self._drain_stderr(chan)
            status = chan.recv_exit_status()
        finally:
            self._active.discard(chan)
            chan.close()
        self._check_cancel(f"{self.where}: upload of {src}")
        if status != 0:
            raise CommunicatorError(f"{self.where}: unpacking {src}/ into {target} failed (tar exit {status}): "
                                    f"{errors.strip()[-400:]}")

    def _get_tree_tar(self, remote: str, dest: Path) -> None:
        transport = self._conn()
        chan = transport.open_session(timeout=self.config.connect_timeout)
        chan.exec_command(f"{shell_quote(self.config.remote_tar)} -cf - -C {shell_quote(remote)} .")
        chan.shutdown_write()
        self._active.add(chan)
        dest.mkdir(parents=True, exist_ok=True)
        try:
            reader = _ChannelReader(chan, self)
            with tarfile.open(fileobj=reader, mode="r|", bufsize=1 << 20) as tar:
                tar.extractall(dest, filter="data")
            errors = self._drain_stderr(chan)
            status = chan.recv_exit_status()
        except tarfile.TarError as e:
            self._check_cancel(f"{self.where}: download of {remote}")
            raise CommunicatorError(f"{self.where}: download of {remote}/ failed: {e}; "
                                    f"{self._drain_stderr(chan).strip()[-400:]}") from None
        finally:
            self._active.discard(chan)
            chan.close()
        self._check_cancel(f"{self.where}: download of {remote}")
        if status != 0:
            raise CommunicatorError(f"{self.where}: packing {remote}/ failed (tar exit {status}): "
                                    f"{errors.strip()[-400:]}")

    def _get_tree_sftp(self, sftp, remote: str, dest: Path) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        for entry in sftp.listdir_attr(remote):
            r, d = posixpath.join(remote, entry.filename), dest / entry.filename
            self._check_cancel(f"{self.where}: download of {remote}")
            if stat.S_ISLNK(entry.st_mode):
                if d.is_symlink() or d.exists():
                    d.unlink()
                os.symlink(sftp.readlink(r), d)
            elif stat.S_ISDIR(entry.st_mode):
                self._get_tree_sftp(sftp, r, d)
                os.chmod(d, stat.S_IMODE(entry.st_mode))
            else:
                self._get_file(sftp, r, d, entry.st_mode)

    @staticmethod
    def _drain_stderr(chan) -> str:
        chunks = []
        while True:
            data = chan.recv_stderr(1 << 16)
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks).decode("utf-8", "replace")


def split_pid_line(head: bytes) -> tuple[int, bytes] | None:
    """Find the shell's pid line in the first stdout bytes; return (pid, the other bytes)."""
    m = PID_LINE.search(head)
    if not m:
        return None
    return int(m.group(1)), head[:m.start()] + head[m.end():]


class _Unreachable(Exception):
    """The host (or the bastion, or the path through it) does not answer yet: retried."""


def paramiko_errors():
    import paramiko

    return paramiko.SSHException


class _AuthFailed(Exception):
    """A failed authentication (retried: cloud-init may not have installed the key yet)."""


class _ChannelWriter:
    """The file object tarfile writes its stream to."""

    def __init__(self, chan, comm: SSHCommunicator):
        self.chan, self.comm = chan, comm

    def write(self, data) -> int:
        self.comm._check_cancel(f"{self.comm.where}: upload")
        if self.chan.exit_status_ready() or self.chan.closed:
            raise CommunicatorError(f"{self.comm.where}: the remote tar stopped reading: "
                                    f"{self.comm._drain_stderr(self.chan).strip()[-400:]}")
        self.chan.sendall(data)
        return len(data)


class _ChannelReader:
    """The file object tarfile reads a stream from."""

    def __init__(self, chan, comm: SSHCommunicator):
        self.chan, self.comm = chan, comm

    def read(self, size: int = -1) -> bytes:
        self.comm._check_cancel(f"{self.comm.where}: download")
        want = size if size and size > 0 else 1 << 20
        parts, got = [], 0
        while got < want:
            data = self.chan.recv(want - got)
            if not data:
                break
            parts.append(data)
            got += len(data)
        return b"".join(parts)


def _anonymous(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """Files arrive owned by the SSH user, as with SFTP, not by our local uid."""
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = int(info.mtime)
    return info


def _send_signal(chan, name: str) -> None:
    """RFC 4254 "signal" request (OpenSSH ≥ 7.9 delivers it to the session's shell)."""
    try:
        from paramiko.common import cMSG_CHANNEL_REQUEST
        from paramiko.message import Message

        m = Message()
        m.add_byte(cMSG_CHANNEL_REQUEST)
        m.add_int(chan.remote_chanid)
        m.add_string("signal")
        m.add_boolean(False)
        m.add_string(name)
        chan.transport._send_user_message(m)
    except Exception:
        pass


def _load_key(path: str):
    import paramiko

    try:
        return paramiko.PKey.from_path(os.path.expanduser(path))
    except FileNotFoundError:
        raise CommunicatorError(f"private key file {path} does not exist", "check ssh_private_key_file") from None
    except (paramiko.PasswordRequiredException, TypeError):  # cryptography raises TypeError for OpenSSH keys
        raise CommunicatorError(f"private key file {path} is encrypted",
                                "use an unencrypted key for builds, or load it into ssh-agent") from None
    except (OSError, ValueError, paramiko.SSHException) as e:
        raise CommunicatorError(f"cannot load private key file {path}: {_describe(e)}",
                                "it must be an OpenSSH or PEM private key") from None


def _blob_fingerprint(blob: bytes) -> str:
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def _describe(e: BaseException) -> str:
    if isinstance(e, socket.timeout):
        return "connection timed out"
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    if isinstance(e, OSError) and e.errno is not None:
        return e.strerror or errno.errorcode.get(e.errno, str(e))
    if isinstance(e, EOFError):
        return "the server closed the connection"
    text = str(e).strip()
    return text or type(e).__name__


def _short(command: str, limit: int = 80) -> str:
    text = command.strip()
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= limit and "\n" not in text else line[:limit] + " …"
