"""A ledger written by a release older than the covered rows of the audit chain (docs/audit.md,
"covered rows") is brought into the chain by `release ledger upgrade`: one `audit.adopted`
event by the person upgrading records every row no event recorded, as found; `audit verify`
passes afterwards and catches an edit of an adopted row; a second upgrade adds nothing; a
ledger made under the rule, or adopted once, never adopts a row again -- on SQLite and
PostgreSQL.

The old ledger is made here the way the old code wrote it, with the current code's lowest
layer: Alembic migrates an empty database to 0001 (the schema of the release before the rule,
commit 5b9d976) or 0002 (the releases that recorded the policy and approvals without events),
the rows are inserted with plain SQL and the events appended with `audit.append` without
recording any row -- exactly the old code's pair of "row + event that does not hold it"."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from releasemgr.ledger import audit, migrate
from releasemgr.ledger.conn import SAConn
from releasemgr.ledger.db import normalise_url

OLD = "alice@old"
T = "2026-11-26T10:{:02d}:00.000000Z"  # the old rows' times, one minute apart
POLICY = {  # what the 0002-era releases wrote into environment.policy (sorted, compact JSON)
    "dev": {"approval_ttl": "7d", "approvals": 0, "auto_deploy": False, "description": "", "freeze": [],
            "require_ticket": False, "requires": None},
    "staging": {"approval_ttl": "7d", "approvals": 0, "auto_deploy": False, "description": "", "freeze": [],
                "require_ticket": False, "requires": "dev"},
    "prod": {"approval_ttl": "7d", "approvals": 1, "auto_deploy": False, "description": "", "freeze": [],
             "require_ticket": True, "requires": "staging"},
}
RELEASE_TOML = """
[[environments]]
name = "dev"

[[environments]]
name = "staging"
requires = "dev"

[[environments]]
name = "prod"
requires = "staging"
require_ticket = true
approvals = 1
"""
# (env, to version, action, ticket, reason, approved_by): the moves of the old ledger, in order
MOVES = [("dev", 1, "promote", None, None, []), ("staging", 1, "promote", None, None, []),
         ("prod", 1, "promote", "CHG-1", "first release", ["bob"]), ("dev", 2, "promote", None, None, []),
         ("staging", 2, "promote", None, None, []), ("prod", 2, "promote", "CHG-2", "new greeting", ["bob"]),
         ("prod", 1, "rollback", "CHG-3", "5xx after v2", ["carol"])]


def _engine(cli):
    url = cli.env["RELEASE_LEDGER"]
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    return create_engine(normalise_url(url))


def _sql(cli, sql: str, **params):
    eng = _engine(cli)
    try:
        with eng.begin() as conn:
            result = conn.execute(text(sql), params)
            return result.all() if result.returns_rows else None
    finally:
        eng.dispose()


def make_old_ledger(cli, revision: str, *, moves: bool = True) -> None:
    """A ledger at schema `revision` ("0001" or "0002") holding what the releases of that
    schema wrote: environments, an image with two versions, seven channel moves (history rows
    and pointers) and their events -- none of which records a row; at 0002 also the policy in
    every environment row and two approvals (one used by the prod promotion of v1), recorded
    without an event holding the rows. Without `moves`: no pointers, no history."""
    from alembic import command
    from alembic.config import Config

    eng = _engine(cli)
    try:
        cfg = Config()
        cfg.set_main_option("script_location", str(migrate.MIGRATIONS))
        with eng.begin() as sa:
            cfg.attributes["connection"] = sa
            command.upgrade(cfg, revision)
        with eng.begin() as sa:
            conn = SAConn(sa)
            x = lambda sql, **p: sa.execute(text(sql), p)  # noqa: E731
            for pos, name in enumerate(POLICY):
                if revision == "0001":
                    x("INSERT INTO environment (name, position, created_at) VALUES (:n, :p, :at)",
                      n=name, p=pos, at=T.format(0))
                else:
                    x("INSERT INTO environment (name, position, created_at, policy) VALUES (:n, :p, :at, :pol)",
                      n=name, p=pos, at=T.format(0),
                      pol=json.dumps(POLICY[name], sort_keys=True, separators=(",", ":")))
            env = {name: i + 1 for i, name in enumerate(POLICY)}
            x("INSERT INTO image (name, created_at, created_by) VALUES ('web', :at, :by)", at=T.format(1), by=OLD)
            audit.append(conn, "image.created", actor=OLD, image="web", at=T.format(1))
            for n in (1, 2):
                x("INSERT INTO version (image_id, number, origin, variables, created_at, created_by, revoked) "
                  "VALUES (1, :n, 'register', '{}', :at, :by, :f)", n=n, at=T.format(1 + n), by=OLD, f=False)
                audit.append(conn, "version.created", actor=OLD, image="web", version=f"v{n}", at=T.format(1 + n),
                             details={"origin": "register", "semver": None, "artifacts": [f"aws:us-east-1:ami-{n}"]})
            if revision != "0001":
                for who, minute in (("bob", 4), ("dave", 5)):
                    x("INSERT INTO approval (version_id, environment_id, approver, approver_key, ticket, at, "
                      "expires_at) VALUES (1, :e, :who, :who, 'CHG-1', :at, :exp)", e=env["prod"], who=who,
                      at=T.format(minute), exp="2026-12-03T10:00:00.000000Z")
                    audit.append(conn, "approval.recorded", actor=who, image="web", version="v1", env="prod",
                                 ticket="CHG-1", at=T.format(minute), details={"approver": who})
            current: dict[str, int] = {}
            for i, (name, to, action, ticket, reason, approvers) in enumerate(MOVES if moves else []):
                at = T.format(10 + i)
                frm = current.get(name)
                if frm is None:
                    x("INSERT INTO channel (environment_id, image_id, version_id, updated_at, updated_by) "
                      "VALUES (:e, 1, :v, :at, :by)", e=env[name], v=to, at=at, by=OLD)
                else:
                    x("UPDATE channel SET version_id = :v, updated_at = :at, updated_by = :by "
                      "WHERE environment_id = :e", e=env[name], v=to, at=at, by=OLD)
                x("INSERT INTO channel_history (environment_id, image_id, from_version_id, to_version_id, action, "
                  "actor, ticket, reason, approved_by, override, at) VALUES (:e, 1, :f, :t, :a, :by, :ticket, "
                  ":reason, :approved, :o, :at)", e=env[name], f=frm, t=to, a=action, by=OLD, ticket=ticket,
                  reason=reason, approved=json.dumps(approvers), o=False, at=at)
                if revision != "0001" and (name, to, action) == ("prod", 1, "promote"):
                    x("UPDATE approval SET used_at = :at, used_by = :by WHERE approver = 'bob'", at=at, by=OLD)
                audit.append(conn, action, actor=OLD, image="web", version=f"v{to}", env=name, ticket=ticket,
                             reason=reason, at=at, details={"from": f"v{frm}" if frm else None, "to": f"v{to}",
                                                            "approved_by": approvers, "override": False})
                current[name] = to
    finally:
        eng.dispose()


def _run(cli, *args: str, actor: str | None = None) -> tuple[int, str, str]:
    """`release ARGS` as a real process."""
    p = cli.proc(*args, actor=actor)
    try:
        out, err = p.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        p.kill()
        raise
    return p.returncode, out, err


def _run_json(cli, *args: str, actor: str | None = None):
    code, out, err = _run(cli, *args, "--json", actor=actor)
    assert code == 0 and "Traceback" not in err, (args, code, out, err)
    return json.loads(out)


def _verify_fails(cli, table: str, row: int) -> dict:
    code, out, err = _run(cli, "audit", "verify", "--json")
    assert code == 1, (code, out, err)
    doc = json.loads(out)
    assert doc["ok"] is False and (doc["table"], doc["row"]) == (table, row), doc
    return doc


def _adopted_events(cli) -> list[dict]:
    return cli.json("audit", "--action", audit.ADOPTED)["events"]


@pytest.mark.parametrize("revision", ["0001", "0002"])
def test_an_old_ledger_is_adopted_once_by_ledger_upgrade(cli, tmp_path, revision):
    """The path of the upgrade notes, in real processes: `ledger upgrade` migrates the old
    ledger and records its rows in one `audit.adopted` event by the person upgrading, `verify`
    passes, a second upgrade adds nothing, and an adopted row edited afterwards is named."""
    (tmp_path / "release.toml").write_text(RELEASE_TOML)
    make_old_ledger(cli, revision)
    up = _run_json(cli, "ledger", "upgrade", actor="carol")
    assert up["applied"] == (["0002", "0003"] if revision == "0001" else ["0003"])
    # at 0001 the environments get their policy recorded by the upgrade (policy.applied, initial):
    # that event holds them; the rest had no event
    rows = {"channel": 3, "channel_history": 7} if revision == "0001" else \
        {"environment": 3, "approval": 2, "channel": 3, "channel_history": 7}
    assert up["adopted"]["rows"] == rows
    ok = _run_json(cli, "audit", "verify")
    assert ok["ok"] is True and ok["events"] == up["adopted"]["seq"]

    [ev] = _adopted_events(cli)
    assert ev["seq"] == up["adopted"]["seq"] and ev["actor"] == "carol"
    assert ev["reason"] == audit.ADOPTED_REASON and "baseline is this upgrade" in ev["details"]["note"]
    assert ev["details"]["chain_head_before"].startswith(f"{ev['seq'] - 1}:")
    recorded = ev["details"]["ledger_rows"]
    assert {t: len(c) for t, c in recorded.items()} == rows
    assert [(h["env"], h["to_number"], h["action"], h["ticket"], json.loads(h["approved_by"]))
            for h in recorded["channel_history"]] == [(e, v, a, t, ap) for e, v, a, t, _, ap in MOVES]
    if revision != "0001":
        assert [(a["approver"], a["used_by"]) for a in recorded["approval"]] == [("bob", OLD), ("dave", None)]
        assert json.loads(recorded["environment"][2]["policy"])["approvals"] == 1
    else:  # the environments are in the upgrade's first recording of the policy, before the adoption
        initial = cli.json("audit", "--action", "policy.applied")["events"]
        assert [(e["seq"], e["details"]["initial"]) for e in initial] == [(ev["seq"] - 1, True)]

    again = _run_json(cli, "ledger", "upgrade")
    assert again == {"applied": [], "schema": migrate.HEAD, "adopted": None}
    assert _run_json(cli, "audit", "verify")["events"] == ok["events"]  # nothing added

    _sql(cli, "UPDATE channel_history SET ticket = 'CHG-999' WHERE id = 3")
    doc = _verify_fails(cli, "channel_history", 3)
    assert doc["first_bad_seq"] == ev["seq"]
    assert doc["problem"] == (f"channel_history row 3 does not match audit event {ev['seq']}: ticket is 'CHG-999', "
                              "the event recorded 'CHG-1'")
    assert "ledger upgrade" not in doc["hint"]
    assert _run_json(cli, "ledger", "upgrade")["adopted"] is None  # never re-baselined
    _verify_fails(cli, "channel_history", 3)


def test_commands_before_the_upgrade_do_not_adopt_and_later_rows_never_are(cli, tmp_path):
    """Other commands keep their documented behaviour on an old ledger -- they migrate it and
    record the first policy, never adopt -- and the team may work on before upgrading. The
    upgrade then adopts the old rows; a row inserted behind the tool's back after that is not
    adopted by any later upgrade."""
    (tmp_path / "release.toml").write_text(RELEASE_TOML)
    make_old_ledger(cli, "0001")
    status = cli.json("status")
    assert status["environments"] == ["dev", "staging", "prod"]
    assert cli.json("ledger", "info")["schema"] == migrate.HEAD  # migrated on open, as documented
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-3")
    cli.ok("promote", "web@v3", "--to", "dev")  # a move under the rule: its rows are recorded
    assert _adopted_events(cli) == []
    doc = _verify_fails(cli, "channel_history", 1)
    assert "release ledger upgrade" in doc["hint"]

    up = cli.json("ledger", "upgrade", actor="carol")
    assert up["applied"] == [] and up["adopted"]["rows"] == {"channel": 2, "channel_history": 7}
    assert cli.json("audit", "verify")["ok"]
    cli.ok("promote", "web@v3", "--to", "staging")
    assert cli.json("audit", "verify")["ok"]

    _sql(cli, "INSERT INTO channel_history (environment_id, image_id, from_version_id, to_version_id, action, actor, "
              "approved_by, override, at) VALUES (3, 1, 1, 2, 'promote', 'mallory', '[]', :f, :at)",
         f=False, at=T.format(59))
    assert cli.json("ledger", "upgrade")["adopted"] is None
    doc = cli("audit", "verify", "--json").json
    assert (doc["table"], doc["row"]) == ("channel_history", 10)
    assert "has no audit event (it was added or restored behind the tool's back)" in doc["problem"]
    assert "changed outside" in doc["hint"]


def test_a_new_ledger_never_adopts(cli, tmp_path):
    """A ledger made under the rule gets no `audit.adopted` event, and a row inserted into it
    behind the tool's back stays reported however often it is upgraded."""
    (tmp_path / "release.toml").write_text(RELEASE_TOML)
    assert cli.json("ledger", "upgrade")["adopted"] is None
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-1")
    cli.ok("promote", "web@v1", "--to", "dev")
    assert cli.json("ledger", "upgrade")["adopted"] is None
    _sql(cli, "INSERT INTO approval (version_id, environment_id, approver, approver_key, at, expires_at) "
              "VALUES (1, 3, 'mallory', 'mallory', :at, :exp)", at=T.format(0), exp="2099-01-01T00:00:00.000000Z")
    assert cli.json("ledger", "upgrade")["adopted"] is None
    doc = cli("audit", "verify", "--json").json
    assert (doc["table"], doc["row"]) == ("approval", 1) and "changed outside" in doc["hint"]
    assert _adopted_events(cli) == []


def test_a_broken_chain_is_not_adopted(cli, tmp_path):
    """Rows are never adopted into a chain that does not verify: the upgrade migrates, then
    fails (exit 1) naming the broken event, and records nothing."""
    (tmp_path / "release.toml").write_text(RELEASE_TOML)
    make_old_ledger(cli, "0002")
    _sql(cli, "UPDATE audit_event SET actor = 'mallory' WHERE seq = 4")
    r = cli("ledger", "upgrade")
    assert r.code == 1 and "Traceback" not in r.err, r
    assert "were not recorded: the chain is broken at event 4" in r.err and "release audit verify" in r.err
    assert cli.json("ledger", "info")["schema"] == migrate.HEAD
    assert _adopted_events(cli) == []


def test_the_head_file_of_an_old_sqlite_ledger_is_written_at_upgrade(sqlite_cli, tmp_path):
    """An old SQLite ledger has no head file; the upgrade's adoption writes it (naming the
    adoption event) and records that there was none."""
    cli = sqlite_cli
    (tmp_path / "release.toml").write_text(RELEASE_TOML)
    make_old_ledger(cli, "0002")  # its policy is recorded already: the adoption is the upgrade's only event
    head = Path(cli.env["RELEASE_LEDGER"][len("sqlite:///"):] + ".head")
    r = cli("audit", "verify")  # opening it migrated it, and wrote nothing: still no head file
    assert r.code == 1 and not head.exists(), r
    assert f"the head file {head} is missing: this ledger was written by a release that kept none" in r.err
    assert "run `release ledger upgrade`" in r.err and "--reanchor" not in r.err
    up = cli.json("ledger", "upgrade")
    ev = _adopted_events(cli)[0]
    assert head.read_text().strip() == f"{ev['seq']}:{ev['hash']}" and up["adopted"]["seq"] == ev["seq"]
    assert ev["details"]["head_file_before"] is None
    assert cli.json("audit", "verify")["head"] == f"{ev['seq']}:{ev['hash']}"
    head.unlink()  # deleted after the adoption: reported, never silently written again
    assert cli.json("ledger", "upgrade")["adopted"] is None and not head.exists()
    r = cli("audit", "verify")
    assert r.code == 1 and "head file" in r.err and "is missing" in r.err, r


def test_an_old_ledger_without_rows_to_adopt_is_marked_all_the_same(cli, tmp_path):
    """An old ledger whose upgrade finds no row without an event (no move yet; its environments
    are in the upgrade's first recording of the policy) still gets its one `audit.adopted`
    event: where the chain took over. A pointer and history row inserted behind the tool's back
    afterwards are never adopted."""
    (tmp_path / "release.toml").write_text(RELEASE_TOML)
    make_old_ledger(cli, "0001", moves=False)
    r = cli.ok("ledger", "upgrade", actor="carol")
    assert "(audit event 5, audit.adopted): none lacked an event" in r.out, r
    [ev] = _adopted_events(cli)
    assert (ev["seq"], ev["actor"], ev["details"]["rows"]) == (5, "carol", {}) and "ledger_rows" not in ev["details"]
    assert cli.json("audit", "verify")["ok"]
    _sql(cli, "INSERT INTO channel (environment_id, image_id, version_id, updated_at, updated_by) "
              "VALUES (3, 1, 2, :at, 'mallory')", at=T.format(59))
    _sql(cli, "INSERT INTO channel_history (environment_id, image_id, to_version_id, action, actor, approved_by, "
              "override, at) VALUES (3, 1, 2, 'promote', 'mallory', '[]', :f, :at)", f=False, at=T.format(59))
    assert cli.json("ledger", "upgrade")["adopted"] is None
    doc = cli("audit", "verify", "--json").json
    assert doc["table"] == "channel_history" and "behind the tool's back" in doc["problem"], doc
