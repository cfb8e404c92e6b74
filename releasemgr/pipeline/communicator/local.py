"""The `local` communicator: commands and files on this machine, inside an image root."""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Mapping

from .base import (ByteCallback, ByteCounter, Communicator, CommunicatorCancelled, CommunicatorError, LineCallback,
                   LineSplitter, upload_target)

CHUNK = 1 << 20
KILL_GRACE = 1.0  # seconds between SIGTERM and SIGKILL for a cancelled command


class LocalCommunicator(Communicator):
    """Runs `sh -c COMMAND` with cwd=root and IMAGE_ROOT=root, each in its own process
    group (so cancel() and timeouts also kill its children). Relative "remote" paths are
    relative to root; absolute ones are taken as they are."""

    def __init__(self, root: str | Path, *, base_env: Mapping[str, str] | None = None):
        super().__init__()
        self.root = Path(root).resolve()
        self.base_env = dict(os.environ if base_env is None else base_env)

    # -- paths -------------------------------------------------------------------------
    def path(self, remote: str | Path) -> Path:
        p = Path(remote)
        return p if p.is_absolute() else self.root / p

    # -- commands ------------------------------------------------------------------------
    def run(self, command: str, *, env: Mapping[str, str] | None = None, on_stdout: LineCallback | None = None,
            on_stderr: LineCallback | None = None, timeout: float | None = None) -> int:
        self._check_cancel("command")
        if not self.root.is_dir():
            raise CommunicatorError(f"local: image root {self.root} is not a directory")
        full_env = {**self.base_env, "IMAGE_ROOT": str(self.root), **{k: str(v) for k, v in (env or {}).items()}}
        try:
            proc = subprocess.Popen(["/bin/sh", "-c", command], cwd=self.root, env=full_env,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True)
        except OSError as e:
            raise CommunicatorError(f"local: cannot start /bin/sh: {e.strerror}") from None
        splitters = {proc.stdout: LineSplitter(on_stdout), proc.stderr: LineSplitter(on_stderr)}
        deadline = None if timeout is None else time.monotonic() + timeout
        sel = selectors.DefaultSelector()
        try:
            for stream in splitters:
                os.set_blocking(stream.fileno(), False)
                sel.register(stream, selectors.EVENT_READ)
            sel.register(self._cancel, selectors.EVENT_READ)  # readable on cancel()
            open_streams = 2
            while open_streams:
                if self._cancel.is_set():
                    self._kill(proc)
                    raise CommunicatorCancelled(f"local: command cancelled: {_short(command)}")
                wait = None if deadline is None else max(0.0, deadline - time.monotonic())
                if deadline is not None and wait == 0.0:
                    self._kill(proc)
                    raise CommunicatorError(f"local: command timed out after {timeout:g}s and was killed: "
                                            f"{_short(command)}")
                for key, _ in sel.select(wait):
                    if key.fileobj is self._cancel:
                        continue
                    data = os.read(key.fileobj.fileno(), 65536)
                    if data:
                        splitters[key.fileobj].feed(data)
                    else:
                        sel.unregister(key.fileobj)
                        open_streams -= 1
            for splitter in splitters.values():
                splitter.close()
            return proc.wait()
        finally:
            sel.close()
            for stream in splitters:
                stream.close()
            if proc.poll() is None:
                self._kill(proc)

    def _kill(self, proc: subprocess.Popen) -> None:
        """TERM the whole process group, KILL what is left after a grace period."""
        for sig, grace in ((signal.SIGTERM, KILL_GRACE), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                continue
            # the shell is gone; children that ignored TERM still get KILL
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            return

    # -- files -------------------------------------------------------------------------
    def upload(self, local: str | Path, remote: str, *, progress: ByteCallback | None = None) -> None:
        self._check_cancel("upload")
        src = Path(local)
        if not src.exists():
            raise CommunicatorError(f"local: upload source {src} does not exist")
        is_dir, target = upload_target(local, remote)
        dest = self.path(target)
        try:
            count = ByteCounter.of(src, progress)
            if is_dir:
                self._copy_tree(src, dest, count)
            else:
                self._copy_file(src, dest, count)
        except OSError as e:
            raise CommunicatorError(f"local: upload of {src} to {dest} failed: {e.strerror or e}") from None

    def upload_bytes(self, data: bytes, remote: str, mode: int = 0o644) -> None:
        self._check_cancel("upload")
        dest = self.path(remote)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            # created with its final mode (and set again before any byte is written, for a file
            # that existed): a script is never readable by others, not even for a moment
            fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode & 0o7777)
            with os.fdopen(fd, "wb") as fh:
                os.fchmod(fd, mode & 0o7777)
                fh.write(data)
        except OSError as e:
            raise CommunicatorError(f"local: writing {dest} failed: {e.strerror or e}") from None

    def make_temp_dir(self, parent: str, prefix: str) -> str:
        """A private (0700) folder made by Python, no shell involved."""
        self._check_cancel("mkdir")
        try:
            return tempfile.mkdtemp(prefix=prefix, dir=self.path(parent))
        except OSError as e:
            raise CommunicatorError(f"local: cannot create a private temporary folder in {self.path(parent)}: "
                                    f"{e.strerror or e}") from None

    def remove_tree(self, path: str) -> None:
        target = self.path(path)
        try:
            if target.is_symlink() or not target.is_dir():
                target.unlink()
            else:
                shutil.rmtree(target)
        except FileNotFoundError:
            return
        except OSError as e:
            raise CommunicatorError(f"local: cannot remove {target}: {e.strerror or e}") from None

    def download(self, remote: str, local: str | Path) -> None:
        self._check_cancel("download")
        src = self.path(remote)
        if not src.exists():
            raise CommunicatorError(f"local: download source {src} does not exist")
        # the same rule as upload, with the roles swapped
        is_dir, target = upload_target(str(src) + ("/" if remote.endswith("/") else ""), str(local))
        dest = Path(target)
        try:
            if is_dir:
                self._copy_tree(src, dest)
            else:
                self._copy_file(src, dest)
        except OSError as e:
            raise CommunicatorError(f"local: download of {src} to {dest} failed: {e.strerror or e}") from None

    def _copy_file(self, src: Path, dest: Path, count: ByteCounter | None = None) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            if dest.is_symlink() or dest.exists():
                dest.unlink()
            os.symlink(os.readlink(src), dest)
            return
        with open(src, "rb") as fi, open(dest, "wb") as fo:
            while chunk := fi.read(CHUNK):
                if self._cancel.is_set():
                    raise CommunicatorCancelled(f"local: copy of {src} cancelled")
                fo.write(chunk)
                if count is not None:
                    count.add(len(chunk))
        shutil.copymode(src, dest)

    def _copy_tree(self, src: Path, dest: Path, count: ByteCounter | None = None) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        for dirpath, dirnames, filenames in os.walk(src):
            rel = Path(dirpath).relative_to(src)
            for name in dirnames:
                s, d = Path(dirpath) / name, dest / rel / name
                if s.is_symlink():
                    self._copy_file(s, d, count)
                else:
                    d.mkdir(exist_ok=True)
                    shutil.copymode(s, d)
            for name in filenames:
                self._copy_file(Path(dirpath) / name, dest / rel / name, count)

    def close(self) -> None:
        self._cancel.close()


def _short(command: str, limit: int = 80) -> str:
    line = command.strip().splitlines()[0] if command.strip() else ""
    return line if len(line) <= limit and "\n" not in command.strip() else line[:limit] + " …"
