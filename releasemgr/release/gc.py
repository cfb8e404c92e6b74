"""`release gc`: remove what dead builds left in the clouds (each provider with a garbage
collector: where to look, what is there, what may go; this module decides which builds are dead).

A build is dead when its row says failed/cancelled, or says running while its process is
gone (same host, pid not alive) or its heartbeat is older than `stale_after`. Resources of
running builds are never touched; the AMIs and snapshots that are a version's artifacts are
never leftovers. Resources tagged by builds this ledger does not know are listed but only
removed with `include_unknown` (they may belong to another team's ledger).
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta, timezone

from releasemgr.ledger import audit
from releasemgr.ledger.clock import now_iso, parse_iso
from releasemgr.ledger.repo import artifacts, builds
from releasemgr.ledger.rows import Build
from releasemgr.providers.base import GarbageCollector, LedgerFacts, Leftover, LeftoversUnreadable, Provider
from releasemgr.providers.registry import providers
from releasemgr.release.server_rows import provider_name
from releasemgr.errors import OperationFailed

STALE_AFTER = timedelta(seconds=120)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def build_is_dead(b: Build, now: datetime) -> bool:
    if b.status != "running":
        return True
    if b.host == socket.gethostname() and not _alive(b.pid):
        return True
    beat = parse_iso(b.heartbeat_at or b.started_at)
    return now - beat > STALE_AFTER


def collectors(ledger, config, given: list[str]) -> list[tuple[Provider, GarbageCollector]]:
    """Each provider whose builds may leave something on its platform, with its collector: told
    its release.toml section, the deploy targets that use it, what the ledger knows of it and
    the regions asked for."""
    out = []
    with ledger.connect() as conn:
        for p in providers():
            if type(p).garbage_collector is Provider.garbage_collector:
                continue
            section = config.raw.get(p.name)
            facts = LedgerFacts(artifact_regions=artifacts.regions(conn, p.name),
                                built=builds.any_started_with(conn, [f"{fam}-" for fam in p.packer_builders]))
            deploy_settings = [s for env, s in config.deploy.items() if provider_name(config, env) == p.name]
            c = p.garbage_collector(section if isinstance(section, dict) else None, deploy_settings, facts,
                                    list(dict.fromkeys(given)))
            if c is not None:
                out.append((p, c))
    return out


def gc(ledger, config, *, actor: str, dry_run: bool = False, region: list[str] = (),
       include_unknown: bool = False, say=lambda s: None) -> dict:
    """The document `release gc` shows: `dry_run`, one `<provider>: bool` per provider with a
    collector (whether it was looked at), `leftovers`, `skipped`, `removed`, `failed`."""
    now = datetime.now(timezone.utc)
    used = [(p, c, c.in_use()) for p, c in collectors(ledger, config, list(region))]
    in_use = {p.name: u for p, _, u in used}
    if not any(in_use.values()):
        return {"dry_run": dry_run, **in_use, "leftovers": [], "skipped": [], "removed": [], "failed": {}}
    found: list[tuple[Provider, GarbageCollector, Leftover]] = []
    try:
        for p, c, u in used:
            if not u:
                continue
            for r in c.regions():
                say(f"Looking for leftovers in {r}...")
                found += [(p, c, f) for f in c.find(r)]
    except LeftoversUnreadable as exc:
        raise OperationFailed(str(exc), hint=exc.hint) from None
    build_ids = sorted({f.build_id for _, _, f in found})
    with ledger.connect() as conn:
        known = builds.get_many(conn, build_ids)
        kept_artifacts = {p.name: artifacts.live_external_ids(conn, p.name) for p, _, u in used if u}
    leftovers, skipped, dead_running = [], [], []
    for p, c, f in found:
        b = known.get(f.build_id)
        if b is None:
            (leftovers if include_unknown else skipped).append((c, f, "unknown build (not in this ledger)"))
            continue
        if not build_is_dead(b, now):
            skipped.append((c, f, "build still running"))
            continue
        if c.keeps(f, b.status, kept_artifacts[p.name]):
            continue
        if b.status == "running":
            dead_running.append(b.id)
        leftovers.append((c, f, f"build {b.status}" if b.status != "running" else "build process died"))
    doc = {"dry_run": dry_run, **in_use,
           "leftovers": [{**f.to_json(), "reason": why} for _, f, why in leftovers],
           "skipped": [{**f.to_json(), "reason": why} for _, f, why in skipped],
           "removed": [], "failed": {}}
    if dry_run or not leftovers:
        return doc
    removed, failed = [], {}
    for _, c, _ in used:
        mine = [f for owner, f, _ in leftovers if owner is c]
        if mine:
            r, f = c.remove(mine, say=say)
            removed += r
            failed.update(f)
    doc["removed"] = [r.to_json() for r in removed]
    doc["failed"] = failed
    with ledger.transaction() as conn:
        for bid in sorted(set(dead_running)):
            builds.fail_if_running(conn, bid, at=now_iso(), error="the build process died; gc removed its leftovers")
        audit.append(conn, "gc", actor=actor,
                     details={"removed": [f"{r.region}:{r.kind}:{r.id}" for r in removed], "failed": failed,
                              "builds": sorted({r.build_id for r in removed})})
    return doc
