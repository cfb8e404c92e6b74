"""Deploy planning and the strategies (release/deploy/strategies.py) on a FakeFleet and a temporary
ledger: which servers are reused, kept or stopped, batch by batch, and what a failure undoes.
No process: a deploy of 6 servers takes milliseconds.

Real-process counterparts: tests/test_deploy.py (test_rolling_deploy_replaces_servers_and_keeps_capacity,
test_blue_green_and_instant_rollback, test_blue_green_retire_old_flag,
test_unhealthy_version_leaves_old_servers_serving,
test_failed_rolling_deploy_with_max_unavailable_restores_old_servers,
test_drift_dead_and_unrecorded_servers_and_deploy_heals, test_dry_run_changes_nothing)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from releasemgr.release.deploy.strategies import DeployFailed
from releasemgr.release.deploy.strategies import plan


def _toml_value(v) -> str:
    return str(v).lower() if isinstance(v, bool) else f'"{v}"' if isinstance(v, str) else str(v)


def toml(**prod) -> str:
    settings = "\n".join(f"{k} = {_toml_value(v)}" for k, v in prod.items())
    return f"""
[[environments]]
name = "prod"

[deploy.prod]
provider = "fake"
health_timeout = 0.3
{settings}
"""


@pytest.fixture
def prod(domain, fake_fleet):
    """web v1..v3 registered; v1 promoted to prod. `prod.fleet` is the FakeFleet."""
    domain.configure(toml(count=3, strategy="rolling", batch_size=1))
    domain.register("web", 3)
    domain.promote("web@v1", "prod")
    domain.fleet = fake_fleet
    return domain


def first_deploy(prod, **kw):
    d = prod.deploy(**kw)
    assert d["status"] == "succeeded" and len(prod.fleet.running("v1")) == d["count"]
    prod.fleet.forget()
    return d


# -- the planner, on plain rows ------------------------------------------------------------------

def row(id, version_id, state, launched_at="2026-01-01T00:00:00Z"):
    return SimpleNamespace(id=id, version_id=version_id, state=state, launched_at=launched_at)


def test_plan_splits_reusable_servers_from_old_ones():
    rows = [row("a", 1, "healthy"), row("b", 2, "standby", "2026-01-01T00:00:01Z"), row("c", 2, "healthy"),
            row("d", 2, "pending"), row("e", 1, "standby"), row("f", 1, "unhealthy")]
    mine, old_route, old_standby = plan(rows, 2, count=2)
    assert [r.id for r in mine] == ["c", "b", "d"]  # healthy first, then standby, then the rest
    assert [r.id for r in old_route] == ["a", "f"]
    assert [r.id for r in old_standby] == ["e"]


# -- rolling ---------------------------------------------------------------------------------------

def batches(messages: list[str]) -> list[str]:
    """The batch lines of a deploy's progress: "batch 1: starting 2 v2 server(s) (2/4)"."""
    return [m for m in messages if m.startswith("batch ")]


def stops_never_outrun_starts(actions: list[str], allowed: int) -> bool:
    """At every point at most `allowed` more old servers stopped than new ones started. (A
    batch's old servers stop in the background while the next batch starts, so the exact
    interleaving varies; this is what must hold whatever it is.)"""
    started = stopped = 0
    for a in actions:
        started += a.startswith("launch")
        stopped += a.startswith("terminate")
        if stopped - started > allowed:
            return False
    return True


def test_rolling_starts_each_batch_before_stopping_old_servers(prod):
    first_deploy(prod)
    prod.promote("web@v2", "prod")
    messages = []
    d = prod.deploy(progress=lambda text, **_row: messages.append(text))
    assert d["status"] == "succeeded" and len(d["launched"]) == 3 and len(d["retired"]) == 3
    assert len(batches(messages)) == 3 and all("starting 1 v2" in m for m in batches(messages))
    assert sorted(prod.fleet.actions()) == ["launch v2"] * 3 + ["terminate v1"] * 3
    assert prod.fleet.actions()[0] == "launch v2" and stops_never_outrun_starts(prod.fleet.actions(), 0)
    assert prod.fleet.fewest_running() == 3  # max_unavailable = 0: never below count
    assert prod.fleet.running() == prod.fleet.running("v2") and len(d["route"]) == 3


def test_rolling_batch_size_and_max_unavailable(prod):
    prod.configure(toml(count=4, strategy="rolling", batch_size=2, max_unavailable=1))
    first_deploy(prod)
    prod.promote("web@v2", "prod")
    messages = []
    prod.deploy(progress=lambda text, **_row: messages.append(text))
    assert [m.split(":")[1].strip() for m in batches(messages)] == ["starting 2 v2 server(s) (2/4)",
                                                                   "starting 2 v2 server(s) (4/4)"]
    # each batch stops one old server before it starts (max_unavailable), the other one after
    assert prod.fleet.actions()[:3] == ["terminate v1", "launch v2", "launch v2"]
    assert stops_never_outrun_starts(prod.fleet.actions(), 1) and prod.fleet.fewest_running() == 3
    assert sorted(prod.fleet.actions()) == ["launch v2"] * 4 + ["terminate v1"] * 4


def test_flags_override_the_batch_size(prod):
    first_deploy(prod)
    prod.promote("web@v2", "prod")
    messages = []
    prod.deploy(batch_size=3, progress=lambda text, **_row: messages.append(text))
    assert batches(messages) == ["batch 1: starting 3 v2 server(s)"]
    assert prod.fleet.actions() == ["launch v2"] * 3 + ["terminate v1"] * 3


def test_a_failed_rolling_deploy_removes_its_servers_and_restores_what_it_stopped(prod):
    prod.configure(toml(count=3, strategy="rolling", batch_size=1, max_unavailable=1))
    first_deploy(prod)
    prod.fleet.unhealthy.add("v2")
    prod.promote("web@v2", "prod")
    with pytest.raises(DeployFailed) as info:
        prod.deploy()
    result = info.value.details["deployment"]
    assert result["status"] == "failed" and len(result["restored"]) == 1
    assert prod.fleet.running("v2") == [] and len(prod.fleet.running("v1")) == 3
    failed = [d for action, d in prod.audit() if action == "deployment.failed"]
    assert len(failed) == 1 and failed[0]["error"].endswith(": unhealthy")  # which server, and why


def test_a_version_that_cannot_start_changes_nothing(prod):
    first_deploy(prod)
    prod.fleet.fail_launch.add("v2")
    prod.promote("web@v2", "prod")
    with pytest.raises(DeployFailed, match="scripted failure"):
        prod.deploy()
    assert prod.fleet.actions() == [] and len(prod.fleet.running("v1")) == 3


# -- blue-green ------------------------------------------------------------------------------------

def test_blue_green_starts_the_whole_set_and_keeps_the_old_one_standing_by(prod):
    prod.configure(toml(count=3, strategy="blue-green"))
    first_deploy(prod)
    prod.promote("web@v2", "prod")
    d = prod.deploy()
    assert prod.fleet.actions() == ["launch v2"] * 3 and len(d["standby"]) == 3 and d["retired"] == []
    # rollback: the standing-by set takes the route again, nothing starts
    prod.rollback("web", "prod")
    prod.fleet.forget()
    back = prod.deploy()
    assert back["instant"] is True and back["launched"] == [] and prod.fleet.actions() == []
    assert sorted(s["version"] for s in back["servers"] if s["state"] == "healthy") == ["v1"] * 3


def test_blue_green_retire_old_stops_the_old_set_after_the_switch(prod):
    prod.configure(toml(count=2, strategy="blue-green", retire_old=True))
    first_deploy(prod)
    prod.promote("web@v2", "prod")
    prod.deploy()
    assert prod.fleet.actions() == ["launch v2"] * 2 + ["terminate v1"] * 2


def test_an_unhealthy_blue_green_set_leaves_the_old_one_serving(prod):
    prod.configure(toml(count=2, strategy="blue-green"))
    first_deploy(prod)
    prod.fleet.unhealthy.add("v2")
    prod.promote("web@v2", "prod")
    with pytest.raises(DeployFailed):
        prod.deploy()
    assert prod.fleet.actions() == ["launch v2"] * 2 + ["terminate v2"] * 2
    assert len(prod.fleet.running("v1")) == 2


# -- what the ledger and the fleet disagree about ----------------------------------------------------

def test_a_deploy_replaces_dead_servers_and_stops_unrecorded_ones(prod):
    first_deploy(prod)
    dead = prod.fleet.running("v1")[0]
    prod.fleet.kill(dead)
    prod.fleet.launch({"id": "x"}, server_id="web-prod-stray", image="web", version="v1", env="prod")
    prod.fleet.forget()
    d = prod.deploy()
    assert dead in d["healed"] and "web-prod-stray" in d["healed"]
    assert prod.fleet.actions() == ["terminate v1", "launch v1"]  # the stray stops, one replaces the dead
    assert len(prod.fleet.running("v1")) == 3


def test_dry_run_plans_without_touching_the_fleet(prod):
    first_deploy(prod)
    prod.promote("web@v2", "prod")
    plan = prod.deploy(dry_run=True)
    assert plan["status"] == "planned" and plan["would_launch"] == 3 and len(plan["would_retire"]) == 3
    assert prod.fleet.actions() == []
