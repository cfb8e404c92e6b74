"""Moving files over SSH: SFTP for files, a tar stream over one channel for directories
(no round trip per file), or per-file SFTP over a few parallel sessions when the host has
no tar."""

from __future__ import annotations

import os
import posixpath
import stat
import tarfile
import threading
from pathlib import Path
from typing import Callable

from releasemgr.pipeline.communicator.base import (ByteCallback, ByteCounter, CancelSignal, CommunicatorCancelled,
                                                   CommunicatorError, ConnectionLost, shell_quote, upload_target)

from .config import SSHConfig
from .connect import Connection, describe

SFTP_REQUEST = 255 * 1024  # OpenSSH's sftp-server takes messages up to 256 KiB
READ_CHUNK = 1 << 20
SFTP_SESSIONS = 6  # parallel SFTP sessions for the per-file directory fallback


class Transfers:
    """Uploads and downloads on `conn`. `run` runs a command (to find the host's tar)."""

    def __init__(self, conn: Connection, config: SSHConfig, cancel: CancelSignal, run: Callable[[str], int]):
        self.conn = conn
        self.config = config
        self.cancel = cancel
        self.run = run
        self.last_directory_transfer: str | None = None  # "tar" or "sftp": how the last directory moved
        self._sftp = None
        self._sftp_transport = None  # the transport self._sftp runs on
        self._has_tar: bool | None = None
        self._tar_transport = None  # the transport _has_tar was found on: a new connection asks again
        self._active: set = set()  # channels of running transfers, closed by abort()

    @property
    def where(self) -> str:
        return self.conn.where

    def abort(self) -> None:
        """Close the channels of running transfers (from cancel(), any thread)."""
        for chan in list(self._active):
            try:
                chan.close()
            except Exception:
                pass

    def _check_cancel(self, what: str) -> None:
        self.cancel.check(f"{self.where}: {what}")

    # -- the public operations ------------------------------------------------------------
    def upload(self, local: str | Path, remote: str, *, progress: ByteCallback | None = None) -> None:
        src = Path(local)
        if not src.exists():
            raise CommunicatorError(f"upload source {src} does not exist")
        is_dir, target = upload_target(local, remote)
        count = ByteCounter.of(src, progress)
        if not is_dir:
            self._transfer(f"upload of {src} to {target}", lambda: self._put_file(src, target, count=count))
            return
        if self._use_tar():
            self._transfer(f"upload of {src}/ to {target}", lambda: self._put_tree_tar(src, target, count))
        else:
            self._transfer(f"upload of {src}/ to {target}", lambda: self._put_tree_sftp(src, target, count))

    def upload_bytes(self, data: bytes, remote: str, mode: int = 0o644) -> None:
        def put():
            sftp = self._sftp_client()
            with self._open_for_write(sftp, remote) as fo:
                fo.chmod(mode)  # before any byte is written: a script is never readable by others
                fo.set_pipelined(True)
                for i in range(0, len(data), SFTP_REQUEST):
                    self._check_cancel(f"upload to {remote}")
                    fo.write(data[i:i + SFTP_REQUEST])

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

    # -- plumbing ---------------------------------------------------------------------------
    def _sftp_client(self):
        import paramiko

        transport = self.conn.get()
        if self._sftp is None or self._sftp_transport is not transport or self._sftp.sock.closed:
            try:
                self._sftp = paramiko.SFTPClient.from_transport(transport)
                self._sftp_transport = transport
            except (OSError, EOFError, paramiko.SSHException) as e:
                self.conn.lost()
                raise CommunicatorError(f"{self.where}: cannot start SFTP: {describe(e)}",
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
            self._sftp = None
            if self.cancel.is_set():
                raise CommunicatorCancelled(f"{self.where}: {what} cancelled") from None
            raise CommunicatorError(f"{self.where}: {what} failed: SFTP: {describe(e)}") from None
        except (OSError, EOFError, paramiko.SSHException) as e:
            if self.cancel.is_set():
                self._sftp = None
                raise CommunicatorCancelled(f"{self.where}: {what} cancelled") from None
            self.conn.lost()
            if isinstance(e, (EOFError, paramiko.SSHException)) or (
                    isinstance(e, OSError) and e.errno is None and self.conn.transport is None):
                raise ConnectionLost(f"{self.where}: {what} failed: {describe(e)}") from None
            raise CommunicatorError(f"{self.where}: {what} failed: {describe(e)}") from None

    def _use_tar(self) -> bool:
        mode = self.config.directory_transfer
        if mode not in ("auto", "tar", "sftp"):
            raise CommunicatorError(f"directory_transfer must be auto, tar or sftp, not {mode!r}")
        if mode == "sftp":
            self.last_directory_transfer = "sftp"
            return False
        if self._has_tar is None or self._tar_transport is not self.conn.transport:
            self._has_tar = self.run(f"command -v {shell_quote(self.config.remote_tar)} >/dev/null 2>&1") == 0
            self._tar_transport = self.conn.transport
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

    # -- SFTP, file by file -----------------------------------------------------------------
    def _put_file(self, src: Path, remote: str, sftp=None, count: ByteCounter | None = None) -> None:
        sftp = sftp or self._sftp_client()
        with open(src, "rb") as fi, self._open_for_write(sftp, remote) as fo:
            fo.set_pipelined(True)
            fo.MAX_REQUEST_SIZE = SFTP_REQUEST
            self._active.add(sftp.sock)
            try:
                while chunk := fi.read(SFTP_REQUEST):  # one request per read: paramiko slices bigger writes
                    self._check_cancel(f"upload of {src}")
                    fo.write(chunk)
                    if count is not None:
                        count.add(len(chunk))
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
                    self._check_cancel(f"download of {remote}")
                    fo.write(data)
            finally:
                self._active.discard(sftp.sock)
        os.chmod(dest, stat.S_IMODE(mode))

    def _put_tree_sftp(self, src: Path, target: str, count: ByteCounter | None = None) -> None:
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
        self._put_files_parallel(files, count)

    def _put_files_parallel(self, files: list[tuple[Path, str]], count: ByteCounter | None = None) -> None:
        """Each small file costs round trips (open, close, chmod); a few SFTP sessions side by
        side overlap them. The first error stops the others and is raised."""
        import paramiko

        sftp = self._sftp_client()
        if len(files) < 2 * SFTP_SESSIONS:
            for s, r in files:
                self._put_file(s, r, sftp, count)
            return
        transport = self.conn.get()
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
                    self._put_file(item[0], item[1], client, count)
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

    @staticmethod
    def _put_symlink(sftp, s: Path, remote: str) -> None:
        try:
            sftp.remove(remote)
        except OSError:
            pass
        sftp.symlink(os.readlink(s), remote)

    def _get_tree_sftp(self, sftp, remote: str, dest: Path) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        for entry in sftp.listdir_attr(remote):
            r, d = posixpath.join(remote, entry.filename), dest / entry.filename
            self._check_cancel(f"download of {remote}")
            if stat.S_ISLNK(entry.st_mode):
                if d.is_symlink() or d.exists():
                    d.unlink()
                os.symlink(sftp.readlink(r), d)
            elif stat.S_ISDIR(entry.st_mode):
                self._get_tree_sftp(sftp, r, d)
                os.chmod(d, stat.S_IMODE(entry.st_mode))
            else:
                self._get_file(sftp, r, d, entry.st_mode)

    # -- tar streams --------------------------------------------------------------------------
    def _put_tree_tar(self, src: Path, target: str, count: ByteCounter | None = None) -> None:
        """One tar stream over one channel: no round trip per file."""
        transport = self.conn.get()
        chan = transport.open_session(timeout=self.config.connect_timeout)
        q = shell_quote(target)
        chan.exec_command(f"mkdir -p {q} && {shell_quote(self.config.remote_tar)} -xf - -C {q}")
        self._active.add(chan)
        try:
            writer = _ChannelWriter(chan, self)
            with _CountingTar.open(fileobj=writer, mode="w|", bufsize=1 << 20, format=tarfile.PAX_FORMAT) as tar:
                tar.count = count
                tar.add(str(src), arcname=".", filter=_anonymous)
            chan.shutdown_write()
            errors = _drain_stderr(chan)
            status = chan.recv_exit_status()
        finally:
            self._active.discard(chan)
            chan.close()
        self._check_cancel(f"upload of {src}")
        if status != 0:
            raise CommunicatorError(f"{self.where}: unpacking {src}/ into {target} failed (tar exit {status}): "
                                    f"{errors.strip()[-400:]}")

    def _get_tree_tar(self, remote: str, dest: Path) -> None:
        transport = self.conn.get()
        chan = transport.open_session(timeout=self.config.connect_timeout)
        chan.exec_command(f"{shell_quote(self.config.remote_tar)} -cf - -C {shell_quote(remote)} .")
        chan.shutdown_write()
        self._active.add(chan)
        dest.mkdir(parents=True, exist_ok=True)
        try:
            reader = _ChannelReader(chan, self)
            with tarfile.open(fileobj=reader, mode="r|", bufsize=1 << 20) as tar:
                tar.extractall(dest, filter="data")
            errors = _drain_stderr(chan)
            status = chan.recv_exit_status()
        except tarfile.TarError as e:
            self._check_cancel(f"download of {remote}")
            raise CommunicatorError(f"{self.where}: download of {remote}/ failed: {e}; "
                                    f"{_drain_stderr(chan).strip()[-400:]}") from None
        finally:
            self._active.discard(chan)
            chan.close()
        self._check_cancel(f"download of {remote}")
        if status != 0:
            raise CommunicatorError(f"{self.where}: packing {remote}/ failed (tar exit {status}): "
                                    f"{errors.strip()[-400:]}")


def _drain_stderr(chan) -> str:
    chunks = []
    while True:
        data = chan.recv_stderr(1 << 16)
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks).decode("utf-8", "replace")


class _ChannelWriter:
    """The file object tarfile writes its stream to."""

    def __init__(self, chan, transfers: Transfers):
        self.chan, self.transfers = chan, transfers

    def write(self, data) -> int:
        self.transfers._check_cancel("upload")
        if self.chan.exit_status_ready() or self.chan.closed:
            raise CommunicatorError(f"{self.transfers.where}: the remote tar stopped reading: "
                                    f"{_drain_stderr(self.chan).strip()[-400:]}")
        self.chan.sendall(data)
        return len(data)


class _ChannelReader:
    """The file object tarfile reads a stream from."""

    def __init__(self, chan, transfers: Transfers):
        self.chan, self.transfers = chan, transfers

    def read(self, size: int = -1) -> bytes:
        self.transfers._check_cancel("download")
        want = size if size and size > 0 else 1 << 20
        parts, got = [], 0
        while got < want:
            data = self.chan.recv(want - got)
            if not data:
                break
            parts.append(data)
            got += len(data)
        return b"".join(parts)


class _CountingTar(tarfile.TarFile):
    """A tar writer that counts the file content it reads into the stream (`count`), so an
    upload's progress is in the same bytes as `upload_size`, headers and padding left out."""

    count: ByteCounter | None = None

    def addfile(self, tarinfo, fileobj=None, *args, **kwargs):
        if fileobj is not None and self.count is not None:
            fileobj = _CountingReader(fileobj, self.count)
        return super().addfile(tarinfo, fileobj, *args, **kwargs)


class _CountingReader:
    def __init__(self, fileobj, count: ByteCounter):
        self.fileobj, self.count = fileobj, count

    def read(self, size: int = -1) -> bytes:
        data = self.fileobj.read(size)
        self.count.add(len(data))
        return data


def _anonymous(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """Files arrive owned by the SSH user, as with SFTP, not by our local uid."""
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = int(info.mtime)
    return info
