"""What runs where, as the providers see it, against what the ledger says.

Drift kinds:
- `dead`: the ledger has a live server the provider no longer runs (killed from outside);
- `unrecorded`: the provider runs a releasemgr server the ledger has no live record of;
- `stale_version`: a server in the route runs a version the environment no longer points at
  (standby blue-green sets are expected and are not drift);
- `unhealthy`: a server in the route fails its health check;
- `no_servers`: the environment points at a version no server runs, where its deploy settings
  expect servers (a `[deploy.<env>]` table or `auto_deploy`; not an Auto Scaling group,
  which owns its instances);
- `damaged`: a ledger row refers to a row that is not there (deleted behind the tool's back;
  `Ledger.broken_references`): what it says about the rest cannot be trusted.

`release deploy IMAGE --env ENV` heals all of them for that environment.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

from releasemgr.config import Config
from releasemgr.ledger.clock import parse_iso
from releasemgr.ledger.db import Ledger
from releasemgr.ledger.repo import channels, environments, images, servers as server_repo, versions
from releasemgr.ledger.rows import Server
from releasemgr.providers.base import FleetError
from releasemgr.providers.registry import fleet_for, provider as provider_named
from releasemgr.release import policy
from releasemgr.release.deploy.settings import health_check_from
from releasemgr.release.server_rows import (LIVE_STATES, check_once, handle_of, provider_name, provider_settings,
                                            server_json)

CHECK_TIMEOUT = 2.0


def check(ledger: Ledger, config: Config, image: str | None = None, env: str | None = None, *,
          health: bool = True) -> dict:
    env_names = [env] if env else config.environment_names
    if env:
        config.environment(env)
    now = datetime.now(timezone.utc)
    with ledger.connect() as conn:
        envs = {e.id: e.name for e in environments.all_(conn)}
        imgs = {i.id: i.name for i in images.all_(conn)}
        rows = [r for r in server_repo.in_states(conn, LIVE_STATES)
                if envs.get(r.environment_id) in env_names and (image is None or imgs[r.image_id] == image)]
        labels: dict[int, str] = {}
        for img_id in {r.image_id for r in rows}:
            labels.update(versions.labels(conn, img_id))
        current = {(ch.image_id, ch.environment_id): ch.version_id for ch in channels.all_(conn)}

    servers = []
    drift = [{"kind": "damaged", "detail": f"the ledger is damaged: {problem} (`release audit verify` names what "
                                           "changed)"} for problem in ledger.broken_references()]
    by_provider: dict[str, list[Server]] = {}
    for r in rows:
        by_provider.setdefault(r.provider, []).append(r)
    providers = {provider_name(config, e) for e in env_names} | set(by_provider)
    for provider in sorted(providers):
        try:
            envs_of = [e for e in env_names if provider_name(config, e) == provider]
            fleet = fleet_for(provider, config.state_dir,
                              provider_settings(config, envs_of[0]) if envs_of else config.raw.get(provider))
        except FleetError as exc:
            drift.append({"kind": "unknown_provider", "provider": provider, "detail": str(exc)})
            continue
        mine = by_provider.get(provider, [])
        states = fleet.describe([handle_of(r) for r in mine])

        def probe(r: Server) -> tuple[bool, str]:
            env_name = envs[r.environment_id]
            extra = r.extra
            try:
                hc = health_check_from({"health_check": extra.get("image_meta_health")},
                                       (config.deploy.get(env_name) or {}).get("health_check"),
                                       has_port=bool(r.address))
                # a few tries within CHECK_TIMEOUT: some providers report status in shared, cached
                # refreshes (EC2's DescribeInstanceStatus), so a first answer may be "not yet"
                deadline = time.monotonic() + CHECK_TIMEOUT
                while True:
                    budget = max(0.1, deadline - time.monotonic())
                    ok, why = check_once(fleet, handle_of(r), hc, budget)
                    if ok or why == "process exited" or time.monotonic() + 0.25 >= deadline:
                        return ok, why
                    time.sleep(0.25)
            except Exception as exc:  # a bad health check setting: report it, do not crash status
                return False, str(exc)

        probed: dict[str, tuple[bool, str]] = {}
        if health:
            alive_rows = [r for r in mine if states[r.id].alive]
            if alive_rows:
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(max_workers=min(16, len(alive_rows))) as pool:
                    probed = dict(zip([r.id for r in alive_rows], pool.map(probe, alive_rows)))
        for r in mine:
            img_name, env_name, label = imgs[r.image_id], envs[r.environment_id], labels.get(r.version_id, "?")
            doc = server_json(r, img_name, label, env_name)
            doc["age_seconds"] = round((now - parse_iso(r.launched_at)).total_seconds(), 1)
            alive = states[r.id].alive
            if not alive:
                doc["health"] = "dead"
                drift.append({"kind": "dead", "image": img_name, "env": env_name, "server": r.id, "version": label,
                              "detail": f"recorded as {r.state} but {states[r.id].detail}"})
            elif health:
                ok, why = probed[r.id]
                doc["health"] = "healthy" if ok else "unhealthy"
                if not ok and r.state == "healthy":
                    drift.append({"kind": "unhealthy", "image": img_name, "env": env_name, "server": r.id,
                                  "version": label, "detail": why})
            else:
                doc["health"] = "alive"
            cur = current.get((r.image_id, r.environment_id))
            if alive and r.state in ("healthy", "pending", "unhealthy") and cur is not None and cur != r.version_id:
                drift.append({"kind": "stale_version", "image": img_name, "env": env_name, "server": r.id,
                              "version": label, "detail": f"{env_name} points at {labels.get(cur, '?')}"})
            servers.append(doc)
        known = {r.id for r in rows}
        with ledger.connect() as conn:
            recorded_live = server_repo.ids_in_states(conn, LIVE_STATES)
        for m in fleet.list_managed(image, None):
            if m.env not in env_names or not m.alive or m.id in known or m.id in recorded_live:
                continue
            drift.append({"kind": "unrecorded", "image": m.image, "env": m.env, "server": m.id,
                          "version": m.version, "detail": f"{provider} runs it (pid {m.extra.get('pid')}) but the "
                                                          f"ledger has no live record of it"})
    drift += _pointers_without_servers(ledger, config, env_names, image, rows)
    return {"servers": servers, "drift": drift, "ok": not drift}


def expects_servers(config: Config, env: str) -> bool:
    """The environment's deploy settings say its pointers run servers releasemgr records."""
    settings = config.deploy.get(env)
    if not settings and not config.environment(env).auto_deploy:
        return False
    p = provider_named(provider_name(config, env))
    return not (p is not None and p.server_group(provider_settings(config, env)))


def _pointers_without_servers(ledger: Ledger, config: Config, env_names: list[str], image: str | None,
                              rows: list[Server]) -> list[dict]:
    config = policy.effective(ledger, config)
    wanted = [e for e in env_names if expects_servers(config, e)]
    if not wanted:
        return []
    serving = {(r.image_id, r.environment_id, r.version_id) for r in rows
               if r.state in ("healthy", "pending", "unhealthy")}
    out = []
    with ledger.connect() as conn:
        envs = {e.id: e.name for e in environments.all_(conn)}
        imgs = {i.id: i.name for i in images.all_(conn)}
        for ch in channels.all_(conn):
            env_name, img_name = envs.get(ch.environment_id), imgs.get(ch.image_id)
            if env_name not in wanted or (image is not None and img_name != image):
                continue
            if (ch.image_id, ch.environment_id, ch.version_id) in serving:
                continue
            label = versions.labels(conn, ch.image_id).get(ch.version_id, "?")
            out.append({"kind": "no_servers", "image": img_name, "env": env_name, "version": label,
                        "detail": f"{env_name} points at {label} but no server of it runs "
                                  f"(`release deploy {img_name} --env {env_name}` starts them)"})
    return out


def drift_text(d: dict) -> str:
    lines = []
    for item in d["drift"]:
        where = f"{item.get('image')}@{item.get('version')} in {item.get('env')}" if item.get("image") else ""
        about = " ".join(x for x in (item.get("server") or "", where) if x)
        lines.append(f"drift: {item['kind']}: {about + ': ' if about else ''}{item['detail']}")
    return "\n".join(lines)
