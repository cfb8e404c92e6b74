"""No silent new ledger (issue 12, item 5): only `build`, `register`, `ledger init` and
`ledger upgrade` create a ledger, and say so; every other command on a missing ledger exits 4
naming the URL; a 0-byte SQLite file is a damaged ledger (never re-created); in-memory and
empty-path SQLite URLs are refused; `release.toml` is found upward from a sub-folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Cli

READERS = [("status",), ("images",), ("history", "web"), ("audit",), ("audit", "verify"), ("ledger", "info"),
           ("promote", "web@v1", "--to", "dev"), ("show", "web@latest")]


def _ledger_file(cli) -> Path | None:
    url = cli.env["RELEASE_LEDGER"]
    return Path(url[len("sqlite:///"):]) if url.startswith("sqlite:///") else None


def _run(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """A real `release` process in `cwd`, without the suite's RELEASE_* settings."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("RELEASE_")}
    base.update({"RELEASE_ACTOR": "alice", "NO_COLOR": "1", **(env or {})})
    return subprocess.run([sys.executable, "-m", "releasemgr", *args], cwd=cwd, env=base, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("args", READERS, ids=lambda a: " ".join(a))
def test_commands_that_only_read_never_create_a_ledger(cli, args):
    r = cli(*args)
    assert r.code == 4, r
    assert "no ledger at" in r.err and "release ledger init" in r.err and "Traceback" not in r.err
    path = _ledger_file(cli)
    if path is not None:
        assert not path.exists() and path.as_posix() in r.err
    else:
        assert cli("ledger", "info").code == 4  # still nothing in the empty database


def test_missing_ledger_is_exit_4_in_json_too(cli):
    r = cli("status", "--json")
    assert r.code == 4 and r.json["exit_code"] == 4 and "no ledger at" in r.json["message"]


def test_register_creates_the_ledger_and_says_so_once(cli):
    r = cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-1")
    assert r.err.count("created ledger ") == 1, r
    assert "created ledger" not in cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-2").err
    assert cli.json("status")["environments"] == ["dev", "staging", "prod"]


def test_created_ledger_is_a_json_line_on_stderr_under_json(cli):
    r = cli("register", "web", "--artifact", "aws:us-east-1:ami-1", "--json")
    assert r.code == 0, r
    lines = [json.loads(x) for x in r.err.splitlines() if x.startswith("{")]
    assert [x["type"] for x in lines] == ["created_ledger"]
    assert "password" not in lines[0]["url"] and lines[0]["url"].split("://")[0] in ("sqlite", "postgresql+psycopg")
    assert r.json["version"] == "v1"  # stdout stays one document


def test_ledger_init_creates_once_and_is_idempotent(cli):
    first = cli("ledger", "init", "--json")
    assert first.code == 0 and first.json["created"] is True and "created_ledger" in first.err, first
    second = cli("ledger", "init", "--json")
    assert second.code == 0 and second.json["created"] is False and second.err == "", second
    assert "exists already" in cli.ok("ledger", "init").out
    assert cli.json("ledger", "info")["audit_events"] == 1  # the first recording of release.toml's policy


def test_ledger_upgrade_creates_and_says_so(cli):
    r = cli("ledger", "upgrade")
    assert r.code == 0 and "created ledger" in r.err, r
    assert "created ledger" not in cli.ok("ledger", "upgrade").err


def test_build_creates_the_ledger(sqlite_cli, tmp_path):
    root = Path(__file__).resolve().parents[1]
    r = sqlite_cli("build", root / "templates" / "local.pkr.hcl")
    assert r.code == 0, r
    assert "created ledger sqlite:///" in r.err


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite:///", "sqlite:///ledger.db?mode=memory",
                                 "sqlite:///file::memory:?cache=shared"])
@pytest.mark.parametrize("command", [("register", "web", "--artifact", "aws:us-east-1:ami-1"), ("ledger", "init"),
                                     ("status",)], ids=lambda c: c[0])
def test_in_memory_and_empty_path_urls_are_refused(tmp_path, url, command):
    c = Cli(tmp_path, {"RELEASE_STATE": str(tmp_path / "state"), "RELEASE_ACTOR": "alice", "NO_COLOR": "1"})
    r = c(*command, "--ledger", url)
    assert r.code == 2, r
    assert f"the ledger url {url} keeps nothing" in r.err and "Traceback" not in r.err
    assert not (tmp_path / "state").exists() and not list(tmp_path.glob("ledger.db*"))


def test_in_memory_url_from_the_environment_is_refused_by_a_real_process(tmp_path):
    r = _run(tmp_path, "register", "web", "--artifact", "aws:us-east-1:ami-1", env={"RELEASE_LEDGER": "sqlite://"})
    assert r.returncode == 2 and "sqlite:// keeps nothing" in r.stderr, r.stderr


def test_zero_byte_ledger_file_is_damaged_never_recreated(sqlite_cli):
    cli = sqlite_cli
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-1")
    path = _ledger_file(cli)
    cli.ok("audit", "verify")
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    path.write_bytes(b"")  # truncated to 0 bytes
    for args in (("status",), ("audit", "verify"), ("register", "web", "--artifact", "aws:us-east-1:ami-2"),
                 ("ledger", "init"), ("ledger", "upgrade")):
        r = cli(*args)
        assert r.code == 1, (args, r)
        assert f"the ledger file {path} is empty (0 bytes)" in r.err and "records 3 audit events" in r.err, r
    assert path.stat().st_size == 0  # nothing re-created it


def test_zero_byte_file_seen_by_a_real_process(tmp_path):
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "ledger.db").write_bytes(b"")
    r = _run(tmp_path, "audit", "verify")
    assert r.returncode == 1 and "is empty (0 bytes)" in r.stderr, r.stderr
    assert (tmp_path / "state" / "ledger.db").stat().st_size == 0


def test_deleted_ledger_file_with_its_head_file_is_not_replaced(sqlite_cli):
    cli = sqlite_cli
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-1")
    path = _ledger_file(cli)
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    r = cli("status")
    assert r.code == 4 and "is missing, but its head file" in r.err, r
    r = cli("register", "web", "--artifact", "aws:us-east-1:ami-2")
    assert r.code == 1 and "records 3 audit events" in r.err and not path.exists(), r


def test_mistyped_ledger_path_is_not_a_new_ledger(sqlite_cli, tmp_path):
    cli = sqlite_cli
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-1")
    typo = f"sqlite:///{tmp_path / 'state' / 'ledgr.db'}"
    r = cli("status", "--ledger", typo)
    assert r.code == 4 and f"no ledger at {typo}" in r.err, r
    assert not (tmp_path / "state" / "ledgr.db").exists()


def test_release_toml_is_found_from_a_sub_folder(tmp_path):
    """Run from a sub-folder: the project's release.toml, state and ledger are used (real
    processes, no RELEASE_* settings); no `state/` appears in the sub-folder."""
    (tmp_path / "release.toml").write_text('[[environments]]\nname = "dev"\n\n[[environments]]\nname = "live"\n')
    r = _run(tmp_path, "register", "web", "--artifact", "aws:us-east-1:ami-1")
    assert r.returncode == 0 and f"created ledger sqlite:///{tmp_path.resolve() / 'state' / 'ledger.db'}" in r.stderr
    sub = tmp_path / "src" / "deep"
    sub.mkdir(parents=True)
    r = _run(sub, "promote", "web@v1", "--to", "dev", "--json")
    assert r.returncode == 0, r.stderr
    r = _run(sub, "status", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["environments"] == ["dev", "live"]
    assert not (sub / "state").exists() and not (tmp_path / "src" / "state").exists()
    assert _run(sub, "audit", "verify").returncode == 0


def test_without_release_toml_a_sub_folder_has_no_ledger(tmp_path):
    r = _run(tmp_path, "register", "web", "--artifact", "aws:us-east-1:ami-1")
    assert r.returncode == 0, r.stderr
    sub = tmp_path / "sub"
    sub.mkdir()
    r = _run(sub, "status")
    assert r.returncode == 4 and f"no ledger at sqlite:///{sub.resolve() / 'state' / 'ledger.db'}" in r.stderr
    assert not (sub / "state").exists()


def test_state_paths_resolve(tmp_path):
    """Relative paths in release.toml resolve against its folder; RELEASE_STATE and --state
    against the current folder."""
    from releasemgr.config import load_config

    proj = tmp_path / "proj"
    (proj / "a" / "b").mkdir(parents=True)
    (proj / "release.toml").write_text('[state]\ndir = "var/state"\n')
    cfg = load_config(None, cwd=str(proj / "a" / "b"))
    assert cfg.path == proj / "release.toml" and cfg.state_dir == proj / "var" / "state"
    assert cfg.ledger_url == f"sqlite:///{(proj / 'var' / 'state' / 'ledger.db').resolve()}"
    (proj / "release.toml").write_text('[ledger]\nurl = "sqlite:///db/team.db"\n')
    cfg = load_config(None, cwd=str(proj / "a"))
    assert cfg.state_dir == proj / "state" and cfg.ledger_url == f"sqlite:///{(proj / 'db' / 'team.db').resolve()}"
    cfg = load_config(None, cwd=str(proj / "a"), state_dir="mine")
    assert cfg.state_dir == proj / "a" / "mine"
