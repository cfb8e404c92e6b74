"""Source files and ranges: where every syntax node and diagnostic points."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from releasemgr.template.diagnostics import Diagnostic, Position, Severity


class SourceFile:
    """A template file's text, with the line starts needed to turn offsets into line:column."""

    __slots__ = ("name", "text", "_starts")

    def __init__(self, name: str, text: str):
        self.name = name
        self.text = text
        self._starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def position(self, offset: int) -> Position:
        offset = max(0, min(offset, len(self.text)))
        i = bisect.bisect_right(self._starts, offset) - 1
        return Position(i + 1, offset - self._starts[i] + 1)

    def line_text(self, line: int) -> str:
        if line < 1 or line > len(self._starts):
            return ""
        start = self._starts[line - 1]
        end = self._starts[line] - 1 if line < len(self._starts) else len(self.text)
        return self.text[start:end].rstrip("\r")


@dataclass(frozen=True)
class Range:
    """A span of one source file (character offsets), to point diagnostics at."""
    src: SourceFile
    start: int
    end: int

    @property
    def filename(self) -> str:
        return self.src.name

    @property
    def line(self) -> int:
        return self.src.position(self.start).line

    def diag(self, summary: str, detail: str = "", severity: Severity = Severity.ERROR, **extra) -> Diagnostic:
        start = self.src.position(self.start)
        end = self.src.position(max(self.end, self.start + 1)) if self.end > self.start else None
        if end is not None and end.line != start.line:
            end = None
        return Diagnostic(severity, summary, detail, file=self.src.name, start=start, end=end,
                          source_line=self.src.line_text(start.line), extra=dict(extra))

    def __repr__(self):
        p = self.src.position(self.start)
        return f"{self.src.name}:{p.line}:{p.column}"
