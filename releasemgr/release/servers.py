"""An environment's servers: start them, stop them, mark their state, publish the route, heal
what died or was never recorded. Deploy, rollback (through deploy) and retire change servers
only through `EnvironmentServers`; drift reads them with the helpers below.

An `EnvironmentServers` records each change in the ledger (rows and audit events) as it
makes it; the caller holds the (image, env) lock (`releasemgr.ledger.locks`) around it.
What it did is in `changes` (launched, retired, healed, warnings).

The ledger and the processes agree whatever interrupts a change: starting servers and
recording their rows, or stopping servers and recording it, run with SIGINT/SIGTERM held
(`liveness.hold_signals`: a signal takes effect right after), and servers started whose rows
could not be written are stopped again. Only a SIGKILL can leave a server the ledger does not
know; `heal()` (every deploy) and the abandoned-deployment check stop it.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from releasemgr.config import Config
from releasemgr.ledger import audit
from releasemgr.ledger.clock import now_iso
from releasemgr.ledger.db import Ledger
from releasemgr.ledger.repo import servers, versions
from releasemgr.ledger.rows import Environment, Image, Server, Version
from releasemgr.providers.base import Fleet, FleetError, HealthCheck, LaunchedServer
from releasemgr.release import liveness, routes
from releasemgr.release.server_rows import LIVE_STATES, Progress, check_once, handle_of, live_rows


def wait_healthy(fleet: Fleet, started: list[LaunchedServer], check: HealthCheck, timeout: float,
                 progress: Progress | None = None) -> tuple[list[str], dict[str, str]]:
    """Check until every server is healthy, one has failed for good (its process exited), or
    `timeout` passed. Polls fast at first (10 ms, growing by half each round up to the
    check's interval, and never above the fleet's `poll_cap`), so fast servers are not held
    back by a long interval. Returns (healthy ids, {id: why not})."""
    deadline = time.monotonic() + timeout
    pending = {s.id: s for s in started}
    healthy: list[str] = []
    last: dict[str, str] = {}
    pause = 0.01
    cap = max(0.01, min(check.interval, getattr(fleet, "poll_cap", None) or check.interval))
    with ThreadPoolExecutor(max_workers=max(1, min(16, len(started)))) as pool:
        while pending:
            budget = max(0.05, min(5.0, deadline - time.monotonic()))
            results = list(pool.map(lambda srv: (srv.id, check_once(fleet, srv, check, budget)),
                                    list(pending.values())))
            for sid, (ok, detail) in results:
                if ok:
                    healthy.append(sid)
                    del pending[sid]
                else:
                    last[sid] = detail
            if not pending:
                break
            dead = [sid for sid in pending if last.get(sid) == "process exited"]
            if dead or time.monotonic() >= deadline:
                failed = {sid: last.get(sid, "not checked") for sid in pending}
                if not dead:
                    failed = {sid: f"not healthy after {timeout:g}s: {why}" for sid, why in failed.items()}
                return healthy, failed
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 1.5, cap)
    return healthy, {}


# -- changing them ---------------------------------------------------------------------------------

@dataclass
class ServerChanges:
    launched: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    healed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    route_changes: int = 0


class EnvironmentServers:
    """The servers of one image in one environment, on one fleet.

    `version`: the label the route is published under and audit events without a server
    version carry (the version being deployed, or the environment's current one);
    `deployment`: the deployment id the rows and audit events carry (None outside a deploy).
    """

    def __init__(self, ledger: Ledger, config: Config, fleet: Fleet, img: Image, env_row: Environment, *,
                 version: str, actor: str, progress: Progress | None = None, deployment: str | None = None):
        self.ledger, self.config, self.fleet = ledger, config, fleet
        self.img, self.env_row = img, env_row
        self.image, self.env = img.name, env_row.name
        self.version, self.actor, self.deployment = version, actor, deployment
        self.progress = progress or (lambda *_a, **_kw: None)
        self.changes = ServerChanges()
        self._labels: dict[int, str] = {}

    def label_of(self, version_id: int) -> str:
        if version_id not in self._labels:
            with self.ledger.connect() as conn:
                self._labels = versions.labels(conn, self.img.id)
        return self._labels.get(version_id, "?")

    def rows(self) -> list[Server]:
        """The live rows (pending, healthy, unhealthy, standby)."""
        with self.ledger.connect() as conn:
            return live_rows(conn, self.img.id, self.env_row.id)

    def of_deployment(self, states: tuple[str, ...] = LIVE_STATES) -> list[Server]:
        with self.ledger.connect() as conn:
            return servers.of_deployment(conn, self.deployment, states)

    def set_state(self, ids: list[str], state: str, **more: list[str]) -> None:
        """One transaction: `ids` to `state`, and `more={state: ids}` (e.g. draining=[...])."""
        changes = [(ids, state)] + [(v, k) for k, v in more.items()]
        if not any(i for i, _ in changes):
            return
        with self.ledger.transaction() as conn:
            for group, new_state in changes:
                if group:
                    servers.set_state(conn, group, new_state)

    def _start(self, n: int, artifact: dict, label: str) -> tuple[list[LaunchedServer], str | None]:
        def new_id() -> str:
            return f"{self.image}-{self.env}-{uuid.uuid4().hex[:8]}"

        many = getattr(self.fleet, "launch_many", None)
        if many is not None and n > 0:  # one API call for the batch (EC2: RunInstances)
            try:
                return list(many(artifact, server_ids=[new_id() for _ in range(n)], image=self.image,
                                 version=label, env=self.env)), None
            except FleetError as exc:
                return [], str(exc)

        def one(_i):
            try:
                return self.fleet.launch(artifact, server_id=new_id(), image=self.image, version=label, env=self.env)
            except FleetError as exc:
                return exc

        workers = max(1, min(getattr(self.fleet, "launch_workers", 8), n))
        if workers == 1:
            results = [one(i) for i in range(n)]
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                results = list(pool.map(one, range(n)))
        errors = [str(r) for r in results if isinstance(r, FleetError)]
        return [r for r in results if not isinstance(r, FleetError)], (errors[0] if errors else None)

    def launch(self, n: int, version: Version, artifact: dict) -> tuple[list[LaunchedServer], str | None]:
        """Start n servers and record them (pending). Returns what started and an error if
        one could not be started."""
        label = f"v{version.number}"
        with liveness.hold_signals():  # started and recorded, or not started: never half
            started, error = self._start(n, artifact, label)
            if started:
                try:
                    self._record_launched(started, version.id, label)
                except BaseException:
                    self.fleet.terminate(started)  # not recorded: it must not run
                    raise
        self.changes.launched.extend(s.id for s in started)
        return started, error

    def _record_launched(self, started: list[LaunchedServer], version_id: int, label: str) -> None:
        now = now_iso()
        with self.ledger.transaction() as conn:
            servers.add(conn, started, image_id=self.img.id, version_id=version_id, env_id=self.env_row.id,
                        deployment_id=self.deployment, at=now)
            audit.append_many(conn, [
                dict(action="server.launched", actor=self.actor, image=self.image, version=label, env=self.env,
                     at=now, details={"server": srv.id, "address": srv.address, "deployment": self.deployment,
                                      "provider": srv.provider, "provider_id": srv.provider_id})
                for srv in started])

    def retire(self, rows: list[Server], *, reason: str, state: str = "retired", out_of_route: bool = False) -> None:
        """Stop servers and record it. Servers still in the route leave it first (unless the
        caller already took them out: `out_of_route`)."""
        if not rows:
            return
        if not out_of_route and any(r.state == "healthy" for r in rows):
            self.set_state([r.id for r in rows if r.state == "healthy"], "draining")
            self.publish()
        labels = {r.id: self.label_of(r.version_id) for r in rows}
        with liveness.hold_signals():  # stopped and recorded, or neither
            res = self.fleet.terminate([handle_of(r) for r in rows])
            now = now_iso()
            done = [r for r in rows if r.id not in res.failed]
            if done:
                with self.ledger.transaction() as conn:
                    servers.retire(conn, [r.id for r in done], state=state, at=now)
                    audit.append_many(conn, [
                        dict(action="server.retired", actor=self.actor, image=self.image, version=labels[r.id],
                             env=self.env, at=now, details={"server": r.id, "reason": reason,
                                                            "deployment": self.deployment})
                        for r in done])
        for r in rows:
            if r.id in res.failed:
                self.changes.warnings.append(f"could not stop {r.id}: {res.failed[r.id]} (stop it by hand)")
        self.changes.retired.extend(r.id for r in done)

    def publish(self) -> routes.RouteChange:
        """Point the route at the healthy servers (audited when it changed). Returns the
        change, whose `hook_ok` says whether the route hook accepted it."""
        with self.ledger.connect() as conn:
            rows = [r for r in live_rows(conn, self.img.id, self.env_row.id) if r.state == "healthy"]
            labels = versions.labels(conn, self.img.id)
        in_route = [{"id": r.id, "address": r.address, "version": labels.get(r.version_id)} for r in rows]
        change = routes.publish(self.config.state_dir, self.config, self.image, self.env, in_route,
                                version=self.version)
        if not change.changed:
            return change
        self.changes.route_changes += 1
        self.changes.warnings.extend(change.warnings)
        with self.ledger.transaction() as conn:
            audit.append(conn, "route.switched", actor=self.actor, image=self.image, version=self.version,
                         env=self.env, details={"deployment": self.deployment, "servers": [x["id"] for x in in_route],
                                                "hook": change.hook, "hook_ok": change.hook_ok})
        return change

    def heal(self) -> None:
        """Mark recorded servers that died as failed; stop servers an interrupted run left
        draining (out of the route, never stopped); stop live servers nobody recorded."""
        rows = self.rows()
        states = self.fleet.describe([handle_of(r) for r in rows])
        dead = [r for r in rows if not states[r.id].alive]
        if dead:
            self._record_lost(dead)
            self.publish()
        with self.ledger.connect() as conn:
            draining = servers.live(conn, self.img.id, self.env_row.id, ("draining",))
        if draining:
            self.retire(draining, reason="left draining by an interrupted run", out_of_route=True)
            self.changes.healed.extend(r.id for r in draining if r.id in self.changes.retired)
        with liveness.hold_signals():
            stopped, failed = liveness.unrecorded(self.ledger, self.fleet, self.image, self.env, actor=self.actor,
                                                  deployment=self.deployment, reason="not recorded in the ledger",
                                                  stop=True, say=self.progress)
        self.changes.healed.extend(stopped)
        self.changes.warnings.extend(f"could not stop {sid}: {why} (stop it by hand)" for sid, why in failed.items())

    def _record_lost(self, dead: list[Server]) -> None:
        now = now_iso()
        with self.ledger.transaction() as conn:
            for r in dead:
                servers.retire(conn, [r.id], state="failed", at=now)
                audit.append(conn, "server.lost", actor=self.actor, image=self.image,
                             version=self.label_of(r.version_id), env=self.env, at=now,
                             details={"server": r.id, "reason": "process gone", "deployment": self.deployment})
                self.progress(f"  {r.id} is gone (marked failed)")
        self.changes.healed.extend(r.id for r in dead)
