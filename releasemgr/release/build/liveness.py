"""While a build runs: its heartbeat in the ledger, and SIGINT/SIGTERM turned into a cancel.

The heartbeat lets the next command tell a build whose process died (SIGKILL, a lost machine)
from one still running: it marks it `abandoned` (`releasemgr.release.liveness`), and gc
removes what it left in the clouds. A signal sets the build's cancel event: every step's cleanup
still runs, then the build is recorded `cancelled`.
"""

from __future__ import annotations

import contextlib
import signal
import threading

from releasemgr.ledger.clock import now_iso
from releasemgr.ledger.repo import builds

HEARTBEAT_SECONDS = 15.0


class Heartbeat:
    """Refreshes the build row's heartbeat every `interval` seconds until the block ends.
    Best effort: a ledger that is briefly unavailable costs one beat, not the build."""

    def __init__(self, ledger, build_id: str, interval: float = HEARTBEAT_SECONDS):
        self.ledger, self.build_id, self.interval = ledger, build_id, interval
        self.stop = threading.Event()

    def _beat(self) -> None:
        while not self.stop.wait(self.interval):
            with contextlib.suppress(Exception):
                with self.ledger.transaction() as conn:
                    builds.heartbeat(conn, self.build_id, at=now_iso())

    def __enter__(self):
        threading.Thread(target=self._beat, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.stop.set()


class Signals:
    """SIGINT/SIGTERM cancel the build: `cancel` is set and `on_cancel(signal name)` called once;
    every step's cleanup runs, then we exit 1. Only the main thread can install handlers;
    elsewhere (a build run from a thread) the block changes nothing."""

    def __init__(self, cancel: threading.Event, on_cancel):
        self.cancel, self.on_cancel, self.old = cancel, on_cancel, {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if not self.cancel.is_set():
            self.cancel.set()
            self.on_cancel(signal.Signals(signum).name)

    def __exit__(self, *exc):
        for sig, handler in self.old.items():
            signal.signal(sig, handler)
