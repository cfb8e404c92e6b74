"""File permissions of what `release` creates (issue 15, item 3, last sentence): under the usual
umask 022 the state folder it makes is 0700 and the SQLite ledger file it makes is 0600 (its
WAL and shared-memory files too); a folder or ledger the user made is left as it is. Real
processes, so the umask is the process's own.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def release(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`release ...` in a process whose umask is 022 (the usual default)."""
    full = {**os.environ, "PYTHONPATH": str(ROOT), "RELEASE_ACTOR": "alice", "NO_COLOR": "1", **(env or {})}
    for key in ("RELEASE_LEDGER", "RELEASE_STATE", "RELEASE_CONFIG"):
        if key not in (env or {}):
            full.pop(key, None)
    return subprocess.run([sys.executable, "-m", "releasemgr", *args], cwd=cwd, env=full, capture_output=True,
                          text=True, timeout=120, preexec_fn=lambda: os.umask(0o022))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("how", ["ledger init", "register"])
def test_state_folder_0700_and_ledger_0600_when_release_makes_them(tmp_path, how):
    args = ["ledger", "init"] if how == "ledger init" else ["register", "web", "--artifact", "aws:us-east-1:ami-1"]
    r = release(tmp_path, *args)
    assert r.returncode == 0, r.stderr
    state, ledger = tmp_path / "state", tmp_path / "state" / "ledger.db"
    assert mode(state) == 0o700, oct(mode(state))
    assert mode(ledger) == 0o600, oct(mode(ledger))
    r = release(tmp_path, "register", "api", "--artifact", "aws:us-east-1:ami-2")  # writes: WAL files appear
    assert r.returncode == 0, r.stderr
    for suffix in ("", "-wal", "-shm"):
        p = Path(f"{ledger}{suffix}")
        if p.exists():
            assert mode(p) & 0o077 == 0, (p, oct(mode(p)))
    # a file created umask 022 by the same process, for contrast: the umask really was 022
    probe = subprocess.run([sys.executable, "-c", "import os; os.umask(0o022); open('probe', 'w')"], cwd=tmp_path)
    assert probe.returncode == 0 and mode(tmp_path / "probe") == 0o644


def test_state_folder_made_for_a_ledger_elsewhere_is_private_too(tmp_path):
    r = release(tmp_path, "ledger", "init", env={"RELEASE_LEDGER": f"sqlite:///{tmp_path / 'db' / 'team.db'}"})
    assert r.returncode == 0, r.stderr
    assert mode(tmp_path / "db") == 0o700 and mode(tmp_path / "db" / "team.db") == 0o600
    r = release(tmp_path, "status", env={"RELEASE_LEDGER": f"sqlite:///{tmp_path / 'db' / 'team.db'}"})
    assert r.returncode == 0, r.stderr
    assert mode(tmp_path / "state") == 0o700  # the state folder, made on its first use


def test_existing_folder_and_ledger_keep_their_modes(tmp_path):
    state = tmp_path / "state"
    state.mkdir(mode=0o750)
    os.chmod(state, 0o750)  # a team's shared group folder, say
    r = release(tmp_path, "ledger", "init")
    assert r.returncode == 0, r.stderr
    assert mode(state) == 0o750  # not ours to change
    assert mode(state / "ledger.db") == 0o600  # made now: private
    os.chmod(state / "ledger.db", 0o640)
    r = release(tmp_path, "register", "web", "--artifact", "aws:us-east-1:ami-1")
    assert r.returncode == 0, r.stderr
    assert mode(state / "ledger.db") == 0o640  # an existing ledger is left as it is


def test_refused_commands_make_no_state_folder(tmp_path):
    r = release(tmp_path, "status")  # no ledger: exit 4, nothing made
    assert r.returncode == 4, r.stderr
    assert not (tmp_path / "state").exists()
