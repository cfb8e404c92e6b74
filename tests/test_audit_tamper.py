"""Tamper detection: change the audit log behind the tool's back with SQL, and
`release audit verify` exits 1 naming the event -- on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text

from releasemgr.ledger import audit
from releasemgr.ledger.db import normalise_url


def _sql(cli, sql: str, **params) -> list:
    eng = create_engine(normalise_url(cli.env["RELEASE_LEDGER"]))
    try:
        with eng.begin() as conn:
            res = conn.execute(text(sql), params)
            return [tuple(r) for r in res.all()] if res.returns_rows else []
    finally:
        eng.dispose()


def _history(cli) -> int:
    """A small but varied history; returns the number of events."""
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-1", "--bump", "minor")
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-2", "--bump", "minor")
    cli.ok("promote", "web@v1", "--to", "dev", "--ticket", "CHG-1", "--reason", "first")
    cli.ok("promote", "web@v2", "--to", "dev", "--ticket", "CHG-2", "--reason", "second")
    cli.ok("rollback", "web", "--env", "dev", "--reason", "broken")
    cli.ok("revoke", "web@v2", "--reason", "bad build")
    cli.ok("register", "api", "--artifact", "local::sha256:ab:cd")
    r = cli("audit", "verify", "--json")
    assert r.code == 0, r
    assert r.json["ok"] is True
    return r.json["events"]


def _verify_fails(cli):
    r = cli("audit", "verify")
    assert r.code == 1, r
    assert "Traceback" not in r.err
    rj = cli("audit", "verify", "--json")
    assert rj.code == 1
    return r.err, rj.json


@pytest.mark.parametrize("field,value", [
    ("actor", "mallory"),
    ("reason", "nothing to see here"),
    ("details", '{"from":null,"to":"v9"}'),
    ("at", "2020-01-01T00:00:00.000000Z"),
])
def test_edited_event_is_named(cli, field, value):
    n = _history(cli)
    target = 4  # a promote in the middle of the chain
    assert 1 < target < n
    _sql(cli, f"UPDATE audit_event SET {field} = :v WHERE seq = :s", v=value, s=target)
    err, doc = _verify_fails(cli)
    assert f"audit chain broken at event {target}" in err
    assert "changed" in err
    assert doc["first_bad_seq"] == target and doc["ok"] is False
    assert doc["events"] == target - 1  # the events before it verify


def test_edited_hash_to_match_is_caught_by_the_next_event(cli):
    """Recomputing the edited event's own hash is not enough: the next event's prev_hash breaks."""
    _history(cli)
    cols = ", ".join(audit.FIELDS)
    row = list(_sql(cli, f"SELECT {cols} FROM audit_event WHERE seq = 3")[0])
    row[audit.FIELDS.index("actor")] = "mallory"
    new_hash = audit.compute_hash(row)
    _sql(cli, "UPDATE audit_event SET actor = 'mallory', hash = :h WHERE seq = 3", h=new_hash)
    err, doc = _verify_fails(cli)
    assert "audit chain broken at event 4" in err
    assert "prev_hash" in err
    assert doc["first_bad_seq"] == 4


def test_deleted_middle_event_is_named(cli):
    _history(cli)
    _sql(cli, "DELETE FROM audit_event WHERE seq = 5")
    err, doc = _verify_fails(cli)
    assert "audit chain broken at event 5" in err
    assert "missing" in err
    assert doc["first_bad_seq"] == 5


def test_deleted_first_event_is_named(cli):
    _history(cli)
    _sql(cli, "DELETE FROM audit_event WHERE seq = 1")
    err, doc = _verify_fails(cli)
    assert "audit chain broken at event 1" in err


def test_deleted_last_events_are_detected(cli):
    n = _history(cli)
    _sql(cli, "DELETE FROM audit_event WHERE seq > :k", k=n - 2)
    err, doc = _verify_fails(cli)
    assert f"events {n - 1}..{n} were removed from the end" in err
    assert doc["first_bad_seq"] == n - 1


def test_deleted_last_event_and_head_record_is_detected(cli):
    _history(cli)
    _sql(cli, "DELETE FROM ledger_meta WHERE key = 'audit_head'")
    err, doc = _verify_fails(cli)
    assert "head record is missing" in err


def test_inserted_event_is_detected(cli):
    n = _history(cli)
    cols = ", ".join(audit.FIELDS) + ", hash"
    last = _sql(cli, f"SELECT {cols} FROM audit_event WHERE seq = :s", s=n)[0]
    forged = [n + 1, "2026-01-01T00:00:00.000000Z", "mallory", "promote", "web", "v2", "prod", None, None,
              "{}", last[-1]]
    forged.append(audit.compute_hash(forged))
    _sql(cli, "INSERT INTO audit_event (seq, at, actor, action, image, version, env, ticket, reason, details, "
              "prev_hash, hash) VALUES (:a0, :a1, :a2, :a3, :a4, :a5, :a6, :a7, :a8, :a9, :a10, :a11)",
         **{f"a{i}": v for i, v in enumerate(forged)})
    err, doc = _verify_fails(cli)
    # a well-forged appended event is still caught: the recorded head names the real last event
    assert "head" in err
    assert doc["first_bad_seq"] == n


def test_exported_head_reveals_a_rewritten_chain(cli):
    """Rewriting the whole chain (and the head record) inside the database passes the chain's
    own checks by construction; a head kept elsewhere no longer matches it: the head file
    beside a SQLite ledger, the published head on PostgreSQL."""
    _history(cli)
    head_before = cli.json("audit", "verify")["head"]
    cols = ", ".join(audit.FIELDS)
    rows = [list(r) for r in _sql(cli, f"SELECT {cols} FROM audit_event ORDER BY seq")]
    prev = audit.GENESIS
    for row in rows:
        if row[0] == 3:
            row[audit.FIELDS.index("actor")] = "mallory"
        row[-1] = prev
        h = audit.compute_hash(row)
        _sql(cli, "UPDATE audit_event SET actor = :a, prev_hash = :p, hash = :h WHERE seq = :s",
             a=row[2], p=prev, h=h, s=row[0])
        prev = h
    _sql(cli, "UPDATE ledger_meta SET value = :v WHERE key = 'audit_head'", v=f"{len(rows)}:{prev}")
    if cli.env["RELEASE_LEDGER"].startswith("sqlite"):
        # a SQLite ledger keeps its head outside the database too: the rewrite is caught
        err, doc = _verify_fails(cli)
        assert f"event {len(rows)} does not match the head file" in err
        assert doc["first_bad_seq"] == len(rows)
        return
    after = cli.json("audit", "verify")
    assert after["ok"] is True
    assert after["head"] != head_before


def test_verify_json_on_a_good_chain(cli):
    n = _history(cli)
    doc = cli.json("audit", "verify")
    assert doc["ok"] is True and doc["events"] == n and doc["first_bad_seq"] is None
    last = _sql(cli, "SELECT seq, hash FROM audit_event ORDER BY seq DESC LIMIT 1")[0]
    assert doc["head"] == f"{last[0]}:{last[1]}"
    # the stored hashes are exactly sha256 of the documented canonical form
    cols = ", ".join(audit.FIELDS)
    for row in _sql(cli, f"SELECT {cols}, hash FROM audit_event ORDER BY seq"):
        canon = json.dumps(list(row[:11]), separators=(",", ":"), ensure_ascii=False)
        import hashlib

        assert hashlib.sha256(canon.encode()).hexdigest() == row[11]


def test_append_many_chains_like_single_appends(cli):
    """A batch of events (what a deploy writes for ten servers at once) extends the chain
    exactly as one append per event would: same seqs, same links, and verify passes."""
    from releasemgr.ledger.db import Ledger

    n = _history(cli)
    led = Ledger.open(cli.env["RELEASE_LEDGER"])
    try:
        with led.transaction() as conn:
            batch = audit.append_many(conn, [dict(action="server.launched", actor="alice", image="web",
                                                  version="v1", env="dev", details={"server": f"s{i}"})
                                             for i in range(3)])
        with led.transaction() as conn:
            one = audit.append(conn, "server.retired", actor="alice", image="web", details={"server": "s0"})
            assert audit.append_many(conn, []) == []
        assert [e["seq"] for e in batch] == [n + 1, n + 2, n + 3] and one["seq"] == n + 4
        assert batch[1]["prev_hash"] == batch[0]["hash"] and one["prev_hash"] == batch[2]["hash"]
        with led.connect() as conn:
            result = audit.verify(conn)
        assert result.ok and result.events == n + 4 and result.head == f"{n + 4}:{one['hash']}"
    finally:
        led.close()
    assert [e["action"] for e in cli.json("audit")["events"]][-4:] == ["server.launched"] * 3 + ["server.retired"]
