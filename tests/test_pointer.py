"""Servers follow the pointer, and a rollback goes to a version that was good there: real
local servers, real HTTP, as a user types it (issue 13, items 2 and 3).

Unit counterpart of the rollback target: tests/test_unit_rollback_target.py."""

from __future__ import annotations

import json

import pytest

from conftest import audit_events
from local_images import add_version, get, running_servers

TOML = """
[[environments]]
name = "dev"

[[environments]]
name = "prod"

[deploy.prod]
count = 1
health_timeout = 2
"""


@pytest.fixture
def fleet_toml():
    return TOML


def serving(cli, env="prod") -> list[str]:
    route = json.loads((cli.state / "routes" / f"web@{env}.json").read_text())
    return sorted(get(s["address"])[1] for s in route["servers"])


def current(cli, env="prod") -> str | None:
    return next((c["version"] for c in cli.json("status", "web")["channels"] if c["env"] == env), None)


def chain_ok(cli) -> None:
    v = cli.json("audit", "verify")
    assert v["ok"] is True, v


def test_deploy_of_another_version_is_refused_with_the_promote_that_would_do_it(fleet):
    add_version(fleet, fleet.state, "web", "one")
    add_version(fleet, fleet.state, "web", "two")
    r = fleet("deploy", "web", "--env", "prod", "--version", "v1")
    assert r.code == 3 and "prod has no current version" in r.err
    assert "release promote web@v1 --to prod --deploy" in r.err
    fleet.ok("promote", "web@v1", "--to", "prod", "--deploy")
    assert serving(fleet) == ["one"]
    for extra in ([], ["--dry-run"]):
        r = fleet("deploy", "web", "--env", "prod", "--version", "v2", *extra)
        assert r.code == 3 and "web@v2 is not what prod points at" in r.err, r
        assert "`release promote web@v2 --to prod --deploy`" in r.err
    j = fleet("deploy", "web", "--env", "prod", "--version", "web@v2", "--json")
    doc = json.loads(j.out)
    assert j.code == 3 and doc["rule"] == "follows-pointer"
    assert doc["command"] == "release promote web@v2 --to prod --deploy"
    assert serving(fleet) == ["one"] and current(fleet) == "v1"
    d = fleet.json("deploy", "web", "--env", "prod", "--version", "v1")  # the pointer's own version: fine
    assert d["version"] == "v1" and d["launched"] == []
    chain_ok(fleet)


def test_failed_promote_deploy_puts_the_pointer_back_as_an_audited_rollback(fleet):
    add_version(fleet, fleet.state, "web", "good v1")
    add_version(fleet, fleet.state, "web", "bad v2", mode="500")
    fleet.ok("promote", "web@v1", "--to", "prod", "--deploy")
    r = fleet("promote", "web@v2", "--to", "prod", "--deploy", "--ticket", "CHG-7", "--json")
    assert r.code == 1, r
    err = r.json  # the stream's result line: the error document
    assert err["type"] == "result" and err["ok"] is False and err["exit_code"] == 1
    assert err["reverted"]["version"] == "v1" and err["reverted"]["action"] == "rollback"
    assert err["deployment"]["status"] == "failed" and err["move"]["version"] == "v2"
    assert "prod points at v1 again" in err["message"]
    text = fleet("promote", "web@v2", "--to", "prod", "--deploy")
    assert text.code == 1 and "but its deploy failed" in text.err and "Traceback" not in text.err
    assert current(fleet) == "v1" and serving(fleet) == ["good v1"]
    assert len(running_servers(fleet.state)) == 1
    hist = fleet.json("history", "web", "--env", "prod")["history"]
    assert (hist[0]["action"], hist[0]["from"], hist[0]["to"]) == ("rollback", "v2", "v1")
    assert hist[0]["reason"].startswith("deploy failed: web@v2 did not become healthy in prod")
    ev = [d for a, d in audit_events(fleet) if a == "rollback"][0]
    assert ev["cause"] == "deploy_failed" and ev["reverts"] == "promote" and ev["failed"] == "v2"
    assert fleet("status", "--check").code == 0  # pointer and servers agree
    chain_ok(fleet)
    # nothing to roll back to: v2 never was good in prod, and the output says so
    r = fleet("rollback", "web", "--env", "prod")
    assert r.code == 3 and "skipped web@v2: it was rolled back from in prod" in r.err


def test_first_promotion_whose_deploy_fails_moves_nothing(fleet):
    add_version(fleet, fleet.state, "web", "bad", mode="exit")
    r = fleet("promote", "web@v1", "--to", "prod", "--deploy")
    assert r.code == 1 and "did not become healthy" in r.err
    assert current(fleet) is None
    assert fleet.json("history", "web", "--env", "prod")["history"] == []
    assert running_servers(fleet.state) == []
    assert fleet("status", "--check").code == 0
    chain_ok(fleet)


def test_auto_deploy_failure_puts_the_pointer_back(fleet):
    (fleet.cwd / "release.toml").write_text(TOML.replace('name = "dev"', 'name = "dev"\nauto_deploy = true')
                                             + "\n[deploy.dev]\ncount = 1\nhealth_timeout = 2\n")
    add_version(fleet, fleet.state, "web", "auto v1")
    add_version(fleet, fleet.state, "web", "auto v2", mode="500")
    assert fleet.json("promote", "web@v1", "--to", "dev")["deployment"]["status"] == "succeeded"
    r = fleet("promote", "web@v2", "--to", "dev")
    assert r.code == 1 and "dev points at v1 again" in r.err
    assert current(fleet, "dev") == "v1" and serving(fleet, "dev") == ["auto v1"]
    chain_ok(fleet)


def test_rollback_skips_a_version_whose_deploy_failed(fleet):
    add_version(fleet, fleet.state, "web", "r1")
    add_version(fleet, fleet.state, "web", "r2", mode="500")
    add_version(fleet, fleet.state, "web", "r3")
    fleet.ok("promote", "web@v1", "--to", "prod", "--deploy")
    fleet.ok("promote", "web@v2", "--to", "prod")
    assert fleet("deploy", "web", "--env", "prod").code == 1  # a plain deploy fails: v2 never healthy
    fleet.ok("promote", "web@v3", "--to", "prod", "--deploy")
    assert serving(fleet) == ["r3"]
    out = fleet.ok("rollback", "web", "--env", "prod", "--deploy").out
    assert "rolled back web in prod to v1 (was v3)" in out and "skipped web@v2: its deploy failed in prod" in out
    assert serving(fleet) == ["r1"]
    ev = [x for a, x in audit_events(fleet) if a == "rollback"][-1]
    assert ev["skipped"] == [{"version": "v2", "why": "its deploy failed in prod"}]
    # JSON, and --to: the versions it passes over are listed
    fleet.ok("promote", "web@v2", "--to", "prod", "--override", "--reason", "retry")  # never deployed this time
    fleet.ok("promote", "web@v3", "--to", "prod", "--deploy")
    d = fleet.json("rollback", "web", "--env", "prod")
    assert d["version"] == "v1" and d["skipped"] == [{"version": "v2", "why": "its deploy failed in prod"}]
    fleet.ok("promote", "web@v3", "--to", "prod", "--deploy")
    d = fleet.json("rollback", "web", "--env", "prod", "--to", "web@v2")
    assert d["version"] == "v2" and d["skipped"] == [{"version": "v1", "why": "passed over: --to names web@v2"}]
    chain_ok(fleet)


def test_revoke_rollback_brings_the_servers_back(fleet):
    add_version(fleet, fleet.state, "web", "safe v1")
    add_version(fleet, fleet.state, "web", "cve v2")
    fleet.ok("promote", "web@v1", "--to", "prod", "--deploy")
    fleet.ok("promote", "web@v2", "--to", "prod", "--deploy")
    assert serving(fleet) == ["cve v2"]
    d = fleet.json("revoke", "web@v2", "--reason", "CVE-2026-9", "--rollback")
    assert [(m["env"], m["version"]) for m in d["rolled_back"]] == [("prod", "v1")]
    assert [(x["env"], x["version"], x["status"]) for x in d["deployments"]] == [("prod", "v1", "succeeded")]
    assert serving(fleet) == ["safe v1"]
    assert [s["version"] for s in fleet.json("servers", "web", "--env", "prod")["servers"]] == ["v1"]
    assert fleet("status", "--check").code == 0
    chain_ok(fleet)


def test_a_pruned_version_is_refused_before_anything_moves(fleet):
    for i in (1, 2, 3):
        add_version(fleet, fleet.state, "web", f"p{i}")
    fleet.ok("promote", "web@v3", "--to", "dev")
    pruned = fleet.json("prune", "web", "--keep", "1")["pruned"]
    assert "v1" in [p["version"] for p in pruned]
    for extra in ([], ["--deploy"]):
        r = fleet("promote", "web@v1", "--to", "prod", *extra)
        assert r.code == 4 and "web@v1 was pruned" in r.err, r
    assert current(fleet) is None and running_servers(fleet.state) == []
    assert fleet.json("history", "web", "--env", "prod")["history"] == []
    chain_ok(fleet)


def test_status_check_reports_a_pointer_without_servers(fleet):
    add_version(fleet, fleet.state, "web", "lonely")
    fleet.ok("promote", "web@v1", "--to", "dev")  # dev expects no servers: no drift
    assert fleet("status", "--check").code == 0
    fleet.ok("promote", "web@v1", "--to", "prod")  # prod does ([deploy.prod])
    r = fleet("status", "--check", "--json")
    assert r.code == 1
    assert [(d["kind"], d["env"], d["version"]) for d in json.loads(r.out)["drift"]] == [("no_servers", "prod", "v1")]
    fleet.ok("deploy", "web", "--env", "prod")
    assert fleet("status", "--check").code == 0
