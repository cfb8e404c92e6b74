"""`deploy()`: the use case that brings an environment's servers to a version (see the
package's docstring for the strategies), its dry run and its result document."""

from __future__ import annotations

import contextlib
import time

from releasemgr.config import Config
from releasemgr.errors import PolicyRefused
from releasemgr.ledger.db import Ledger
from releasemgr.ledger.locks import env_lock
from releasemgr.ledger.refs import check_image_name
from releasemgr.ledger.repo import deployments, environments, images, versions
from releasemgr.ledger.rows import Server
from releasemgr.providers.registry import provider as provider_named
from releasemgr.release import policy, routes
from releasemgr.release.servers import EnvironmentServers
from releasemgr.release.deploy.group import deploy_group, dry_run_group
from releasemgr.release.deploy.settings import DeploySettings, settings_for
from releasemgr.release.deploy.strategies import (DeployFailed, Deployment, abort, blue_green, let_go, plan,
                                                  reuse_checked, rolling)
from releasemgr.release.deploy.target import Target, image_metadata, resolve_target
from releasemgr.release.server_rows import (Progress, live_rows, open_fleet, provider_name, provider_settings,
                                            server_json)

__all__ = ["DeployFailed", "deploy"]


def deploy(ledger: Ledger, config: Config, image: str, env: str, *, actor: str, version: str | None = None,
           count: int | None = None, strategy: str | None = None, batch_size: int | None = None,
           max_unavailable: int | None = None, health_timeout: float | None = None,
           retire_old: bool | None = None, dry_run: bool = False, lock_timeout: float = 0.0,
           hold_lock: bool = True, progress: Progress | None = None, cause: str = "deploy",
           override_freeze: bool = False, first_of_env: bool = False) -> dict:
    """Bring (image, env)'s servers to the version its pointer names. `version` may only
    name that version (else PolicyRefused with the `release promote` that would do it);
    `first_of_env` (promote-and-deploy's first promotion to `env`, under the lock): it may
    name a version while `env` has no pointer yet, which the move sets right after."""
    check_image_name(image)
    config = policy.effective(ledger, config)  # the freeze rule is the ledger's (refused if its policy is missing)
    env_cfg = config.environment(env)
    provider = provider_name(config, env)
    with ledger.connect() as conn:
        t = resolve_target(conn, config, image, env, version, provider)
        _follows_pointer(t, version, first_of_env)
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
    p = provider_named(st.provider)
    group = p.server_group(psettings) if p is not None else None
    fleet = None if group else open_fleet(config, env)
    if dry_run:
        return dry_run_group(t, group) if group else _dry_run(t, st, existing)
    lock = env_lock(ledger, config.state_dir, image, env, actor=actor, operation=cause, timeout=lock_timeout,
                    on_wait=progress) if hold_lock else contextlib.nullcontext()
    # a group replaces its own servers: an interrupted roll is the provider's to finish or undo
    with (contextlib.nullcontext() if group else _sigterm_interrupts()), lock:
        if hold_lock:
            with ledger.connect() as conn:  # what is current may have moved while we waited for the lock
                t = resolve_target(conn, config, image, env, version, provider)
            _follows_pointer(t, version, first_of_env)
        if group:
            return deploy_group(ledger, p, t, psettings, actor=actor, batch_size=st.batch_size,
                                health_timeout=max(st.health_timeout, 60.0), progress=progress, cause=cause)
        return _run(Deployment(ledger, config, fleet, t, st, actor=actor, progress=progress, cause=cause))


def _follows_pointer(t: Target, version: str | None, first_of_env: bool) -> None:
    """Servers follow the pointer: a deploy of another version than the one the environment
    points at is refused; moving the pointer (with its policy) is `release promote`."""
    if version is None or t.version.id == t.current_id or (first_of_env and t.current_id is None):
        return
    label, env = f"{t.img.name}@{t.label}", t.env_row.name
    where = "has no current version" if t.current_id is None else "points at another version"
    raise PolicyRefused(f"{label} is not what {env} points at ({env} {where}): a deploy brings {env} to the "
                        f"version its pointer names", rule="follows-pointer",
                        hint=f"move the pointer under {env}'s policy: `release promote {label} --to {env} --deploy`",
                        command=f"release promote {label} --to {env} --deploy")


def stop_all(ledger: Ledger, config: Config, image: str, env: str, *, actor: str, reason: str,
             progress: Progress | None = None) -> list[str]:
    """Stop every live server of `image` in `env` (the caller holds the lock): what a first
    promotion's deploy started when the promotion is then refused. Returns their ids."""
    with ledger.connect() as conn:
        img, env_row = images.get(conn, image), environments.get(conn, env)
        rows = live_rows(conn, img.id, env_row.id)
    if not rows:
        return []
    srv = EnvironmentServers(ledger, config, open_fleet(config, env), img, env_row, version="-", actor=actor,
                             progress=progress)
    srv.retire(rows, reason=reason)
    srv.publish()
    return [r.id for r in rows]


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


def _dry_run(t: Target, st: DeploySettings, rows: list[Server]) -> dict:
    mine, old_route, _old_standby = plan(rows, t.version.id, st.count)
    reuse = mine[:st.count]
    instant = len(reuse) >= st.count
    start = 0 if instant else st.count - len(reuse)
    blue_green_keeps = st.strategy == "blue-green" and not st.retire_old
    return {"deployment": None, "dry_run": True, "image": t.img.name, "env": t.env_row.name,
            "version": t.label, "status": "planned", **st.to_json(), "instant": instant,
            "would_launch": start, "would_reuse": [r.id for r in reuse],
            "would_retire": [] if blue_green_keeps else [r.id for r in old_route],
            "would_standby": [r.id for r in old_route] if blue_green_keeps else []}


def _run(dep: Deployment) -> dict:
    st, srv = dep.settings, dep.servers
    started_at = time.monotonic()
    dep.start_record()
    instant = False
    try:
        srv.heal()
        mine, old_route, _standby = plan(srv.rows(), dep.target.version.id, st.count)
        reuse, extra = reuse_checked(dep, mine[:st.count]), mine[st.count:]
        if len(reuse) >= st.count:
            instant = any(r.state != "healthy" for r in reuse) or bool(old_route)
            dep.progress(f"{len(reuse)} {dep.label} servers already running: switching the route to them")
            srv.set_state([r.id for r in reuse], "healthy")
            let_go(dep, old_route)
        elif st.strategy == "blue-green":
            blue_green(dep, reuse, old_route)
        else:
            rolling(dep, reuse, old_route)
        if extra:
            srv.retire(extra, reason=f"more than count={st.count}")
        srv.publish()
    except DeployFailed as exc:
        exc.details["deployment"] = _result(dep, "failed", instant, started_at)
        raise
    except BaseException as exc:  # interrupted (Ctrl-C, SIGTERM) or a bug: do not leave half-started servers
        abort(dep, f"interrupted: {type(exc).__name__}: {exc}".rstrip(": "))
        raise
    dep.finish_record("succeeded")
    return _result(dep, "succeeded", instant, started_at)


def _result(dep: Deployment, status: str, instant: bool, started_at: float) -> dict:
    st, changes = dep.settings, dep.servers.changes
    with dep.ledger.connect() as conn:
        rows = live_rows(conn, dep.target.img.id, dep.target.env_row.id)
        labels = versions.labels(conn, dep.target.img.id)
    route = routes.read_route(dep.config.state_dir, dep.image, dep.env) or {"servers": []}
    return {"deployment": dep.id, "image": dep.image, "env": dep.env, "version": dep.label, "status": status,
            "strategy": st.strategy, "count": st.count, "batch_size": st.batch_size,
            "max_unavailable": st.max_unavailable, "instant": instant,
            "launched": changes.launched, "retired": changes.retired, "standby": dep.out.standby,
            "healed": changes.healed, "restored": dep.out.restored, "failed": dep.out.failed,
            "route": [x["address"] for x in route["servers"]],
            "servers": [server_json(r, dep.image, labels.get(r.version_id, "?"), dep.env) for r in rows],
            "warnings": changes.warnings, "seconds": round(time.monotonic() - started_at, 3)}
