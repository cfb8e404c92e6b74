"""Everything that changes state is in the chain (issue 12, item 4): channel pointers and
their history are recorded in the audit events, so editing them behind the tool's back is
caught by `release audit verify`, naming the table and row; on a SQLite ledger the chain head
is also kept in a head file beside it, so an emptied, shortened or replaced ledger is caught."""

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
    assert r.code == 1 and "event 3 is missing" in r.err and "head file" in r.err, r
    r = cli("audit", "verify", "--reanchor")
    assert r.code == 2 and "--reason" in r.err, r
    r = cli("audit", "verify", "--reanchor", "--reason", "restored the 02:00 backup", "--ticket", "INC-9", "--json")
    assert r.code == 0 and r.json["reanchored"] is True, r
    assert cli.json("audit", "verify")["ok"] is True
    last = cli.json("audit")["events"][-1]
    assert last["action"] == "audit.reanchored" and last["ticket"] == "INC-9"
    details = last["details"]
    assert details["head_file_before"].startswith("3:") and details["chain_head_before"].startswith("2:")


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
    assert doc["ok"] is True and 1 <= seq <= doc["events"] == 12
    assert json.dumps(doc)
