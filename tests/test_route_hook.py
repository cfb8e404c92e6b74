"""A route hook that fails (a failed nginx reload) is an unhealthy batch: the deploy stops,
the route goes back to the servers still on the previous version, the servers the deploy
started are removed, and the command exits 1 with the hook's output in its message. Real
local servers, real HTTP, a real hook process."""

from __future__ import annotations

import json

import pytest

from conftest import audit_events
from local_images import add_version, get, running_servers

# the "proxy" refuses any route that names a v2 server, as nginx -t would a bad upstream
HOOK = ("if grep -q '\"version\": \"v2\"' \"$RELEASE_ROUTE_FILE\"; then "
        "echo 'nginx: [emerg] host not found in upstream \"web-v2\"' >&2; exit 5; fi")

TOML = f"""
[[environments]]
name = "dev"

[[environments]]
name = "prod"

[deploy.prod]
count = 2
strategy = "STRATEGY"
batch_size = 1
route_hook = '''{HOOK}'''
"""


@pytest.fixture
def fleet_toml(request):
    return TOML.replace("STRATEGY", getattr(request, "param", "rolling"))


def route(cli) -> list[dict]:
    return json.loads((cli.state / "routes" / "web@prod.json").read_text())["servers"]


@pytest.mark.parametrize("fleet_toml", ["rolling", "blue-green"], indirect=True)
def test_failing_route_hook_fails_the_deploy_and_routes_back_to_the_old_servers(fleet, fleet_toml):
    add_version(fleet, fleet.state, "web", "hook v1")
    add_version(fleet, fleet.state, "web", "hook v2")
    fleet.ok("promote", "web@v1", "--to", "prod", "--deploy")
    old = sorted(s["id"] for s in route(fleet))
    assert len(old) == 2
    fleet.ok("promote", "web@v2", "--to", "prod")

    r = fleet("deploy", "web", "--env", "prod", "--json")
    assert r.code == 1, r
    events = r.events
    assert [e["type"] for e in events].count("result") == 1 and events[-1]["type"] == "result"
    assert any(e["type"] == "progress" for e in events)
    res = events[-1]
    assert res["ok"] is False and res["exit_code"] == 1 and res["error"] == "deploy_failed"
    assert "route hook exited 5" in res["message"] and "nginx: [emerg] host not found" in res["message"]
    assert res["deployment"]["status"] == "failed"

    # the route is back on the v1 servers, which still answer; no v2 server runs
    assert sorted(s["id"] for s in route(fleet)) == old
    assert [get(s["address"])[1] for s in route(fleet)] == ["hook v1", "hook v1"]
    servers = fleet.json("servers", "web", "--env", "prod")["servers"]
    assert {(s["version"], s["state"]) for s in servers} == {("v1", "healthy")}
    assert len(running_servers(fleet.state)) == 2
    failed = [d for a, d in audit_events(fleet) if a == "deployment.failed"]
    assert len(failed) == 1 and "route hook exited 5" in failed[0]["error"]

    # in text the same: exit 1, the hook's output in the message
    r = fleet("deploy", "web", "--env", "prod")
    assert r.code == 1 and "could not be put in service" in r.err and "nginx: [emerg]" in r.err, r
    assert sorted(s["id"] for s in route(fleet)) == old


def test_hook_failure_without_output_says_so(tmp_path):
    from releasemgr.config import load_config
    from releasemgr.release import routes

    (tmp_path / "release.toml").write_text('[[environments]]\nname = "dev"\n\n[routes]\nhook = "exit 5"\n')
    cfg = load_config(None, state_dir=str(tmp_path / "state"), cwd=str(tmp_path))
    ch = routes.publish(cfg.state_dir, cfg, "web", "dev", [{"id": "a", "address": "127.0.0.1:1", "version": "v1"}],
                        version="v1")
    assert ch.hook_failed and ch.hook_error == "route hook exited 5: (no output)"
    ok = routes.publish(cfg.state_dir, cfg, "web", "dev", [], version="v1")
    assert ok.changed and ok.hook_failed  # exit 5 again
    assert not routes.publish(cfg.state_dir, cfg, "web", "dev", [], version="v1").hook_failed  # unchanged: no hook
