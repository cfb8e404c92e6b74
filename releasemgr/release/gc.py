"""`release gc`: remove what dead builds left in the clouds.

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
from releasemgr.providers.aws import gc as aws_gc
from releasemgr.providers.aws.client import AwsError
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


def regions(ledger, config, given: list[str]) -> list[str]:
    if given:
        return list(dict.fromkeys(given))
    out = []
    aws_cfg = config.raw.get("aws", {}) if isinstance(config.raw.get("aws"), dict) else {}
    out += [str(r) for r in aws_cfg.get("regions", [])]
    with ledger.connect() as conn:
        out += artifacts.regions(conn, "aws")
    for var in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if os.environ.get(var):
            out.append(os.environ[var])
    for settings in config.deploy.values():
        if settings.get("provider") == "aws" and settings.get("region"):
            out.append(str(settings["region"]))
    return list(dict.fromkeys(out)) or ["us-east-1"]


def uses_aws(ledger, config, given: list[str]) -> bool:
    """Whether there is anything in AWS to look at: regions asked for, `[aws]` or an aws deploy
    target configured, or builds/artifacts of AWS in the ledger. A ledger of local builds only
    has nothing there, and needs no AWS credentials to say so."""
    if given or isinstance(config.raw.get("aws"), dict):
        return True
    if any(settings.get("provider") == "aws" for settings in config.deploy.values()):
        return True
    with ledger.connect() as conn:
        return bool(artifacts.regions(conn, "aws")) or builds.any_on_aws(conn)


def gc(ledger, config, *, actor: str, dry_run: bool = False, region: list[str] = (),
       include_unknown: bool = False, say=lambda s: None) -> dict:
    now = datetime.now(timezone.utc)
    if not uses_aws(ledger, config, list(region)):
        return {"dry_run": dry_run, "aws": False, "leftovers": [], "skipped": [], "removed": [], "failed": {}}
    found = []
    try:
        for r in regions(ledger, config, list(region)):
            say(f"Looking for leftovers in {r}...")
            found += aws_gc.find(r)
    except AwsError as exc:
        raise OperationFailed(str(exc)) from None
    except Exception as exc:  # botocore errors: one line
        raise OperationFailed(f"AWS: {exc}", hint="check credentials, region and endpoint") from None
    build_ids = sorted({f.build_id for f in found})
    with ledger.connect() as conn:
        known = builds.get_many(conn, build_ids)
        kept_artifacts = artifacts.live_external_ids(conn, "aws")
    leftovers, skipped, dead_running = [], [], []
    for f in found:
        b = known.get(f.build_id)
        if b is None:
            (leftovers if include_unknown else skipped).append((f, "unknown build (not in this ledger)"))
            continue
        if not build_is_dead(b, now):
            skipped.append((f, "build still running"))
            continue
        if f.kind == "image" and f.id in kept_artifacts:
            continue  # a version's AMI
        if f.kind == "snapshot" and b.status == "succeeded":
            continue  # snapshots of a succeeded build back its AMIs; prune removes them with the AMI
        if b.status == "running":
            dead_running.append(b.id)
        leftovers.append((f, f"build {b.status}" if b.status != "running" else "build process died"))
    doc = {"dry_run": dry_run, "aws": True,
           "leftovers": [{**f.to_json(), "reason": why} for f, why in leftovers],
           "skipped": [{**f.to_json(), "reason": why} for f, why in skipped],
           "removed": [], "failed": {}}
    if dry_run or not leftovers:
        return doc
    removed, failed = aws_gc.remove([f for f, _ in leftovers], say=say)
    doc["removed"] = [r.to_json() for r in removed]
    doc["failed"] = failed
    with ledger.transaction() as conn:
        for bid in sorted(set(dead_running)):
            builds.fail_if_running(conn, bid, at=now_iso(), error="the build process died; gc removed its leftovers")
        audit.append(conn, "gc", actor=actor,
                     details={"removed": [f"{r.region}:{r.kind}:{r.id}" for r in removed], "failed": failed,
                              "builds": sorted({r.build_id for r in removed})})
    return doc
