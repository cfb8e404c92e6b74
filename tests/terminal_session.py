"""`release` on a pseudo-terminal, as a person at a terminal sees it.

`run_on_tty` runs `release ARGS` with its stdin, stdout and stderr on a pty (what
tests/test_terminal.py checks); `screens` replays what it wrote -- colours, carriage returns,
the live display's "cursor up, erase line" -- into the screens a terminal showed.

Run as a script it makes docs/terminal-build-deploy.svg, a rendering of a build and a rolling
deploy with their progress: `python3 tests/terminal_session.py`.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLUMNS, ROWS = 100, 30


def tty_env(base: dict[str, str]) -> dict[str, str]:
    """`base` as a terminal user's environment: colour not turned off, a real TERM."""
    # COLUMNS and LINES would beat the pty's own size (pytest-xdist's workers have COLUMNS=80)
    env = {k: v for k, v in {**os.environ, **base}.items()
           if k not in ("NO_COLOR", "FORCE_COLOR", "CI", "COLUMNS", "LINES")}
    env["TERM"] = "xterm-256color"
    env.setdefault("PYTHONPATH", str(ROOT))
    return env


def run_on_tty(args, *, cwd: Path, env: dict[str, str], timeout: float = 120) -> tuple[int, str]:
    """(exit status, everything written to the terminal) of `release ARGS` on a pty."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "releasemgr", *map(str, args)], cwd=cwd, env=env,
                            stdin=slave, stdout=slave, stderr=slave, close_fds=True, start_new_session=True)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout

    def drain(wait: float) -> bool:
        ready, _, _ = select.select([master], [], [], wait)
        if not ready:
            return False
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: every writer closed the terminal
            return False
        chunks.append(data)
        return bool(data)

    try:
        while proc.poll() is None:
            if time.monotonic() > deadline:
                proc.kill()
                raise TimeoutError(f"release {' '.join(map(str, args))} did not finish in {timeout}s")
            drain(0.05)
        while drain(0.2):  # what is still buffered (servers it started may hold the pty open)
            pass
    finally:
        os.close(master)
    return proc.returncode, b"".join(chunks).decode("utf-8", "replace")


_CONTROL = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])|\r\n|\r|\n|[^\x1b\r\n]+|\x1b")


def screens(raw: str) -> list[list[str]]:
    """The terminal's screen (its lines, SGR colour codes kept) after each write that
    redrew a line: enough of a terminal for what rich's live display sends (CR, LF, erase
    line, cursor up, cursor hide/show)."""
    lines: list[str] = [""]
    row = 0
    shots: list[list[str]] = []
    for m in _CONTROL.finditer(raw):
        token = m.group(0)
        if m.group(2):
            code, arg = m.group(2), m.group(1)
            if code == "m":
                lines[row] += token
            elif code == "K":  # erase the line (the cursor is at its start here)
                if lines[row]:
                    shots.append(list(lines))
                lines[row] = ""
            elif code == "A":
                shots.append(list(lines))
                row = max(0, row - int(arg or 1))
            continue
        if token in ("\r\n", "\n"):
            row += 1
            if row == len(lines):
                lines.append("")
            shots.append(list(lines))
        elif token == "\r":
            pass  # the next write starts the line again: rich erases it first
        elif token != "\x1b":
            lines[row] += token
    shots.append(list(lines))
    return shots


def plain(line: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", line)


# -- the rendering in docs/ ----------------------------------------------------------------

TOML = """
[[environments]]
name = "dev"

[[environments]]
name = "prod"

[deploy.prod]
count = 4
strategy = "rolling"
batch_size = 2
"""


def _session(folder: Path) -> list[tuple[str, str]]:
    """A build and a rolling deploy (after a first one) on a pty: [(command, raw output)]."""
    shutil.copytree(ROOT / "templates", folder / "templates")
    (folder / "release.toml").write_text(TOML)
    # the second build uploads a file (the shipped template plus a file provisioner): its row shows the bytes
    (folder / "dist").mkdir()
    (folder / "dist" / "app.tar").write_bytes(os.urandom(20 << 20))
    shipped = (folder / "templates" / "local.pkr.hcl").read_text()
    (folder / "templates" / "web-upload.pkr.hcl").write_text(shipped.replace('  provisioner "shell" {', (
        '  provisioner "file" {\n    source      = "dist/app.tar"\n    destination = "app.tar"\n  }\n\n'
        '  provisioner "shell" {'), 1))
    env = tty_env({"RELEASE_STATE": str(folder / "state"), "RELEASE_ACTOR": "alice"})
    plain_env = {**env, "NO_COLOR": "1"}
    subprocess.run([sys.executable, "-m", "releasemgr", "build", "templates/local.pkr.hcl"], cwd=folder,
                   env=plain_env, check=True, capture_output=True)
    for args in (["promote", "web@v1", "--to", "dev"], ["promote", "web@v1", "--to", "prod"],
                 ["deploy", "web", "--env", "prod"], ["promote", "web@v1", "--to", "prod"]):
        subprocess.run([sys.executable, "-m", "releasemgr", *args], cwd=folder, env=plain_env, capture_output=True)
    shown = []
    for args in (["build", "templates/web-upload.pkr.hcl"],
                 ["promote", "web@v2", "--to", "dev"], ["promote", "web@v2", "--to", "prod"],
                 ["deploy", "web", "--env", "prod"], ["show", "web@prdo"]):
        _, raw = run_on_tty(args, cwd=folder, env=env)
        shown.append(("release " + " ".join(args), raw))
    return shown


LIVE_ROW = re.compile(r"healthy \d+/\d+|step \d+ |\d MB/")
MIDWAY = re.compile(r"healthy (\d+)/(?!\1\b)\d+|(?<![\d.])([\d.]+ MB)/(?!\2)")  # some of the servers, of the bytes


def _frame_with_progress(raw: str) -> list[str]:
    """The screen while the live display ran: the last one before the command's result."""
    live = [shot for shot in screens(raw) if any(LIVE_ROW.search(plain(x)) for x in shot)]
    before = [shot for shot in live if not any(plain(x).startswith(("deployed ", "Build finished:")) for x in shot)]
    midway = [shot for shot in before if any(MIDWAY.search(plain(x)) for x in shot)]
    return (midway or before or live or [[]])[-1]


def write_rendering(target: Path) -> None:
    from rich.console import Console
    from rich.text import Text

    with tempfile.TemporaryDirectory() as tmp:
        try:
            session = _session(Path(tmp))
        finally:
            sys.path.insert(0, str(ROOT / "tests"))
            from local_images import cleanup

            cleanup(Path(tmp))
    console = Console(record=True, width=COLUMNS, force_terminal=True, color_system="standard",
                      file=open(os.devnull, "w"))
    for command, raw in session:
        console.print(Text(f"$ {command}", style="bold"))
        final = [x for x in screens(raw)[-1] if plain(x).strip()]
        live = _frame_with_progress(raw) if command.startswith(("release build", "release deploy")) else []
        if live:
            console.print(Text("  (while it runs: the live display at the bottom)", style="dim italic"))
            for line in [x for x in live if plain(x).strip()]:
                console.print(Text.from_ansi(line))
            console.print(Text("  (when it is done)", style="dim italic"))
        for line in final:
            console.print(Text.from_ansi(line))
        console.print()
    console.save_svg(str(target), title="release: a build and a rolling deploy on a terminal")


if __name__ == "__main__":
    write_rendering(ROOT / "docs" / "terminal-build-deploy.svg")
    print("wrote docs/terminal-build-deploy.svg")
