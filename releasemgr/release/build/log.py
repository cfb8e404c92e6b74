"""The build log: one line per event, to the terminal (or JSON lines) and to the build's log file."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from releasemgr.common.secrets import process_masker, register


class BuildLog:
    """Prefixed, secret-masked lines to the terminal (or JSON lines) and to the build's log file
    (created 0600). Masked by the process's masker (`common.secrets`), which knows every secret
    of the run, `secrets` included. Thread safe: the sources of one build log through one `BuildLog`."""

    def __init__(self, ui, path: Path, secrets: list[str]):
        self.ui, self.path = ui, path
        register(secrets)
        self.masker = process_masker()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.fh = os.fdopen(fd, "a", encoding="utf-8")
        self.lock = threading.Lock()

    def mask(self, text: str) -> str:
        return self.masker.mask(text)

    def line(self, source: str | None, text: str, *, kind: str = "say") -> None:
        text = self.mask(text)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if source is None:
            shown = f"==> {text}" if kind == "say" else text
        elif kind == "say":
            shown = f"==> {source}: {text}"
        else:
            shown = f"    {source}: {text}"
        with self.lock:
            self.fh.write(f"{stamp} {shown}\n")
            self.fh.flush()
            if self.ui.json:
                self.ui.emit_line({"type": "log", "source": source, "kind": kind, "line": text, "at": stamp})
            else:
                self.ui.log_line(shown, source, kind)

    def progress(self, source: str, *, detail: str, done: float, total: float, unit: str) -> None:
        """How far a step is (an upload's bytes): the source's row of the live display on a
        terminal, a `progress` event under --json, nothing in a pipe or in the log file (the
        step's line is there already). The Ui masks `detail` with the same process masker."""
        with self.lock:
            self.ui.progress(task=source, detail=detail, done=done, total=total, unit=unit)

    def close(self) -> None:
        self.fh.close()
