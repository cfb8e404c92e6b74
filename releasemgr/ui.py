"""All terminal input and output goes through one `Ui` object.

Library code never prints: it returns values, or writes through the `ui` (or the `progress`
callable) it was given. The Ui renders text or JSON, masks every secret of the run in
everything it writes -- errors included -- and stays quiet on non-TTY streams where it should.
Its masker is the process's (`common.secrets.process_masker`): a secret told to the Ui
(`add_secret`) is masked in the build log and the ledger too, and one registered there
(`common.secrets.register`) is masked here.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence, TextIO

from releasemgr.common.secrets import MASK, Masker, process_masker

__all__ = ["MASK", "Ui"]


@dataclass
class Ui:
    json: bool = False
    verbose: int = 0
    color: bool = True
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    masker: Masker = field(default_factory=process_masker)

    @classmethod
    def from_env(cls, *, json_output: bool = False, verbose: int = 0, no_color: bool = False) -> "Ui":
        color = not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()
        return cls(json=json_output, verbose=verbose, color=color)

    # -- secrets -----------------------------------------------------------------------
    def add_secret(self, value) -> None:
        self.masker.add(value)

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
