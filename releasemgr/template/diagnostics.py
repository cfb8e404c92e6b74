"""Diagnostics: every problem found in a template, with file, line and column.

Parsers and validators return ``(value, diagnostics)`` and never raise on user input;
the CLI prints all of them, then exits 2 if any is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from releasemgr.common.suggest import closest


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Position:
    line: int  # 1-based
    column: int  # 1-based


@dataclass
class Diagnostic:
    severity: Severity
    summary: str  # one line: what is wrong
    detail: str = ""  # what was expected / what to do
    file: str | None = None
    start: Position | None = None
    end: Position | None = None
    source_line: str | None = None  # the text of the line at `start`, for the caret display
    extra: dict = field(default_factory=dict)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def location(self) -> str:
        if self.file is None:
            return ""
        if self.start is None:
            return self.file
        return f"{self.file}:{self.start.line}:{self.start.column}"

    def render(self) -> str:
        """Human text in the shape of Packer/HCL diagnostics, with the line and a caret."""
        head = f"{self.severity.value}: {self.summary}"
        loc = self.location()
        lines = [head if not loc else f"{head}\n  on {loc}"]
        if self.source_line is not None and self.start is not None:
            text = self.source_line.rstrip("\n").expandtabs(4)
            lines.append(f"  {self.start.line:>4} | {text}")
            width = 1
            if self.end is not None and self.end.line == self.start.line and self.end.column > self.start.column:
                width = self.end.column - self.start.column
            lines.append("       | " + " " * (self.start.column - 1) + "^" * width)
        if self.detail:
            lines.append("  " + self.detail.replace("\n", "\n  "))
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {
            "severity": self.severity.value,
            "summary": self.summary,
            "detail": self.detail,
            "file": self.file,
            "line": self.start.line if self.start else None,
            "column": self.start.column if self.start else None,
            "end_line": self.end.line if self.end else None,
            "end_column": self.end.column if self.end else None,
        }


def error(summary: str, detail: str = "", **kw) -> Diagnostic:
    return Diagnostic(Severity.ERROR, summary, detail, **kw)


def warning(summary: str, detail: str = "", **kw) -> Diagnostic:
    return Diagnostic(Severity.WARNING, summary, detail, **kw)


def has_errors(diags) -> bool:
    return any(d.is_error for d in diags)


def dedupe(diags: list[Diagnostic]) -> list[Diagnostic]:
    """The diagnostics without repeats (same severity, summary, detail and position), in order."""
    seen = set()
    out = []
    for d in diags:
        key = (d.severity, d.summary, d.detail, d.file, d.start)
        if key in seen:
            continue
        seen.add(key)
        out.append(d)
    return out


class EvalError(Exception):
    """An expression that cannot be evaluated (or a type that cannot be read): `diag` says where."""

    def __init__(self, diag: Diagnostic):
        super().__init__(diag.summary)
        self.diag = diag


def suggest(name: str, candidates) -> str:
    """' Did you mean "x"?' for the closest candidate, or "" if none is close."""
    m = closest(name, candidates)
    return f' Did you mean "{m}"?' if m else ""
