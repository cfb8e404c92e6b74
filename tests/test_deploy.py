"""Deploying real local servers as a user types it: rolling, blue-green, instant rollback,
unhealthy versions, drift, concurrent deploys. Real processes and real HTTP throughout."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from conftest import audit_events
from local_images import add_version, alive, cleanup, get, make_image, running_servers

TOML = """
[[environments]]
name = "dev"

[[environments]]
name = "prod"

[deploy.prod]
count = 3
strategy = "rolling"
batch_size = 1
route_hook = "echo \\"$RELEASE_VERSION $RELEASE_ADDRESSES\\" >> hook.log"
"""


@pytest.fixture
def fleet_toml():
    return TOML


def serving(cli, env="prod"):
    """What the route lists, asked over HTTP: sorted answers."""
    route = json.loads((cli.state / "routes" / f"web@{env}.json").read_text())
    return sorted(get(s["address"])[1] for s in route["servers"])


def test_rolling_deploy_replaces_servers_and_keeps_capacity(fleet):
    v1 = add_version(fleet, fleet.state, "web", "hello v1")
    v2 = add_version(fleet, fleet.state, "web", "hello v2")
    assert (v1, v2) == ("v1", "v2")
    fleet.ok("promote", "web@v1", "--to", "prod")
    d = fleet.json("deploy", "web", "--env", "prod")
    assert d["status"] == "succeeded" and d["version"] == "v1" and len(d["launched"]) == 3
    assert serving(fleet) == ["hello v1"] * 3

    servers = fleet.json("servers", "web", "--env", "prod")["servers"]
    assert len(servers) == 3
    for srv in servers:
        assert set(srv) >= {"id", "image", "version", "env", "address", "state", "pid", "launched_at"}
        assert (srv["image"], srv["version"], srv["env"], srv["state"]) == ("web", "v1", "prod", "healthy")
        assert srv["id"].startswith("web-prod-") and srv["address"].startswith("127.0.0.1:")
        root = Path(os.readlink(f"/proc/{srv['pid']}/cwd"))  # the image, unpacked once for all its servers
        assert root.parent == (fleet.state / "images" / "unpacked").resolve()
        assert (root / "version.txt").read_text() == "hello v1"
        assert not os.access(root / "version.txt", os.W_OK) or os.geteuid() == 0
        assert not (os.stat(root / "version.txt").st_mode & 0o222)  # read-only copy of the image
        assert (fleet.state / "servers" / srv["id"] / "server.log").exists()
    old_pids = [s["pid"] for s in servers]

    fleet.ok("promote", "web@v2", "--to", "prod")
    r = fleet("deploy", "web", "--env", "prod", "--batch-size", "2")
    assert r.code == 0, r
    assert "batch 1: starting 2 v2 server(s)" in r.err  # progress lines
    assert serving(fleet) == ["hello v2"] * 3
    assert not any(alive(p) for p in old_pids)  # replaced, not changed
    # the route never had fewer than count - max_unavailable (= 3) servers
    lines = (fleet.cwd / "hook.log").read_text().splitlines()
    counts = [len(line.split()) - 1 for line in lines if line.startswith("v2 ")]
    assert len(counts) >= 2 and min(counts) >= 3 and counts[-1] == 3, lines
    assert lines[-1].startswith("v2 ")
    after = fleet.json("servers", "web", "--env", "prod", "--all")["servers"]
    assert sorted(s["state"] for s in after) == ["healthy"] * 3 + ["retired"] * 3
    for s in after:
        if s["state"] == "retired":
            assert not (fleet.state / "servers" / s["id"]).exists()  # retire moves the server's folder ...
            kept = fleet.state / "retired-servers" / s["id"]  # ... and keeps the log and record aside
            assert (kept / "server.log").exists()
            assert json.loads((kept / "server.json").read_text())["retired"] is True
    assert sorted(p.name for p in (fleet.state / "servers").iterdir()) == sorted(
        s["id"] for s in after if s["state"] == "healthy")  # only what runs
    # two versions ran: two unpacked copies, whatever the number of servers
    assert len(list((fleet.state / "images" / "unpacked").iterdir())) == 2
    actions = [a for a, _ in audit_events(fleet)]
    for needed in ("deployment.started", "deployment.finished", "server.launched", "server.retired",
                   "route.switched"):
        assert needed in actions
    # a deploy of what already runs changes nothing
    d = fleet.json("deploy", "web", "--env", "prod")
    assert d["launched"] == [] and d["retired"] == []


def test_blue_green_and_instant_rollback(fleet):
    (fleet.cwd / "release.toml").write_text(TOML.replace("count = 3", "count = 2").replace('"rolling"', '"blue-green"'))
    add_version(fleet, fleet.state, "web", "blue v1")
    add_version(fleet, fleet.state, "web", "green v2")
    fleet.ok("promote", "web@v1", "--to", "prod")
    fleet.ok("deploy", "web", "--env", "prod")
    assert serving(fleet) == ["blue v1"] * 2

    d = fleet.json("promote", "web@v2", "--to", "prod", "--deploy")["deployment"]
    assert d["strategy"] == "blue-green"  # from [deploy.prod]
    assert len(d["launched"]) == 2 and len(d["standby"]) == 2 and d["retired"] == []
    assert serving(fleet) == ["green v2"] * 2
    standby = [s for s in fleet.json("servers", "web", "--env", "prod")["servers"] if s["state"] == "standby"]
    assert len(standby) == 2 and all(get(s["address"])[1] == "blue v1" for s in standby)  # still running

    # with the blue set alive, a rollback --deploy only switches the route
    t0 = time.monotonic()
    d = fleet.json("rollback", "web", "--env", "prod", "--deploy")
    took = time.monotonic() - t0
    dep = d["deployment"]
    assert d["version"] == "v1" and dep["instant"] is True and dep["launched"] == []
    assert serving(fleet) == ["blue v1"] * 2
    assert took < 10, took  # it starts nothing (bench/bench_deploy.py measures it properly)
    assert any(a == "route.switched" for a, _ in audit_events(fleet))

    # and forward again: the green set is standing by now
    d = fleet.json("promote", "web@v2", "--to", "prod", "--deploy", "--reason", "fixed")
    assert d["deployment"]["launched"] == [] and serving(fleet) == ["green v2"] * 2

    # retire stops the standby v1 set, keeps v2, removes the copies
    r = fleet.json("retire", "web", "--env", "prod", "--dry-run")
    assert len(r["retire"]) == 2 and r["retired"] == []
    r = fleet.json("retire", "web", "--env", "prod")
    assert len(r["retired"]) == 2
    left = fleet.json("servers", "web", "--env", "prod")["servers"]
    assert [s["version"] for s in left] == ["v2", "v2"]
    assert serving(fleet) == ["green v2"] * 2
    assert len(running_servers(fleet.state)) == 2


def test_blue_green_retire_old_flag(fleet):
    add_version(fleet, fleet.state, "web", "a1")
    add_version(fleet, fleet.state, "web", "a2")
    fleet.ok("promote", "web@v1", "--to", "prod")
    fleet.ok("deploy", "web", "--env", "prod", "--count", "1")
    fleet.ok("promote", "web@v2", "--to", "prod")
    d = fleet.json("deploy", "web", "--env", "prod", "--count", "1", "--strategy", "blue-green", "--retire-old")
    assert len(d["retired"]) == 1 and d["standby"] == []
    assert len(running_servers(fleet.state)) == 1


@pytest.mark.parametrize("mode", ["500", "exit"])
def test_unhealthy_version_leaves_old_servers_serving(fleet, mode):
    add_version(fleet, fleet.state, "web", "good v1")
    add_version(fleet, fleet.state, "web", "bad v2", mode=mode)
    fleet.ok("promote", "web@v1", "--to", "prod")
    fleet.ok("deploy", "web", "--env", "prod", "--count", "2")
    before = {s["id"] for s in fleet.json("servers", "web", "--env", "prod")["servers"]}
    fleet.ok("promote", "web@v2", "--to", "prod")
    t0 = time.monotonic()
    r = fleet("deploy", "web", "--env", "prod", "--count", "2", "--health-timeout", "2s")
    assert r.code == 1, r
    assert "did not become healthy" in r.err and "Traceback" not in r.err
    assert time.monotonic() - t0 < 30
    # gave up after --health-timeout (2 s), not the image's 10 s; an exiting server at once
    assert ("not healthy after 2s" if mode == "500" else "process exited") in r.err
    assert serving(fleet) == ["good v1"] * 2
    now = fleet.json("servers", "web", "--env", "prod")["servers"]
    assert {s["id"] for s in now} == before  # nothing of v2 left
    assert len(running_servers(fleet.state)) == 2
    failed = [d for a, d in audit_events(fleet) if a == "deployment.failed"]
    assert len(failed) == 1 and failed[0]["launched"] >= 1
    j = fleet("deploy", "web", "--env", "prod", "--count", "2", "--health-timeout", "1", "--json")
    assert j.code == 1 and j.json["deployment"]["status"] == "failed"


def test_failed_rolling_deploy_with_max_unavailable_restores_old_servers(fleet):
    add_version(fleet, fleet.state, "web", "good v1")
    add_version(fleet, fleet.state, "web", "bad v2", mode="500")
    fleet.ok("promote", "web@v1", "--to", "prod")
    fleet.ok("deploy", "web", "--env", "prod", "--count", "2")
    fleet.ok("promote", "web@v2", "--to", "prod")
    r = fleet("deploy", "web", "--env", "prod", "--count", "2", "--max-unavailable", "1",
              "--health-timeout", "1.5", "--json")
    assert r.code == 1
    dep = r.json["deployment"]
    assert len(dep["restored"]) == 1  # it stopped one v1 server first, so it started one again
    assert serving(fleet) == ["good v1"] * 2
    assert "deployment.rolled_back" in [a for a, _ in audit_events(fleet)]
    assert len(running_servers(fleet.state)) == 2


def test_drift_dead_and_unrecorded_servers_and_deploy_heals(fleet):
    add_version(fleet, fleet.state, "web", "v1 text")
    fleet.ok("promote", "web@v1", "--to", "prod")
    fleet.ok("deploy", "web", "--env", "prod", "--count", "2")
    r = fleet("status", "--check")
    assert r.code == 0 and "no drift" in r.out
    victim = fleet.json("servers", "web", "--env", "prod")["servers"][0]
    os.kill(victim["pid"], signal.SIGKILL)
    for _ in range(100):
        if not alive(victim["pid"]):
            break
        time.sleep(0.02)
    # a server nobody recorded: started by the fleet but never written to the ledger
    from releasemgr.providers.local.fleet import LocalFleet

    art = make_image(fleet.state, "v1 text")
    stray = LocalFleet(fleet.state).launch({"provider": "local", "region": "", "id": art},
                                           server_id="web-prod-stray001", image="web", version="v1", env="prod")
    r = fleet("status", "--check", "--json")
    assert r.code == 1
    kinds = sorted((d["kind"], d["server"]) for d in json.loads(r.out)["drift"])
    assert kinds == [("dead", victim["id"]), ("unrecorded", "web-prod-stray001")]
    text = fleet("status", "--check")
    assert text.code == 1 and "drift: dead" in text.out and "unrecorded" in text.out

    d = fleet.json("deploy", "web", "--env", "prod", "--count", "2")
    assert set(d["healed"]) == {victim["id"], "web-prod-stray001"}
    assert len(d["launched"]) == 1 and serving(fleet) == ["v1 text"] * 2
    assert not alive(stray.extra["pid"])
    assert fleet("status", "--check").code == 0
    # a server in the route that fails its health check is drift too
    toml = (fleet.cwd / "release.toml").read_text()
    (fleet.cwd / "release.toml").write_text(toml + 'health_check = { type = "http", body_contains = "nope" }\n')
    r = fleet("status", "--check", "--json")
    assert r.code == 1 and {d["kind"] for d in json.loads(r.out)["drift"]} == {"unhealthy"}
    assert {s["health"] for s in json.loads(r.out)["servers"]} == {"unhealthy"}
    (fleet.cwd / "release.toml").write_text(toml)
    # a server of a version the environment no longer points at is drift too
    add_version(fleet, fleet.state, "web", "v2 text")
    fleet.ok("promote", "web@v2", "--to", "prod")
    r = fleet("status", "web", "--env", "prod", "--check", "--json")
    # ... and the new pointer has no servers where [deploy.prod] expects them
    assert r.code == 1 and {d["kind"] for d in json.loads(r.out)["drift"]} == {"stale_version", "no_servers"}
    no_servers = [d for d in json.loads(r.out)["drift"] if d["kind"] == "no_servers"]
    assert [(d["image"], d["env"], d["version"]) for d in no_servers] == [("web", "prod", "v2")]
    assert "drift: no_servers: web@v2 in prod: prod points at v2 but no server of it runs" in \
        fleet("status", "--check").out


def test_pid_reuse_is_never_taken_for_our_server(fleet, tmp_path):
    import subprocess

    from releasemgr.providers.base import LaunchedServer
    from releasemgr.providers.local.fleet import LocalFleet, process_start_time

    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True)
    try:
        real = process_start_time(other.pid)
        assert real is not None
        impostor = LaunchedServer("web-prod-old", "local", "", None,
                                  {"pid": other.pid, "start_time": real - 1, "stop_timeout": "1s"})
        f = LocalFleet(fleet.state)
        assert f.describe([impostor])["web-prod-old"].alive is False
        f.terminate([impostor], grace=0.2)
        assert other.poll() is None  # a recycled pid is not ours: it was not signalled
        ours = LaunchedServer("x", "local", "", None, {"pid": other.pid, "start_time": real, "stop_timeout": "1s"})
        assert f.describe([ours])["x"].alive is True
        f.terminate([ours], grace=1)
        assert other.wait(timeout=5) is not None
    finally:
        if other.poll() is None:
            other.kill()


def test_health_checks_http_tcp_command(fleet):
    from releasemgr.providers.base import HealthCheck
    from releasemgr.providers.local.fleet import LocalFleet

    art = make_image(fleet.state, "check me")
    f = LocalFleet(fleet.state)
    srv = f.launch({"provider": "local", "region": "", "id": art}, server_id="web-dev-hc1", image="web",
                   version="v1", env="dev")
    from releasemgr.release.servers import wait_healthy

    ok, bad = wait_healthy(f, [srv], HealthCheck(type="http", body_contains="check me", timeout=5), 5)
    assert ok == [srv.id] and bad == {}
    assert f.health_detail(srv, HealthCheck(type="http", body_contains="nope"), 2) == \
        (False, "GET /: body does not contain 'nope'")
    assert f.health_detail(srv, HealthCheck(type="http", expected_status=204), 2)[1].endswith("expected 204")
    assert f.check_health(srv, HealthCheck(type="tcp"), 2)
    assert f.check_health(srv, HealthCheck(type="command", command=["test", "-f", "version.txt"]), 2)
    assert not f.check_health(srv, HealthCheck(type="command", command=["sh", "-c", "exit 3"]), 2)
    f.terminate([srv], grace=2)
    assert not f.check_health(srv, HealthCheck(type="tcp"), 1)
    assert f.health_detail(srv, HealthCheck(type="tcp"), 1) == (False, "process exited")


def test_port_arg_and_health_check_from_config(fleet):
    (fleet.cwd / "release.toml").write_text(TOML + """
[deploy.dev]
count = 1
health_check = { type = "tcp", timeout = "5s" }
""")
    add_version(fleet, fleet.state, "web", "by arg", port_arg=True, health={"type": "http", "path": "/missing",
                                                                             "expected_status": 404})
    fleet.ok("promote", "web@v1", "--to", "dev")
    d = fleet.json("deploy", "web", "--env", "dev")  # the config's tcp check wins over the image's
    assert d["status"] == "succeeded"
    assert serving(fleet, "dev") == ["by arg"]


def test_concurrent_deploys_of_one_environment_are_serialised(fleet):
    import fcntl

    add_version(fleet, fleet.state, "web", "slow v1", mode="slow:1.5")
    fleet.ok("promote", "web@v1", "--to", "prod")
    first = fleet.proc("deploy", "web", "--env", "prod", "--count", "1")
    lock = fleet.state / "locks" / "web@prod.lock"
    deadline = time.monotonic() + 90  # a loaded machine starts python slowly
    while not (lock.exists() and lock.read_text()) and time.monotonic() < deadline:
        time.sleep(0.02)
    r = fleet("deploy", "web", "--env", "prod", "--count", "1")
    assert r.code == 1, r
    assert "web in prod is locked by deploy by alice" in r.err and "--lock-timeout" in r.err
    out1, err1 = first.communicate(timeout=60)
    assert first.returncode == 0, err1
    assert len(fleet.json("servers", "web", "--env", "prod")["servers"]) == 1

    # someone else holds the lock: a rollback --deploy refuses and does not move the pointer;
    # a deploy with --lock-timeout waits and then runs
    add_version(fleet, fleet.state, "web", "v2 text")
    fleet.ok("promote", "web@v2", "--to", "prod")
    with open(lock, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.write(json.dumps({"operation": "retire", "actor": "bob", "pid": 1, "host": "h", "since": "now"}))
        fh.flush()
        r = fleet("rollback", "web", "--env", "prod", "--deploy")
        assert r.code == 1 and "locked by retire by bob" in r.err, r
        assert fleet.json("status", "web", "--env", "prod")["channels"][0]["version"] == "v2"
        waiter = fleet.proc("deploy", "web", "--env", "prod", "--count", "1", "--lock-timeout", "60")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # until the waiter has the lock file open (it is waiting for it)
            try:
                fds = [os.readlink(f"/proc/{waiter.pid}/fd/{n}") for n in os.listdir(f"/proc/{waiter.pid}/fd")]
            except OSError:
                fds = []
            if str(lock) in fds:
                break
            time.sleep(0.02)
        time.sleep(0.3)
        assert waiter.poll() is None
        fh.truncate(0)
        fcntl.flock(fh, fcntl.LOCK_UN)
    out2, err2 = waiter.communicate(timeout=60)
    assert waiter.returncode == 0, err2
    assert "waiting for the lock of web in prod, held by retire by bob" in err2
    assert [s["version"] for s in fleet.json("servers", "web", "--env", "prod")["servers"]] == ["v2"]


def test_bad_input_is_one_clear_message(fleet):
    add_version(fleet, fleet.state, "web", "x")
    r = fleet("deploy", "web", "--env", "qa")
    assert r.code == 4 and "unknown environment" in r.err
    r = fleet("deploy", "web", "--env", "prod")
    assert r.code == 4 and "no current version in prod" in r.err
    r = fleet("deploy", "web", "--env", "prod", "--version", "v1", "--health-timeout", "soon")
    assert r.code == 2 and "--health-timeout" in r.err
    r = fleet("deploy", "web", "--env", "prod", "--version", "v1", "--strategy", "canary")
    assert r.code == 2
    r = fleet("deploy", "nope", "--env", "prod")
    assert r.code == 4
    fleet.ok("revoke", "web@v1", "--reason", "broken")
    r = fleet("deploy", "web", "--env", "prod", "--version", "v1")
    assert r.code == 3 and "revoked" in r.err
    assert "Traceback" not in r.err
    assert running_servers(fleet.state) == []


def test_dry_run_changes_nothing(fleet):
    add_version(fleet, fleet.state, "web", "x1")
    fleet.ok("promote", "web@v1", "--to", "prod")
    d = fleet.json("deploy", "web", "--env", "prod", "--dry-run")
    assert d["dry_run"] and d["would_launch"] == 3
    assert running_servers(fleet.state) == []
    assert fleet.json("servers", "web", "--env", "prod")["servers"] == []


def test_deploy_help_has_example():
    from releasemgr.cli import main

    for name in ("deploy", "servers", "retire", "prune"):
        import contextlib
        import io

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main([name, "--help"]) == 0
        assert "Example:" in out.getvalue(), name


@pytest.mark.postgres
def test_environment_lock_on_postgresql_names_the_holder(pg_url, tmp_path):
    from releasemgr.ledger.db import Ledger
    from releasemgr.ledger.locks import LockTimeout, env_lock, lock_key

    assert lock_key("web", "prod") == lock_key("web", "prod") != lock_key("web", "dev")
    a, b = Ledger.open(pg_url, create=True), Ledger.open(pg_url)
    try:
        assert not a.is_sqlite
        with env_lock(a, tmp_path, "web", "prod", actor="alice", operation="deploy"):
            t0 = time.monotonic()
            with pytest.raises(LockTimeout) as exc:
                with env_lock(b, tmp_path, "web", "prod", actor="bob", operation="rollback", timeout=0.3):
                    pass
            assert time.monotonic() - t0 >= 0.3
            assert "web in prod is locked by release deploy by alice" in exc.value.message
            assert exc.value.status == 1
            with env_lock(b, tmp_path, "web", "dev", actor="bob", operation="deploy"):
                pass  # another environment is not blocked
        with env_lock(b, tmp_path, "web", "prod", actor="bob", operation="rollback"):
            pass  # released when the holder left
    finally:
        a.close()
        b.close()


def test_sigterm_during_deploy_removes_what_it_started(fleet):
    add_version(fleet, fleet.state, "web", "never listens", mode="hang")
    fleet.ok("promote", "web@v1", "--to", "prod")
    p = fleet.proc("deploy", "web", "--env", "prod", "--count", "2", "--batch-size", "2", "--health-timeout", "120")
    deadline = time.monotonic() + 60
    while len(running_servers(fleet.state)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    if len(running_servers(fleet.state)) < 2:
        p.kill()
        pytest.fail(f"the deploy did not start its servers: {p.communicate()}")
    time.sleep(0.3)  # let it record them
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 143 and "Interrupted (SIGTERM)." in err, (p.returncode, err)  # as shells expect
    assert "Traceback" not in err
    assert running_servers(fleet.state) == []
    assert fleet.json("servers", "web", "--env", "prod")["servers"] == []
    failed = [d for a, d in audit_events(fleet) if a == "deployment.failed"]
    assert len(failed) == 1 and "interrupted" in failed[0]["error"]


def test_auto_deploy_environment_moves_servers_on_promote(fleet):
    (fleet.cwd / "release.toml").write_text(TOML.replace('name = "dev"', 'name = "dev"\nauto_deploy = true') + """
[deploy.dev]
count = 1
""")
    add_version(fleet, fleet.state, "web", "auto v1")
    d = fleet.json("promote", "web@v1", "--to", "dev")  # no --deploy: the environment says so
    assert d["deployment"]["status"] == "succeeded" and len(d["deployment"]["launched"]) == 1
    assert serving(fleet, "dev") == ["auto v1"]
    fleet.ok("promote", "web@v1", "--to", "prod")  # prod does not auto-deploy
    assert fleet.json("servers", "web", "--env", "prod")["servers"] == []


def test_rollback_without_the_previous_set_starts_it_again(fleet):
    (fleet.cwd / "release.toml").write_text(TOML.replace("count = 3", "count = 1").replace('"rolling"', '"blue-green"'))
    add_version(fleet, fleet.state, "web", "again v1")
    add_version(fleet, fleet.state, "web", "again v2")
    fleet.ok("promote", "web@v1", "--to", "prod", "--deploy")
    fleet.ok("promote", "web@v2", "--to", "prod", "--deploy")
    fleet.ok("retire", "web", "--env", "prod")  # v1's standby set is gone
    d = fleet.json("rollback", "web", "--env", "prod", "--deploy")["deployment"]
    assert d["instant"] is False and len(d["launched"]) == 1 and len(d["standby"]) == 1
    assert serving(fleet) == ["again v1"]


def test_route_hook_failure_is_reported_and_routes_change_only_when_servers_do(tmp_path):
    from releasemgr.config import load_config
    from releasemgr.release import routes

    (tmp_path / "release.toml").write_text(TOML + '\n[routes]\nhook = "echo $RELEASE_ADDRESSES >> all.log; exit 7"\n')
    cfg = load_config(None, state_dir=str(tmp_path / "state"), cwd=str(tmp_path))
    servers = [{"id": "b", "address": "127.0.0.1:2", "version": "v1"}, {"id": "a", "address": "127.0.0.1:1",
                                                                        "version": "v1"}]
    ch = routes.publish(cfg.state_dir, cfg, "web", "dev", servers, version="v1")  # dev: the [routes] hook
    assert ch.changed and not ch.hook_ok and "route hook exited 7" in ch.warnings[0]
    assert (tmp_path / "all.log").read_text() == "127.0.0.1:1 127.0.0.1:2\n"
    doc = routes.read_route(cfg.state_dir, "web", "dev")
    assert [s["id"] for s in doc["servers"]] == ["a", "b"] and doc["version"] == "v1"
    assert not routes.publish(cfg.state_dir, cfg, "web", "dev", list(reversed(servers)), version="v1").changed
    assert routes.hook_command(cfg, "prod").startswith("echo \"$RELEASE_VERSION")  # [deploy.prod] wins
    assert not list((tmp_path / "state" / "routes").glob(".*.tmp"))


def test_deploy_and_instant_rollback_on_both_ledgers(cli, tmp_path):
    """The same user session on SQLite and PostgreSQL (the lock is then a pg advisory lock)."""
    (tmp_path / "release.toml").write_text(TOML.replace("count = 3", "count = 1").replace('"rolling"', '"blue-green"'))
    state = tmp_path / "state"
    try:
        add_version(cli, state, "web", "both v1")
        add_version(cli, state, "web", "both v2")
        cli.ok("promote", "web@v1", "--to", "prod", "--deploy")
        cli.ok("promote", "web@v2", "--to", "prod", "--deploy")
        d = cli.json("rollback", "web", "--env", "prod", "--deploy")["deployment"]
        assert d["instant"] and d["launched"] == []
        route = json.loads((state / "routes" / "web@prod.json").read_text())
        assert [get(s["address"])[1] for s in route["servers"]] == ["both v1"]
        assert cli("status", "--check").code == 0
        assert len(cli.json("retire", "web", "--env", "prod")["retired"]) == 1
    finally:
        cleanup(tmp_path)


def test_without_a_setting_deploy_keeps_the_last_strategy(fleet):
    (fleet.cwd / "release.toml").write_text(TOML.replace('strategy = "rolling"\n', ""))
    add_version(fleet, fleet.state, "web", "k1")
    add_version(fleet, fleet.state, "web", "k2")
    fleet.ok("promote", "web@v1", "--to", "prod")
    fleet.ok("deploy", "web", "--env", "prod", "--count", "1", "--strategy", "blue-green")
    fleet.ok("promote", "web@v2", "--to", "prod")
    d = fleet.json("deploy", "web", "--env", "prod", "--count", "1")
    assert d["strategy"] == "blue-green" and len(d["standby"]) == 1


def test_override_of_a_freeze_covers_the_deploy_of_that_promote(tmp_path):
    """An audited override of the move lets its own deploy through the freeze window."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from conftest import Cli
    from local_images import add_version, kill_all_under

    now = datetime.now(ZoneInfo("UTC"))
    start, end = now - timedelta(hours=1), now + timedelta(hours=1)
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    window = f"{days[start.weekday()]} {start:%H:%M} - {days[end.weekday()]} {end:%H:%M} UTC"
    (tmp_path / "release.toml").write_text(f'[[environments]]\nname = "prod"\nfreeze = ["{window}"]\n')
    state = tmp_path / "state"
    cli = Cli(tmp_path, {"RELEASE_STATE": str(state), "RELEASE_LEDGER": f"sqlite:///{state / 'ledger.db'}",
                         "RELEASE_ACTOR": "alice", "NO_COLOR": "1"})
    add_version(cli, state, "web", "v1 says hi")
    try:
        r = cli("promote", "web@v1", "--to", "prod", "--deploy")
        assert r.code == 3 and "frozen" in r.err
        d = cli.json("promote", "web@v1", "--to", "prod", "--deploy", "--override", "--reason", "INC-9 hotfix")
        assert d["override"] == ["freeze"] and d["deployment"]["status"] == "succeeded"
        r = cli("deploy", "web", "--env", "prod")  # a plain deploy is still refused
        assert r.code == 3 and "frozen" in r.err
    finally:
        kill_all_under(tmp_path)
