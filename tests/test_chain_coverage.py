"""Everything that changes state is in the chain (issue 12, item 4): channel pointers and
their history, the environments with the policy in force and the approvals are recorded in
the audit events, so editing them behind the tool's back is caught by `release audit verify`,
naming the table and row; on a SQLite ledger the chain head is also kept in a head file beside
it, so an emptied, shortened or replaced ledger is caught."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import Cli

from test_audit_tamper import _sql


def _moves(cli) -> None:
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-1")
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-2")
    cli.ok("promote", "web@v1", "--to", "dev", "--ticket", "CHG-1", "--reason", "first")
    cli.ok("promote", "web@v2", "--to", "dev", "--ticket", "CHG-2")
    cli.ok("promote", "web@v1", "--to", "staging")
    cli.ok("rollback", "web", "--env", "dev", "--reason", "broken")
    assert cli.json("audit", "verify")["ok"] is True


def _fails(cli, table: str, row: int) -> dict:
    r = cli("audit", "verify")
    assert r.code == 1 and "Traceback" not in r.err, r
    assert f"{table} row {row} " in r.err, r
    rj = cli("audit", "verify", "--json")
    assert rj.code == 1 and rj.json["table"] == table and rj.json["row"] == row, rj
    return rj.json


def test_each_move_records_its_history_row_and_pointer_in_the_event(cli):
    _moves(cli)
    events = [e for e in cli.json("audit")["events"] if e["action"] in ("promote", "rollback")]
    history = [row["id"] for e in events for row in e["details"]["ledger_rows"]["channel_history"]]
    assert history == [1, 2, 3, 4]
    last = events[-1]["details"]["ledger_rows"]
    h = last["channel_history"][0]
    assert (h["action"], h["env"], h["image"], h["from_number"], h["to_number"], h["actor"], h["reason"]) == \
        ("rollback", "dev", "web", 2, 1, "alice", "broken")
    assert last["channel"][0]["number"] == 1 and last["channel"][0]["env"] == "dev"


@pytest.mark.parametrize("column,value", [("ticket", "CHG-999"), ("actor", "mallory"), ("reason", "nothing"),
                                          ("to_version_id", 1), ("at", "2020-01-01T00:00:00.000000Z")])
def test_edited_channel_history_row_is_named(cli, column, value):
    _moves(cli)
    _sql(cli, f"UPDATE channel_history SET {column} = :v WHERE id = 2", v=value)
    doc = _fails(cli, "channel_history", 2)
    assert column in doc["problem"] and doc["first_bad_seq"] is not None


def test_edited_channel_pointer_is_named(cli):
    _moves(cli)
    _sql(cli, "UPDATE channel SET version_id = 2 WHERE environment_id = "
              "(SELECT id FROM environment WHERE name = 'dev')")
    doc = _fails(cli, "channel", 1)
    assert "version_id" in doc["problem"]
    assert cli.json("status")  # status itself still answers: verify is what judges


def test_edited_pointer_time_or_author_is_named(cli):
    _moves(cli)
    _sql(cli, "UPDATE channel SET updated_by = 'mallory' WHERE id = 2")
    _fails(cli, "channel", 2)


def test_deleted_history_row_is_named(cli):
    _moves(cli)
    _sql(cli, "DELETE FROM channel_history WHERE id = 3")
    doc = _fails(cli, "channel_history", 3)
    assert "was deleted" in doc["problem"]


def test_inserted_history_row_is_named(cli):
    _moves(cli)
    _sql(cli, "INSERT INTO channel_history (environment_id, image_id, from_version_id, to_version_id, action, actor, "
              "approved_by, override, at) SELECT environment_id, image_id, NULL, 2, 'promote', 'mallory', '[]', "
              "false, '2026-01-01T00:00:00.000000Z' FROM channel_history WHERE id = 1")
    doc = _fails(cli, "channel_history", 5)
    assert "has no audit event" in doc["problem"]


def test_pointer_and_its_recorded_event_both_rewritten_are_caught_by_the_history(cli):
    """A pointer moved with a matching forged history: the forged row has no event."""
    _moves(cli)
    _sql(cli, "DELETE FROM channel WHERE id = 2")
    doc = _fails(cli, "channel", 2)
    assert "was deleted" in doc["problem"]


# -- policy and approvals --------------------------------------------------------------------

GUARDED = """
[[environments]]
name = "dev"

[[environments]]
name = "prod"
requires = "dev"
approvals = 1
"""


def _approved(cli, tmp_path) -> None:
    """A clean workflow under a policy: approvals recorded and used by a promotion, a policy
    applied, an approval still unused (id 2)."""
    (tmp_path / "release.toml").write_text(GUARDED)
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-1")
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-2")
    cli.ok("promote", "web@v1", "--to", "dev")
    cli.ok("promote", "web@v2", "--to", "dev")
    cli.ok("approve", "web@v1", "--env", "prod", "--ticket", "CHG-1", actor="bob")
    cli.ok("approve", "web@v2", "--env", "prod", actor="carol")
    cli.ok("promote", "web@v1", "--to", "prod")  # uses bob's approval (id 1)
    (tmp_path / "release.toml").write_text(GUARDED + '\n[[environments]]\nname = "qa"\n')
    cli.ok("policy", "apply")
    assert cli.json("audit", "verify")["ok"] is True


def test_policy_and_approvals_are_recorded_by_their_events(cli, tmp_path):
    _approved(cli, tmp_path)
    events = cli.json("audit")["events"]
    first = events[0]
    assert (first["seq"], first["action"], first["details"]["initial"]) == (1, "policy.applied", True)
    envs = first["details"]["ledger_rows"]["environment"]
    assert [(e["id"], e["name"], e["position"]) for e in envs] == [(1, "dev", 0), (2, "prod", 1)]
    assert json.loads(envs[1]["policy"])["approvals"] == 1
    recorded = [e for e in events if e["action"] == "approval.recorded"]
    rows = [e["details"]["ledger_rows"]["approval"][0] for e in recorded]
    assert [(r["id"], r["approver"], r["env"], r["image"], r["number"], r["used_at"]) for r in rows] == \
        [(1, "bob", "prod", "web", 1, None), (2, "carol", "prod", "web", 2, None)]
    promote = [e for e in events if e["action"] == "promote" and e["env"] == "prod"][0]
    used = promote["details"]["ledger_rows"]["approval"]
    assert [(r["id"], r["used_by"]) for r in used] == [(1, "alice")] and used[0]["used_at"]
    applied = events[-1]
    assert applied["action"] == "policy.applied" and "initial" not in applied["details"]
    assert [e["name"] for e in applied["details"]["ledger_rows"]["environment"]] == ["dev", "prod", "qa"]


def test_edited_policy_json_is_named(cli, tmp_path):
    _approved(cli, tmp_path)
    _sql(cli, "UPDATE environment SET policy = REPLACE(policy, :a, :b) WHERE name = 'prod'",
         a='"approvals":1', b='"approvals":0')
    assert cli.json("policy", "show")["environments"][1]["approvals"] == 0  # the edit took effect
    doc = _fails(cli, "environment", 2)
    assert "policy is" in doc["problem"] and '"approvals":1' in doc["problem"]


@pytest.mark.parametrize("sql", ["UPDATE environment SET retired_at = created_at WHERE id = 2",
                                 "UPDATE environment SET position = 9 WHERE id = 2",
                                 "UPDATE environment SET policy = NULL WHERE id = 2"])
def test_retired_moved_or_cleared_environment_is_named(cli, tmp_path, sql):
    _approved(cli, tmp_path)
    _sql(cli, sql)
    _fails(cli, "environment", 2)


def test_policies_all_removed_are_not_silently_recorded_again(cli, tmp_path):
    """With every policy gone the ledger would look new: it is not re-recorded from release.toml
    (which would hide the edit), verify keeps naming it."""
    _approved(cli, tmp_path)
    _sql(cli, "UPDATE environment SET policy = NULL")
    cli("status")
    _fails(cli, "environment", 1)
    assert len(cli.json("audit", "--action", "policy.applied")["events"]) == 2


def test_inserted_environment_is_named(cli, tmp_path):
    _approved(cli, tmp_path)
    _sql(cli, "INSERT INTO environment (name, position, created_at, policy) "
              "VALUES ('shadow', 5, :at, :p)", at="2026-01-01T00:00:00.000000Z", p='{"approvals":0}')
    doc = _fails(cli, "environment", 4)
    assert "has no audit event" in doc["problem"]


def test_inserted_approval_is_named(cli, tmp_path):
    _approved(cli, tmp_path)
    _sql(cli, "INSERT INTO approval (version_id, environment_id, approver, approver_key, at, expires_at) "
              "SELECT version_id, environment_id, 'mallory', 'mallory', at, expires_at FROM approval WHERE id = 2")
    doc = _fails(cli, "approval", 3)
    assert "has no audit event" in doc["problem"]


def test_cleared_used_at_is_named(cli, tmp_path):
    _approved(cli, tmp_path)
    _sql(cli, "UPDATE approval SET used_at = NULL, used_by = NULL WHERE id = 1")
    assert [a["state"] for a in cli.json("show", "web@v1")["approvals"]["prod"]] == ["valid"]  # usable again
    doc = _fails(cli, "approval", 1)
    assert "used_at is None" in doc["problem"] and doc["first_bad_seq"] is not None


def test_back_dated_approval_is_named(cli, tmp_path):
    _approved(cli, tmp_path)
    _sql(cli, "UPDATE approval SET at = :at, expires_at = :exp WHERE id = 2",
         at="2020-01-01T00:00:00.000000Z", exp="2099-01-01T00:00:00.000000Z")
    doc = _fails(cli, "approval", 2)
    assert "at is '2020-01-01" in doc["problem"]


def test_deleted_approval_is_named(cli, tmp_path):
    _approved(cli, tmp_path)
    _sql(cli, "DELETE FROM approval WHERE id = 1")
    doc = _fails(cli, "approval", 1)
    assert "was deleted" in doc["problem"]


def test_a_rollback_that_uses_approvals_records_them(cli, tmp_path):
    """The approval rows used by a rollback go into its `rollback` event."""
    (tmp_path / "release.toml").write_text(GUARDED)
    for i in (1, 2, 3):
        cli.ok("register", "web", "--artifact", f"aws:us-east-1:ami-{i}")
        cli.ok("promote", f"web@v{i}", "--to", "dev")
    for i, who in ((1, "bob"), (2, "carol")):
        cli.ok("approve", f"web@v{i}", "--env", "prod", actor=who)
        cli.ok("promote", f"web@v{i}", "--to", "prod")
    cli.ok("rollback", "web", "--env", "prod")  # back to v1 (good there before: no approval needed)
    cli.ok("approve", "web@v3", "--env", "prod", actor="bob")
    cli.ok("promote", "web@v3", "--to", "prod")
    # v2 was rolled back from: going back to it needs an approval, which the rollback uses up
    r = cli("rollback", "web", "--env", "prod", "--to", "web@v2")
    assert r.code == 3 and "approvals" in r.err, r
    cli.ok("approve", "web@v2", "--env", "prod", actor="dave")
    cli.ok("rollback", "web", "--env", "prod", "--to", "web@v2")
    ev = cli.json("audit", "--action", "rollback")["events"][-1]
    assert [(a["approver"], a["used_by"]) for a in ev["details"]["ledger_rows"]["approval"]] == [("dave", "alice")]
    assert cli.json("audit", "verify")["ok"] is True
    _sql(cli, "UPDATE approval SET used_at = NULL WHERE approver = 'dave'")
    doc = _fails(cli, "approval", 4)
    assert f"audit event {ev['seq']}" in doc["problem"]


# -- the head file (SQLite) ------------------------------------------------------------------

def _files(cli) -> tuple[Path, Path]:
    db = Path(cli.env["RELEASE_LEDGER"][len("sqlite:///"):])
    return db, Path(str(db) + ".head")


def test_head_file_follows_every_commit(sqlite_cli):
    cli = sqlite_cli
    _moves(cli)
    db, head = _files(cli)
    assert head.read_text().strip() == cli.json("audit", "verify")["head"]


def test_deleting_every_event_and_the_head_record_is_detected(sqlite_cli):
    cli = sqlite_cli
    _moves(cli)
    n = cli.json("audit", "verify")["events"]
    _sql(cli, "DELETE FROM audit_event")
    _sql(cli, "DELETE FROM ledger_meta")
    r = cli("audit", "verify", "--json")
    assert r.code == 1 and r.json["first_bad_seq"] == 1, r
    assert f"all {n} events are missing" in r.json["problem"] and ".head records" in r.json["problem"]


def test_a_shorter_ledger_restored_over_it_is_detected_and_reanchored(sqlite_cli, tmp_path):
    cli = sqlite_cli
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-1")
    db, head = _files(cli)
    backup = tmp_path / "backup.db"
    _sql(cli, f"VACUUM INTO '{backup}'")
    cli.ok("promote", "web@v1", "--to", "dev")
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    shutil.copy(backup, db)  # the restore: an older ledger
    r = cli("audit", "verify")
    # events: 1 policy.applied (initial), 2 image.created, 3 version.created, 4 promote
    assert r.code == 1 and "event 4 is missing" in r.err and "head file" in r.err, r
    r = cli("audit", "verify", "--reanchor")
    assert r.code == 2 and "--reason" in r.err, r
    r = cli("audit", "verify", "--reanchor", "--reason", "restored the 02:00 backup", "--ticket", "INC-9", "--json")
    assert r.code == 0 and r.json["reanchored"] is True, r
    assert cli.json("audit", "verify")["ok"] is True
    last = cli.json("audit")["events"][-1]
    assert last["action"] == "audit.reanchored" and last["ticket"] == "INC-9"
    details = last["details"]
    assert details["head_file_before"].startswith("4:") and details["chain_head_before"].startswith("3:")


def test_reanchor_refuses_a_broken_chain(sqlite_cli):
    cli = sqlite_cli
    _moves(cli)
    _sql(cli, "UPDATE audit_event SET actor = 'mallory' WHERE seq = 2")
    r = cli("audit", "verify", "--reanchor", "--reason", "x")
    assert r.code == 1 and "audit chain broken at event 2" in r.err, r
    assert cli.json("audit", "--limit", "1")["events"][0]["action"] != "audit.reanchored"


def test_reanchor_is_for_sqlite_only(tmp_path, pg_url):
    cli = Cli(tmp_path, {"RELEASE_STATE": str(tmp_path / "state"), "RELEASE_LEDGER": pg_url,
                         "RELEASE_ACTOR": "alice", "NO_COLOR": "1"})
    _moves(cli)
    r = cli("audit", "verify", "--reanchor", "--reason", "x")
    assert r.code == 2 and "SQLite" in r.err, r


def test_missing_head_file_is_reported(sqlite_cli):
    cli = sqlite_cli
    _moves(cli)
    _files(cli)[1].unlink()
    r = cli("audit", "verify")
    assert r.code == 1 and "head file" in r.err and "is missing" in r.err, r


def test_concurrent_writers_leave_a_head_file_the_chain_contains(sqlite_cli):
    cli = sqlite_cli
    cli.ok("ledger", "init")
    procs = [cli.proc("register", f"img{i}", "--artifact", f"aws:us-east-1:ami-{i}") for i in range(6)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    doc = cli.json("audit", "verify")
    seq = int(_files(cli)[1].read_text().partition(":")[0])
    assert doc["ok"] is True and 1 <= seq <= doc["events"] == 13  # the initial policy + 6 x 2
    assert json.dumps(doc)


# -- the fast comparison (SQLite): it must show a sound ledger sound, and never a changed one --

def _fast(cli) -> bool:
    import sqlite3

    from releasemgr.ledger import audit
    from releasemgr.ledger.db import Ledger

    db, _ = _files(cli)
    with sqlite3.connect(db) as raw:
        marked = [(s, d) for s, d in raw.execute("SELECT seq, details FROM audit_event ORDER BY seq")
                  if f'"{audit.ROWS_KEY}"' in d]
    ledger = Ledger.open(cli.env["RELEASE_LEDGER"])
    try:
        with ledger.connect() as conn:
            return audit._rows_match_fast(conn, marked)
    finally:
        ledger.close()


def test_fast_row_comparison_passes_a_sound_ledger_and_never_a_changed_one(sqlite_cli, tmp_path):
    cli = sqlite_cli
    _approved(cli, tmp_path)  # a policy (nested objects in its event), approvals, moves
    cli.ok("promote", "web@v2", "--to", "dev", "--reason", 'braces {"id":9}, "quotes" and ],[{ in a reason')
    cli.ok("promote", "web@v1", "--to", "dev", "--reason", "plain again")
    assert cli.json("audit", "verify")["ok"] is True
    assert _fast(cli) is True
    _sql(cli, "UPDATE channel_history SET reason = 'nothing' WHERE id = 1")
    assert _fast(cli) is False
    _fails(cli, "channel_history", 1)
