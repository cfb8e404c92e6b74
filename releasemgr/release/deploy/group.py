"""Deploying to a group that replaces its own servers (the provider's `server_group`: an
Auto Scaling group, `[deploy.<env>] auto_scaling_group = "name"`): the provider rolls the
group to the version's artifact in batches (`roll_group`); a rollback is the same with the
previous artifact. The group owns its instances, so they are recorded in the deployment, not
as servers releasemgr retires."""

from __future__ import annotations

import uuid

from releasemgr.errors import OperationFailed
from releasemgr.ledger import audit
from releasemgr.ledger.clock import now_iso
from releasemgr.ledger.repo import deployments
from releasemgr.providers.base import Provider
from releasemgr.release.deploy.target import Target


def dry_run_group(t: Target, group: str) -> dict:
    return {"deployment": None, "dry_run": True, "image": t.img.name, "env": t.env_row.name, "version": t.label,
            "status": "planned", "strategy": "auto-scaling-group", "auto_scaling_group": group,
            "ami": t.artifact["id"]}


def deploy_group(ledger, provider: Provider, t: Target, settings: dict, *, actor: str, batch_size: int,
                 health_timeout: float, progress=None, cause: str = "deploy") -> dict:
    say = progress or (lambda s: None)
    group = provider.server_group(settings)
    label = t.label
    dep_id = str(uuid.uuid4())
    now = now_iso()
    with ledger.transaction() as conn:
        deployments.start(conn, dep_id, image_id=t.img.id, version_id=t.version.id, env_id=t.env_row.id,
                          strategy="rolling", count=0, batch_size=batch_size, actor=actor, at=now,
                          detail={"auto_scaling_group": group, "cause": cause})
        audit.append(conn, "deployment.started", actor=actor, image=t.img.name, version=label, env=t.env_row.name,
                     at=now, details={"deployment": dep_id, "auto_scaling_group": group,
                                      "ami": t.artifact["id"], "cause": cause})
    try:
        result = provider.roll_group(settings, t.artifact["id"], image=t.img.name, version=label, env=t.env_row.name,
                                     batch_size=batch_size, timeout=health_timeout, say=say)
        status, error = "succeeded", None
    except Exception as exc:  # noqa: BLE001 - botocore errors too: recorded, then one message
        result, status, error = {}, "failed", str(exc)
    done = now_iso()
    with ledger.transaction() as conn:
        row = deployments.get(conn, dep_id)
        deployments.finish(conn, row, status=status, at=done, count=len(result.get("instances", [])),
                           detail={**row.detail, **result, "error": error})
        audit.append(conn, f"deployment.{'finished' if status == 'succeeded' else 'failed'}", actor=actor,
                     image=t.img.name, version=label, env=t.env_row.name, at=done,
                     details={"deployment": dep_id, "replaced": len(result.get("replaced", [])), "error": error})
    doc = {"deployment": dep_id, "image": t.img.name, "env": t.env_row.name, "version": label, "status": status,
           "strategy": "auto-scaling-group", **result}
    if error:
        raise OperationFailed(f"deploy to Auto Scaling group {group} failed: {error}", deployment=doc)
    return doc
