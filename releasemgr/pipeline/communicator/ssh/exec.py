"""Running commands over SSH, with output streamed line by line, timeouts and cancel.

Commands run through the login shell with variables exported in the command itself (sshd
drops client-sent variables unless AcceptEnv allows them). Each command prints its shell's
pid first (stripped from the output), so a cancel or a timeout can kill the command's whole
process group: sshd makes every session its own group.
"""

from __future__ import annotations

import re
import selectors
import time
from typing import Mapping

from releasemgr.pipeline.communicator.base import (CancelSignal, CommunicatorCancelled, CommunicatorError,
                                                   ConnectionLost, LineCallback, LineSplitter, env_prefix)

from .config import SSHConfig
from .connect import Connection, describe

PID_LINE = re.compile(rb"(?:^|(?<=\n))__releasemgr_pid__=(\d+)\r?\n")
PID_SEARCH_LIMIT = 8192  # stdout bytes to search for the pid line before giving up on it
KILL_GRACE = 1.0  # seconds between TERM and KILL


def split_pid_line(head: bytes) -> tuple[int, bytes] | None:
    """Find the shell's pid line in the first stdout bytes; return (pid, the other bytes)."""
    m = PID_LINE.search(head)
    if not m:
        return None
    return int(m.group(1)), head[:m.start()] + head[m.end():]


class _PidFilter:
    """Takes the pid line out of the start of stdout. The pid line comes first, unless the
    login shell's rc files print something, so the first bytes are held back until it shows."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self._head: bytes | None = b""  # None once the pid line was found (or given up on)

    def feed(self, data: bytes) -> bytes:
        """What of `data` may be passed on now."""
        if self._head is None:
            return data
        self._head += data
        found = split_pid_line(self._head)
        if found:
            (self.pid, data), self._head = found, None
            return data
        if len(self._head) > PID_SEARCH_LIMIT:
            data, self._head = self._head, None  # no pid line (an unusual shell): pass everything on
            return data
        return b""

    def rest(self) -> bytes:
        """What is still held back when the output ends."""
        data, self._head = self._head or b"", None
        return data


class CommandRunner:
    """Runs one command per SSH session on `conn`."""

    def __init__(self, conn: Connection, config: SSHConfig, cancel: CancelSignal):
        self.conn = conn
        self.config = config
        self.cancel = cancel

    def run(self, command: str, *, env: Mapping[str, str] | None = None, on_stdout: LineCallback | None = None,
            on_stderr: LineCallback | None = None, timeout: float | None = None) -> int:
        import paramiko

        prefix = env_prefix(env)
        deadline = None if timeout is None else time.monotonic() + timeout
        transport = self.conn.get(timeout)  # a command's timeout also bounds waiting for a reconnect
        try:
            chan = transport.open_session(timeout=self.config.connect_timeout)
            if self.config.pty:
                chan.get_pty(term="vt100", width=200, height=50)
            chan.exec_command("echo __releasemgr_pid__=$$\n" + prefix + command)
            chan.shutdown_write()  # no stdin: a command that reads it sees EOF instead of hanging
        except (OSError, EOFError, paramiko.SSHException) as e:
            self.conn.lost()
            cls = CommunicatorError if self.conn.transport is not None else ConnectionLost
            raise cls(f"{self.conn.where}: cannot start a command: {describe(e)}") from None
        try:
            return _Command(self, chan, transport, command, timeout=timeout, deadline=deadline).pump(
                LineSplitter(on_stdout), LineSplitter(on_stderr))
        finally:
            chan.close()


class _Command:
    """One running command: its channel, its pid (once known), its deadline."""

    def __init__(self, runner: CommandRunner, chan, transport, command: str, *, timeout: float | None,
                 deadline: float | None):
        self.runner, self.chan, self.transport = runner, chan, transport
        self.command, self.timeout, self.deadline = command, timeout, deadline
        self.where = runner.conn.where
        self.pids = _PidFilter()

    def pump(self, out: LineSplitter, err: LineSplitter) -> int:
        """Stream the output until EOF, then wait for the exit status."""
        import paramiko

        try:
            self._stream(out, err)
            return self._exit_status()
        except (OSError, EOFError, paramiko.SSHException) as e:
            self.runner.conn.lost()
            raise ConnectionLost(f"{self.where}: connection lost while running {_short(self.command)}: "
                                 f"{describe(e)}") from None

    def _stop_if_cancelled_or_late(self, late: str) -> None:
        """Kill the command and raise when cancel() was called or the deadline passed."""
        if self.runner.cancel.is_set():
            self._kill()
            raise CommunicatorCancelled(f"{self.where}: command cancelled: {_short(self.command)}")
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self._kill()
            raise CommunicatorError(f"{self.where}: command timed out after {self.timeout:g}s{late}: "
                                    f"{_short(self.command)}")

    def _stream(self, out: LineSplitter, err: LineSplitter) -> None:
        chan = self.chan
        with selectors.DefaultSelector() as sel:
            sel.register(chan.fileno(), selectors.EVENT_READ)
            sel.register(self.runner.cancel, selectors.EVENT_READ)  # readable on cancel()
            while True:
                self._stop_if_cancelled_or_late(" and was killed")
                while chan.recv_ready():
                    data = self.pids.feed(chan.recv(1 << 16))
                    if data:
                        out.feed(data)
                while chan.recv_stderr_ready():
                    err.feed(chan.recv_stderr(1 << 16))
                drained = not chan.recv_ready() and not chan.recv_stderr_ready()
                if drained and (chan.eof_received or chan.closed):
                    break
                wait = 0.5 if self.deadline is None else max(0.0, min(0.5, self.deadline - time.monotonic()))
                sel.select(wait)
        rest = self.pids.rest()
        if rest:
            out.feed(rest)
        out.close()
        err.close()

    def _exit_status(self) -> int:
        """The exit status follows EOF closely; wait for it, still honouring cancel and timeout."""
        chan = self.chan
        while not chan.exit_status_ready():
            if self.runner.cancel.is_set():
                self._stop_if_cancelled_or_late("")
            if chan.closed or not self.transport.is_active():
                break
            self._stop_if_cancelled_or_late("")  # the deadline
            chan.status_event.wait(0.2)
        status = chan.recv_exit_status() if chan.exit_status_ready() else -1
        if status == -1:
            # no status (paramiko's -1): the command died of a signal (exit-signal), or the
            # connection dropped, which the transport notices a moment after the channel closes
            end = time.monotonic() + 0.5
            while self.transport.is_active() and time.monotonic() < end:
                time.sleep(0.02)
            if not self.transport.is_active():
                self.runner.conn.drop()
                raise ConnectionLost(f"{self.where}: the connection closed while running: {_short(self.command)}")
        return status

    def _kill(self) -> None:
        """TERM the command's process group (its shell leads it), KILL what is left."""
        chan, pid = self.chan, self.pids.pid
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
            c = self.transport.open_session(timeout=5)
            c.exec_command(command)
            c.status_event.wait(5)
            c.close()
        except Exception:  # best effort: the connection may be gone, which ends the command anyway
            pass


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


def _short(command: str, limit: int = 80) -> str:
    text = command.strip()
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= limit and "\n" not in text else line[:limit] + " …"
