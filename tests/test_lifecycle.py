"""The release lifecycle as a user types it: register, promote, rollback, revoke, status,
history, audit -- on SQLite and PostgreSQL."""

from __future__ import annotations

import json


def test_register_numbers_and_semver(cli):
    d1 = cli.json("register", "web", "--artifact", "aws:us-east-1:ami-1", "--artifact", "aws:us-west-2:ami-2",
                  "--bump", "minor")
    assert (d1["image"], d1["version"], d1["number"], d1["semver"], d1["status"]) == ("web", "v1", 1, "0.1.0",
                                                                                       "available")
    assert d1["artifacts"] == [{"provider": "aws", "region": "us-east-1", "id": "ami-1"},
                               {"provider": "aws", "region": "us-west-2", "id": "ami-2"}]
    d2 = cli.json("register", "web", "--artifact", "local::sha256:abcd:ef", "--version", "1.4.0")
    assert (d2["version"], d2["semver"]) == ("v2", "1.4.0")
    assert d2["artifacts"][0] == {"provider": "local", "region": "", "id": "sha256:abcd:ef"}
    d3 = cli.json("register", "web", "--artifact", "aws:us-east-1:ami-3", "--bump", "patch")
    assert d3["semver"] == "1.4.1"
    r = cli("register", "web", "--artifact", "aws:us-east-1:ami-4", "--version", "1.4.0")
    assert r.code == 2 and "already has a version 1.4.0" in r.err
    r = cli("register", "web", "--artifact", "aws:us-east-1:ami-4", "--version", "banana")
    assert r.code == 2 and "not a semantic version" in r.err
    r = cli("register", "web", "--artifact", "nonsense")
    assert r.code == 2 and "PROVIDER:REGION:ID" in r.err
    # failed attempts consumed no number
    assert cli.json("register", "web", "--artifact", "aws:us-east-1:ami-5")["version"] == "v4"
    assert "Traceback" not in r.err


def test_register_from_packer_manifest(cli, tmp_path):
    manifest = {
        "builds": [
            {"name": "ubuntu", "builder_type": "amazon-ebs", "build_time": 1700000000,
             "files": None, "artifact_id": "us-east-1:ami-old", "packer_run_uuid": "run-1", "custom_data": None},
            {"name": "ubuntu", "builder_type": "amazon-ebs", "build_time": 1700000100,
             "files": None, "artifact_id": "us-east-1:ami-0aaa,us-west-2:ami-0bbb", "packer_run_uuid": "run-2",
             "custom_data": {"team": "web"}},
        ],
        "last_run_uuid": "run-2",
    }
    p = tmp_path / "manifest.json"
    p.write_text(json.dumps(manifest))
    d = cli.json("register", "web", "--from-manifest", str(p))
    assert [(a["provider"], a["region"], a["id"]) for a in d["artifacts"]] == [
        ("aws", "us-east-1", "ami-0aaa"), ("aws", "us-west-2", "ami-0bbb")]
    assert d["origin"] == "manifest"
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    r = cli("register", "web", "--from-manifest", str(bad))
    assert r.code == 2 and "not a Packer manifest" in r.err
    r = cli("register", "web", "--from-manifest", str(tmp_path / "missing.json"))
    assert r.code == 4


def test_references(cli):
    for i in range(3):
        cli.ok("register", "web", "--artifact", f"aws:us-east-1:ami-{i}", "--bump", "minor")
    cli.ok("promote", "web@v2", "--to", "dev")
    assert cli.json("show", "web@v3")["number"] == 3
    assert cli.json("show", "web@3")["number"] == 3
    assert cli.json("show", "web@0.2.0")["number"] == 2
    assert cli.json("show", "web@dev")["number"] == 2
    assert cli.json("show", "web@latest")["number"] == 3
    assert cli.json("show", "web@dev")["environments"] == ["dev"]
    assert cli("show", "web@v9").code == 4
    assert cli("show", "nope@v1").code == 4
    assert cli("show", "web@prod").code == 4  # nothing current there
    assert cli("show", "web@qa").code == 4  # unknown environment
    assert cli("show", "web@@").code == 2


def test_promotion_order_and_status(cli):
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-1")
    r = cli("promote", "web@v1", "--to", "prod")
    assert r.code == 3 and "requires staging" in r.err
    assert json.loads(cli("promote", "web@v1", "--to", "prod", "--json").out)["rule"] == "requires"
    for env in ("dev", "staging", "prod"):
        d = cli.json("promote", "web@v1", "--to", env)
        assert (d["env"], d["version"], d["changed"]) == (env, "v1", True)
    again = cli.json("promote", "web@v1", "--to", "prod")
    assert again["changed"] is False
    st = cli.json("status")
    assert [(c["env"], c["image"], c["version"]) for c in st["channels"]] == [
        ("dev", "web", "v1"), ("staging", "web", "v1"), ("prod", "web", "v1")]
    assert "web" in cli.ok("status").out


def test_rollback_walks_back_and_refuses_at_the_start(cli):
    for i in range(1, 4):
        cli.ok("register", "web", "--artifact", f"aws:us-east-1:ami-{i}")
        cli.ok("promote", f"web@v{i}", "--to", "dev")
    assert cli.json("rollback", "web", "--env", "dev")["version"] == "v2"
    assert cli.json("rollback", "web", "--env", "dev")["version"] == "v1"
    r = cli("rollback", "web", "--env", "dev")
    assert r.code == 3 and "nothing to roll back to" in r.err
    assert cli.json("rollback", "web", "--env", "dev", "--to", "web@v3")["version"] == "v3"
    r = cli("rollback", "web", "--env", "staging")
    assert r.code == 4
    hist = cli.json("history", "web", "--env", "dev")["history"]
    assert [h["action"] for h in hist][:3] == ["rollback", "rollback", "rollback"]
    assert hist[0]["from"] == "v1" and hist[0]["to"] == "v3"


def test_rollback_skips_revoked_versions(cli):
    for i in range(1, 4):
        cli.ok("register", "web", "--artifact", f"aws:us-east-1:ami-{i}")
        cli.ok("promote", f"web@v{i}", "--to", "dev")
    cli.ok("revoke", "web@v2", "--reason", "bad openssl")
    assert cli.json("rollback", "web", "--env", "dev")["version"] == "v1"


def test_revoke_never_moves_silently_and_rollback_option(cli):
    for i in (1, 2):
        cli.ok("register", "web", "--artifact", f"aws:us-east-1:ami-{i}")
        for env in ("dev", "staging"):
            cli.ok("promote", f"web@v{i}", "--to", env)
    d = cli.json("revoke", "web@v2", "--reason", "CVE-2026-1")
    assert d["status"] == "revoked" and d["still_current_in"] == ["dev", "staging"]
    st = cli.json("status")
    assert all(c["version"] == "v2" and c["revoked"] for c in st["channels"])
    assert len(st["warnings"]) == 2 and "revoked" in st["warnings"][0]
    r = cli("promote", "web@v2", "--to", "prod", "--override", "--reason", "x")
    assert r.code == 3 and "revoked" in r.err
    cli.ok("unrevoke", "web@v2", "--reason", "false alarm")
    d = cli.json("revoke", "web@v2", "--reason", "real this time", "--rollback")
    assert sorted(x["env"] for x in d["rolled_back"]) == ["dev", "staging"]
    assert all(x["version"] == "v1" for x in d["rolled_back"])
    assert cli.json("status")["warnings"] == []
    actions = [e["action"] for e in cli.json("audit", "--image", "web")["events"]]
    assert actions.count("version.revoked") == 2 and "version.unrevoked" in actions
    assert actions[-2:] == ["rollback", "rollback"]


def test_ticket_and_approvals_policy(cli, tmp_path):
    (tmp_path / "release.toml").write_text("""
[[environments]]
name = "dev"

[[environments]]
name = "prod"
requires = "dev"
require_ticket = true
approvals = 2
""")
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-1")
    cli.ok("promote", "web@v1", "--to", "dev")
    r = cli("promote", "web@v1", "--to", "prod")
    assert r.code == 3 and "ticket" in r.err
    cli.ok("approve", "web@v1", "--env", "prod", actor="bob")
    r = cli("promote", "web@v1", "--to", "prod", "--ticket", "CHG-1")
    assert r.code == 3 and "approval" in r.err
    # the promoter's own approval does not count, nor does the same person twice
    cli.ok("approve", "web@v1", "--env", "prod", actor="alice")
    cli.ok("approve", "web@v1", "--env", "prod", actor="Bob ")
    r = cli("promote", "web@v1", "--to", "prod", "--ticket", "CHG-1")
    assert r.code == 3 and "own approval does not count" in r.err and "got 1" in r.err
    cli.ok("approve", "web@v1", "--env", "prod", "--ticket", "CHG-1", "--reason", "looked at it", actor="carol")
    d = cli.json("promote", "web@v1", "--to", "prod", "--ticket", "CHG-1")
    assert d["changed"] and d["override"] == [] and d["approved_by"] == ["bob", "carol"]
    ev = [e for e in cli.json("audit", "--env", "prod")["events"] if e["action"] == "promote"][0]
    assert ev["ticket"] == "CHG-1" and ev["details"]["approved_by"] == ["bob", "carol"]
    assert [a["approver"] for a in ev["details"]["approvals"]] == ["bob", "Bob", "carol"]
    assert cli.json("history", "web", "--env", "prod")["history"][0]["approved_by"] == ["bob", "carol"]


def test_override_needs_reason_and_is_audited(cli):
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-1")
    r = cli("promote", "web@v1", "--to", "prod", "--override")
    assert r.code == 2 and "--reason" in r.err
    d = cli.json("promote", "web@v1", "--to", "prod", "--override", "--reason", "hotfix, staging is down")
    assert d["override"] == ["requires"]
    events = cli.json("audit", "--action", "policy.override")["events"]
    assert len(events) == 1 and events[0]["details"]["rules"] == ["requires"]
    assert events[0]["reason"] == "hotfix, staging is down"
    assert cli.json("history", "web")["history"][0]["override"] is True


def test_freeze_window_refuses_now(cli, tmp_path):
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    now = datetime.now(ZoneInfo("Europe/Berlin"))
    start, end = now - timedelta(hours=1), now + timedelta(hours=1)
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    window = f"{days[start.weekday()]} {start:%H:%M} - {days[end.weekday()]} {end:%H:%M} Europe/Berlin"
    (tmp_path / "release.toml").write_text(f"""
[[environments]]
name = "dev"
freeze = ["{window}"]

[[environments]]
name = "qa"
freeze = ["2020-01-01 00:00 - 2020-01-02 00:00 UTC"]
""")
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-1")
    r = cli("promote", "web@v1", "--to", "dev")
    assert r.code == 3 and "frozen" in r.err and window in r.err
    cli.ok("promote", "web@v1", "--to", "qa")  # a window that is over does not apply
    cli.ok("promote", "web@v1", "--to", "dev", "--override", "--reason", "incident INC-7")


def test_audit_filters_formats_and_verify(cli):
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-1")
    cli.ok("register", "api", "--artifact", "aws:us-east-1:ami-2", actor="bob")
    cli.ok("promote", "web@v1", "--to", "dev", "--ticket", "CHG-9")
    assert {e["image"] for e in cli.json("audit", "--actor", "bob")["events"]} == {"api"}
    assert [e["action"] for e in cli.json("audit", "--ticket", "CHG-9")["events"]] == ["promote"]
    assert cli.json("audit", "--since", "1d", "--until", "2999-01-01")["events"]
    assert cli.json("audit", "--until", "2000-01-01")["events"] == []
    # --action matches the action and its kind ("version" = version.*), not other prefixes
    assert [e["action"] for e in cli.json("audit", "--action", "version")["events"]] == ["version.created"] * 2
    assert [e["action"] for e in cli.json("audit", "--action", "version.created", "--image", "api")["events"]] == \
        ["version.created"]
    assert cli.json("audit", "--action", "versio")["events"] == []
    last_two = cli.json("audit", "--limit", "2")["events"]
    # event 1 is the first recording of release.toml's policy (policy.applied, initial)
    assert [e["seq"] for e in last_two] == [5, 6] and last_two[-1]["action"] == "promote"
    assert cli.json("audit", "--env", "dev", "--actor", "alice")["events"][0]["ticket"] == "CHG-9"
    csv_out = cli.ok("audit", "--format", "csv").out.splitlines()
    assert csv_out[0].startswith("seq,at,actor,action") and len(csv_out) == 1 + 6
    assert "promote" in cli.ok("audit").out
    v = cli.json("audit", "verify")
    assert v["ok"] is True and v["events"] == 6
    r = cli("audit", "--since", "yesterday-ish")
    assert r.code == 2


def test_unknown_things_exit_4_and_bad_usage_2(cli):
    assert cli("versions", "ghost").code == 4
    assert cli("history", "ghost").code == 4
    assert cli("promote", "web@v1", "--to", "dev").code == 4
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-1")
    r = cli("promote", "web@v1", "--to", "prdo")
    assert r.code == 4 and "did you mean 'prod'" in r.err
    assert cli("promote", "web@v1").code == 2  # missing --to
    assert cli("register", "bad name!", "--artifact", "aws:x:y").code == 2
    r = cli("status", "--json", "--env", "nope")
    assert r.code == 4 and json.loads(r.out)["error"] == "not_found"


def test_global_options_before_and_after(cli):
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-1")
    a = cli.ok("--json", "status").json
    b = cli.ok("status", "--json").json
    assert a == b
    d = cli.ok("--actor", "carol", "register", "web", "--artifact", "aws:us-east-1:ami-2", "--json").json
    assert d["created_by"] == "carol"
    d = cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-3", "--actor", "dave", "--json").json
    assert d["created_by"] == "dave"
