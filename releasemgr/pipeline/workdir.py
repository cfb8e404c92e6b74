"""The run folder: where a build keeps its temporary files on the operator's host.

Every native build gets one private folder, `STATE/tmp/run-<build id>-<pid>` (mode 0700):
the sources' work folders (the local builder's image root, staging), shell-local scripts and
the local communicator's provisioner scripts live inside it. It is removed when the build ends
(success, failure, cancel). A build that was killed (SIGKILL, a crash, a power cut) cannot
remove its own: the next build removes every `run-*-<pid>` folder whose process is gone.
`--on-error=abort` keeps the folder on purpose; a `KEEP` file inside tells the next build to
leave it alone.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

PARENT = "tmp"  # under the state folder
KEEP = "KEEP"  # a folder kept on purpose (--on-error=abort) holds this file
_RUN = re.compile(r"run-(?P<build>[0-9a-f-]+)-(?P<pid>\d+)\Z")


def parent_of(state_dir: str | Path) -> Path:
    return Path(state_dir) / PARENT


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _remove(path: Path) -> str | None:
    """Remove a folder; None when gone, else why not."""
    errors: list[str] = []

    def onerror(_func, p, exc_info):
        errors.append(f"{p}: {exc_info[1].strerror or exc_info[1]}" if isinstance(exc_info[1], OSError)
                      else f"{p}: {exc_info[1]}")

    with contextlib.suppress(OSError):
        # a folder someone made read-only (chmod -R a-w in a provisioner) must still go
        for dirpath, _dirs, _files in os.walk(path):
            with contextlib.suppress(OSError):
                os.chmod(dirpath, 0o700)
    shutil.rmtree(path, onerror=onerror)
    if not path.exists():
        return None
    return "; ".join(errors[:3]) or "still there"


def sweep(state_dir: str | Path) -> tuple[list[str], list[str]]:
    """Remove the run folders of builds whose process is gone; returns (removed, failed)."""
    parent = parent_of(state_dir)
    removed: list[str] = []
    failed: list[str] = []
    try:
        entries = list(parent.iterdir())
    except OSError:
        return removed, failed
    for entry in entries:
        m = _RUN.match(entry.name)
        if not m or not entry.is_dir() or entry.is_symlink() or (entry / KEEP).exists():
            continue
        if pid_alive(int(m.group("pid"))):
            continue
        why = _remove(entry)
        (failed if why else removed).append(str(entry) if not why else f"{entry} ({why})")
    return removed, failed


@dataclass
class RunFolder:
    path: Path
    #: True: leave the folder (and mark it KEEP) when the build ends
    keep: bool = False
    #: What could not be removed, one line each (empty: everything was)
    leftovers: list[str] = field(default_factory=list)


@contextlib.contextmanager
def run_folder(state_dir: str | Path, build_id: str, *, say: Callable[[str], None]) -> Iterator[RunFolder]:
    """Sweep the folders of dead builds, make this build's private run folder, remove it at the end."""
    removed, failed = sweep(state_dir)
    for path in removed:
        say(f"Removed the temporary folder of a build that did not end: {path}")
    for item in failed:
        say(f"Could not remove the temporary folder of a build that did not end: {item}")
    parent = parent_of(state_dir)
    parent.mkdir(parents=True, exist_ok=True)
    path = parent / f"run-{build_id}-{os.getpid()}"
    path.mkdir(mode=0o700)
    os.chmod(path, 0o700)  # whatever the umask
    run = RunFolder(path)
    try:
        yield run
    finally:
        if run.keep:
            with contextlib.suppress(OSError):
                (path / KEEP).write_text("kept by --on-error=abort; remove this folder by hand when done\n")
        else:
            why = _remove(path)
            if why:
                run.leftovers.append(f"temporary folder {path} ({why})")
                say(f"Could not remove the temporary folder {path} ({why}): delete it by hand")


def final_line(outcome: str, on_error: str, left_behind: list[str]) -> str:
    """The build's last line; it says "cleaned up" only when nothing was left behind."""
    if outcome == "succeeded":
        return "Build finished." if not left_behind else (
            "Build finished; left behind (delete by hand): " + "; ".join(left_behind))
    if on_error == "abort":
        return f"Build {outcome}."
    if left_behind:
        return (f"Build {'was cancelled' if outcome == 'cancelled' else 'failed'}; not everything it created "
                "could be removed (delete by hand): " + "; ".join(left_behind))
    if outcome == "cancelled":
        return "Build was cancelled; everything it created was cleaned up."
    return "Build failed."
