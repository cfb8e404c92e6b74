"""Nothing runs forever: a build or deployment whose process is gone is reported stale by
read-only commands and marked abandoned (audited, once) by the next command that writes,
which also removes what it left (a build's run folder, temporary files); the heartbeat
keeps runs of live processes on other hosts from being taken for dead; SIGINT/SIGTERM wait
for a `hold_signals` block to end."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import audit_events
from local_images import add_version

from releasemgr.ledger.clock import now_iso
from releasemgr.ledger.db import Ledger
from releasemgr.ledger.repo import builds, deployments, environments, images, versions
from releasemgr.release import liveness


def _dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def _iso(ago: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(seconds=ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _open(cli) -> Ledger:
    return Ledger.open(cli.env["RELEASE_LEDGER"])


def _status(cli, table: str, row_id: str) -> str:
    with sqlite3.connect(cli.state / "ledger.db") as db:
        return db.execute(f"SELECT status FROM {table} WHERE id = ?", (row_id,)).fetchone()[0]


def _add_build(led: Ledger, build_id: str, *, host: str, pid: int, at: str) -> None:
    with led.transaction() as conn:
        img = images.get(conn, "web")
        builds.start(conn, build_id, img.id, actor="bob", host=host, pid=pid, at=at, template_path="web.pkr.hcl",
                     template_digest="sha256:0", inputs={}, log_path=None)


def _add_deployment(led: Ledger, dep_id: str, *, host: str, pid: int, at: str) -> None:
    with led.transaction() as conn:
        img = images.get(conn, "web")
        v = versions.newest(conn, img.id)
        env = environments.get(conn, "prod")
        deployments.start(conn, dep_id, image_id=img.id, version_id=v.id, env_id=env.id, strategy="rolling",
                          count=1, batch_size=1, actor="bob", at=at, detail={}, host=host, pid=pid)


def test_a_dead_build_is_stale_for_readers_and_abandoned_by_the_next_write(fleet):
    add_version(fleet, fleet.state, "web", "one")
    pid = _dead_pid()
    bid = "0000aaaa-0000-4000-8000-000000000001"
    run_dir = fleet.state / "tmp" / f"run-{bid}-{pid}"
    (run_dir / "work").mkdir(parents=True)
    (run_dir / "work" / "file").write_text("left by a killed build")
    led = _open(fleet)
    try:
        _add_build(led, bid, host=socket.gethostname(), pid=pid, at=now_iso())
    finally:
        led.close()
    events = len(audit_events(fleet))

    for args in (["status"], ["show", "web@v1"], ["history", "web"]):
        r = fleet.ok(*args)
        assert f"build {bid[:8]} (web) is stale: its process {pid}" in r.err, (args, r.err)
    assert _status(fleet, "build", bid) == "running" and run_dir.is_dir()
    assert len(audit_events(fleet)) == events  # reading wrote nothing

    r = fleet("deploy", "web", "--env", "dev", "--dry-run")  # a dry run writes nothing either (whatever it says)
    assert "is stale" in r.err and _status(fleet, "build", bid) == "running" and run_dir.is_dir()
    r = fleet.ok("promote", "web@v1", "--to", "dev")
    assert f"marked build {bid[:8]} (web) abandoned: its process {pid}" in r.err
    assert f"removed its run folder {run_dir}" in r.err
    assert _status(fleet, "build", bid) == "abandoned" and not run_dir.exists()
    abandoned = [d for a, d in audit_events(fleet) if a == "build.abandoned"]
    assert len(abandoned) == 1 and abandoned[0]["build"] == bid and abandoned[0]["pid"] == pid
    # once: nothing more to say
    assert "abandoned" not in fleet.ok("promote", "web@v1", "--to", "prod").err
    assert "stale" not in fleet.ok("status").err


def test_other_hosts_runs_live_by_their_heartbeat(fleet):
    add_version(fleet, fleet.state, "web", "one")
    led = _open(fleet)
    try:
        _add_build(led, "0000aaaa-0000-4000-8000-00000000000a", host="elsewhere", pid=1, at=_iso(10))
        _add_deployment(led, "0000aaaa-0000-4000-8000-00000000000b", host="elsewhere", pid=1, at=_iso(10))
        _add_build(led, "0000aaaa-0000-4000-8000-00000000000c", host="elsewhere", pid=1, at=_iso(600))
        _add_deployment(led, "0000aaaa-0000-4000-8000-00000000000d", host="elsewhere", pid=1, at=_iso(600))
    finally:
        led.close()
    r = fleet("status", "--json")
    stale = next(json.loads(line) for line in r.err.splitlines() if line.startswith("{"))
    assert stale["type"] == "stale"
    assert sorted(s["id"][-1] for s in stale["stale"]) == ["c", "d"]
    assert all("no heartbeat from elsewhere since" in s["why"] for s in stale["stale"])

    r = fleet.ok("promote", "web@v1", "--to", "dev", "--json")
    marked = next(json.loads(line) for line in r.err.splitlines() if line.startswith('{"type": "abandoned"'))
    assert sorted(s["id"][-1] for s in marked["abandoned"]) == ["c", "d"]
    assert _status(fleet, "build", "0000aaaa-0000-4000-8000-00000000000a") == "running"
    assert _status(fleet, "deployment", "0000aaaa-0000-4000-8000-00000000000b") == "running"
    assert _status(fleet, "build", "0000aaaa-0000-4000-8000-00000000000c") == "abandoned"
    assert _status(fleet, "deployment", "0000aaaa-0000-4000-8000-00000000000d") == "abandoned"
    actions = [a for a, _ in audit_events(fleet)]
    assert actions.count("build.abandoned") == 1 and actions.count("deployment.abandoned") == 1


def test_heartbeat_refreshes_only_this_processes_runs(fleet):
    add_version(fleet, fleet.state, "web", "one")
    led = _open(fleet)
    try:
        at, old = now_iso(), _iso(3600)
        here, me = socket.gethostname(), os.getpid()
        _add_build(led, "0000aaaa-0000-4000-8000-0000000000b1", host=here, pid=me, at=at)
        _add_deployment(led, "0000aaaa-0000-4000-8000-0000000000d1", host=here, pid=me, at=at)
        _add_deployment(led, "0000aaaa-0000-4000-8000-0000000000d2", host="elsewhere", pid=me, at=at)
        _add_deployment(led, "0000aaaa-0000-4000-8000-0000000000d3", host="elsewhere", pid=me, at=old)
        time.sleep(0.01)
        assert liveness.ProcessHeartbeat(led).beat() == 2
        with led.connect() as conn:
            got = {d.id[-2:]: d.heartbeat_at for d, *_ in deployments.running(conn)}
            build = builds.get(conn, "0000aaaa-0000-4000-8000-0000000000b1")
            stale = liveness.find_stale(conn)
        assert got["d1"] > at and got["d2"] == at and got["d3"] == old and build.heartbeat_at > at
        # this process runs: its own rows are not stale; of the other host's, the silent one is
        assert [s.id[-2:] for s in stale] == ["d3"]
    finally:
        led.close()


def test_a_reused_pid_does_not_keep_a_dead_run_alive():
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.1)
        here = socket.gethostname()
        assert liveness.why_gone(here, sleeper.pid, _iso(-5), None) is None  # started before the row: ours
        why = liveness.why_gone(here, sleeper.pid, _iso(3600), None)  # the row is older than the process
        assert why == f"its process {sleeper.pid} on {here} is gone"
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_sigkilled_build_is_abandoned_and_its_run_folder_removed(sqlite_cli, tmp_path):
    from test_build import template

    marker = f"release-liveness-marker-{os.getpid()}"
    t = template(tmp_path, provisioners=f"""
  provisioner "shell" {{
    inline = ["python3 -c 'import time; time.sleep(60)' {marker}"]
  }}
""")
    p = sqlite_cli.proc("build", str(t))
    deadline = time.time() + 30
    while subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode != 0:
        if time.time() > deadline:
            p.kill()
            pytest.fail(f"the provisioner never started: {p.communicate()}")
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=30)
    subprocess.run(["pkill", "-f", marker])  # its provisioner (the build's own leftover, not ours to test)
    runs = list((tmp_path / "state" / "tmp").iterdir())
    assert len(runs) == 1 and runs[0].name.endswith(f"-{p.pid}")
    assert "is stale" in sqlite_cli.ok("status").err
    r = sqlite_cli("policy", "apply")  # any command that writes
    assert "marked build" in r.err and f"abandoned: its process {p.pid}" in r.err, r
    assert not runs[0].exists()
    ev = sqlite_cli.json("audit")["events"]
    assert [e["action"] for e in ev].count("build.abandoned") == 1


def test_signals_wait_for_a_held_block():
    got = []
    old = signal.signal(signal.SIGTERM, lambda s, f: got.append(("term", s)))
    try:
        with liveness.hold_signals():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
            assert got == []  # held
        assert got == [("term", signal.SIGTERM)]
        with pytest.raises(KeyboardInterrupt):
            with liveness.hold_signals():
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)
                got.append("block ended")
        assert got[-1] == "block ended"  # the interrupt came after the whole block
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGTERM, old)


def test_a_server_that_cannot_be_described_is_stopped(fleet, monkeypatch):
    from releasemgr.providers.base import FleetError
    from releasemgr.providers.local import fleet as local_fleet
    from local_images import make_image, running_servers

    artifact = make_image(fleet.state, "one")
    real = local_fleet._write_json
    calls = []

    def failing(path: Path, doc: dict) -> None:
        calls.append(doc)
        if doc.get("pid"):  # the description after the start
            raise OSError(28, "No space left on device")
        real(path, doc)

    monkeypatch.setattr(local_fleet, "_write_json", failing)
    with pytest.raises(FleetError, match="cannot record web-prod-x: No space left"):
        local_fleet.LocalFleet(fleet.state).launch({"provider": "local", "id": artifact}, server_id="web-prod-x",
                                                   image="web", version="v1", env="prod")
    assert len(calls) == 2 and running_servers(fleet.state) == []
    assert not (fleet.state / "servers" / "web-prod-x").exists()
