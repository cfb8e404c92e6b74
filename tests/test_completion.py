"""Shell completion (docs/completion.md): the shell runs `release` with `_RELEASE_COMPLETE`
on every TAB; it completes commands, and image, environment and version names from the
ledger, loading nothing heavy, and never creates a ledger or prints an error where there is none.
How long a TAB takes is measured by bench/bench_completion.py (docs/benchmarks.md), not here."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from terminal_session import ROOT

# What a TAB must not import, each costing a large part of the 0.2 s a TAB may take (the ORM
# stack, the PostgreSQL driver, AWS, SSH, the terminal UI): completion reads a SQLite ledger
# through the standard library's sqlite3 and prints plain lines. A top-level name covers its
# submodules (a package's own line comes with any of them).
HEAVY = ("sqlalchemy", "sqlmodel", "pydantic", "alembic", "psycopg", "boto3", "botocore", "paramiko",
         "cryptography", "rich")


@pytest.fixture
def ledger_cli(sqlite_cli):
    (sqlite_cli.cwd / "release.toml").write_text('[[environments]]\nname = "dev"\n\n[[environments]]\nname = "prod"\n')
    for i in range(1, 4):
        semver = ["--version", "1.4.0"] if i == 3 else []
        sqlite_cli.ok("register", "web", "--artifact", f"local::sha256:{i:064x}", *semver)
    sqlite_cli.ok("register", "worker", "--artifact", "local::sha256:" + "f" * 64)
    sqlite_cli.ok("promote", "web@v2", "--to", "prod", "--override", "--reason", "test")
    return sqlite_cli


def tab(cli, line: str, shell: str = "bash", python: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """A real `release` process completing `line` (the word under the cursor is its last,
    maybe empty), started as the shell starts it; `python`: interpreter options."""
    words = line.split(" ")
    env = {**os.environ, **cli.env, "PYTHONPATH": str(ROOT), "_RELEASE_COMPLETE": f"{shell}_complete",
           "COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1)}
    if shell == "fish":
        env["COMP_WORDS"], env["COMP_CWORD"] = line, words[-1]
    return subprocess.run([sys.executable, *python, "-m", "releasemgr"], cwd=cli.cwd, env=env, capture_output=True,
                          text=True, timeout=60)


def names_of(r: subprocess.CompletedProcess, shell: str = "bash") -> list[str]:
    if shell == "bash":
        return [x.split(",", 1)[1] for x in r.stdout.splitlines() if x]
    return r.stdout.splitlines()[1::3]  # zsh and fish: type, value, help, three lines each


def complete(cli, line: str, shell: str = "bash") -> list[str]:
    """The completions of `line`."""
    r = tab(cli, line, shell)
    assert r.returncode == 0 and r.stderr == "", r
    return names_of(r, shell)


def test_commands_images_environments_and_versions(ledger_cli):
    assert complete(ledger_cli, "release prom") == ["promote"]
    assert complete(ledger_cli, "release versions ") == ["web", "worker"]
    assert complete(ledger_cli, "release deploy w") == ["web", "worker"]
    assert complete(ledger_cli, "release deploy web --env ") == ["dev", "prod"]
    assert complete(ledger_cli, "release promote web@v1 --to p") == ["prod"]
    assert complete(ledger_cli, "release show web@") == ["web@latest", "web@dev", "web@prod", "web@v3",
                                                         "web@1.4.0", "web@v2", "web@v1"]
    assert complete(ledger_cli, "release show wor") == ["worker@latest", "worker@dev", "worker@prod",
                                                        "worker@v1"]
    assert complete(ledger_cli, "release rollback web --env prod --to v") == ["v3", "v2", "v1"]
    assert complete(ledger_cli, "release servers web --env d") == ["dev"]
    assert complete(ledger_cli, "release audit --image w") == ["web", "worker"]


def test_zsh_and_fish_complete_the_same_names(ledger_cli):
    assert complete(ledger_cli, "release deploy web --env ", shell="zsh") == ["dev", "prod"]
    assert complete(ledger_cli, "release versions w", shell="fish") == ["web", "worker"]


def test_the_completion_scripts_are_printed_for_each_shell(tmp_path):
    for shell in ("bash", "zsh", "fish"):
        r = subprocess.run([sys.executable, "-m", "releasemgr"], cwd=tmp_path, capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT), "_RELEASE_COMPLETE": f"{shell}_source"})
        assert r.returncode == 0 and "_RELEASE_COMPLETE" in r.stdout and f"{shell}_complete" in r.stdout, r


def test_no_ledger_completes_nothing_and_creates_none(sqlite_cli):
    assert complete(sqlite_cli, "release versions ") == []
    assert complete(sqlite_cli, "release prom") == ["promote"]
    assert not (sqlite_cli.cwd / "state").exists()


@pytest.mark.parametrize("line, expected", [
    ("release show web@", ["web@latest", "web@dev", "web@prod", "web@v3", "web@1.4.0", "web@v2", "web@v1"]),
    ("release deploy w", ["web", "worker"]),
    ("release deploy web --env ", ["dev", "prod"]),
])
def test_a_tab_loads_nothing_heavy(ledger_cli, line, expected):
    """What keeps a TAB fast, checked deterministically: the names still come from the
    ledger, and the process (interpreter start included: `-X importtime` lists every module
    it imports, on stderr) loads none of HEAVY."""
    r = tab(ledger_cli, line, python=("-X", "importtime"))
    assert r.returncode == 0, r
    assert names_of(r) == expected
    lines = r.stderr.splitlines()
    assert all(x.startswith("import time:") for x in lines), r.stderr  # nothing else on stderr
    imported = {x.rsplit("|", 1)[1].strip() for x in lines[1:]}  # after the header line
    assert "releasemgr.cli.complete" in imported  # the list is the real one
    assert [m for m in HEAVY if m in imported] == []


def test_a_tab_on_a_postgresql_ledger_loads_no_sqlalchemy(pg_url, tmp_path):
    """On PostgreSQL a TAB needs the driver (psycopg), and nothing else of HEAVY: the ledger is
    read through psycopg directly, no SQLAlchemy or Alembic."""
    from conftest import Cli

    cli = Cli(tmp_path, {"RELEASE_STATE": str(tmp_path / "state"), "RELEASE_LEDGER": pg_url, "RELEASE_ACTOR": "alice",
                         "NO_COLOR": "1"})
    cli.ok("register", "web", "--artifact", "local::sha256:" + "a" * 64)
    r = tab(cli, "release show web@", python=("-X", "importtime"))
    assert r.returncode == 0, r
    assert names_of(r) == ["web@latest", "web@dev", "web@staging", "web@prod", "web@v1"]
    imported = {x.rsplit("|", 1)[1].strip() for x in r.stderr.splitlines()[1:]}
    assert "psycopg" in imported  # the list is the real one
    assert [m for m in HEAVY if m in imported] == ["psycopg"]
