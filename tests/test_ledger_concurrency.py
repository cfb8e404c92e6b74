"""Concurrency and kill safety with real `release` processes, on SQLite and PostgreSQL.

- 20 `release promote` processes started at once all succeed: they queue for the write lock
  (SQLite `BEGIN IMMEDIATE` + busy timeout, PostgreSQL advisory lock), no "database is
  locked" reaches the user, history keeps all 20 moves and the audit chain verifies.
- A process SIGKILLed in the middle of a change leaves the ledger as it was before or as it
  is after the change, never in between (`RELEASE_DEBUG_PAUSE_IN_TX` holds a process inside
  its transaction, after its rows are flushed, so the kill lands there for sure).
"""

from __future__ import annotations

import json
import random
import select
import signal
import time

import pytest
from sqlalchemy import create_engine, text

from conftest import heavy_imports
from releasemgr.ledger.db import normalise_url

N_PROCS = 20


def _engine(url: str):
    return create_engine(normalise_url(url))


def _rows(url: str, sql: str) -> list[tuple]:
    eng = _engine(url)
    try:
        with eng.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql)).all()]
    finally:
        eng.dispose()


def _snapshot(url: str) -> dict:
    return {
        "versions": _rows(url, "SELECT i.name, v.number FROM version v JOIN image i ON i.id = v.image_id "
                               "ORDER BY i.name, v.number"),
        "channels": _rows(url, "SELECT c.environment_id, c.image_id, c.version_id FROM channel c "
                               "ORDER BY c.environment_id, c.image_id"),
        "history": _rows(url, "SELECT id FROM channel_history ORDER BY id"),
        "events": _rows(url, "SELECT seq FROM audit_event ORDER BY seq"),
    }


def assert_consistent(url: str, cli) -> None:
    """Every change is whole: rows and their audit events come together, the chain verifies."""
    # every version has its artifacts and its version.created event
    no_artifacts = _rows(url, "SELECT v.id FROM version v WHERE NOT EXISTS "
                              "(SELECT 1 FROM artifact a WHERE a.version_id = v.id)")
    assert no_artifacts == [], f"versions without artifacts: {no_artifacts}"
    versions = set(_rows(url, "SELECT i.name, 'v' || CAST(v.number AS VARCHAR(12)) FROM version v "
                              "JOIN image i ON i.id = v.image_id"))
    created = _rows(url, "SELECT image, version FROM audit_event WHERE action = 'version.created'")
    assert len(created) == len(set(created)), "a version.created event is duplicated"
    assert set(created) == versions, (set(created) ^ versions)
    images = set(r[0] for r in _rows(url, "SELECT name FROM image"))
    assert images == set(r[0] for r in _rows(url, "SELECT image FROM audit_event WHERE action = 'image.created'"))
    # every channel move has its history row and its audit event, and the pointer is the last move
    moves = _rows(url, "SELECT e.name, i.name, 'v' || CAST(v.number AS VARCHAR(12)), h.action "
                       "FROM channel_history h JOIN environment e ON e.id = h.environment_id "
                       "JOIN image i ON i.id = h.image_id JOIN version v ON v.id = h.to_version_id ORDER BY h.id")
    move_events = _rows(url, "SELECT env, image, version, action FROM audit_event "
                             "WHERE action IN ('promote', 'rollback') ORDER BY seq")
    assert moves == move_events
    pointers = _rows(url, "SELECT c.environment_id, c.image_id, c.version_id, "
                          "(SELECT h.to_version_id FROM channel_history h WHERE h.environment_id = c.environment_id "
                          " AND h.image_id = c.image_id ORDER BY h.id DESC LIMIT 1) FROM channel c")
    assert all(p[2] == p[3] for p in pointers), pointers
    # the audit chain verifies, sequence numbers are 1..n without gaps or duplicates
    seqs = [r[0] for r in _rows(url, "SELECT seq FROM audit_event ORDER BY seq")]
    assert seqs == list(range(1, len(seqs) + 1))
    r = cli("audit", "verify", "--json")
    assert r.code == 0, r
    assert r.json["ok"] is True and r.json["events"] == len(seqs)


def _ledger_url(cli) -> str:
    return cli.env["RELEASE_LEDGER"]


def test_twenty_promotes_at_once_all_succeed(cli):
    url = _ledger_url(cli)
    for i in range(1, N_PROCS + 1):
        cli.ok("register", "web", "--artifact", f"aws:us-east-1:ami-{i:04d}")
    procs = [cli.proc("promote", f"web@v{i}", "--to", "dev", "--json", actor=f"user{i}")
             for i in range(1, N_PROCS + 1)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        results.append((p.returncode, out, err))
    for code, out, err in results:
        assert code == 0, err
        assert "locked" not in err.lower(), err
        assert "Traceback" not in err
        assert json.loads(out)["changed"] is True
    hist = cli.json("history", "web", "--env", "dev")["history"]
    assert len(hist) == N_PROCS
    assert sorted(h["actor"] for h in hist) == sorted(f"user{i}" for i in range(1, N_PROCS + 1))
    # the moves chain: each move starts where the previous one ended
    chain = list(reversed(hist))
    assert chain[0]["from"] is None
    for before, after in zip(chain, chain[1:]):
        assert after["from"] == before["to"]
    status = cli.json("status")
    assert [c["version"] for c in status["channels"] if c["env"] == "dev"] == [chain[-1]["to"]]
    promote_events = _rows(url, "SELECT seq FROM audit_event WHERE action = 'promote'")
    assert len(promote_events) == N_PROCS
    assert_consistent(url, cli)


def test_concurrent_registers_get_distinct_numbers(cli):
    """Read-modify-write under contention: numbers and semvers, none lost or duplicated."""
    n = 10
    url = _ledger_url(cli)
    cli.ok("register", "api", "--artifact", "aws:us-east-1:ami-seed", "--version", "1.0.0")
    procs = [cli.proc("register", "api", "--artifact", f"aws:us-east-1:ami-{i:04d}", "--bump", "patch", "--json")
             for i in range(n)]
    docs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        assert "locked" not in err.lower(), err
        docs.append(json.loads(out))
    assert sorted(d["number"] for d in docs) == list(range(2, n + 2))
    assert sorted(d["semver"] for d in docs) == sorted(f"1.0.{i}" for i in range(1, n + 1))
    assert_consistent(url, cli)


def _wait_for_marker(proc, marker: str, timeout: float) -> bool:
    """Read the process's stderr until `marker` appears (True) or it exits / time runs out."""
    deadline = time.monotonic() + timeout
    buf = ""
    fd = proc.stderr.fileno()
    import os

    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            chunk = os.read(fd, 4096).decode(errors="replace")
            if not chunk:
                return False
            buf += chunk
            if marker in buf:
                return True
        elif proc.poll() is not None:
            return False
    return False


def _kill_loop(cli, rounds: int, seed: int) -> dict:
    url = _ledger_url(cli)
    rng = random.Random(seed)
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-base")
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-base2")
    cli.ok("promote", "web@v1", "--to", "dev")
    stats = {"in_tx": 0, "random": 0, "finished": 0, "before": 0, "after": 0}
    for i in range(rounds):
        before = _snapshot(url)
        if i % 2 == 0:
            args = ["register", "web", "--artifact", f"aws:us-east-1:ami-k{i}", "--artifact", f"aws:eu-west-1:ami-k{i}"]
        else:
            # move dev to a version that is not current: the newest, or v1 when the newest is current
            newest = before["versions"][-1][1]
            current = [c["number"] for c in cli.json("status")["channels"] if c["env"] == "dev"][0]
            args = ["promote", f"web@v{newest if current != newest else 1}", "--to", "dev"]
        if i % 3 != 2:
            # deterministic: kill while the process is inside its transaction, rows flushed
            p = cli.proc(*args, env_extra={"RELEASE_DEBUG_PAUSE_IN_TX": "5"})
            in_tx = _wait_for_marker(p, "paused in transaction", 30)
            assert in_tx, f"round {i}: {args} never reached its transaction (exit {p.poll()})"
            time.sleep(rng.uniform(0, 0.05))
            stats["in_tx"] += 1
        else:
            # anywhere: during start-up, opening, the transaction, the commit or the output
            p = cli.proc(*args)
            time.sleep(rng.uniform(0.2, 1.5))
            stats["random"] += 1
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
        else:
            stats["finished"] += 1
        p.communicate(timeout=30)
        after = _snapshot(url)
        if after == before:
            stats["before"] += 1
        else:
            stats["after"] += 1
            # exactly one whole change happened
            if args[0] == "register":
                assert len(after["versions"]) == len(before["versions"]) + 1
                assert after["history"] == before["history"]
            else:
                assert after["versions"] == before["versions"]
                assert len(after["history"]) == len(before["history"]) + 1
        if i % 3 != 2:
            assert after == before, f"round {i}: a change killed before its commit left traces"
        assert_consistent(url, cli)
    # the ledger still takes changes after all that
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-last")
    assert_consistent(url, cli)
    return stats


class _ProcCli:
    """Adds `env_extra` to Cli.proc without changing the shared fixture."""

    def __init__(self, cli):
        self._cli = cli
        self.env = cli.env

    def __call__(self, *a, **kw):
        return self._cli(*a, **kw)

    def ok(self, *a, **kw):
        return self._cli.ok(*a, **kw)

    def json(self, *a, **kw):
        return self._cli.json(*a, **kw)

    def proc(self, *args, env_extra: dict | None = None, **kw):
        import os
        import subprocess
        import sys

        env = {**os.environ, **self._cli.env, **(env_extra or {})}
        return subprocess.Popen([sys.executable, "-m", "releasemgr", *map(str, args)], cwd=self._cli.cwd, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_sigkill_mid_change_leaves_before_or_after_sqlite(sqlite_cli):
    stats = _kill_loop(_ProcCli(sqlite_cli), rounds=30, seed=1)
    assert stats["in_tx"] == 20 and stats["random"] == 10
    assert stats["before"] >= 20  # every kill inside a transaction rolled back


def test_sigkill_mid_change_leaves_before_or_after_postgresql(tmp_path, pg_url):
    from conftest import Cli

    cli = Cli(tmp_path, {"RELEASE_STATE": str(tmp_path / "state"), "RELEASE_LEDGER": pg_url,
                         "RELEASE_ACTOR": "alice", "NO_COLOR": "1"})
    stats = _kill_loop(_ProcCli(cli), rounds=9, seed=2)
    assert stats["in_tx"] == 6 and stats["random"] == 3
    assert stats["before"] >= 6


def test_killed_writer_does_not_block_the_next_one(sqlite_cli):
    """A writer killed while holding the SQLite write lock releases it with its process."""
    c = _ProcCli(sqlite_cli)
    c.ok("register", "web", "--artifact", "aws:us-east-1:ami-1")
    p = c.proc("register", "web", "--artifact", "aws:us-east-1:ami-2", env_extra={"RELEASE_DEBUG_PAUSE_IN_TX": "30"})
    assert _wait_for_marker(p, "paused in transaction", 30)
    # a second writer queues behind the first...
    q = c.proc("register", "web", "--artifact", "aws:us-east-1:ami-3", "--json")
    time.sleep(1.0)
    assert q.poll() is None, "the second writer should wait for the write lock"
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=10)
    # ...and proceeds as soon as the first one dies, taking the number the dead one never committed
    out, err = q.communicate(timeout=60)
    assert q.returncode == 0, err
    assert json.loads(out)["version"] == "v2"
    assert_consistent(_ledger_url(c), c)


@pytest.mark.parametrize("n", [3])
def test_concurrent_readers_during_a_long_write(sqlite_cli, n):
    """WAL: `status` answers while a writer holds the write lock."""
    c = _ProcCli(sqlite_cli)
    c.ok("register", "web", "--artifact", "aws:us-east-1:ami-1")
    c.ok("promote", "web@v1", "--to", "dev")
    p = c.proc("register", "web", "--artifact", "aws:us-east-1:ami-2", env_extra={"RELEASE_DEBUG_PAUSE_IN_TX": "20"})
    assert _wait_for_marker(p, "paused in transaction", 30)
    t0 = time.monotonic()
    readers = [c.proc("status", "--json") for _ in range(n)]
    for r in readers:
        out, err = r.communicate(timeout=30)
        assert r.returncode == 0, err
        assert json.loads(out)["channels"][0]["version"] == "v1"
    assert time.monotonic() - t0 < 15, "readers waited for the writer"
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=10)


def test_status_reads_without_the_orm(cli):
    """`release status` (the read path scripts poll) answers in plain SQL: it must not import
    sqlmodel or pydantic, nor SQLAlchemy (on SQLite or PostgreSQL), and it filters and fails like the rest."""
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-1")
    cli.ok("register", "api", "--artifact", "aws:us-east-1:ami-2")
    cli.ok("promote", "web@v1", "--to", "dev")
    cli.ok("revoke", "web@v1", "--reason", "bad")
    r, heavy = heavy_imports(cli, "status")
    assert r.returncode == 0, r.stderr
    assert heavy == [], r.stderr
    doc = json.loads(r.stdout)
    assert doc["images"] == ["api", "web"]
    assert [(c["image"], c["env"], c["version"], c["revoked"]) for c in doc["channels"]] == [("web", "dev", "v1", True)]
    assert doc["warnings"] and "web@v1 is revoked" in doc["warnings"][0]
    one = cli.json("status", "api")
    assert one["images"] == ["api"] and one["channels"] == []
    assert cli.json("status", "web", "--env", "dev")["channels"][0]["version"] == "v1"
    r = cli("status", "wbe")
    assert r.code == 4 and "no image named 'wbe'" in r.err and "did you mean 'web'" in r.err


def test_promote_rollback_and_verify_run_without_the_orm(cli):
    """The commands that move an environment (and `audit verify`) run in plain SQL: no ORM,
    and no SQLAlchemy at all (on SQLite or PostgreSQL); what they write is what the ORM reads."""
    cli.ok("ledger", "init")  # creating the schema (Alembic) is the one heavy start
    r, heavy = heavy_imports(cli, "register", "web", "--artifact", "aws:us-east-1:ami-1", "--bump", "minor")
    assert r.returncode == 0 and heavy == [], r.stderr
    assert (json.loads(r.stdout)["version"], json.loads(r.stdout)["semver"]) == ("v1", "0.1.0")
    r, heavy = heavy_imports(cli, "register", "web", "--artifact", "aws:us-east-1:ami-2", "--version", "0.1.0")
    assert r.returncode == 2 and heavy == [] and "already has a version 0.1.0" in r.stdout, r  # --json: error on stdout
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-2")
    r, heavy = heavy_imports(cli, "promote", "web@v1", "--to", "dev")
    assert r.returncode == 0 and heavy == [], r.stderr
    assert json.loads(r.stdout)["version"] == "v1"
    r, heavy = heavy_imports(cli, "promote", "web@v2", "--to", "dev")
    assert r.returncode == 0 and heavy == [] and json.loads(r.stdout)["from"] == "v1", r.stderr
    r, heavy = heavy_imports(cli, "rollback", "web", "--env", "dev")
    assert r.returncode == 0 and heavy == [], r.stderr
    assert json.loads(r.stdout)["version"] == "v1"
    r, heavy = heavy_imports(cli, "promote", "web@v9", "--to", "dev")  # one clear error, still light
    assert r.returncode == 4 and heavy == [] and "no version web@v9" in r.stdout, r
    r, heavy = heavy_imports(cli, "audit", "verify")
    assert r.returncode == 0 and heavy == [], r.stderr
    assert json.loads(r.stdout)["ok"] is True
    r, heavy = heavy_imports(cli, "audit", "--image", "web", "--action", "promote")
    assert r.returncode == 0 and heavy == [], r.stderr
    assert [e["version"] for e in json.loads(r.stdout)["events"]] == ["v1", "v2"]
    # the ORM side (history) reads what the plain-SQL side wrote
    hist = cli.json("history", "web", "--env", "dev")["history"]
    assert [(h["action"], h["from"], h["to"]) for h in hist] == [("rollback", "v2", "v1"), ("promote", "v1", "v2"),
                                                                 ("promote", None, "v1")]
    actions = [e["action"] for e in cli.json("audit")["events"]]
    assert actions[-3:] == ["promote", "promote", "rollback"], actions


def test_read_commands_are_light_and_keep_their_json(cli):
    """images, versions, show and history answer in plain SQL (no ORM, no SQLAlchemy) with
    the JSON types the ORM gave: booleans stay booleans on SQLite's 0/1."""
    from releasemgr.ledger.conn import Q
    from releasemgr.ledger.db import Ledger

    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-1", "--bump", "minor")
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-2", "--artifact", "aws:eu-west-1:ami-3")
    cli.ok("promote", "web@v1", "--to", "dev")
    cli.ok("promote", "web@v2", "--to", "dev", "--override", "--reason", "r")  # no rule broken: no override
    cli.ok("revoke", "web@v1", "--reason", "cve")
    led = Ledger.open(cli.env["RELEASE_LEDGER"])
    try:
        with led.transaction() as conn:
            conn.execute(Q("UPDATE version SET git_dirty = :d, git_commit = 'abc' WHERE number = 2"), {"d": True})
    finally:
        led.close()
    r, heavy = heavy_imports(cli, "show", "web@dev")
    assert r.returncode == 0 and heavy == [], r.stderr
    shown = json.loads(r.stdout)
    assert (shown["version"], shown["git_dirty"], shown["git_commit"], shown["environments"]) == ("v2", True, "abc",
                                                                                                  ["dev"])
    assert [a["region"] for a in shown["artifacts"]] == ["us-east-1", "eu-west-1"] and shown["revoked"] is None
    r, heavy = heavy_imports(cli, "show", "web@v1")
    v1 = json.loads(r.stdout)
    assert heavy == [] and v1["status"] == "revoked" and v1["revoked"]["reason"] == "cve" and v1["git_dirty"] is None
    r, heavy = heavy_imports(cli, "versions", "web")
    assert heavy == [] and [(v["version"], v["environments"]) for v in json.loads(r.stdout)["versions"]] == \
        [("v2", ["dev"]), ("v1", [])]
    r, heavy = heavy_imports(cli, "images")
    assert heavy == [] and json.loads(r.stdout)["images"][0]["latest"] == "v2"
    r, heavy = heavy_imports(cli, "history", "web", "--env", "dev")
    hist = json.loads(r.stdout)["history"]
    assert heavy == [] and [(h["from"], h["to"], h["override"]) for h in hist] == [("v1", "v2", False),
                                                                                  (None, "v1", False)]
    r, heavy = heavy_imports(cli, "show", "web@v7")
    assert r.returncode == 4 and heavy == [] and "no version web@v7" in r.stdout
