"""The `ssh` communicator (paramiko): commands, SFTP and tar-stream transfers to a host.

`SSHCommunicator` composes the parts, one concern per module:

- `config`: `SSHConfig`, and `from_packer_options()` (a builder's `ssh_*` options);
- `hostkeys`: pinned keys, known_hosts, trust on first use;
- `connect`: TCP, the bastion, the handshake, authentication, retries while the host boots;
- `exec`: commands, with pid framing so a cancel or a timeout kills the whole process group;
- `transfer`: SFTP for files, tar streams (or per-file SFTP) for directories.

paramiko is imported inside the functions that need it, so `SSHConfig` can be built
(and templates validated) without paying for the import.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping

from releasemgr.pipeline.communicator.base import ByteCallback, Communicator, LineCallback

from .config import SSHConfig, from_packer_options
from .connect import Connection
from .exec import CommandRunner, split_pid_line
from .hostkeys import HostKeyVerifier, fingerprint
from .transfer import Transfers

__all__ = ["SSHCommunicator", "SSHConfig", "fingerprint", "from_packer_options", "split_pid_line"]


class SSHCommunicator(Communicator):
    """A connection to `config.host`, opened on first use (or by `connect()`).

    `close()` drops the connection; a later call reconnects (after a reboot, say) and,
    with trust_on_first_use, still refuses a host key different from the one it learned."""

    def __init__(self, config: SSHConfig, *, on_info: Callable[[str], None] | None = None):
        super().__init__()
        self.config = config
        self.on_info = on_info or (lambda _msg: None)
        self._hostkeys = HostKeyVerifier(config, self.on_info)
        self.connection = Connection(config, self._hostkeys, self._cancel, self.on_info)
        self._commands = CommandRunner(self.connection, config, self._cancel)
        self._files = Transfers(self.connection, config, self._cancel, self.run)

    @property
    def where(self) -> str:
        return self.connection.where

    @property
    def host_key_fingerprint(self) -> str | None:
        """SHA256 fingerprint of the host's key, once seen."""
        return self._hostkeys.fingerprint

    @property
    def learned_host_key(self) -> str | None:
        """The host key trusted on first use, as "type base64"."""
        return self._hostkeys.learned_host_key

    @property
    def last_directory_transfer(self) -> str | None:
        """How the last directory moved: "tar" or "sftp"."""
        return self._files.last_directory_transfer

    def connect(self, timeout: float | None = None) -> None:
        """Connect now, retrying while the host boots for `config.timeout` seconds (or
        `timeout`, when shorter); a no-op when connected."""
        self.connection.connect(timeout)

    def run(self, command: str, *, env: Mapping[str, str] | None = None, on_stdout: LineCallback | None = None,
            on_stderr: LineCallback | None = None, timeout: float | None = None) -> int:
        return self._commands.run(command, env=env, on_stdout=on_stdout, on_stderr=on_stderr, timeout=timeout)

    def upload(self, local: str | Path, remote: str, *, progress: ByteCallback | None = None) -> None:
        self._files.upload(local, remote, progress=progress)

    def upload_bytes(self, data: bytes, remote: str, mode: int = 0o644) -> None:
        self._files.upload_bytes(data, remote, mode)

    def download(self, remote: str, local: str | Path) -> None:
        self._files.download(remote, local)

    def cancel(self) -> None:
        super().cancel()
        self._files.abort()
        self.connection.abort()

    def close(self) -> None:
        self.connection.close()
