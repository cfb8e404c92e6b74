"""Servers as rows and handles, without changing any: which states are live, a server's JSON,
its handle for the fleet, where an environment's servers run (its provider and settings), one
health check. Read paths (`status`, `status --check`, `servers`) need only this module, so they
start without the machinery of launching and retiring (`release/servers.py`)."""

from __future__ import annotations

from typing import Callable

from releasemgr.config import Config
from releasemgr.errors import UsageError
from releasemgr.ledger.repo import servers
from releasemgr.ledger.rows import Server
from releasemgr.providers.base import Fleet, FleetError, HealthCheck, LaunchedServer
from releasemgr.providers.registry import fleet_for

LIVE_STATES = ("pending", "healthy", "unhealthy", "standby")
Progress = Callable[..., None]  # progress(text, *, task=, done=, total=, detail=): Ui.info


# -- where an environment's servers run ---------------------------------------------------------

def provider_name(config: Config, env: str) -> str:
    """The provider `[deploy.<env>]` names (default: local)."""
    return (config.deploy.get(env) or {}).get("provider", "local")


def provider_settings(config: Config, env: str) -> dict:
    """A provider's options: `[aws]` (or `[<provider>]`) overlaid by `[deploy.<env>]`."""
    d = dict(config.deploy.get(env) or {})
    base = config.raw.get(d.get("provider", "local")) or {}
    return {**(base if isinstance(base, dict) else {}), **d}


def open_fleet(config: Config, env: str) -> Fleet:
    """The fleet that runs `env`'s servers; UsageError when its provider has none."""
    try:
        return fleet_for(provider_name(config, env), config.state_dir, provider_settings(config, env))
    except FleetError as exc:
        raise UsageError(str(exc)) from None


# -- server rows ---------------------------------------------------------------------------------

def handle_of(row: Server) -> LaunchedServer:
    return LaunchedServer(id=row.id, provider=row.provider, provider_id=row.provider_id, address=row.address,
                          extra=dict(row.extra))


def server_json(row: Server, image: str, version: str, env: str, *, health: str | None = None) -> dict:
    extra = row.extra
    doc = {"id": row.id, "image": image, "version": version, "env": env, "address": row.address,
           "state": row.state, "provider": row.provider, "pid": extra.get("pid"),
           "launched_at": row.launched_at, "retired_at": row.retired_at, "deployment": row.deployment_id}
    if health is not None:
        doc["health"] = health
    return doc


def live_rows(conn, image_id: int, env_id: int) -> list[Server]:
    return servers.live(conn, image_id, env_id, LIVE_STATES)


# -- health ----------------------------------------------------------------------------------------

def check_once(fleet: Fleet, server: LaunchedServer, check: HealthCheck, budget: float) -> tuple[bool, str]:
    """One health check within `budget` seconds: (healthy, why not)."""
    detail_of = getattr(fleet, "health_detail", None)
    if detail_of is not None:
        return detail_of(server, check, budget)
    return (fleet.check_health(server, check, budget), "unhealthy")
