"""The policy source is one rule (`releasemgr/release/policy.py` `_recorded`): once a ledger has
recorded its policy -- its audit log shows it -- a ledger whose environment rows hold none is
damaged, and every command that enforces the policy refuses (exit 1, naming `release audit
verify` and `release policy apply`) instead of falling back to a laxer local release.toml.
`release policy apply` records it again, deliberately and audited. Real processes, SQLite and
PostgreSQL; the rows are removed with plain SQL, as someone with write access would."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text

from releasemgr.ledger.db import normalise_url
from test_ledger_adopt import RELEASE_TOML as OLD_TOML, make_old_ledger

STRICT = """
[[environments]]
name = "dev"

[[environments]]
name = "prod"
requires = "dev"
require_ticket = true
approvals = 1
freeze = ["2020-01-01 00:00 - 2099-01-01 00:00 UTC"]
"""
LAX = '[[environments]]\nname = "dev"\n\n[[environments]]\nname = "prod"\n'
MISSING = "the ledger's policy is missing"
# every command that enforces the policy, each of which the laxer release.toml would let through
ENFORCING = [("promote", "web@v1", "--to", "prod"), ("approve", "web@v1", "--env", "prod"),
             ("rollback", "web", "--env", "dev"), ("deploy", "web", "--env", "dev"),
             ("revoke", "web@v2", "--reason", "bad", "--rollback")]


def _attack(cli, how: str) -> None:
    """Remove the policy behind the tool's back: clear every row's policy, or delete the rows
    (with the foreign keys off: sqlite3's default; on PostgreSQL a superuser's replica role)."""
    url = cli.env["RELEASE_LEDGER"]
    eng = create_engine(normalise_url(url))
    try:
        with eng.begin() as conn:
            if how == "cleared":
                conn.execute(text("UPDATE environment SET policy = NULL"))
            else:
                if not url.startswith("sqlite"):
                    conn.execute(text("SET LOCAL session_replication_role = replica"))
                conn.execute(text("DELETE FROM environment"))
    finally:
        eng.dispose()


def _run(cli, *args: str, actor: str | None = None) -> tuple[int, str, str]:
    p = cli.proc(*args, actor=actor)
    out, err = p.communicate(timeout=300)
    return p.returncode, out, err


def _state(cli) -> tuple:
    """What a refused command must leave as it was: the events, pointers and approvals."""
    return (cli.json("audit")["events"][-1]["seq"], cli.json("history", "web")["history"],
            cli.json("show", "web@v1")["approvals"], [cli.json("show", f"web@v{i}")["status"] for i in (1, 2)])


@pytest.mark.parametrize("how", ["cleared", "deleted"])
def test_a_ledger_without_its_policy_rows_refuses_every_command_that_enforces_it(cli, tmp_path, how):
    (tmp_path / "release.toml").write_text(STRICT)
    for i in (1, 2):
        cli.ok("register", "web", "--artifact", f"local::sha256:{str(i) * 64}")
        cli.ok("promote", f"web@v{i}", "--to", "dev")
    _attack(cli, how)
    (tmp_path / "release.toml").write_text(LAX)  # no order, ticket, approval or freeze rule
    before = _state(cli) if how == "cleared" else None

    for args in ENFORCING:
        code, out, err = _run(cli, *args)
        assert code == 1 and "Traceback" not in err, (args, code, out, err)
        assert f"error: {MISSING}" in err and "refusing to fall back to release.toml" in err, (args, err)
        assert "`release audit verify`" in err and "`release policy apply`" in err, (args, err)
        assert err.count("error:") == 1, (args, err)
    code, out, err = _run(cli, "promote", "web@v1", "--to", "prod", "--json")
    doc = json.loads(out)
    assert code == 1 and (doc["error"], doc["exit_code"]) == ("failed", 1) and MISSING in doc["message"], doc
    for args in (("policy", "show"), ("status", "--check")):  # they read the rules, too
        code, out, err = _run(cli, *args)
        assert code == 1 and f"error: {MISSING}" in err, (args, err)
    if before is not None:
        assert _state(cli) == before  # refused: nothing moved, nothing recorded
        # a command that only reads still answers, and says so
        code, out, err = _run(cli, "status")
        assert code == 0 and "warning: the ledger's policy is missing" in err, err
        # revoking (without moving pointers) enforces no policy: it stays possible in an incident
        code, out, err = _run(cli, "revoke", "web@v2", "--reason", "bad")
        assert code == 0 and cli.json("show", "web@v2")["status"] == "revoked", (out, err)
    code, out, err = _run(cli, "audit", "verify", "--json")
    assert code == 1 and json.loads(out)["table"] in ("environment", "channel_history", "channel"), out
    # never re-recorded from release.toml by the commands that ran
    assert [e["seq"] for e in cli.json("audit", "--action", "policy.applied")["events"]] == [1]


def test_policy_apply_records_it_again_deliberately_and_audited(cli, tmp_path):
    (tmp_path / "release.toml").write_text(STRICT)
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-1")
    cli.ok("promote", "web@v1", "--to", "dev")
    _attack(cli, "cleared")
    dry = cli.json("policy", "apply", "--dry-run")
    assert dry["policy_was_missing"] is True and [c["change"] for c in dry["diff"]] == ["added", "added"]
    code, out, err = _run(cli, "policy", "apply", actor="carol")
    assert code == 0 and "the ledger's policy was missing: recorded again from release.toml" in out, (out, err)
    ev = cli.json("audit", "--action", "policy.applied")["events"][-1]
    assert ev["actor"] == "carol" and ev["details"]["policy_was_missing"] is True
    assert [e["name"] for e in ev["details"]["ledger_rows"]["environment"]] == ["dev", "prod"]
    assert cli.json("audit", "verify")["ok"]  # the rows are recorded again, by that event
    # the policy in force is the one applied, and enforced again
    r = cli("promote", "web@v1", "--to", "prod")
    assert r.code == 3 and "refused by policy" in r.err and MISSING not in r.err, r


def test_a_policy_recorded_only_by_the_adoption_is_recorded(cli, tmp_path):
    """A ledger whose policy was written before the chain covered it has no `policy.applied`;
    its adoption by `ledger upgrade` counts as the recording: removing the rows afterwards is
    refused, never silently re-recorded from release.toml."""
    (tmp_path / "release.toml").write_text(OLD_TOML)
    make_old_ledger(cli, "0002")
    assert cli.json("ledger", "upgrade")["adopted"]["rows"]["environment"] == 3
    assert cli.json("audit", "--action", "policy.applied")["events"] == []
    _attack(cli, "cleared")
    (tmp_path / "release.toml").write_text(LAX)
    code, out, err = _run(cli, "promote", "web@v2", "--to", "prod")
    assert code == 1 and MISSING in err, err
    assert cli.json("audit", "--action", "policy.applied")["events"] == []


def test_a_row_deleted_behind_the_tools_back_is_named_not_an_internal_error(sqlite_cli):
    """One environment deleted with sqlite3 (foreign keys off, its default): the pointer and the
    history rows that refer to it are dangling. A command that trips over them says the ledger
    is damaged and which rows, exit 1 -- not "internal error: KeyError"."""
    sqlite_cli.ok("register", "web", "--artifact", "local:sha256:" + "1" * 64)
    sqlite_cli.ok("promote", "web@v1", "--to", "dev")
    eng = create_engine(normalise_url(sqlite_cli.env["RELEASE_LEDGER"]))
    try:
        with eng.begin() as conn:
            conn.execute(text("DELETE FROM environment WHERE name = 'dev'"))
    finally:
        eng.dispose()
    r = sqlite_cli("revoke", "web@v1", "--reason", "bad")
    assert r.code == 1 and "internal error" not in r.err, r
    assert "error: the ledger is damaged: channel_history row 1 refers to a missing environment row (and 1 more)" \
        in r.err and "`release audit verify` names what changed" in r.err, r
    doc = json.loads(sqlite_cli("revoke", "web@v1", "--reason", "bad", "--json").out.splitlines()[-1])
    assert (doc["error"], doc["exit_code"]) == ("failed", 1)
    assert sorted(doc["damage"]) == ["channel row 1 refers to a missing environment row",
                                     "channel_history row 1 refers to a missing environment row"]
    r = sqlite_cli("status", "--check")  # the check a monitor runs says so too
    assert r.code == 1 and ("drift: damaged: the ledger is damaged: channel row 1 refers to a missing environment "
                            "row (`release audit verify` names what changed)") in r.out, r
    drift = sqlite_cli("status", "--check", "--json").json["drift"]
    assert sorted(d["detail"] for d in drift if d["kind"] == "damaged") == [
        "the ledger is damaged: channel row 1 refers to a missing environment row (`release audit verify` names what "
        "changed)", "the ledger is damaged: channel_history row 1 refers to a missing environment row (`release audit "
        "verify` names what changed)"]
    assert sqlite_cli("audit", "verify").code == 1
