"""A real OpenSSH sshd on a free loopback port, for tests that need an SSH host.

conftest.py registers it (`pytest_plugins`): take a test argument `sshd`; it yields an `Sshd`
with `host`, `port`, `username`, `client_key` (private key path),
`client_pub`, `known_hosts`, `host_key_line` ("ssh-ed25519 AAAA…") and `stop()`/`start()`.
`Sshd(folder).start()` builds more of them (a bastion, a server started late, a host with
another host key). Needs Debian's openssh-server (`apt-get install openssh-server`).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

SSHD = "/usr/sbin/sshd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def need_sshd() -> None:
    for tool in (SSHD, shutil.which("ssh-keygen"), shutil.which("ssh-keyscan")):
        if not tool or not Path(tool).exists():
            pytest.fail("OpenSSH server is not installed: apt-get install openssh-server openssh-client")


def keygen(path: Path, comment: str = "releasemgr-test") -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True)
    return path


class Sshd:
    """One sshd process with its own folder, host key and authorized client key."""

    def __init__(self, folder: Path, *, port: int | None = None, client_key: Path | None = None,
                 extra_config: str = "", host_key: Path | None = None):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.username = pwd.getpwuid(os.getuid()).pw_name
        self.host_key = host_key or keygen(self.folder / "ssh_host_ed25519_key", "test-host")
        self.client_key = client_key or keygen(self.folder / "id_ed25519")
        self.client_pub = Path(str(self.client_key) + ".pub")
        self.authorized_keys = self.folder / "authorized_keys"
        shutil.copyfile(self.client_pub, self.authorized_keys)
        self.known_hosts = self.folder / "known_hosts"
        self.config = self.folder / "sshd_config"
        self.log = self.folder / "sshd.log"
        self.extra_config = extra_config
        self.proc: subprocess.Popen | None = None

    @property
    def host_key_line(self) -> str:
        """The public host key as "type base64" (what a builder would learn from a console)."""
        return " ".join(Path(str(self.host_key) + ".pub").read_text().split()[:2])

    def write_config(self) -> None:
        self.config.write_text("\n".join([
            f"Port {self.port}",
            f"ListenAddress {self.host}",
            f"HostKey {self.host_key}",
            f"AuthorizedKeysFile {self.authorized_keys}",
            f"PidFile {self.folder / 'sshd.pid'}",
            "UsePAM no",
            "StrictModes no",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin yes",
            "AllowTcpForwarding yes",
            "Subsystem sftp internal-sftp",
            "SetEnv SHLVL=1",  # root's .bashrc here runs pyenv init unless SHLVL is set (~100 ms a command)
            "MaxSessions 50",
            "MaxStartups 50:30:100",
            "LogLevel ERROR",
            self.extra_config,
            "",
        ]))

    def start(self, *, keyscan: bool = True) -> "Sshd":
        need_sshd()
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)
        self.write_config()
        log = open(self.log, "ab")
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.config)], stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as s:
                    if s.recv(4).startswith(b"SSH-"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"sshd did not answer on {self.host}:{self.port}: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)
        if keyscan:
            scan = subprocess.run(["ssh-keyscan", "-T", "5", "-t", "ed25519", "-p", str(self.port), self.host],
                                  capture_output=True, text=True, check=True)
            if not scan.stdout.strip():
                raise RuntimeError(f"ssh-keyscan found no key on {self.host}:{self.port}: {scan.stderr}")
            self.known_hosts.write_text(scan.stdout)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def add_authorized_key(self, public_key: str) -> None:
        """Authorize one more client key ("ssh-rsa AAAA… comment", e.g. a cloud key pair's)."""
        with open(self.authorized_keys, "a") as f:
            f.write(public_key.strip() + "\n")

    def ssh_args(self) -> list[str]:
        """Arguments for OpenSSH's own `ssh`/`scp`/`sftp` against this server."""
        return ["-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "StrictHostKeyChecking=yes",
                "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-i", str(self.client_key)]


@pytest.fixture
def sshd(tmp_path_factory):
    server = Sshd(tmp_path_factory.mktemp("sshd")).start()
    try:
        yield server
    finally:
        server.stop()

