"""All terminal input and output goes through one `Ui` object.

Library code never prints: it returns values, or writes through the `ui` (or the `progress`
callable) it was given. The Ui renders text or JSON, masks every secret it was told about
(`add_secret`) in everything it writes -- errors included -- and stays quiet on non-TTY
streams where it should.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence, TextIO

from releasemgr.common.secrets import MASK, Masker

__all__ = ["MASK", "Ui"]


@dataclass
class Ui:
    json: bool = False
    verbose: int = 0
    color: bool = True
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    masker: Masker = field(default_factory=Masker)
    # --json on a command that can build or deploy: JSON Lines on stdout (log, progress and
    # warning events), ending with one `result` line (docs/json.md, "The output contract").
    streaming: bool = False

    @classmethod
    def from_env(cls, *, json_output: bool = False, verbose: int = 0, no_color: bool = False) -> "Ui":
        color = not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()
        return cls(json=json_output, verbose=verbose, color=color)

    # -- secrets -----------------------------------------------------------------------
    def add_secret(self, value) -> None:
        if value is not None and not isinstance(value, bool):
            self.masker.add(str(value))

    def mask(self, text: str) -> str:
        return self.masker.mask(text)

    # -- output ------------------------------------------------------------------------
    def out(self, text: str = "") -> None:
        self.stdout.write(self.mask(text) + "\n")
        self.stdout.flush()

    def err(self, text: str) -> None:
        """Text for people on stderr. Under --json stderr carries JSON Lines only: the text
        becomes a `{"type": "warning", "message": ...}` line."""
        if self.json and not text.lstrip().startswith("{"):
            if not text.strip():
                return
            text = json.dumps({"type": "warning", "message": text}, default=str)
        self.stderr.write(self.mask(text) + "\n")
        self.stderr.flush()

    def info(self, text: str) -> None:
        """A status line for people; never mixed into --json output."""
        if not self.json:
            self.err(text)

    def debug(self, text: str) -> None:
        if self.verbose:
            self.err(text)

    @property
    def interactive(self) -> bool:
        return not self.json and self.stderr.isatty()

    def emit(self, doc: Any, render: Callable[[Any], str | None] | None = None) -> None:
        """Print `doc` as one JSON document with --json, else `render(doc)` as text."""
        if self.json:
            self.out(json.dumps(doc, indent=2, sort_keys=False, default=str))
        elif render is not None:
            text = render(doc)
            if text:
                self.out(text)

    def emit_line(self, doc: dict) -> None:
        """One JSON line of a stream (--json on long operations)."""
        self.out(json.dumps(doc, sort_keys=False, default=str))

    # -- the output contract (docs/json.md): streams and result lines ------------------------
    def stream(self) -> None:
        """This invocation can start a build or a deploy: with --json its stdout is JSON Lines
        ending with one `result` line (`result()`, or the CLI's error path)."""
        self.streaming = True

    @property
    def streams_json(self) -> bool:
        return self.json and self.streaming

    def event(self, kind: str, **fields: Any) -> None:
        """One event of a stream (`log`, `progress`, `warning`) as a JSON line on stdout."""
        self.emit_line({"type": kind, **fields, "at": fields.get("at") or _now()})

    def progress(self, text: str) -> None:
        """Progress of a long operation: a `progress` event when streaming JSON, else a status
        line for people on stderr (nothing under --json on a one-document command)."""
        if self.streams_json:
            self.event("progress", message=text)
        else:
            self.info(text)

    def warning(self, text: str) -> None:
        """A warning: a `warning` event in a stream, a JSON line on stderr under --json, else
        `warning: …` on stderr."""
        if self.streams_json:
            self.event("warning", message=text)
        elif self.json:
            self.err(json.dumps({"type": "warning", "message": text}, default=str))
        else:
            self.err(f"warning: {text}")

    def result(self, doc: dict, render: Callable[[Any], str | None] | None = None) -> None:
        """The outcome of a command: the stream's last line (`{"type": "result", "ok": true,
        "exit_code": 0, …}`), else one JSON document, else `render(doc)` as text."""
        if self.streams_json:
            self.emit_line(result_line(doc))
        else:
            self.emit(doc, render)

    def table(self, columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> str:
        """A plain, aligned table (no box drawing, so it pastes into tickets and greps well)."""
        rows = [["" if v is None else str(v) for v in r] for r in rows]
        widths = [len(c) for c in columns]
        for r in rows:
            for i, v in enumerate(r):
                widths[i] = max(widths[i], len(v))
        def fmt(r):
            return "  ".join(v.ljust(widths[i]) for i, v in enumerate(r)).rstrip()
        lines = [title] if title else []
        lines.append(fmt([c.upper() for c in columns]))
        lines.extend(fmt(r) for r in rows)
        return "\n".join(lines)


def result_line(doc: dict, *, exit_code: int = 0) -> dict:
    """A stream's `result` line: `type`, `ok` and `exit_code` first, then the document (an
    error document for a failure: `error`, `message`, `exit_code`, …)."""
    return {"type": "result", "ok": exit_code == 0, **doc, "exit_code": exit_code}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
