"""SIGINT/SIGTERM at any point of a deploy leave no server process the ledger does not know,
and a SIGKILLed deploy is marked abandoned by the next command that writes.

Real `release deploy` processes roll 10 local servers (rolling, batches of 2) to a new
version; a signal lands at a different moment of each run (start-up, launch, health checks,
route switches, old servers draining and stopping). After each, the server processes running
(found by their working folder, the image's unpacked copy) are exactly the ones the ledger
records as running, and a plain `release deploy` brings the environment to its pointer.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import time

from conftest import audit_events
from local_images import make_image, running_servers

COUNT = 10
RUNS = 12  # different moments, SIGINT and SIGTERM in turn


def recorded_pids(state) -> dict[int, tuple[str, str]]:
    """pid -> (server id, state) of every server row the ledger believes runs."""
    with sqlite3.connect(state / "ledger.db") as db:
        rows = db.execute("SELECT id, state, extra FROM server WHERE state NOT IN ('retired', 'failed')").fetchall()
    return {json.loads(extra)["pid"]: (sid, st) for sid, st, extra in rows}


def deployments_by_status(state) -> dict[str, int]:
    with sqlite3.connect(state / "ledger.db") as db:
        return dict(db.execute("SELECT status, count(*) FROM deployment GROUP BY status").fetchall())


def assert_agree(state, when: str) -> None:
    running = set(running_servers(state))
    recorded = recorded_pids(state)
    assert running == set(recorded), (when, sorted(running - set(recorded)), {
        p: recorded[p] for p in set(recorded) - running})


def register(fleet, text: str) -> str:
    artifact = make_image(fleet.state, text)
    return fleet.json("register", "web", "--artifact", f"local::{artifact}")["version"]


def test_signals_at_any_moment_of_a_deploy_leave_no_unknown_server(fleet):
    versions = [register(fleet, f"release {i}") for i in range(RUNS + 1)]
    fleet.ok("promote", f"web@{versions[0]}", "--to", "prod")
    t0 = time.monotonic()
    fleet.ok("deploy", "web", "--env", "prod", "--count", str(COUNT), "--batch-size", "2")
    # a real process pays its start-up too: spread the signals over a whole run
    span = (time.monotonic() - t0) + 0.2
    assert len(running_servers(fleet.state)) == COUNT
    outcomes = []
    for i in range(RUNS):
        target = versions[i + 1]
        fleet.ok("promote", f"web@{target}", "--to", "prod")
        sig = signal.SIGINT if i % 2 == 0 else signal.SIGTERM
        delay = 0.3 + span * i / (RUNS - 1)
        p = fleet.proc("deploy", "web", "--env", "prod", "--count", str(COUNT), "--batch-size", "2")
        time.sleep(delay)
        p.send_signal(sig)
        _out, err = p.communicate(timeout=60)
        outcomes.append((sig.name, round(delay, 2), p.returncode))
        assert p.returncode in (0, 1, 130, 143, -sig), (sig, delay, p.returncode, err)
        if p.returncode in (130, 143):
            assert "Traceback" not in err, err
        assert_agree(fleet.state, f"after {sig.name} at {delay:.2f}s")
        # the next deploy heals: the pointer's version on every live server, nothing else
        d = fleet.json("deploy", "web", "--env", "prod", "--count", str(COUNT), "--batch-size", "2")
        assert d["status"] == "succeeded"
        assert sorted({s["version"] for s in d["servers"]}) == [target], d["servers"]
        assert len(d["servers"]) == COUNT and all(s["state"] == "healthy" for s in d["servers"])
        assert_agree(fleet.state, f"after healing {sig.name} at {delay:.2f}s")
        assert deployments_by_status(fleet.state).get("running", 0) == 0
    codes = {code for *_, code in outcomes}
    assert codes & {130, 143, -2, -15}, outcomes  # the signals did land inside deploys


def test_a_sigkilled_deploy_is_abandoned_by_the_next_write_and_its_orphans_stop(fleet):
    from releasemgr.providers.local.fleet import LocalFleet

    v1 = register(fleet, "one")
    fleet.ok("promote", f"web@{v1}", "--to", "prod")
    p = fleet.proc("deploy", "web", "--env", "prod", "--count", "4", "--batch-size", "1")
    deadline = time.monotonic() + 30
    while not running_servers(fleet.state) and time.monotonic() < deadline:
        time.sleep(0.01)
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=30)
    # what a SIGKILL between a server's start and its row leaves: a process nobody recorded
    with sqlite3.connect(fleet.state / "ledger.db") as db:
        artifact = db.execute("SELECT external_id FROM artifact").fetchone()[0]
    orphan = LocalFleet(fleet.state).launch({"provider": "local", "id": artifact}, server_id="web-prod-orphan0",
                                            image="web", version=v1, env="prod")
    assert orphan.extra["pid"] in running_servers(fleet.state)
    assert deployments_by_status(fleet.state) == {"running": 1}

    # a read-only command reports it and changes nothing
    before = len(audit_events(fleet))
    r = fleet.ok("status")
    assert "is stale" in r.err and "abandoned" in r.err
    assert deployments_by_status(fleet.state) == {"running": 1} and len(audit_events(fleet)) == before
    r = fleet.ok("status", "--json")
    stale = [json.loads(line) for line in r.err.splitlines() if line.startswith("{")]
    assert stale[0]["type"] == "stale" and stale[0]["stale"][0]["kind"] == "deployment"

    # the next command that writes marks it abandoned and stops its orphan
    r = fleet.ok("promote", f"web@{v1}", "--to", "dev")
    assert "marked deployment" in r.err and "abandoned" in r.err and "stopped server web-prod-orphan0" in r.err, r.err
    assert deployments_by_status(fleet.state) == {"abandoned": 1}
    events = audit_events(fleet)
    assert [a for a, _ in events].count("deployment.abandoned") == 1
    assert orphan.extra["pid"] not in running_servers(fleet.state)
    assert_agree(fleet.state, "after the abandoned deployment's cleanup")
    # and once only: the next write finds nothing to do
    r = fleet.ok("deploy", "web", "--env", "prod", "--count", "4")
    assert "abandoned" not in r.err
    assert deployments_by_status(fleet.state) == {"abandoned": 1, "succeeded": 1}
    assert len(recorded_pids(fleet.state)) == 4
    assert_agree(fleet.state, "after the next deploy")
