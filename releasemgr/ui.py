"""All terminal input and output goes through one `Ui` object.

Library code never prints: it returns values, or writes through the `ui` (or the `progress`
callable) it was given. The Ui renders text or JSON, masks every secret it was told about
(`add_secret`) in everything it writes -- errors included -- and stays quiet on non-TTY
streams where it should.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence, TextIO

from releasemgr.common.secrets import MASK, Masker

__all__ = ["MASK", "Ui", "escape_controls"]

# What a terminal would act on instead of showing: C0 controls (newline, carriage return,
# escape ...), DEL, C1 controls, the Unicode line and paragraph separators, and the bidi
# marks, embeddings, overrides and isolates that reorder what follows them on screen.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_one(m: re.Match) -> str:
    ch = m.group()
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """`text` with every character a terminal would act on written as an escape (a newline as
    `\\n`, ESC as `\\x1b`, U+2028 as `\\u2028`), so a user-supplied value -- a reason, an
    actor, a ticket, an artifact id -- stays on its own line and cannot draw a fake row or
    recolour the screen. For text output only: JSON and CSV carry the exact value."""
    return _CONTROLS.sub(_escape_one, text)


@dataclass
class Ui:
    json: bool = False
    verbose: int = 0
    color: bool = True
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    masker: Masker = field(default_factory=Masker)

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

    def table(self, columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> str:
        """A plain, aligned table (no box drawing, so it pastes into tickets and greps well).
        Every cell is shown through `escape_controls`: one row per row, whatever a value holds."""
        rows = [["" if v is None else escape_controls(str(v)) for v in r] for r in rows]
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
