"""Shell completion (docs/completion.md): the shell runs `release` with `_RELEASE_COMPLETE`
on every TAB; it completes commands, and image, environment and version names from the
ledger, quickly, and never creates a ledger or prints an error where there is none."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time

import pytest

from terminal_session import ROOT

LIMIT = 0.2  # CPU seconds a TAB may take


@pytest.fixture
def ledger_cli(sqlite_cli):
    (sqlite_cli.cwd / "release.toml").write_text('[[environments]]\nname = "dev"\n\n[[environments]]\nname = "prod"\n')
    for i in range(1, 4):
        semver = ["--version", "1.4.0"] if i == 3 else []
        sqlite_cli.ok("register", "web", "--artifact", f"local::sha256:{i:064x}", *semver)
    sqlite_cli.ok("register", "worker", "--artifact", "local::sha256:" + "f" * 64)
    sqlite_cli.ok("promote", "web@v2", "--to", "prod", "--override", "--reason", "test")
    return sqlite_cli


def complete(cli, line: str, shell: str = "bash") -> tuple[list[str], float, float]:
    """(the completions of `line` -- the word under the cursor is its last, maybe empty --,
    wall seconds, CPU seconds) of a real `release` process."""
    words = line.split(" ")
    env = {**os.environ, **cli.env, "PYTHONPATH": str(ROOT), "_RELEASE_COMPLETE": f"{shell}_complete",
           "COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1)}
    if shell == "fish":
        env["COMP_WORDS"], env["COMP_CWORD"] = line, words[-1]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "releasemgr"], cwd=cli.cwd, env=env, capture_output=True, text=True,
                       timeout=60)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert r.returncode == 0 and r.stderr == "", r
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if shell == "bash":
        names = [x.split(",", 1)[1] for x in r.stdout.splitlines() if x]
    else:  # zsh and fish: type, value, help, three lines each
        names = r.stdout.splitlines()[1::3]
    return names, wall, cpu


def test_commands_images_environments_and_versions(ledger_cli):
    assert complete(ledger_cli, "release prom")[0] == ["promote"]
    assert complete(ledger_cli, "release versions ")[0] == ["web", "worker"]
    assert complete(ledger_cli, "release deploy w")[0] == ["web", "worker"]
    assert complete(ledger_cli, "release deploy web --env ")[0] == ["dev", "prod"]
    assert complete(ledger_cli, "release promote web@v1 --to p")[0] == ["prod"]
    assert complete(ledger_cli, "release show web@")[0] == ["web@latest", "web@dev", "web@prod", "web@v3",
                                                            "web@1.4.0", "web@v2", "web@v1"]
    assert complete(ledger_cli, "release show wor")[0] == ["worker@latest", "worker@dev", "worker@prod",
                                                           "worker@v1"]
    assert complete(ledger_cli, "release rollback web --env prod --to v")[0] == ["v3", "v2", "v1"]
    assert complete(ledger_cli, "release servers web --env d")[0] == ["dev"]
    assert complete(ledger_cli, "release audit --image w")[0] == ["web", "worker"]


def test_zsh_and_fish_complete_the_same_names(ledger_cli):
    assert complete(ledger_cli, "release deploy web --env ", shell="zsh")[0] == ["dev", "prod"]
    assert complete(ledger_cli, "release versions w", shell="fish")[0] == ["web", "worker"]


def test_the_completion_scripts_are_printed_for_each_shell(tmp_path):
    for shell in ("bash", "zsh", "fish"):
        r = subprocess.run([sys.executable, "-m", "releasemgr"], cwd=tmp_path, capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT), "_RELEASE_COMPLETE": f"{shell}_source"})
        assert r.returncode == 0 and "_RELEASE_COMPLETE" in r.stdout and f"{shell}_complete" in r.stdout, r


def test_no_ledger_completes_nothing_and_creates_none(sqlite_cli):
    assert complete(sqlite_cli, "release versions ")[0] == []
    assert complete(sqlite_cli, "release prom")[0] == ["promote"]
    assert not (sqlite_cli.cwd / "state").exists()


def test_a_tab_is_fast(ledger_cli):
    """Under 0.2 s of CPU for the whole process, Python's start included (the best of five).
    CPU time, not wall time: on two cores shared by a test run a process waits for a CPU for
    longer than it runs; on an idle machine the wall time is about the CPU time."""
    tabs = []
    for _ in range(5):
        names, wall, cpu = complete(ledger_cli, "release show web@")
        assert "web@v3" in names
        tabs.append((round(wall, 3), round(cpu, 3)))
    assert min(cpu for _, cpu in tabs) < LIMIT, tabs
