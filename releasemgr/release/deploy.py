"""Deploy: bring an environment's servers to a version by replacing them, never by changing them.

Strategies:

- `rolling`: K servers at a time (`batch_size`). Each batch first stops up to
  `max_unavailable` old servers (0 by default: new servers are started before any old one
  stops), starts K new ones, waits until they are healthy, puts them into the route, and
  only then stops the rest of the batch's old servers. The number of healthy servers in
  the route never drops below `count - max_unavailable`.
- `blue-green`: start the full new set, check it, switch the route in one step; the old set
  stays running (`standby`) for an instant rollback until `release retire` (or
  `--retire-old`).

Whatever the strategy, when the environment already has `count` live servers of the target
version (a blue-green set still standing by after a rollback), the deploy checks them and
switches the route back without starting anything.

When new servers do not become healthy in time, the deployment stops, removes every server
it started, starts again as many servers of the old versions as it had stopped (so the
environment is back where it was; the deployment is marked `rolled_back`), leaves the route
on the old servers, records a failed deployment and exits 1.

Every change holds the (image, env) lock (`releasemgr.ledger.locks`).

The ledger work goes through the repositories (`releasemgr.ledger.repo`) on
`Ledger.transaction()` / `Ledger.connect()`: on a SQLite ledger a deploy or
`rollback --deploy` process imports no SQLAlchemy.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from releasemgr.config import Config
from releasemgr.errors import NotFound, OperationFailed, PolicyRefused, UsageError
from releasemgr.ledger import audit
from releasemgr.ledger.clock import now_iso
from releasemgr.ledger.db import Ledger
from releasemgr.ledger.refs import check_image_name, parse_ref
from releasemgr.ledger.repo import artifacts, channels, deployments, environments, images, servers, versions
from releasemgr.ledger.rows import Environment, Image, Server, Version
from releasemgr.providers.base import Fleet, FleetError, HealthCheck, LaunchedServer
from releasemgr.providers.registry import fleet_for
from releasemgr.release import routes

LIVE_STATES = ("pending", "healthy", "unhealthy", "standby")
STRATEGIES = ("rolling", "blue-green")
Progress = Callable[[str], None]


class DeployFailed(OperationFailed):
    kind = "deploy_failed"


# -- settings ---------------------------------------------------------------------------------

@dataclass
class DeploySettings:
    count: int
    strategy: str
    batch_size: int
    max_unavailable: int
    health: HealthCheck
    health_timeout: float
    provider: str = "local"
    retire_old: bool = False

    def to_json(self) -> dict:
        return {"count": self.count, "strategy": self.strategy, "batch_size": self.batch_size,
                "max_unavailable": self.max_unavailable, "health_timeout": self.health_timeout,
                "health_check": self.health.to_json(), "provider": self.provider, "retire_old": self.retire_old}


def _duration(value, default: float, what: str) -> float:
    from releasemgr.common.durations import seconds as parse_duration

    try:
        out = parse_duration(value, default)
    except ValueError as exc:
        raise UsageError(f"{what}: {exc}") from None
    if out is None or out < 0:
        raise UsageError(f"{what} must be a duration >= 0")
    return out


def health_check_from(image_meta: dict | None, override: dict | None, *, has_port: bool) -> HealthCheck:
    """The image's health_check, overlaid by `[deploy.<env>] health_check` keys."""
    raw = dict((image_meta or {}).get("health_check") or {})
    raw.update(override or {})
    kind = raw.get("type") or ("tcp" if has_port else "process")
    if kind not in ("http", "tcp", "command", "process", "ec2"):
        raise UsageError(f"unknown health check type {kind!r}", hint="use http, tcp or command (ec2 on aws)")
    status = raw.get("expected_status", 200)
    if not isinstance(status, int) or isinstance(status, bool):
        raise UsageError("health_check.expected_status must be a whole number")
    command = raw.get("command")
    if isinstance(command, str):
        command = ["/bin/sh", "-c", command]
    if kind == "command" and not command:
        raise UsageError("a command health check needs health_check.command")
    return HealthCheck(type=kind, path=str(raw.get("path") or "/"), expected_status=status,
                       body_contains=raw.get("body_contains") or None, command=command,
                       timeout=_duration(raw.get("timeout"), 30.0, "health_check.timeout"),
                       interval=_duration(raw.get("interval"), 1.0, "health_check.interval"))


def settings_for(config: Config, env: str, *, image_meta: dict | None = None, count: int | None = None,
                 strategy: str | None = None, batch_size: int | None = None, max_unavailable: int | None = None,
                 health_timeout: float | None = None, retire_old: bool | None = None,
                 default_count: int = 1) -> DeploySettings:
    """Flags win over `[deploy.<env>]`, which wins over the defaults."""
    d = config.deploy.get(env) or {}
    count = count if count is not None else d.get("count", default_count)
    strategy = strategy or d.get("strategy", "rolling")
    batch = batch_size if batch_size is not None else d.get("batch_size", 1)
    max_un = max_unavailable if max_unavailable is not None else d.get("max_unavailable", 0)
    if not isinstance(count, int) or count < 1:
        raise UsageError("count must be 1 or more")
    if strategy not in STRATEGIES:
        raise UsageError(f"unknown strategy {strategy!r}", hint="use rolling or blue-green")
    if not isinstance(batch, int) or batch < 1:
        raise UsageError("batch size must be 1 or more")
    if not isinstance(max_un, int) or max_un < 0:
        raise UsageError("max unavailable must be 0 or more")
    override = d.get("health_check")
    if override is not None and not isinstance(override, dict):
        raise UsageError(f"[deploy.{env}] health_check must be a table")
    has_port = bool((image_meta or {}).get("port_env") or (image_meta or {}).get("port_arg"))
    check = health_check_from(image_meta, override, has_port=has_port)
    timeout = health_timeout if health_timeout is not None else d.get("health_timeout")
    timeout = _duration(timeout, check.timeout, "health timeout")
    ro = retire_old if retire_old is not None else bool(d.get("retire_old", False))
    return DeploySettings(count=count, strategy=strategy, batch_size=min(batch, count), max_unavailable=max_un,
                          health=check, health_timeout=timeout, provider=d.get("provider", "local"), retire_old=ro)


# -- servers in the ledger --------------------------------------------------------------------

def handle_of(row: Server) -> LaunchedServer:
    return LaunchedServer(id=row.id, provider=row.provider, provider_id=row.provider_id, address=row.address,
                          extra=dict(row.extra))


def server_json(row: Server, image: str, version: str, env: str, *, health: str | None = None) -> dict:
    extra = row.extra
    doc = {"id": row.id, "image": image, "version": version, "env": env, "address": row.address,
           "state": row.state, "provider": row.provider, "pid": extra.get("pid") if row.provider == "local" else None,
           "launched_at": row.launched_at, "retired_at": row.retired_at, "deployment": row.deployment_id}
    if health is not None:
        doc["health"] = health
    return doc


def live_rows(conn, image_id: int, env_id: int) -> list[Server]:
    return servers.live(conn, image_id, env_id, LIVE_STATES)


def wait_healthy(fleet: Fleet, servers: list[LaunchedServer], check: HealthCheck, timeout: float,
                 progress: Progress | None = None) -> tuple[list[str], dict[str, str]]:
    """Check until every server is healthy, one has failed for good (its process exited), or
    `timeout` passed. Polls fast at first (10 ms, growing by half each round up to the
    check's interval, and never above the fleet's `poll_cap`), so fast servers are not held
    back by a long interval. Returns (healthy ids, {id: why not})."""
    detail_of = getattr(fleet, "health_detail", None)

    def one(srv: LaunchedServer, budget: float) -> tuple[bool, str]:
        if detail_of is not None:
            return detail_of(srv, check, budget)
        return (fleet.check_health(srv, check, budget), "unhealthy")

    deadline = time.monotonic() + timeout
    pending = {s.id: s for s in servers}
    healthy: list[str] = []
    last: dict[str, str] = {}
    pause = 0.01
    cap = max(0.01, min(check.interval, getattr(fleet, "poll_cap", None) or check.interval))
    with ThreadPoolExecutor(max_workers=max(1, min(16, len(servers)))) as pool:
        while pending:
            budget = max(0.05, min(5.0, deadline - time.monotonic()))
            results = list(pool.map(lambda srv: (srv.id, one(srv, budget)), list(pending.values())))
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


# -- the deployment ---------------------------------------------------------------------------

@dataclass
class _Target:
    img: Image
    version: Version
    env_row: Environment
    artifact: dict
    current_id: int | None


def _target(conn, config: Config, image: str, env: str, ref: str | None, provider: str) -> _Target:
    img = images.get(conn, image)
    env_row = environments.get(conn, env)
    ch = channels.get(conn, img.id, env_row.id)
    if ref:
        parsed = parse_ref(ref if "@" in ref else f"{image}@{ref}")
        if parsed.image != image:
            raise UsageError(f"--version {ref} names another image than {image}")
        _, v = versions.resolve(conn, parsed)
    else:
        if ch is None:
            raise NotFound(f"{image} has no current version in {env}",
                           hint=f"promote one first (`release promote {image}@v1 --to {env}`) or give --version")
        v = versions.get(conn, ch.version_id)
    if v.revoked:
        raise PolicyRefused(f"{image}@v{v.number} is revoked ({v.revoked_reason}); it cannot be deployed",
                            rule="revoked")
    live, had_any = artifacts.live_of(conn, v.id, provider)
    if not live:
        why = "was pruned" if had_any else f"has no {provider} artifact"
        raise NotFound(f"{image}@v{v.number} {why}: nothing to start servers from")
    region = ((config.raw.get(provider) or {}) if isinstance(config.raw.get(provider), dict) else {}).get("region")
    region = (config.deploy.get(env) or {}).get("region", region)
    a = next((x for x in live if region and x.region == region), live[0])  # the fleet's region first
    return _Target(img, v, env_row, {"provider": a.provider, "region": a.region, "id": a.external_id},
                   ch.version_id if ch else None)


def image_metadata(config: Config, artifact: dict) -> dict:
    if artifact["provider"] != "local":
        return {}
    from releasemgr.providers.local.image import ImageError, image_path, read_metadata

    try:
        path = image_path(config.state_dir, artifact["id"])
    except ImageError as exc:
        raise UsageError(str(exc)) from None
    if not path.is_file():
        raise NotFound(f"the image {artifact['id']} is not in {path.parent}",
                       hint="it was pruned or built on another machine; build or copy it here")
    try:
        return read_metadata(path)
    except ImageError as exc:
        raise OperationFailed(str(exc)) from None


@dataclass
class Outcome:
    launched: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    standby: list[str] = field(default_factory=list)
    healed: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    route_changes: int = 0


class Rollout:
    """One deployment's work on the ledger, the fleet and the route (the lock is held outside)."""

    def __init__(self, ledger: Ledger, config: Config, fleet: Fleet, t: _Target, settings: DeploySettings, *,
                 actor: str, progress: Progress | None, cause: str):
        self.ledger, self.config, self.fleet, self.t, self.st = ledger, config, fleet, t, settings
        self.actor, self.cause = actor, cause
        self.progress = progress or (lambda _text: None)
        self.image, self.env = t.img.name, t.env_row.name
        self.label = f"v{t.version.number}"
        self.dep_id = str(uuid.uuid4())
        self.out = Outcome()
        self._labels: dict[int, str] = {}

    # ledger helpers
    def label_of(self, version_id: int) -> str:
        if version_id not in self._labels:
            with self.ledger.connect() as conn:
                self._labels = versions.labels(conn, self.t.img.id)
        return self._labels.get(version_id, "?")

    def rows(self) -> list[Server]:
        with self.ledger.connect() as conn:
            return live_rows(conn, self.t.img.id, self.t.env_row.id)

    def set_state(self, ids: list[str], state: str, **more: list[str]) -> None:
        """One transaction: `ids` to `state`, and `more={state: ids}` (e.g. draining=[...])."""
        changes = [(ids, state)] + [(v, k) for k, v in more.items()]
        if not any(i for i, _ in changes):
            return
        with self.ledger.transaction() as conn:
            for group, new_state in changes:
                if group:
                    servers.set_state(conn, group, new_state)

    def start_record(self) -> None:
        with self.ledger.transaction() as conn:
            deployments.start(conn, self.dep_id, image_id=self.t.img.id, version_id=self.t.version.id,
                              env_id=self.t.env_row.id, strategy=self.st.strategy, count=self.st.count,
                              batch_size=self.st.batch_size, actor=self.actor, at=now_iso(),
                              detail={"cause": self.cause, **self.st.to_json()})
            audit.append(conn, "deployment.started", actor=self.actor, image=self.image, version=self.label,
                         env=self.env, details={"deployment": self.dep_id, "cause": self.cause, **self.st.to_json()})

    def finish_record(self, status: str, *, rolled_back: bool = False, error: str | None = None) -> None:
        action = {"succeeded": "deployment.finished", "failed": "deployment.failed"}[status]
        with self.ledger.transaction() as conn:
            dep = deployments.get(conn, self.dep_id)
            detail = {**dep.detail, "launched": self.out.launched, "retired": self.out.retired,
                      "standby": self.out.standby, "error": error, "failed": self.out.failed}
            deployments.finish(conn, dep, status="rolled_back" if rolled_back else status, at=now_iso(),
                               detail=detail, rolled_back=rolled_back)
            details = {"deployment": self.dep_id, "launched": len(self.out.launched),
                       "retired": len(self.out.retired), "standby": len(self.out.standby)}
            if error:
                details["error"] = error
            audit.append(conn, action, actor=self.actor, image=self.image, version=self.label, env=self.env,
                         details=details)
            if rolled_back:
                audit.append(conn, "deployment.rolled_back", actor=self.actor, image=self.image, version=self.label,
                             env=self.env, details={"deployment": self.dep_id, "restored": self.out.restored})

    # fleet helpers
    def launch(self, n: int, version: Version, artifact: dict) -> tuple[list[LaunchedServer], str | None]:
        """Start n servers and record them (pending). Returns what started and an error if
        one could not be started."""
        started: list[LaunchedServer] = []
        error = None
        label = f"v{version.number}"

        def one(_i):
            sid = f"{self.image}-{self.env}-{uuid.uuid4().hex[:8]}"
            try:
                return self.fleet.launch(artifact, server_id=sid, image=self.image, version=label, env=self.env)
            except FleetError as exc:
                return exc

        many = getattr(self.fleet, "launch_many", None)
        if many is not None and n > 0:  # one API call for the batch (EC2: RunInstances)
            try:
                started = list(many(artifact, server_ids=[f"{self.image}-{self.env}-{uuid.uuid4().hex[:8]}"
                                                          for _ in range(n)],
                                    image=self.image, version=label, env=self.env))
            except FleetError as exc:
                error = str(exc)
        else:
            workers = max(1, min(getattr(self.fleet, "launch_workers", 8), n))
            if workers == 1:
                results = [one(i) for i in range(n)]
            else:
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    results = list(pool.map(one, range(n)))
            for res in results:
                if isinstance(res, FleetError):
                    error = error or str(res)
                else:
                    started.append(res)
        if started:
            now = now_iso()
            with self.ledger.transaction() as conn:
                servers.add(conn, started, image_id=self.t.img.id, version_id=version.id, env_id=self.t.env_row.id,
                            deployment_id=self.dep_id, at=now)
                audit.append_many(conn, [
                    dict(action="server.launched", actor=self.actor, image=self.image, version=label, env=self.env,
                         at=now, details={"server": srv.id, "address": srv.address, "deployment": self.dep_id,
                                          "provider": srv.provider, "provider_id": srv.provider_id})
                    for srv in started])
        self.out.launched.extend(s.id for s in started)
        return started, error

    def retire(self, rows: list[Server], *, reason: str, state: str = "retired", out_of_route: bool = False) -> None:
        """Stop servers and record it. Servers still in the route leave it first (unless the
        caller already took them out: `out_of_route`)."""
        if not rows:
            return
        ids = [r.id for r in rows]
        if not out_of_route and any(r.state == "healthy" for r in rows):
            self.set_state([r.id for r in rows if r.state == "healthy"], "draining")
            self.publish()
        res = self.fleet.terminate([handle_of(r) for r in rows])
        now = now_iso()
        for r in rows:
            if r.id in res.failed:
                self.out.warnings.append(f"could not stop {r.id}: {res.failed[r.id]} (stop it by hand)")
        done = [r for r in rows if r.id not in res.failed]
        labels = {r.id: self.label_of(r.version_id) for r in done}
        if done:
            with self.ledger.transaction() as conn:
                servers.retire(conn, [r.id for r in done], state=state, at=now)
                audit.append_many(conn, [
                    dict(action="server.retired", actor=self.actor, image=self.image, version=labels[r.id],
                         env=self.env, at=now, details={"server": r.id, "reason": reason, "deployment": self.dep_id})
                    for r in done])
        self.out.retired.extend(i for i in ids if i not in res.failed)

    def publish(self, version: str | None = None) -> None:
        with self.ledger.connect() as conn:
            rows = [r for r in live_rows(conn, self.t.img.id, self.t.env_row.id) if r.state == "healthy"]
            labels = versions.labels(conn, self.t.img.id)
        in_route = [{"id": r.id, "address": r.address, "version": labels.get(r.version_id)} for r in rows]
        change = routes.publish(self.config.state_dir, self.config, self.image, self.env, in_route,
                                version=version or self.label)
        if not change.changed:
            return
        self.out.route_changes += 1
        self.out.warnings.extend(change.warnings)
        with self.ledger.transaction() as conn:
            audit.append(conn, "route.switched", actor=self.actor, image=self.image, version=version or self.label,
                         env=self.env, details={"deployment": self.dep_id, "servers": [x["id"] for x in in_route],
                                                "hook": change.hook, "hook_ok": change.hook_ok})

    def heal(self) -> None:
        """Mark recorded servers that died as failed; stop live servers nobody recorded."""
        rows = self.rows()
        states = self.fleet.describe([handle_of(r) for r in rows])
        dead = [r.id for r in rows if not states[r.id].alive]
        if dead:
            now = now_iso()
            by_id = {r.id: r for r in rows}
            with self.ledger.transaction() as conn:
                for sid in dead:
                    servers.retire(conn, [sid], state="failed", at=now)
                    audit.append(conn, "server.lost", actor=self.actor, image=self.image,
                                 version=self.label_of(by_id[sid].version_id), env=self.env, at=now,
                                 details={"server": sid, "reason": "process gone", "deployment": self.dep_id})
                    self.progress(f"  {sid} is gone (marked failed)")
            self.out.healed.extend(dead)
            self.publish()
        known = {r.id for r in rows}
        stray = [m for m in self.fleet.list_managed(self.image, self.env) if m.id not in known and m.alive]
        if stray:
            handles = [LaunchedServer(m.id, self.fleet.provider, "", m.address, m.extra) for m in stray]
            self.fleet.terminate(handles)
            with self.ledger.transaction() as conn:
                for m in stray:
                    audit.append(conn, "server.retired", actor=self.actor, image=self.image, version=m.version,
                                 env=self.env, details={"server": m.id, "reason": "not recorded in the ledger",
                                                        "deployment": self.dep_id})
                    self.progress(f"  stopped {m.id}: running but not recorded in the ledger")
            self.out.healed.extend(m.id for m in stray)


def _plan(rows: list[Server], target_vid: int, count: int) -> tuple[list[Server], list[Server], list[Server]]:
    """(reusable target servers, old servers in the route, old standby servers)."""
    mine = sorted([r for r in rows if r.version_id == target_vid],
                  key=lambda r: ({"healthy": 0, "standby": 1}.get(r.state, 2), r.launched_at))
    old_route = [r for r in rows if r.version_id != target_vid and r.state in ("healthy", "pending", "unhealthy")]
    old_standby = [r for r in rows if r.version_id != target_vid and r.state in ("standby",)]
    return mine, old_route, old_standby


def deploy(ledger: Ledger, config: Config, image: str, env: str, *, actor: str, version: str | None = None,
           count: int | None = None, strategy: str | None = None, batch_size: int | None = None,
           max_unavailable: int | None = None, health_timeout: float | None = None,
           retire_old: bool | None = None, dry_run: bool = False, lock_timeout: float = 0.0,
           hold_lock: bool = True, progress: Progress | None = None, cause: str = "deploy",
           override_freeze: bool = False) -> dict:
    """Bring (image, env)'s servers to `version` (default: the environment's current one)."""
    check_image_name(image)
    env_cfg = config.environment(env)
    provider = (config.deploy.get(env) or {}).get("provider", "local")
    with ledger.connect() as conn:
        t = _target(conn, config, image, env, version, provider)
        existing = live_rows(conn, t.img.id, t.env_row.id)
        last = deployments.last_strategy(conn, t.img.id, t.env_row.id)
    if strategy is None and "strategy" not in (config.deploy.get(env) or {}) and last is not None:
        strategy = last  # without a setting, keep the environment's last strategy
    window = env_cfg.frozen_by()
    if window is not None and not override_freeze:
        raise PolicyRefused(f"{env} is frozen ({window.text}): no deploys", rule="freeze")
    meta = image_metadata(config, t.artifact)
    in_route = [r for r in existing if r.state in ("healthy", "pending", "unhealthy")]
    st = settings_for(config, env, image_meta=meta, count=count, strategy=strategy, batch_size=batch_size,
                      max_unavailable=max_unavailable, health_timeout=health_timeout, retire_old=retire_old,
                      default_count=max(1, len(in_route)))
    psettings = provider_settings(config, env)
    if st.provider == "aws" and psettings.get("auto_scaling_group"):
        return _deploy_group(ledger, config, image, env, version, provider, psettings, st, actor=actor,
                             dry_run=dry_run, lock_timeout=lock_timeout, hold_lock=hold_lock, progress=progress,
                             cause=cause)
    try:
        fleet = fleet_for(st.provider, config.state_dir, psettings)
    except FleetError as exc:
        raise UsageError(str(exc)) from None
    if dry_run:
        return _dry_run(t, st, existing)
    with _sigterm_interrupts():
        if not hold_lock:
            return _run(ledger, config, fleet, t, st, actor=actor, progress=progress, cause=cause)
        from releasemgr.ledger.locks import env_lock

        with env_lock(ledger, config.state_dir, image, env, actor=actor, operation=cause, timeout=lock_timeout,
                      on_wait=progress):
            with ledger.connect() as conn:  # what is current may have moved while we waited for the lock
                t = _target(conn, config, image, env, version, provider)
            return _run(ledger, config, fleet, t, st, actor=actor, progress=progress, cause=cause)


def _deploy_group(ledger, config, image, env, version, provider, psettings, st, *, actor, dry_run, lock_timeout,
                  hold_lock, progress, cause) -> dict:
    """An Auto Scaling group: the group replaces its own instances (release/deploy_asg.py)."""
    import contextlib

    from releasemgr.ledger.locks import env_lock
    from releasemgr.release.deploy_asg import deploy_asg

    if dry_run:
        with ledger.connect() as conn:
            t = _target(conn, config, image, env, version, provider)
        return {"deployment": None, "dry_run": True, "image": image, "env": env, "version": f"v{t.version.number}",
                "status": "planned", "strategy": "auto-scaling-group",
                "auto_scaling_group": psettings["auto_scaling_group"], "ami": t.artifact["id"]}
    lock = env_lock(ledger, config.state_dir, image, env, actor=actor, operation=cause, timeout=lock_timeout,
                    on_wait=progress) if hold_lock else contextlib.nullcontext()
    with lock:
        with ledger.connect() as conn:
            t = _target(conn, config, image, env, version, provider)
        return deploy_asg(ledger, t, psettings, actor=actor, batch_size=st.batch_size,
                          health_timeout=max(st.health_timeout, 60.0), progress=progress, cause=cause)


class _sigterm_interrupts:
    """In the main thread, SIGTERM raises KeyboardInterrupt, so a deploy stopped by a CI
    runner cleans up like one stopped by Ctrl-C."""

    def __enter__(self):
        import signal
        import threading

        self.old = None
        if threading.current_thread() is threading.main_thread():
            def raise_interrupt(_sig, _frame):
                raise KeyboardInterrupt("SIGTERM")

            self.old = signal.signal(signal.SIGTERM, raise_interrupt)
        return self

    def __exit__(self, *exc):
        import signal

        if self.old is not None:
            signal.signal(signal.SIGTERM, self.old)
        return False


def provider_settings(config: Config, env: str) -> dict:
    """A provider's options: `[aws]` (or `[<provider>]`) overlaid by `[deploy.<env>]`."""
    d = dict(config.deploy.get(env) or {})
    base = config.raw.get(d.get("provider", "local")) or {}
    return {**(base if isinstance(base, dict) else {}), **d}


def _dry_run(t: _Target, st: DeploySettings, rows: list[Server]) -> dict:
    mine, old_route, old_standby = _plan(rows, t.version.id, st.count)
    reuse = mine[:st.count]
    instant = len(reuse) >= st.count
    start = 0 if instant else st.count - len(reuse)
    return {"deployment": None, "dry_run": True, "image": t.img.name, "env": t.env_row.name,
            "version": f"v{t.version.number}", "status": "planned", **st.to_json(), "instant": instant,
            "would_launch": start, "would_reuse": [r.id for r in reuse],
            "would_retire": [r.id for r in old_route] if (st.strategy == "rolling" or st.retire_old) else [],
            "would_standby": [r.id for r in old_route] if (st.strategy == "blue-green" and not st.retire_old) else []}


def _run(ledger, config, fleet, t: _Target, st: DeploySettings, *, actor, progress, cause) -> dict:
    ro = Rollout(ledger, config, fleet, t, st, actor=actor, progress=progress, cause=cause)
    started_at = time.monotonic()
    ro.start_record()
    instant = False
    try:
        ro.heal()
        mine, old_route, _standby = _plan(ro.rows(), t.version.id, st.count)
        reuse, extra = mine[:st.count], mine[st.count:]
        if reuse:
            # servers of the target version already running: check them before using them
            _, bad = wait_healthy(fleet, [handle_of(r) for r in reuse], st.health, min(st.health_timeout, 5.0))
            if bad:
                ro.retire([r for r in reuse if r.id in bad], reason="unhealthy before reuse", state="failed")
                reuse = [r for r in reuse if r.id not in bad]
        if len(reuse) >= st.count:
            instant = any(r.state != "healthy" for r in reuse) or bool(old_route)
            ro.progress(f"{len(reuse)} {ro.label} servers already running: switching the route to them")
            ro.set_state([r.id for r in reuse], "healthy")
            _let_go(ro, old_route, st, switch=True)
        elif st.strategy == "blue-green":
            _blue_green(ro, reuse, old_route)
        else:
            _rolling(ro, reuse, old_route)
        if extra:
            ro.retire(extra, reason=f"more than count={st.count}")
        ro.publish()
    except DeployFailed as exc:
        result = _result(ro, st, "failed", instant, started_at)
        exc.details["deployment"] = result
        raise
    except BaseException as exc:  # interrupted (Ctrl-C, SIGTERM) or a bug: do not leave half-started servers
        _abort(ro, f"interrupted: {type(exc).__name__}: {exc}".rstrip(": "))
        raise
    ro.finish_record("succeeded")
    return _result(ro, st, "succeeded", instant, started_at)


def _let_go(ro: Rollout, old: list[Server], st: DeploySettings, *, switch: bool) -> None:
    """The route now points at the new set: old servers stand by (blue-green) or stop."""
    if not old:
        ro.publish()
        return
    if st.strategy == "blue-green" and not st.retire_old:
        ro.set_state([r.id for r in old if r.state == "healthy"], "standby")
        ro.publish()
        ro.out.standby.extend(r.id for r in old)
        down = [r for r in old if r.state != "healthy"]
        if down:
            ro.retire(down, reason="replaced")
    else:
        ro.publish()  # the new servers are in; the old ones leave the route in retire()
        ro.retire(old, reason="replaced")


def _fail(ro: Rollout, started: list[LaunchedServer], failed: dict[str, str], error: str,
          restore: list[tuple[int, int]] | None = None) -> None:
    """Remove what this deployment started; restart old servers it stopped; raise."""
    ro.out.failed.update(failed)
    ro.progress(f"deployment failed: {error}; removing the server(s) it started")
    rolled_back = False
    if restore:
        for version_id, n in restore:
            with ro.ledger.connect() as conn:
                v = versions.get(conn, version_id)
                arts, _ = artifacts.live_of(conn, version_id, ro.st.provider)
            if not arts:
                ro.out.warnings.append(f"cannot restore v{v.number} servers: no artifact")
                continue
            a = arts[0]
            artifact = {"provider": a.provider, "region": a.region, "id": a.external_id}
            try:  # the old version's own health check (its image may answer differently)
                meta = image_metadata(ro.config, artifact)
                check = health_check_from(meta, (ro.config.deploy.get(ro.env) or {}).get("health_check"),
                                          has_port=bool(meta.get("port_env") or meta.get("port_arg")))
            except (UsageError, NotFound, OperationFailed) as exc:
                ro.out.warnings.append(f"cannot restore v{v.number} servers: {exc.message}")
                continue
            back, err = ro.launch(n, v, artifact)
            ok, bad = wait_healthy(ro.fleet, back, check, max(ro.st.health_timeout, check.timeout))
            ro.set_state(ok, "healthy")
            ro.out.restored.extend(ok)
            if bad or err:
                ro.out.warnings.append(f"could not restore every v{v.number} server: {err or bad}")
            rolled_back = True
        ro.publish()
    # restored servers carry this deployment's id too: keep the healthy ones
    with ro.ledger.connect() as conn:
        mine = servers.of_deployment(conn, ro.dep_id, LIVE_STATES)
    ro.retire([r for r in mine if r.id not in ro.out.restored], reason="deployment failed", state="failed")
    ro.publish()
    ro.finish_record("failed", rolled_back=rolled_back, error=error)
    raise DeployFailed(f"{ro.image}@{ro.label} did not become healthy in {ro.env}: {error}",
                       hint="the old servers keep serving; see the server logs under "
                            f"{ro.config.state_dir}/retired-servers/<id>/server.log")


def _abort(ro: Rollout, error: str) -> None:
    """Best effort: stop this deployment's servers that are not serving yet, record the
    failure. Servers already in the route stay (stopping them could leave too few)."""
    try:
        with ro.ledger.connect() as conn:
            pending = servers.of_deployment(conn, ro.dep_id, ("pending", "unhealthy"))
        ro.retire(pending, reason="deployment interrupted", state="failed")
        ro.finish_record("failed", error=error)
    except BaseException:  # never hide the original error
        pass


def _launch_and_wait(ro: Rollout, n: int) -> tuple[list[LaunchedServer], list[str], dict[str, str], str | None]:
    started, err = ro.launch(n, ro.t.version, ro.t.artifact)
    if err:
        return started, [], {}, err
    healthy, bad = wait_healthy(ro.fleet, started, ro.st.health, ro.st.health_timeout)
    if bad:
        sid, why = next(iter(bad.items()))
        return started, healthy, bad, f"{sid}: {why}"
    return started, healthy, {}, None


def _blue_green(ro: Rollout, reuse: list[Server], old_route: list[Server]) -> None:
    n = ro.st.count - len(reuse)
    ro.progress(f"starting {n} {ro.label} server(s) (blue-green)")
    started, healthy, bad, err = _launch_and_wait(ro, n)
    if err:
        _fail(ro, started, bad, err)
    ro.set_state(healthy + [r.id for r in reuse], "healthy")
    ro.progress(f"{len(healthy)} new server(s) healthy: switching the route")
    _let_go(ro, old_route, ro.st, switch=True)


def _rolling(ro: Rollout, reuse: list[Server], old_route: list[Server]) -> None:
    st = ro.st
    if reuse:
        ro.set_state([r.id for r in reuse], "healthy")
        ro.publish()
    old = sorted(old_route, key=lambda r: ({"healthy": 1}.get(r.state, 0), r.launched_at))  # broken ones first
    need = st.count - len(reuse)
    stopped: dict[int, int] = {}  # version id -> servers this deployment stopped (restored on failure)
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
            pre_rows = old[:pre]
            if pre_rows:
                ro.retire(pre_rows, reason="replaced (max_unavailable)")
                for r in pre_rows:
                    if r.state == "healthy":
                        stopped[r.version_id] = stopped.get(r.version_id, 0) + 1
                old = old[pre:]
            ro.progress(f"batch {batch_no}: starting {k} {ro.label} server(s)"
                        + (f" ({done + k}/{need})" if need > k else ""))
            started, healthy, bad, err = _launch_and_wait(ro, k)
            if err:
                settle()
                _fail(ro, started, bad, err, restore=list(stopped.items()))
            done += k
            post = old[:max(0, k - pre)]
            # one route change per batch: the new servers in, the batch's old ones out
            ro.set_state(healthy, "healthy", draining=[r.id for r in post if r.state == "healthy"])
            ro.publish()
            if post:
                stopping.append(stopper.submit(ro.retire, post, reason="replaced", out_of_route=True))
                for r in post:
                    if r.state == "healthy":
                        stopped[r.version_id] = stopped.get(r.version_id, 0) + 1
                old = old[len(post):]
        settle()
        if old:  # count went down, or servers were left from before
            ro.retire(old, reason="replaced")
    finally:
        stopper.shutdown(wait=True)


def _result(ro: Rollout, st: DeploySettings, status: str, instant: bool, started_at: float) -> dict:
    with ro.ledger.connect() as conn:
        rows = live_rows(conn, ro.t.img.id, ro.t.env_row.id)
        labels = versions.labels(conn, ro.t.img.id)
    route = routes.read_route(ro.config.state_dir, ro.image, ro.env) or {"servers": []}
    return {"deployment": ro.dep_id, "image": ro.image, "env": ro.env, "version": ro.label, "status": status,
            "strategy": st.strategy, "count": st.count, "batch_size": st.batch_size,
            "max_unavailable": st.max_unavailable, "instant": instant,
            "launched": ro.out.launched, "retired": ro.out.retired, "standby": ro.out.standby,
            "healed": ro.out.healed, "restored": ro.out.restored, "failed": ro.out.failed,
            "route": [x["address"] for x in route["servers"]],
            "servers": [server_json(r, ro.image, labels.get(r.version_id, "?"), ro.env) for r in rows],
            "warnings": ro.out.warnings, "seconds": round(time.monotonic() - started_at, 3)}


# -- read-only views ---------------------------------------------------------------------------

def list_servers(ledger: Ledger, config: Config, image: str, env: str | None = None, *,
                 all_states: bool = False) -> dict:
    check_image_name(image)
    if env:
        config.environment(env)
    with ledger.connect() as conn:
        img = images.get(conn, image)
        rows = servers.listing(conn, img.id, env=env, states=None if all_states else LIVE_STATES + ("draining",))
        labels = versions.labels(conn, img.id)
    return {"image": image, "env": env,
            "servers": [server_json(r, image, labels.get(r.version_id, "?"), env_name) for r, env_name in rows]}
