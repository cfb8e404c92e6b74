"""Approvals are recorded acts (`release approve`), by real CLI calls on SQLite and PostgreSQL:
distinct approvers other than the promoter, identities compared after normalising case and
whitespace, used up by the promotion, lapsing after `approval_ttl`; `--override` never lifts
them; a rollback to a version good there before needs none; `--approved-by` is gone."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

POLICY = """
[[environments]]
name = "dev"

[[environments]]
name = "prod"
requires = "dev"
approvals = 2
freeze = ["2020-01-01 00:00 - 2099-01-01 00:00 UTC"]
"""


@pytest.fixture
def team(cli, tmp_path):
    (tmp_path / "release.toml").write_text(POLICY)
    for i in (1, 2):
        cli.ok("register", "web", "--artifact", f"aws:us-east-1:ami-{i}")
        cli.ok("promote", f"web@v{i}", "--to", "dev")
    return cli


def approve(cli, ref: str, *who: str, env: str = "prod"):
    for name in who:
        cli.ok("approve", ref, "--env", env, actor=name)


def promote(cli, ref: str, *extra: str):
    """A promotion to prod; the freeze window is always lifted with an audited override."""
    return cli("promote", ref, "--to", "prod", "--override", "--reason", "test window", *extra)


def test_two_approvals_by_one_person_are_refused(team):
    approve(team, "web@v1", "bob", "bob")
    r = promote(team, "web@v1")
    assert r.code == 3, r
    assert "refused by policy 'approvals'" in r.err and "got 1" in r.err
    assert "--override does not lift approvals" in r.err
    assert team.json("status")["channels"][0]["env"] == "dev"  # nothing moved


def test_case_and_whitespace_variants_count_once(team):
    approve(team, "web@v1", "bob", "BOB", "  Bob ", "bob\t")
    r = promote(team, "web@v1")
    assert r.code == 3 and "got 1" in r.err, r
    approve(team, "web@v1", "Carol")
    d = promote(team, "web@v1", "--json").json
    assert d["changed"] and d["approved_by"] == ["bob", "Carol"]


def test_the_promoters_own_approval_does_not_count(team):
    approve(team, "web@v1", "alice", "bob")
    r = promote(team, "web@v1")
    assert r.code == 3 and "own approval does not count" in r.err, r
    r = team("promote", "web@v1", "--to", "prod", "--override", "--reason", "x", actor="ALICE ")
    assert r.code == 3 and "got 1" in r.err, r


def test_an_approval_lapses_after_the_ttl(team, tmp_path):
    from releasemgr.ledger.db import Ledger
    from releasemgr.ledger.repo import approvals as repo, versions

    approve(team, "web@v1", "bob", "carol")
    d = team.json("show", "web@v1")["approvals"]["prod"]
    assert [(a["approver"], a["state"]) for a in d] == [("bob", "valid"), ("carol", "valid")]
    # bob approved eight days ago: it lapsed after the default 7 days
    old = datetime.now(timezone.utc) - timedelta(days=8)
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ"
    led = Ledger.open(team.env["RELEASE_LEDGER"])
    try:
        with led.transaction() as conn:
            _, v = versions.resolve(conn, "web@v1")
            bob = repo.of_version(conn, v.id)[0]
            repo.set_times(conn, bob.id, at=old.strftime(fmt), expires_at=(old + timedelta(days=7)).strftime(fmt))
    finally:
        led.close()
    r = promote(team, "web@v1")
    assert r.code == 3 and "got 1" in r.err, r
    d = team.json("show", "web@v1")["approvals"]["prod"]
    assert [(a["approver"], a["state"], a["lapsed"]) for a in d] == [("bob", "lapsed", True),
                                                                     ("carol", "valid", False)]
    # a small approval_ttl in the policy in force: an approval lapses within it
    (tmp_path / "release.toml").write_text(POLICY.replace("approvals = 2", 'approvals = 2\napproval_ttl = "1s"'))
    assert "approval_ttl" in team.ok("policy", "apply").out
    approve(team, "web@v1", "dave")
    import time

    time.sleep(1.1)
    r = promote(team, "web@v1")
    assert r.code == 3 and "got 1" in r.err, r


def test_a_used_approval_cannot_be_reused(team):
    approve(team, "web@v1", "bob", "carol")
    assert promote(team, "web@v1").code == 0
    approve(team, "web@v2", "bob", "carol")
    assert promote(team, "web@v2").code == 0
    # back to v1 by promotion: the approvals of the first promotion are used up
    r = promote(team, "web@v1")
    assert r.code == 3 and "got 0" in r.err, r
    doc = team.json("show", "web@v1")
    assert [(a["approver"], a["used"], a["used_by"]) for a in doc["approvals"]["prod"]] == [
        ("bob", True, "alice"), ("carol", True, "alice")]
    assert "used" in team.ok("show", "web@v1").out


def test_override_lifts_freeze_and_order_but_not_approvals(team):
    team.ok("register", "web", "--artifact", "aws:us-east-1:ami-3")  # v3: never in dev
    r = promote(team, "web@v3")
    assert r.code == 3 and "approvals" in r.err, r
    approve(team, "web@v3", "bob", "carol")
    d = promote(team, "web@v3", "--json").json
    assert d["changed"] and d["override"] == ["requires", "freeze"]
    events = team.json("audit", "--action", "policy.override")["events"]
    assert events[-1]["details"]["rules"] == ["requires", "freeze"]


def test_a_rollback_to_a_version_good_there_before_needs_no_approvals(team):
    approve(team, "web@v1", "bob", "carol")
    promote(team, "web@v1")
    approve(team, "web@v2", "bob", "carol")
    promote(team, "web@v2")
    d = team.json("rollback", "web", "--env", "prod", "--override", "--reason", "INC-9: 5xx")
    assert (d["version"], d["approved_by"]) == ("v1", [])
    ev = [e for e in team.json("audit", "--action", "rollback")["events"]][-1]
    assert ev["details"]["healthy_before"] is True and ev["reason"] == "INC-9: 5xx"
    # v2 was rolled back from: going back to it needs approvals as a promotion does
    r = team("rollback", "web", "--env", "prod", "--to", "web@v2", "--override", "--reason", "x")
    assert r.code == 3 and "approvals" in r.err, r


def test_approved_by_is_a_usage_error_naming_release_approve(team):
    r = team("promote", "web@v1", "--to", "prod", "--approved-by", "bob")
    assert r.code == 2 and "release approve" in r.err, r
    r = team("rollback", "web", "--env", "dev", "--approved-by", "bob")
    assert r.code == 2 and "release approve" in r.err, r
    assert "--approved-by" not in team.ok("promote", "--help").out


def test_approve_is_audited_and_shown(team):
    d = team.json("approve", "web@v1", "--env", "prod", "--ticket", "CHG-7", "--reason", "reviewed", actor="bob")
    assert (d["approver"], d["env"], d["version"], d["state"], d["required"]) == ("bob", "prod", "v1", "valid", 2)
    ev = team.json("audit", "--action", "approval.recorded")["events"]
    assert len(ev) == 1 and ev[0]["actor"] == "bob" and ev[0]["ticket"] == "CHG-7" and ev[0]["reason"] == "reviewed"
    assert ev[0]["details"]["approver"] == "bob"
    shown = team.json("show", "web@v1")["approvals"]
    assert shown == {"prod": [{"approver": "bob", "at": shown["prod"][0]["at"],
                               "expires_at": shown["prod"][0]["expires_at"], "ticket": "CHG-7", "reason": "reviewed",
                               "state": "valid", "used": False, "lapsed": False, "used_at": None, "used_by": None}]}
    assert team.json("audit", "verify")["ok"]
    r = team("approve", "web@v1", "--env", "qa", actor="bob")
    assert r.code == 4 and "unknown environment 'qa'" in r.err
