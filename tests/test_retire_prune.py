"""Retiring servers of older versions and pruning artifacts, with their refusals."""

from __future__ import annotations

import json

import pytest

from conftest import audit_events, heavy_imports
from local_images import add_version, get, running_servers

TOML = """
[[environments]]
name = "dev"

[[environments]]
name = "prod"

[deploy.prod]
count = 1
strategy = "blue-green"
"""


@pytest.fixture
def fleet_toml():
    return TOML


def versions_running(cli):
    return sorted(s["version"] for s in cli.json("servers", "web", "--env", "prod")["servers"])


def test_retire_keeps_current_and_previous_and_refuses_to_empty_an_environment(fleet):
    for i in (1, 2, 3):
        add_version(fleet, fleet.state, "web", f"text v{i}")
    r = fleet("retire", "web", "--env", "prod")
    assert r.code == 4 and "no current version in prod" in r.err
    for i in (1, 2, 3):
        fleet.ok("promote", f"web@v{i}", "--to", "prod", "--deploy")  # blue-green: older sets stand by
    assert versions_running(fleet) == ["v1", "v2", "v3"]

    r = fleet("retire", "web", "--env", "prod", "--older-than", "v4")
    assert r.code == 4
    add_version(fleet, fleet.state, "web", "text v4")
    r = fleet("retire", "web", "--env", "prod", "--older-than", "v4")
    assert r.code == 3 and "would include the current version v3" in r.err

    r, heavy = heavy_imports(fleet, "retire", "web", "--env", "prod", "--keep-previous", "1")  # a process of its own
    assert r.returncode == 0 and heavy == [], r.stderr  # plain SQL: no ORM, no SQLAlchemy
    d = json.loads(r.stdout)
    assert [s["version"] for s in d["retire"]] == ["v1"] and len(d["retired"]) == 1
    assert versions_running(fleet) == ["v2", "v3"]
    d = fleet.json("retire", "web", "--env", "prod", "--older-than", "web@v2", "--dry-run")
    assert d["retire"] == []
    d = fleet.json("retire", "web", "--env", "prod")
    assert [s["version"] for s in d["retire"]] == ["v2"]
    assert versions_running(fleet) == ["v3"]
    r = fleet("retire", "web", "--env", "prod")
    assert r.code == 0 and "nothing to retire" in r.out
    route = json.loads((fleet.state / "routes" / "web@prod.json").read_text())
    assert [get(s["address"])[1] for s in route["servers"]] == ["text v3"]

    # the pointer moves to v4 without deploying: the only healthy servers are v3's -- which are
    # "older" now; retiring them would leave prod with nothing
    fleet.ok("promote", "web@v4", "--to", "prod")
    r = fleet("retire", "web", "--env", "prod")
    assert r.code == 3 and "without healthy servers" in r.err and "release deploy web --env prod" in r.err
    assert versions_running(fleet) == ["v3"] and len(running_servers(fleet.state)) == 1
    retired = [d["server"] for a, d in audit_events(fleet) if a == "server.retired"]
    assert len(retired) == 2 and all(d["reason"] == "retire" for a, d in audit_events(fleet)
                                     if a == "server.retired")


def test_prune_deletes_only_unused_artifacts_and_keeps_the_rows(fleet):
    from releasemgr.providers.local.image import image_path

    for i in range(1, 6):
        add_version(fleet, fleet.state, "web", f"p{i}")
    fleet.ok("promote", "web@v1", "--to", "prod", "--deploy")
    fleet.ok("promote", "web@v2", "--to", "prod", "--deploy")  # v1 stands by: runs servers, rollback target
    fleet.ok("retire", "web", "--env", "prod")  # v1 stopped; still prod's rollback target
    fleet.ok("promote", "web@v4", "--to", "dev")
    r = fleet("prune", "web")
    assert r.code == 2 and "[retention]" in r.err

    d = fleet.json("prune", "web", "--keep", "1", "--dry-run")
    assert [p["version"] for p in d["pruned"]] == ["v3"]
    why = {k["version"]: k["why"] for k in d["kept"]}
    assert why == {"v5": "among the 1 newest", "v4": "current in dev", "v2": "current in prod",
                   "v1": "rollback target of prod"}
    arts = {v["version"]: v["artifacts"][0]["id"] for v in fleet.json("versions", "web")["versions"]}
    assert all(image_path(fleet.state, a).exists() for a in arts.values())  # dry run deleted nothing

    from releasemgr.providers.local.fleet import image_root

    v3_root = image_root(fleet.state, image_path(fleet.state, arts["v3"]))  # as if v3 had run servers once
    assert (v3_root / "version.txt").read_text() == "p3"
    d = fleet.json("prune", "web", "--keep", "1")
    assert [p["version"] for p in d["pruned"]] == ["v3"]
    assert not image_path(fleet.state, arts["v3"]).exists()
    assert not v3_root.exists()  # its unpacked copy goes with it
    assert all(image_path(fleet.state, arts[v]).exists() for v in ("v1", "v2", "v4", "v5"))
    shown = fleet.json("show", "web@v3")
    assert shown["number"] == 3 and shown["artifacts"][0]["deleted_at"]  # the row stays, for the audit
    r = fleet("deploy", "web", "--env", "dev", "--version", "v3")
    assert r.code == 4 and "pruned" in r.err
    assert fleet.json("prune", "web", "--keep", "1")["pruned"] == []  # nothing twice
    d = fleet.json("prune", "web", "--keep", "0", "--older-than", "1d")
    assert d["pruned"] == []  # everything is younger than a day
    assert fleet("prune", "web", "--older-than", "soon").code == 2
    pruned = [(a, d) for a, d in audit_events(fleet) if a == "artifact.pruned"]
    assert len(pruned) == 1 and pruned[0][1]["rule"] == "explicit"


def test_prune_waits_for_a_deploy_of_any_environment(fleet):
    """prune holds every environment's lock of the image: while a deploy holds one, it
    refuses (exit 1, naming the holder) and deletes nothing; a dry run still answers."""
    from releasemgr.ledger.db import Ledger
    from releasemgr.ledger.locks import env_lock
    from releasemgr.providers.local.image import image_path

    for i in range(1, 4):
        add_version(fleet, fleet.state, "web", f"q{i}")
    art = fleet.json("show", "web@v1")["artifacts"][0]["id"]
    led = Ledger.open(fleet.env["RELEASE_LEDGER"])
    try:
        with env_lock(led, fleet.state, "web", "prod", actor="bob", operation="deploy"):
            r = fleet("prune", "web", "--keep", "1")
            assert r.code == 1 and "web in prod is locked by deploy by bob" in r.err, r
            assert image_path(fleet.state, art).exists()
            assert [v["version"] for v in fleet.json("prune", "web", "--keep", "1", "--dry-run")["pruned"]] == \
                ["v2", "v1"]
            r = fleet("prune", "api", "--keep", "1")  # another image is not blocked (and does not exist)
            assert r.code == 4, r
    finally:
        led.close()
    assert [v["version"] for v in fleet.json("prune", "web", "--keep", "1")["pruned"]] == ["v2", "v1"]
    assert not image_path(fleet.state, art).exists()


def test_prune_applies_retention_from_release_toml(fleet):
    from releasemgr.providers.local.image import image_path

    (fleet.cwd / "release.toml").write_text(TOML + """
[retention]
keep = 1

[retention.prod]
keep = 5
max_age = "1y"
""")
    for i in range(1, 8):
        add_version(fleet, fleet.state, "web", f"r{i}")
    for i in (1, 2):
        fleet.ok("promote", f"web@v{i}", "--to", "prod")
    for i in (3, 4, 5):
        fleet.ok("promote", f"web@v{i}", "--to", "dev")  # dev follows [retention]: keep 1
    d = fleet.json("prune", "web")
    assert sorted(p["version"] for p in d["pruned"]) == ["v3", "v6"]
    why = {k["version"]: k["why"] for k in d["kept"]}
    assert why == {"v7": "retention never promoted: among the 1 newest", "v5": "current in dev",
                   "v4": "rollback target of dev", "v2": "current in prod", "v1": "rollback target of prod"}
    arts = {v["version"]: v["artifacts"] for v in fleet.json("versions", "web")["versions"]}
    assert arts["v3"][0].get("deleted_at") and not arts["v1"][0].get("deleted_at")
    assert not image_path(fleet.state, arts["v3"][0]["id"]).exists()
    (fleet.cwd / "release.toml").write_text(TOML + '\n[retention.qa]\nkeep = 1\n')
    r = fleet("prune", "web")
    assert r.code == 2 and "unknown environment" in r.err


def test_retire_dry_run_says_what_it_keeps_and_why(fleet):
    """`retire --keep-previous 1 --dry-run` while older sets stand by: it lists the servers it
    keeps (standing by for rollback, kept by --keep-previous), never "runs no servers"."""
    for i in (1, 2, 3):
        add_version(fleet, fleet.state, "web", f"keep v{i}")
        fleet.ok("promote", f"web@v{i}", "--to", "prod", "--deploy")  # blue-green: older sets stand by
    d = fleet.json("retire", "web", "--env", "prod", "--keep-previous", "1", "--dry-run")
    assert [s["version"] for s in d["retire"]] == ["v1"]
    assert [(s["version"], s["state"]) for s in d["kept"]] == [("v2", "standby")]
    assert d["kept"][0]["why"] == ("standing by for rollback (--keep-previous 1: v2 is the newest other "
                                   "version(s))")
    fleet.ok("retire", "web", "--env", "prod", "--keep-previous", "1")
    r = fleet.ok("retire", "web", "--env", "prod", "--keep-previous", "1", "--dry-run")
    assert "runs no servers" not in r.out
    assert r.out.startswith("nothing to retire: web in prod keeps the 1 server(s) it runs of other versions than v3")
    assert "v2" in r.out and "standby: standing by for rollback (--keep-previous 1" in r.out
    d = fleet.json("retire", "web", "--env", "prod", "--older-than", "v2", "--dry-run")
    assert d["retire"] == [] and d["kept"][0]["why"] == "standing by for rollback (not older than --older-than v2)"
    assert versions_running(fleet) == ["v2", "v3"]
