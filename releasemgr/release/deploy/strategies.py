"""The strategies: which servers a deployment reuses, starts, stops or keeps standing by,
in which order, and how it undoes what it started when new servers do not become healthy.

A `Deployment` is one deployment's record (the `deployments` row and its audit events)
around the environment's servers (`release/servers.py`), which do the work.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from releasemgr.errors import NotFound, OperationFailed, UsageError
from releasemgr.ledger import audit
from releasemgr.ledger.clock import now_iso
from releasemgr.ledger.repo import artifacts, deployments, versions
from releasemgr.ledger.rows import Server
from releasemgr.providers.base import LaunchedServer
from releasemgr.release.deploy.settings import DeploySettings, env_health_check
from releasemgr.release.deploy.target import Target, image_metadata
from releasemgr.release.servers import EnvironmentServers, wait_healthy
from releasemgr.release.server_rows import Progress, handle_of


class DeployFailed(OperationFailed):
    kind = "deploy_failed"


@dataclass
class Outcome:
    """What a deployment did beyond starting and stopping servers (`servers.changes`)."""

    standby: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


class Deployment:
    """One deployment of `target` with `settings` (the lock is held outside)."""

    def __init__(self, ledger, config, fleet, target: Target, settings: DeploySettings, *, actor: str,
                 progress: Progress | None, cause: str):
        self.ledger, self.config, self.target, self.settings = ledger, config, target, settings
        self.actor, self.cause = actor, cause
        self.id = str(uuid.uuid4())
        self.label = target.label
        self.servers = EnvironmentServers(ledger, config, fleet, target.img, target.env_row, version=self.label,
                                          actor=actor, progress=progress, deployment=self.id)
        self.progress = self.servers.progress
        self.image, self.env = target.img.name, target.env_row.name
        self.out = Outcome()
        self.replacing = 0  # old servers this deployment replaces (the live display's "retired of")

    def tally(self, text: str = "", *, healthy: int) -> None:
        """`text` as a progress line, and the deployment's row of the live display on a
        terminal: new servers started and healthy of the count, old servers retired."""
        ch, n = self.servers.changes, self.settings.count
        self.progress(text, task=f"{self.image}@{self.label} -> {self.env}", done=healthy, total=n,
                      detail=f"started {len(ch.launched)}/{n} · healthy {healthy}/{n} · "
                             f"retired {len(ch.retired)}/{self.replacing}")

    def start_record(self) -> None:
        st = self.settings
        with self.ledger.transaction() as conn:
            deployments.start(conn, self.id, image_id=self.target.img.id, version_id=self.target.version.id,
                              env_id=self.target.env_row.id, strategy=st.strategy, count=st.count,
                              batch_size=st.batch_size, actor=self.actor, at=now_iso(),
                              detail={"cause": self.cause, **st.to_json()})
            audit.append(conn, "deployment.started", actor=self.actor, image=self.image, version=self.label,
                         env=self.env, details={"deployment": self.id, "cause": self.cause, **st.to_json()})

    def finish_record(self, status: str, *, rolled_back: bool = False, error: str | None = None) -> None:
        action = {"succeeded": "deployment.finished", "failed": "deployment.failed"}[status]
        changes = self.servers.changes
        with self.ledger.transaction() as conn:
            dep = deployments.get(conn, self.id)
            detail = {**dep.detail, "launched": changes.launched, "retired": changes.retired,
                      "standby": self.out.standby, "error": error, "failed": self.out.failed}
            deployments.finish(conn, dep, status="rolled_back" if rolled_back else status, at=now_iso(),
                               detail=detail, rolled_back=rolled_back)
            details = {"deployment": self.id, "launched": len(changes.launched),
                       "retired": len(changes.retired), "standby": len(self.out.standby)}
            if error:
                details["error"] = error
            audit.append(conn, action, actor=self.actor, image=self.image, version=self.label, env=self.env,
                         details=details)
            if rolled_back:
                audit.append(conn, "deployment.rolled_back", actor=self.actor, image=self.image, version=self.label,
                             env=self.env, details={"deployment": self.id, "restored": self.out.restored})


def plan(rows: list[Server], target_vid: int, count: int) -> tuple[list[Server], list[Server], list[Server]]:
    """(reusable target servers, old servers in the route, old standby servers)."""
    mine = sorted([r for r in rows if r.version_id == target_vid],
                  key=lambda r: ({"healthy": 0, "standby": 1}.get(r.state, 2), r.launched_at))
    old_route = [r for r in rows if r.version_id != target_vid and r.state in ("healthy", "pending", "unhealthy")]
    old_standby = [r for r in rows if r.version_id != target_vid and r.state in ("standby",)]
    return mine, old_route, old_standby


def route_failure(dep: Deployment) -> str | None:
    """Publish the route; the hook's error (with its output) when the proxy did not take it."""
    return dep.servers.publish().hook_error


def let_go(dep: Deployment, old: list[Server]) -> None:
    """The route now points at the new set: old servers stand by (blue-green) or stop. A route
    hook that fails is an unhealthy switch: the old servers take the route back (`fail`)."""
    srv = dep.servers
    serving = [r.id for r in old if r.state == "healthy"]

    def route_back(err: str) -> None:
        # the old servers take the route back; target servers another deployment started
        # (an instant switch to a set standing by) stand by again; ours are removed by fail()
        reused = [r.id for r in srv.rows() if r.version_id == dep.target.version.id
                  and r.deployment_id != dep.id and r.state == "healthy"]
        if serving:
            srv.set_state(serving, "healthy", standby=reused)
        fail(dep, {}, err)

    if not old:
        if err := route_failure(dep):
            fail(dep, {}, err)
        return
    if dep.settings.strategy == "blue-green" and not dep.settings.retire_old:
        srv.set_state(serving, "standby")
        if err := route_failure(dep):
            route_back(err)
        dep.out.standby.extend(r.id for r in old)
        down = [r for r in old if r.state != "healthy"]
        if down:
            srv.retire(down, reason="replaced")
    else:
        # the new servers are in (the old ones leave the route in retire())
        if err := route_failure(dep):
            route_back(err)
        srv.retire(old, reason="replaced")


def _restore(dep: Deployment, version_id: int, n: int) -> bool:
    """Start `n` servers of an old version again (they were stopped by this deployment)."""
    with dep.ledger.connect() as conn:
        v = versions.get(conn, version_id)
        arts, _ = artifacts.live_of(conn, version_id, dep.settings.provider)
    if not arts:
        dep.servers.changes.warnings.append(f"cannot restore v{v.number} servers: no artifact")
        return False
    a = arts[0]
    artifact = {"provider": a.provider, "region": a.region, "id": a.external_id}
    try:  # the old version's own health check (its image may answer differently)
        check = env_health_check(dep.config, dep.env, image_metadata(dep.config, artifact))
    except (UsageError, NotFound, OperationFailed) as exc:
        dep.servers.changes.warnings.append(f"cannot restore v{v.number} servers: {exc.message}")
        return False
    back, err = dep.servers.launch(n, v, artifact)
    ok, bad = wait_healthy(dep.servers.fleet, back, check, max(dep.settings.health_timeout, check.timeout))
    dep.servers.set_state(ok, "healthy")
    dep.out.restored.extend(ok)
    if bad or err:
        dep.servers.changes.warnings.append(f"could not restore every v{v.number} server: {err or bad}")
    return True


def fail(dep: Deployment, failed: dict[str, str], error: str, restore: list[tuple[int, int]] | None = None) -> None:
    """Remove what this deployment started; restart old servers it stopped; raise."""
    dep.out.failed.update(failed)
    dep.progress(f"deployment failed: {error}; removing the server(s) it started")
    rolled_back = False
    if restore:
        for version_id, n in restore:
            rolled_back = _restore(dep, version_id, n) or rolled_back
        dep.servers.publish()
    # restored servers carry this deployment's id too: keep the healthy ones
    mine = dep.servers.of_deployment()
    dep.servers.retire([r for r in mine if r.id not in dep.out.restored], reason="deployment failed", state="failed")
    dep.servers.publish()
    dep.finish_record("failed", rolled_back=rolled_back, error=error)
    what = "could not be put in service" if error.startswith("route hook") else "did not become healthy"
    raise DeployFailed(f"{dep.image}@{dep.label} {what} in {dep.env}: {error}",
                       hint="the old servers keep serving; see the server logs under "
                            f"{dep.config.state_dir}/retired-servers/<id>/server.log")


def abort(dep: Deployment, error: str) -> None:
    """Best effort: stop this deployment's servers that are not serving yet, record the
    failure. Servers already in the route stay (stopping them could leave too few)."""
    try:
        pending = dep.servers.of_deployment(("pending", "unhealthy"))
        dep.servers.retire(pending, reason="deployment interrupted", state="failed")
        dep.finish_record("failed", error=error)
    except BaseException:  # never hide the original error
        pass


def _launch_and_wait(dep: Deployment, n: int) -> tuple[list[str], dict[str, str], str | None]:
    """Start n target servers and wait for them: (healthy ids, {id: why not}, error)."""
    started, err = dep.servers.launch(n, dep.target.version, dep.target.artifact)
    if err:
        return [], {}, err
    healthy, bad = wait_healthy(dep.servers.fleet, started, dep.settings.health, dep.settings.health_timeout)
    if bad:
        sid, why = next(iter(bad.items()))
        return healthy, bad, f"{sid}: {why}"
    return healthy, {}, None


def reuse_checked(dep: Deployment, reuse: list[Server]) -> list[Server]:
    """Servers of the target version already running, checked before they are used; the
    ones that fail stop."""
    if not reuse:
        return reuse
    handles: list[LaunchedServer] = [handle_of(r) for r in reuse]
    _, bad = wait_healthy(dep.servers.fleet, handles, dep.settings.health, min(dep.settings.health_timeout, 5.0))
    if bad:
        dep.servers.retire([r for r in reuse if r.id in bad], reason="unhealthy before reuse", state="failed")
    return [r for r in reuse if r.id not in bad]


def blue_green(dep: Deployment, reuse: list[Server], old_route: list[Server]) -> None:
    n = dep.settings.count - len(reuse)
    dep.replacing = len(old_route) if dep.settings.retire_old else 0
    dep.tally(f"starting {n} {dep.label} server(s) (blue-green)", healthy=len(reuse))
    healthy, bad, err = _launch_and_wait(dep, n)
    if err:
        fail(dep, bad, err)
    dep.servers.set_state(healthy + [r.id for r in reuse], "healthy")
    dep.tally(f"{len(healthy)} new server(s) healthy: switching the route", healthy=len(healthy) + len(reuse))
    let_go(dep, old_route)
    dep.tally(healthy=len(healthy) + len(reuse))


class _Stopped:
    """Old servers this deployment stopped, by version (restored when it fails)."""

    def __init__(self):
        self.by_version: dict[int, int] = {}

    def add(self, rows: list[Server]) -> None:
        for r in rows:
            if r.state == "healthy":
                self.by_version[r.version_id] = self.by_version.get(r.version_id, 0) + 1


def rolling(dep: Deployment, reuse: list[Server], old_route: list[Server]) -> None:
    st, srv = dep.settings, dep.servers
    if reuse:
        srv.set_state([r.id for r in reuse], "healthy")
        if err := route_failure(dep):
            fail(dep, {}, err)
    old = sorted(old_route, key=lambda r: ({"healthy": 1}.get(r.state, 0), r.launched_at))  # broken ones first
    need = st.count - len(reuse)
    dep.replacing = len(old)
    stopped = _Stopped()
    done = 0
    batch_no = 0
    # A batch's old servers leave the route with the switch, then stop in the background
    # while the next batch starts: stopping them costs no capacity and no waiting.
    stopper = ThreadPoolExecutor(max_workers=1)
    stopping: list = []

    def settle():
        while stopping:
            stopping.pop(0).result()

    try:
        while done < need:
            k = min(st.batch_size, need - done)
            batch_no += 1
            pre = min(st.max_unavailable, k, len(old))
            # stopping unhealthy old servers first costs no capacity
            if pre:
                srv.retire(old[:pre], reason="replaced (max_unavailable)")
                stopped.add(old[:pre])
                old = old[pre:]
            dep.tally(f"batch {batch_no}: starting {k} {dep.label} server(s)"
                      + (f" ({done + k}/{need})" if need > k else ""), healthy=len(reuse) + done)
            healthy, bad, err = _launch_and_wait(dep, k)
            if err:
                settle()
                fail(dep, bad, err, restore=list(stopped.by_version.items()))
            done += k
            post = old[:max(0, k - pre)]
            # one route change per batch: the new servers in, the batch's old ones out
            srv.set_state(healthy, "healthy", draining=[r.id for r in post if r.state == "healthy"])
            if err := route_failure(dep):  # the proxy did not take the batch: an unhealthy batch
                settle()
                srv.set_state([r.id for r in post if r.state == "healthy"], "healthy")  # still running
                fail(dep, {}, err, restore=list(stopped.by_version.items()))
            dep.tally(healthy=len(reuse) + done)
            if post:
                stopping.append(stopper.submit(srv.retire, post, reason="replaced", out_of_route=True))
                stopping.append(stopper.submit(dep.tally, healthy=len(reuse) + done))
                stopped.add(post)
                old = old[len(post):]
        settle()
        if old:  # count went down, or servers were left from before
            srv.retire(old, reason="replaced")
        dep.tally(healthy=len(reuse) + done)
    finally:
        stopper.shutdown(wait=True)
