"""Approvals are recorded acts: `release approve REF --env ENV` by the approver, under the
approver's own identity (on a SQLite ledger: `--actor` / `RELEASE_ACTOR`, else the OS
account -- whoever can write the file can claim any name).

An approval counts for one (version, environment); it is used up by the promotion it allowed
(marked used in that promotion's transaction) and lapses after the environment's
`approval_ttl`. A promotion needing N approvals counts distinct approvers other than the
promoter, identities compared after `policy.normalise_identity`.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from releasemgr.config import Config
from releasemgr.errors import PolicyRefused
from releasemgr.ledger import audit
from releasemgr.ledger.clock import now_iso
from releasemgr.ledger.db import Ledger
from releasemgr.ledger.refs import parse_ref
from releasemgr.ledger.repo import approvals as repo, channels, environments, versions
from releasemgr.ledger.rows import Approval, Image, Version
from releasemgr.release import policy


def iso(when: datetime | None) -> str:
    """A datetime as the ledger stores times (now when None)."""
    if when is None:
        return now_iso()
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record(ledger: Ledger, config: Config, ref: str, env_name: str, *, actor: str, ticket: str | None = None,
           reason: str | None = None, now: datetime | None = None) -> dict:
    """`release approve`: one approval of REF for ENV by `actor`, audited as `approval.recorded`."""
    with ledger.transaction() as conn:
        img, v = versions.resolve(conn, parse_ref(ref))
        env, env_row = policy.environment(conn, env_name, config)
        label = f"{img.name}@v{v.number}"
        if v.revoked:
            raise PolicyRefused(f"{label} is revoked ({v.revoked_reason}) and cannot be approved", rule="revoked",
                                hint=f"lift it first with `release unrevoke {label} --reason ...`")
        when = now or datetime.now(timezone.utc)
        at = iso(when)
        expires = iso(when + timedelta(seconds=env.approval_ttl_seconds))
        a = repo.add(conn, version_id=v.id, env_id=env_row.id, approver=" ".join(actor.split()),
                     approver_key=policy.normalise_identity(actor), ticket=ticket, reason=reason, at=at,
                     expires_at=expires)
        audit.append(conn, "approval.recorded", actor=actor, image=img.name, version=f"v{v.number}", env=env.name,
                     ticket=ticket, reason=reason, at=at,
                     details={"approval": a.id, "approver": a.approver, "expires_at": expires})
        approvers = distinct_names(valid_for(conn, v.id, env_row.id, at))
        return {"image": img.name, "version": f"v{v.number}", "number": v.number, "env": env.name,
                **approval_json(a, at), "valid_approvers": approvers, "required": env.approvals}


def valid_for(conn, version_id: int, env_id: int, at: str) -> list[Approval]:
    """The approvals of (version, environment) that are neither used nor lapsed at `at`."""
    return [a for a in repo.of(conn, version_id, env_id) if a.used_at is None and a.expires_at > at]


def distinct_names(items: list[Approval]) -> list[str]:
    """One name per approver (the first spelling recorded), sorted."""
    names: dict[str, str] = {}
    for a in items:
        names.setdefault(a.approver_key, a.approver)
    return sorted(names.values(), key=str.casefold)


def state(a: Approval, at: str) -> str:
    if a.used_at is not None:
        return "used"
    return "lapsed" if a.expires_at <= at else "valid"


def approval_json(a: Approval, at: str) -> dict:
    return {"approver": a.approver, "at": a.at, "expires_at": a.expires_at, "ticket": a.ticket,
            "reason": a.reason, "state": state(a, at), "used": a.used_at is not None,
            "lapsed": a.used_at is None and a.expires_at <= at, "used_at": a.used_at, "used_by": a.used_by}


def of_version(conn, version_id: int) -> dict[str, list[dict]]:
    """{environment: [approval JSON, oldest first]} of a version (`release show`)."""
    names = {e.id: e.name for e in environments.all_(conn)}
    at = now_iso()
    out: dict[str, list[dict]] = {}
    for a in repo.of_version(conn, version_id):
        out.setdefault(names.get(a.environment_id, "?"), []).append(approval_json(a, at))
    return out


def use(conn, usable: list[Approval], *, actor: str, at: str, action: str = "promote") -> list[Approval]:
    """Mark the approvals that allowed a move used (not the promoter's own); returns them.
    The rows are recorded in the move's `action` event (`promote` / `rollback`), which the
    caller appends in the same transaction."""
    me = policy.normalise_identity(actor)
    used = [a for a in usable if a.approver_key != me]
    repo.use(conn, [a.id for a in used], at=at, by=actor, action=action)
    return used


def healthy_before(conn, img: Image, v: Version, env_id: int) -> bool:
    """The rollback exception: `v` was good in the environment before (`why_not_good`)."""
    return why_not_good(conn, img.id, v, env_id) is None


def why_not_good(conn, image_id: int, v: Version, env_id: int, env_name: str = "the environment") -> str | None:
    """The one rule of "was good there" (the rollback target and the approvals exception):
    None when `v` is not revoked and reached healthy in the environment -- a succeeded
    deployment of it there; where the image has no deployments there (no servers): it was
    current there and not rolled back from since it last became current. Else why not."""
    if v.revoked:
        return f"it is revoked ({v.revoked_reason})"
    if repo.has_deployments(conn, image_id, env_id):
        statuses = repo.deployment_statuses(conn, v.id, env_id)
        if "succeeded" in statuses:
            return None
        if statuses & {"failed", "rolled_back"}:
            return f"its deploy failed in {env_name}"
        return f"it never reached healthy in {env_name}"
    moves = channels.moves(conn, env_id, image_id)  # newest first
    for m in moves:
        if m.action == "rollback" and m.from_version_id == v.id:
            return f"it was rolled back from in {env_name}"
        if m.to_version_id == v.id:
            return None
    return f"it was never current in {env_name}"
