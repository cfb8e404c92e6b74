"""The communicator interface: how the pipeline runs commands and moves files on the
machine being built, whatever that machine is (a local folder, a host over SSH).

What is *not* guaranteed: a command that was cancelled or timed out may have done part of
its work; an aborted transfer may leave a partial file or directory behind.
"""

from __future__ import annotations

import abc
import codecs
import os
import posixpath
import shlex
import stat
import threading
from pathlib import Path
from typing import Callable, Mapping

from releasemgr.errors import OperationFailed

LineCallback = Callable[[str], None]
#: How an upload reports what it has moved: `(done, total)` in bytes of file content.
ByteCallback = Callable[[int, int], None]


class CommunicatorError(OperationFailed):
    """One clear message: which host, what failed, what to check. Never a library traceback."""

    def __init__(self, message: str, hint: str | None = None, **details):
        super().__init__(message, hint, **details)

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class CommunicatorCancelled(CommunicatorError):
    """The running command or transfer was aborted by `cancel()`."""


class ConnectionLost(CommunicatorError):
    """The connection dropped while a command or transfer was running (a reboot, a crashed
    sshd). Provisioners with `expect_disconnect` treat this as success; the next call
    reconnects."""


class LineSplitter:
    """Turns a byte stream into lines (without their newline) for a callback.

    Bytes are decoded as UTF-8 (invalid bytes replaced); a trailing carriage return
    is dropped so pty output and CRLF scripts read like the rest."""

    def __init__(self, callback: LineCallback | None):
        self.callback = callback
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._parts: list[str] = []  # the unfinished line, in pieces (a huge line stays linear)

    def feed(self, data: bytes) -> None:
        if self.callback is None:
            return
        text = self._decoder.decode(data)
        if "\n" not in text:
            if text:
                self._parts.append(text)
            return
        if self._parts:
            text = "".join(self._parts) + text
            self._parts = []
        *lines, rest = text.split("\n")
        if rest:
            self._parts.append(rest)
        for line in lines:
            self.callback(line[:-1] if line.endswith("\r") else line)

    def close(self) -> None:
        if self.callback is None:
            return
        line = "".join(self._parts) + self._decoder.decode(b"", final=True)
        self._parts = []
        if line:
            self.callback(line[:-1] if line.endswith("\r") else line)


def shell_quote(value: str) -> str:
    """POSIX single-quoting (what Packer does for environment_vars)."""
    return "'" + value.replace("'", "'\"'\"'") + "'"


def temp_dir_template(parent: str, prefix: str) -> str:
    """`parent/prefixXXXXXX` for mktemp, never starting with "-" (not an option)."""
    parent = parent.rstrip("/") or "/"
    path = posixpath.join(parent, prefix + "XXXXXX")
    return "./" + path if path.startswith("-") else path


def env_prefix(env: Mapping[str, str] | None) -> str:
    """`export K='v'` lines; sshd drops most client-sent variables (AcceptEnv), so
    variables travel inside the command, as Packer's shell provisioner does."""
    if not env:
        return ""
    parts = []
    for key, value in env.items():
        if not key or not (key[0].isalpha() or key[0] == "_") or not all(c.isalnum() or c == "_" for c in key):
            raise CommunicatorError(f"invalid environment variable name {key!r}",
                                    "names are letters, digits and underscores, not starting with a digit")
        parts.append(f"export {key}={shell_quote(str(value))}")
    return "; ".join(parts) + "\n"


def upload_target(local: str | Path, remote: str) -> tuple[bool, str]:
    """Packer's file-provisioner rule for where an upload lands.

    Returns (contents_only, target):
    - a directory whose source path ends with "/" -> its *contents* go into `remote`;
    - a directory without the trailing "/" -> the directory itself is created inside
      `remote` (`remote/<name>`);
    - a file -> `remote`, or `remote/<name>` when `remote` ends with "/".
    """
    source = str(local)  # a Path has lost its trailing "/": pass a str to mean "contents"
    path = Path(local)
    if path.is_dir():
        if source.endswith(("/", os.sep)):
            return True, remote
        return True, posixpath.join(remote, path.resolve().name)
    if remote.endswith("/"):
        return False, posixpath.join(remote, path.name)
    return False, remote


def upload_size(local: str | Path) -> int:
    """The bytes of file content an upload of `local` moves: a file's size, or the sizes of
    the regular files in a folder (symbolic links travel as links: they count nothing)."""
    path = Path(local)
    if not path.is_dir():
        return 0 if path.is_symlink() else path.stat().st_size
    total = 0
    for dirpath, _dirnames, filenames in os.walk(path):
        for name in filenames:
            st = os.lstat(os.path.join(dirpath, name))
            if stat.S_ISREG(st.st_mode):
                total += st.st_size
    return total


class ByteCounter:
    """Counts the bytes an upload has moved and tells `callback` `(done, total)` after each
    chunk. Thread safe: the per-file SFTP fallback moves files on several sessions at once.
    Without a callback it does nothing."""

    def __init__(self, total: int, callback: ByteCallback | None):
        self.total, self.callback = total, callback
        self.done = 0
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        if self.callback is None or not n:
            return
        with self._lock:  # the callback too: counts reach it in order
            self.done = min(self.total, self.done + n)
            self.callback(self.done, self.total)

    @classmethod
    def of(cls, local: str | Path, callback: ByteCallback | None) -> "ByteCounter":
        return cls(upload_size(local) if callback is not None else 0, callback)


class CancelSignal:
    """A thread-safe cancel flag with a pipe that turns readable when the flag is set, so a
    select() loop (pass this object: it has `fileno()`) wakes at once instead of at its next
    poll. It reads like a `threading.Event`."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)

    def set(self) -> None:
        self._event.set()
        try:
            os.write(self._wake_w, b"x")
        except OSError:  # the pipe is full (it is already readable) or closed
            pass

    def clear(self) -> None:
        self._event.clear()
        try:
            while os.read(self._wake_r, 4096):
                pass
        except OSError:  # drained (BlockingIOError) or closed
            pass

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._event.wait(timeout)

    def check(self, what: str) -> None:
        if self._event.is_set():
            raise CommunicatorCancelled(f"{what} cancelled")

    def fileno(self) -> int:
        return self._wake_r

    def close(self) -> None:
        """Close the pipe (safe to call twice); -1 keeps a recycled descriptor from being written."""
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        self._wake_r = self._wake_w = -1


class Communicator(abc.ABC):
    """Runs commands and transfers files on the machine being built.

    `cancel()` may be called from any thread (a signal handler's helper thread, the
    runner); the call it interrupts raises `CommunicatorCancelled`. Implementations watch
    `self._cancel` (a `CancelSignal`) in their wait loops."""

    def __init__(self) -> None:
        self._cancel = CancelSignal()

    @abc.abstractmethod
    def run(self, command: str, *, env: Mapping[str, str] | None = None, on_stdout: LineCallback | None = None,
            on_stderr: LineCallback | None = None, timeout: float | None = None) -> int:
        """Run `command` through the shell (`sh -c`), streaming each output line to the
        callbacks as it comes; return its exit status. On timeout the command (and its
        children) are killed and CommunicatorError is raised."""

    @abc.abstractmethod
    def upload(self, local: str | Path, remote: str, *, progress: ByteCallback | None = None) -> None:
        """Upload a file or a directory; see `upload_target` for where it lands. `progress`
        hears `(done, total)` bytes of file content as they go (`upload_size` is the total)."""

    @abc.abstractmethod
    def upload_bytes(self, data: bytes, remote: str, mode: int = 0o644) -> None:
        """Write `data` to the file `remote` with permissions `mode`."""

    @abc.abstractmethod
    def download(self, remote: str, local: str | Path) -> None:
        """Download a file or a directory (same trailing-"/" rule as `upload`)."""

    def make_temp_dir(self, parent: str, prefix: str) -> str:
        """Create a private (mode 0700) folder `parent/prefixXXXXXX` with `mktemp -d` and
        return its path. The path goes into the command quoted, never as shell text."""
        lines: list[str] = []
        errors: list[str] = []
        template = temp_dir_template(parent, prefix)
        code = self.run(f"umask 077 && mktemp -d {shlex.quote(template)}", on_stdout=lines.append,
                        on_stderr=errors.append, timeout=60)
        path = lines[-1].strip() if lines else ""
        if code != 0 or not path:
            raise CommunicatorError(f"cannot create a private temporary folder in {parent}: "
                                    f"{' '.join(errors).strip() or f'mktemp exited with status {code}'}",
                                    "remote_folder must be an existing folder the user can write to")
        return path

    def remove_tree(self, path: str) -> None:
        """Remove `path` and everything in it (quoted); raise CommunicatorError when it is still there."""
        errors: list[str] = []
        code = self.run(f"rm -rf -- {shlex.quote(path)}", on_stderr=errors.append, timeout=60)
        if code != 0:
            raise CommunicatorError(f"cannot remove {path}: {' '.join(errors).strip() or f'rm exited {code}'}")

    def cancel(self) -> None:
        """Abort the running command or transfer promptly (thread-safe)."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def reset_cancel(self) -> None:
        """Allow new calls after a cancel (the runner's cleanup may still need the machine)."""
        self._cancel.clear()

    def _check_cancel(self, what: str) -> None:
        self._cancel.check(what)

    def close(self) -> None:
        """Release connections; safe to call twice."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
