"""All terminal input and output goes through one `Ui` object.

Library code never prints: it returns values, or writes through the `ui` (or the `progress`
callable) it was given. The Ui renders text or JSON, masks every secret of the run in
everything it writes -- errors included -- and stays quiet on non-TTY streams where it should.
Its masker is the process's (`common.secrets.process_masker`): a secret told to the Ui
(`add_secret`) is masked in the build log and the ledger too, and one registered there
(`common.secrets.register`) is masked here.

On a terminal (a TTY, colour on: no `--json`, `--no-color`, `NO_COLOR` or `TERM=dumb`) the
text is coloured -- `error:` red, `warning:` yellow, Packer-style `==> source:` prefixes in a
colour per source -- and long operations show a live progress display on stderr (build steps
with their elapsed time, deploy batches, prune). `rich` draws it, imported only then, so
commands that print plain text (and every command off a terminal) never load it.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence, TextIO

from releasemgr.common.secrets import MASK, Masker, process_masker

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
    masker: Masker = field(default_factory=process_masker)
    # --json on a command that can build or deploy: JSON Lines on stdout (log, progress and
    # warning events), ending with one `result` line (docs/json.md, "The output contract").
    streaming: bool = False
    _term: "_Terminal | None" = field(default=None, init=False, repr=False)

    @classmethod
    def from_env(cls, *, json_output: bool = False, verbose: int = 0, no_color: bool = False) -> "Ui":
        """Colour is wanted unless --no-color, NO_COLOR (any non-empty value, no-color.org) or
        TERM=dumb; each stream is still coloured only when it is a terminal (`styled`)."""
        color = not no_color and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
        return cls(json=json_output, verbose=verbose, color=color)

    # -- secrets -----------------------------------------------------------------------
    def add_secret(self, value) -> None:
        self.masker.add(value)

    def mask(self, text: str) -> str:
        return self.masker.mask(text)

    # -- output ------------------------------------------------------------------------
    def out(self, text: str = "") -> None:
        self._write(self.stdout, self.mask(text))

    def err(self, text: str) -> None:
        """Text for people on stderr. Under --json stderr carries JSON Lines only: the text
        becomes a `{"type": "warning", "message": ...}` line."""
        if self.json and not text.lstrip().startswith("{"):
            if not text.strip():
                return
            text = json.dumps({"type": "warning", "message": text}, default=str)
        self._write(self.stderr, self.mask(text))

    def info(self, text: str = "", *, task: str | None = None, done: float | None = None,
             total: float | None = None, detail: str | None = None, unit: str | None = None) -> None:
        """A status line for people; never mixed into --json output. This is the `progress`
        callable library code is given: `progress("batch 2: starting 2 v3 server(s)")` prints
        a line; with `task`, it also moves that task's row of the live display on a terminal
        (`done` of `total`, in `unit` -- "bytes" shows sizes --, `detail` beside it), and
        `text` may then be empty (the row moves, no line is printed)."""
        if self.json:
            return
        if task is not None and self.styled(self.stderr):  # first, so the line goes above the display
            self._terminal().update(task, done=done, total=total, detail=self.mask(detail or ""), unit=unit)
        if text:
            self.err(text)

    def log_line(self, shown: str, source: str | None = None, kind: str = "say") -> None:
        """One line of a build log as Packer prints it (`==> local.web: ...` for a step,
        `    local.web: ...` for a command's output). On a terminal the prefix takes a colour
        per source and the source's row of the live display shows its current step."""
        shown = self.mask(shown)
        if not self.styled(self.stdout):
            self._write(self.stdout, shown)
            return
        term = self._terminal()
        if source is not None and kind == "say" and self.styled(self.stderr):
            term.step(source, shown.split(": ", 1)[1])  # first, so the line goes above the display
        term.print(self.stdout, term.packer_line(shown, source, kind))

    # -- colour and the live display (text on a terminal only) --------------------------
    def styled(self, stream: TextIO) -> bool:
        """Colour and live progress on `stream`: text output to a terminal, colour not turned off."""
        return self.color and not self.json and _isatty(stream)

    def close(self) -> None:
        """Stop the live display (it leaves the screen; the lines printed above it stay)."""
        if self._term is not None:
            self._term.stop()

    def _terminal(self) -> "_Terminal":
        if self._term is None:
            self._term = _Terminal(self.stderr)
        return self._term

    def _write(self, stream: TextIO, text: str) -> None:
        if self.styled(stream) and (self._term is not None and self._term.live or _NOTABLE.search(text)):
            self._terminal().print(stream, _marked(text))
            return
        stream.write(text + "\n")
        stream.flush()

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

    def progress(self, text: str = "", **row: Any) -> None:
        """Progress of a long operation: a `progress` event when streaming JSON, else a status
        line for people on stderr and, on a terminal, a row of the live display (`row`: task,
        done, total, detail, unit; see `info`). Nothing under --json on a one-document command."""
        if self.streams_json:
            fields = {k: self.mask(v) if isinstance(v, str) else v for k, v in row.items() if v is not None}
            if text or fields:
                self.event("progress", message=self.mask(text or row.get("detail") or ""), **fields)
        else:
            self.info(text, **row)

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


def result_line(doc: dict, *, exit_code: int = 0) -> dict:
    """A stream's `result` line: `type`, `ok` and `exit_code` first, then the document (an
    error document for a failure: `error`, `message`, `exit_code`, …)."""
    return {"type": "result", "ok": exit_code == 0, **doc, "exit_code": exit_code}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# -- the terminal: rich, imported only here and only for a TTY --------------------------------

_NOTABLE = re.compile(r"^\s*(?:error|warning|Error):", re.M)
_MARKS = {"error": "bold red", "Error": "bold red", "warning": "yellow"}
# Packer's colours for its builds, in order of first appearance
_SOURCE_COLORS = ["green", "cyan", "magenta", "yellow", "blue"]


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or file-like stream
        return False


def _marked(text: str):
    """`text` as rich Text with `error:` and `warning:` at a line's start coloured."""
    from rich.text import Text  # noqa: PLC0415 - rich only on a terminal

    out = Text(text)
    for m in re.finditer(r"^(\s*)(error|warning|Error):", text, re.M):
        out.stylize(_MARKS[m.group(2)], m.start(2), m.end(2) + 1)
    return out


class _Terminal:
    """The consoles of a Ui on a terminal and its live progress display (on stderr).

    While the display runs, every line goes through its console, so lines appear above
    the display instead of tearing it. Thread safe: deploys retire from a worker thread."""

    def __init__(self, stderr: TextIO):
        self.stderr = stderr
        self.consoles: dict[int, object] = {}
        self.colors: dict[str, str] = {}
        self.progress = None  # rich.progress.Progress while live
        self.tasks: dict[str, object] = {}
        self.steps: dict[str, int] = {}
        self.since: dict[str, float] = {}  # when a row's clock started (a deploy; a build's current step)
        self.lock = threading.RLock()

    @property
    def live(self) -> bool:
        return self.progress is not None

    def console(self, stream: TextIO):
        from rich.console import Console  # noqa: PLC0415 - rich only on a terminal

        key = id(stream)
        if key not in self.consoles:
            self.consoles[key] = Console(file=stream, force_terminal=True, color_system="standard",
                                         highlight=False, markup=False, emoji=False, soft_wrap=True)
        return self.consoles[key]

    def print(self, stream: TextIO, text) -> None:
        with self.lock:
            # both streams on the terminal: above the display, through its console
            target = self.progress.console if self.live and _isatty(stream) else self.console(stream)
            target.print(text)

    def color_of(self, source: str) -> str:
        with self.lock:
            return self.colors.setdefault(source, _SOURCE_COLORS[len(self.colors) % len(_SOURCE_COLORS)])

    def packer_line(self, shown: str, source: str | None, kind: str):
        text = _marked(shown)
        if source is None:
            if kind == "say":
                text.stylize("bold", 0, len(shown))
            return text
        end = shown.find(f"{source}:") + len(source) + 1
        text.stylize(f"bold {self.color_of(source)}" if kind == "say" else self.color_of(source), 0, end)
        if kind == "say":
            text.stylize("bold", end, len(shown))
        return text

    # -- the live display --------------------------------------------------------------
    def _start(self) -> None:
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn  # noqa: PLC0415
        from rich.table import Column  # noqa: PLC0415
        from rich.text import Text  # noqa: PLC0415

        class Bar(BarColumn):  # a bar for what has a total (a deploy's servers, an upload), none for a build step
            def render(self, task):
                return super().render(task) if task.fields.get("bar") else Text("")

        def text(template: str, *, markup: bool = False, fill: bool = False):  # one line; the step text gives way
            return TextColumn(template, markup=markup, table_column=Column(no_wrap=True, overflow="ellipsis",
                                                                           ratio=1 if fill else None))

        self.progress = Progress(SpinnerColumn(), text("{task.fields[label]}"), Bar(bar_width=20),
                                 text("{task.fields[count]}"), text("[dim]{task.fields[elapsed]}", markup=True),
                                 text("{task.description}", fill=True),
                                 console=self.console(self.stderr), transient=True, redirect_stdout=False,
                                 redirect_stderr=False, refresh_per_second=8)
        self.progress.start()
        threading.Thread(target=self._tick, name="ui-elapsed", daemon=True).start()

    def _tick(self) -> None:
        """Elapsed times move while a step waits (an AMI becoming available, a health check)."""
        while self.live:
            with self.lock:
                if self.progress is None:
                    return
                for name in self.tasks:
                    self._set_elapsed(name)
            time.sleep(0.5)

    def _set_elapsed(self, name: str) -> None:
        self.progress.update(self.tasks[name], elapsed=_clock(time.monotonic() - self.since[name]))

    def _task(self, name: str):
        if not self.live:
            self._start()
        if name not in self.tasks:
            self.since[name] = time.monotonic()
            self.tasks[name] = self.progress.add_task("", total=None, label=name, count="", elapsed="", bar=False)
        return self.tasks[name]

    def update(self, name: str, *, done, total, detail: str, unit: str | None) -> None:
        with self.lock:
            task_id = self._task(name)
            count = ""
            if total is not None:
                count = (f"{_size(done or 0)}/{_size(total)}" if unit == "bytes"
                         else f"{done or 0:g}/{total:g}" + (f" {unit}" if unit else ""))
            bar = total is not None
            # the other columns: spinner, label, bar (20), count, elapsed, and a space after each
            room = self.progress.console.width - len(name) - len(count) - (30 if bar else 9)
            self.progress.update(task_id, completed=done or 0, total=total, description=_fit(detail, room),
                                 count=count, bar=bar)
            self._set_elapsed(name)
            self.progress.refresh()

    def step(self, source: str, text: str) -> None:
        """A build source's step: its row shows the step and how long it has run (a step
        that says it is still waiting keeps its clock)."""
        with self.lock:
            task_id = self._task(source)
            if text.startswith("Still waiting"):
                return
            self.steps[source] = self.steps.get(source, 0) + 1
            self.since[source] = time.monotonic()
            short = _fit(text, self.progress.console.width - len(source) - 20)
            # a new step: the bar of the last one's upload goes, and the row is running again
            self.progress.reset(task_id, description=short, label=source, count=f"step {self.steps[source]}",
                                elapsed="", bar=False)  # reset() replaces every field
            self._set_elapsed(source)
            self.progress.refresh()

    def stop(self) -> None:
        with self.lock:
            if self.progress is not None:
                self.progress.stop()
                self.progress = None
                self.tasks.clear()


def _fit(text: str, room: int) -> str:
    """`text` for a row of the live display: every control character escaped (a path or a
    step's text cannot move the cursor or recolour the screen) and cut to `room` characters
    (at least 20) with "...", so the row stays one line."""
    text, room = escape_controls(text), max(20, room)
    return text if len(text) <= room else text[:room - 3] + "..."


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"
