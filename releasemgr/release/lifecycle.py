"""Registering versions, promoting, rolling back, revoking: each one transaction + audit event.

Register, promote and rollback run plain SQL on `Ledger.transaction()` (`register_in` also
inside a build's ORM session); revoke and unrevoke use the ORM models.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from typing import TYPE_CHECKING

from releasemgr.config import Config
from releasemgr.errors import Conflict, NotFound, PolicyRefused, UsageError
from releasemgr.ledger import audit, sql
from releasemgr.ledger.clock import now_iso
from releasemgr.ledger.conn import Q, adapt
from releasemgr.ledger.db import Ledger
from releasemgr.providers.registry import provider_of_packer_builder
from releasemgr.release import policy
from releasemgr.release.refs import check_image_name, parse_ref

if TYPE_CHECKING:
    from releasemgr.ledger.sql import Connection


BUMPS = ("major", "minor", "patch")


# -- register ------------------------------------------------------------------------------

@dataclass
class ArtifactSpec:
    provider: str
    region: str
    id: str
    builder_type: str | None = None
    files: list | None = None
    extra: dict | None = None


def parse_artifact(text: str) -> ArtifactSpec:
    """PROVIDER:REGION:ID; the id may contain colons (`local::sha256:ab12…`)."""
    parts = text.split(":", 2)
    if len(parts) != 3 or not parts[0] or not parts[2]:
        raise UsageError(f"bad --artifact {text!r}",
                         hint="use PROVIDER:REGION:ID, e.g. aws:us-east-1:ami-0abc123 or local::sha256:ab12…")
    return ArtifactSpec(parts[0], parts[1], parts[2])


def artifacts_from_manifest(path: str) -> tuple[list[ArtifactSpec], dict]:
    """Read a Packer manifest (its last run); returns artifacts and what to record about it."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFound(f"manifest {path} not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path} is not a Packer manifest: {exc}") from None
    builds = doc.get("builds") if isinstance(doc, dict) else None
    if not isinstance(builds, list) or not builds:
        raise UsageError(f"{path} is not a Packer manifest: no \"builds\" list",
                         hint="the manifest post-processor writes {\"builds\": [...], \"last_run_uuid\": ...}")
    last = doc.get("last_run_uuid")
    if last:
        builds = [b for b in builds if isinstance(b, dict) and b.get("packer_run_uuid") == last] or builds
    specs: list[ArtifactSpec] = []
    for i, b in enumerate(builds):
        if not isinstance(b, dict) or not isinstance(b.get("artifact_id"), str) or not b.get("artifact_id"):
            raise UsageError(f"{path}: builds[{i}] has no artifact_id")
        specs += manifest_build_artifacts(b, f"{path}: builds[{i}]")
    return specs, {"manifest": str(p), "packer_run_uuid": last}


def manifest_build_artifacts(b: dict, where: str) -> list[ArtifactSpec]:
    """The artifacts of one `builds[]` entry of a Packer manifest: amazon's
    `region:ami,region:ami` becomes one per region; a `null` build has none."""
    btype = str(b.get("builder_type") or "")
    name, provider = provider_of_packer_builder(btype)
    extra = {k: b[k] for k in ("name", "build_time", "packer_run_uuid", "custom_data") if b.get(k) is not None}
    files = b.get("files") or []
    aid = str(b.get("artifact_id") or "")
    if aid in ("", "Null"):
        return []
    try:
        parts = provider.manifest_artifacts(aid) if provider is not None else [("", aid)]
    except ValueError as exc:
        raise UsageError(f"{where}.artifact_id {aid!r} is {exc}") from None
    return [ArtifactSpec(name, region, art, btype, files, extra) for region, art in parts]


def _next_semver(conn, img, explicit: str | None, bump: str | None) -> str | None:
    if explicit and bump:
        raise UsageError("give either --version or --bump, not both")
    if not (explicit or bump):
        return None
    import semver as semver_lib

    if explicit:
        try:
            return str(semver_lib.Version.parse(explicit.lstrip("v")))
        except ValueError:
            raise UsageError(f"{explicit!r} is not a semantic version", hint="e.g. 1.4.0 or 2.0.0-rc.1") from None
    if bump not in BUMPS:
        raise UsageError(f"--bump takes major, minor or patch, not {bump!r}")
    newest = semver_lib.Version(0, 0, 0)
    if img is not None:
        for sv in conn.execute(Q("SELECT semver FROM version WHERE image_id = :i AND semver IS NOT NULL"),
                               {"i": img.id}).scalars():
            newest = max(newest, semver_lib.Version.parse(sv))
    return str(getattr(newest, f"bump_{bump}")())


def register(ledger: Ledger, image: str, artifacts: list[ArtifactSpec], *, actor: str, **kw) -> dict:
    with ledger.transaction() as conn:
        return register_in(conn, image, artifacts, actor=actor, **kw)


_INSERT_IMAGE = Q("INSERT INTO image (name, created_at, created_by) VALUES (:n, :at, :by) RETURNING id")
_INSERT_VERSION = Q("INSERT INTO version (image_id, number, semver, build_id, origin, template_digest, git_commit, "
                    "git_dirty, variables, parent, created_at, created_by, revoked) VALUES (:i, :number, :semver, "
                    ":build_id, :origin, :digest, :commit, :dirty, :variables, :parent, :at, :by, :f) RETURNING id")
_INSERT_ARTIFACT = Q("INSERT INTO artifact (version_id, provider, region, external_id, builder_type, files, extra) "
                     "VALUES (:v, :provider, :region, :id, :builder_type, :files, :extra)")


def register_in(conn, image: str, artifacts: list[ArtifactSpec], *, actor: str,
                semver: str | None = None, bump: str | None = None, origin: str = "register",
                details: dict | None = None, parent: str | None = None, build_id: str | None = None,
                template_digest: str | None = None, git_commit: str | None = None, git_dirty: bool | None = None,
                variables: dict | None = None) -> dict:
    """Create the next version of `image` inside an open write transaction (`conn`: a
    plain connection from `Ledger.transaction()`, or the ORM session of a build)."""
    from releasemgr.release.versions import next_number, version_json

    conn = adapt(conn)
    check_image_name(image)
    if not artifacts:
        raise UsageError("a version needs at least one artifact", hint="--artifact PROVIDER:REGION:ID or --from-manifest")
    img = conn.execute(Q(f"SELECT {sql.IMAGE_COLS} FROM image WHERE name = :n"), {"n": image}).first()
    sv = _next_semver(conn, img, semver, bump)
    now = now_iso()
    if img is None:
        conn.execute(_INSERT_IMAGE, {"n": image, "at": now, "by": actor})
        img = sql.image(conn, image)
        audit.append(conn, "image.created", actor=actor, image=image, at=now)
    if sv and conn.execute(Q("SELECT 1 FROM version WHERE image_id = :i AND semver = :s"),
                           {"i": img.id, "s": sv}).first():
        raise Conflict(f"{image} already has a version {sv}", hint="semantic versions are unique per image")
    number = next_number(conn, img.id)
    vid = conn.execute(_INSERT_VERSION, {
        "i": img.id, "number": number, "semver": sv, "build_id": build_id, "origin": origin,
        "digest": template_digest, "commit": git_commit, "dirty": git_dirty,
        "variables": json.dumps(variables or {}, sort_keys=True), "parent": parent, "at": now, "by": actor,
        "f": False}).scalar_one()
    conn.execute(_INSERT_ARTIFACT, [
        {"v": vid, "provider": a.provider, "region": a.region, "id": a.id, "builder_type": a.builder_type,
         "files": json.dumps(a.files or []), "extra": json.dumps(a.extra or {}, sort_keys=True)} for a in artifacts])
    audit.append(conn, "version.created", actor=actor, image=image, version=f"v{number}", at=now,
                 details={"semver": sv, "origin": origin, "build_id": build_id, "template_digest": template_digest,
                          "artifacts": [f"{a.provider}:{a.region}:{a.id}" for a in artifacts],
                          **(details or {})})
    return version_json(conn, img, sql.version(conn, vid))


# -- promote and rollback -----------------------------------------------------------------

def _move(conn: Connection, *, env_row, img, v, action: str, actor: str, ticket: str | None, reason: str | None,
          approved_by: list[str], overridden: list[policy.Violation], extra: dict | None = None) -> dict:
    """Point (img, env_row) at version `v`, record the history row and the audit event(s).
    The rows may be plain rows or ORM objects (revoke passes its session)."""
    conn = adapt(conn)
    ch = sql.channel(conn, img.id, env_row.id)
    prev_v = sql.version(conn, ch.version_id) if ch else None
    now = now_iso()
    if ch is None:
        conn.execute(Q("INSERT INTO channel (environment_id, image_id, version_id, updated_at, updated_by) "
                       "VALUES (:e, :i, :v, :at, :by)"),
                     {"e": env_row.id, "i": img.id, "v": v.id, "at": now, "by": actor})
    else:
        conn.execute(Q("UPDATE channel SET version_id = :v, updated_at = :at, updated_by = :by WHERE id = :id"),
                     {"v": v.id, "at": now, "by": actor, "id": ch.id})
    approvers = sorted(set(approved_by))
    conn.execute(Q("INSERT INTO channel_history (environment_id, image_id, from_version_id, to_version_id, action, "
                   "actor, ticket, reason, approved_by, override, at) VALUES (:e, :i, :f, :t, :action, :actor, "
                   ":ticket, :reason, :approved, :override, :at)"),
                 {"e": env_row.id, "i": img.id, "f": prev_v.id if prev_v else None, "t": v.id, "action": action,
                  "actor": actor, "ticket": ticket, "reason": reason, "approved": json.dumps(approvers),
                  "override": bool(overridden), "at": now})
    label = f"v{v.number}"
    if overridden:
        audit.append(conn, "policy.override", actor=actor, image=img.name, version=label, env=env_row.name,
                     ticket=ticket, reason=reason, at=now,
                     details={"action": action, "rules": [o.rule for o in overridden],
                              "messages": [o.message for o in overridden]})
    audit.append(conn, action, actor=actor, image=img.name, version=label, env=env_row.name, ticket=ticket,
                 reason=reason, at=now,
                 details={"from": f"v{prev_v.number}" if prev_v else None, "to": label,
                          "approved_by": approvers, "override": bool(overridden), **(extra or {})})
    return {"action": action, "env": env_row.name, "image": img.name, "version": label, "number": v.number,
            "semver": v.semver, "from": f"v{prev_v.number}" if prev_v else None, "changed": True,
            "override": [o.rule for o in overridden], "at": now}


def promote(ledger: Ledger, config: Config, ref: str, to: str, *, actor: str, ticket: str | None = None,
            reason: str | None = None, approved_by: list[str] = (), override: bool = False,
            now: datetime | None = None) -> dict:
    env = config.environment(to)
    parsed = parse_ref(ref)
    with ledger.transaction() as conn:
        img, v = sql.resolve(conn, parsed)
        env_row = sql.environment(conn, env.name)
        ch = sql.channel(conn, img.id, env_row.id)
        if ch is not None and ch.version_id == v.id:
            return {"action": "promote", "env": env.name, "image": img.name, "version": f"v{v.number}",
                    "number": v.number, "semver": v.semver, "from": f"v{v.number}", "changed": False,
                    "override": [], "at": ch.updated_at}
        violations = policy.check(conn, env, img, v, action="promote", actor=actor, ticket=ticket,
                                  approved_by=list(approved_by), now=now)
        passed = policy.enforce(violations, override=override, reason=reason)
        return _move(conn, env_row=env_row, img=img, v=v, action="promote", actor=actor, ticket=ticket,
                     reason=reason, approved_by=list(approved_by), overridden=passed)


def previous_good(conn: Connection, env_id: int, image_id: int, current_id: int):
    """The version (row) current before the current one, skipping revoked versions and
    versions that were themselves rolled back from (so repeated rollbacks keep walking back)."""
    conn = adapt(conn)
    hist = conn.execute(Q("SELECT action, from_version_id FROM channel_history WHERE environment_id = :e "
                          "AND image_id = :i ORDER BY id DESC"), {"e": env_id, "i": image_id}).all()
    abandoned = {current_id}
    for action, cand in hist:
        if action == "rollback" and cand is not None:
            abandoned.add(cand)
        if cand is None or cand in abandoned:
            continue
        v = sql.version(conn, cand)
        if v is not None and not v.revoked:
            return v
    return None


def rollback(ledger: Ledger, config: Config, image: str, env_name: str, *, actor: str, to: str | None = None,
             ticket: str | None = None, reason: str | None = None, approved_by: list[str] = (),
             override: bool = False, now: datetime | None = None) -> dict:
    env = config.environment(env_name)
    check_image_name(image)
    with ledger.transaction() as conn:
        img = sql.image(conn, image)
        env_row = sql.environment(conn, env.name)
        ch = sql.channel(conn, img.id, env_row.id)
        if ch is None:
            raise NotFound(f"{image} has no current version in {env.name}: nothing to roll back")
        if to:
            ref = parse_ref(to)
            if ref.image != image:
                raise UsageError(f"--to {to} names another image than {image}")
            _, target = sql.resolve(conn, ref)
            if target.id == ch.version_id:
                raise PolicyRefused(f"{image}@v{target.number} is already current in {env.name}", rule="no-change")
            if not sql.was_ever_current(conn, env_row.id, img.id, target.id):
                raise PolicyRefused(f"{image}@v{target.number} has never been in {env.name}; a rollback goes back "
                                    f"to a version that was there", rule="rollback-target",
                                    hint=f"use `release promote {image}@v{target.number} --to {env.name}`")
        else:
            target = previous_good(conn, env_row.id, img.id, ch.version_id)
            if target is None:
                cur = sql.version(conn, ch.version_id)
                raise PolicyRefused(f"nothing to roll back to: {image}@v{cur.number} is the only good version "
                                    f"{env.name} has had", rule="no-previous-version",
                                    hint="promote another version instead")
        violations = policy.check(conn, env, img, target, action="rollback", actor=actor, ticket=ticket,
                                  approved_by=list(approved_by), now=now, check_order=False)
        passed = policy.enforce(violations, override=override, reason=reason)
        return _move(conn, env_row=env_row, img=img, v=target, action="rollback", actor=actor, ticket=ticket,
                     reason=reason, approved_by=list(approved_by), overridden=passed)


# -- revoke -------------------------------------------------------------------------------

def revoke(ledger: Ledger, config: Config, ref: str, *, reason: str, actor: str, do_rollback: bool = False,
           ticket: str | None = None) -> dict:
    if not (reason and reason.strip()):
        raise UsageError("revoke needs --reason '...'")
    from sqlmodel import select

    from releasemgr.ledger.models import Channel, EnvironmentRow
    from releasemgr.release.versions import resolve, version_json

    with ledger.write() as s:
        img, v = resolve(s, parse_ref(ref, default="latest"))
        label = f"{img.name}@v{v.number}"
        if v.revoked:
            raise Conflict(f"{label} is already revoked ({v.revoked_reason})")
        now = now_iso()
        v.revoked, v.revoked_at, v.revoked_by, v.revoked_reason = True, now, actor, reason
        s.add(v)
        s.flush()
        audit.append(s, "version.revoked", actor=actor, image=img.name, version=f"v{v.number}", reason=reason,
                     ticket=ticket, at=now)
        still, rolled = [], []
        rows = s.exec(select(Channel, EnvironmentRow).join(EnvironmentRow, Channel.environment_id == EnvironmentRow.id)
                      .where(Channel.version_id == v.id)).all()
        for ch, env_row in sorted(rows, key=lambda r: r[1].position):
            if not do_rollback:
                still.append(env_row.name)
                continue
            target = previous_good(s.connection(), env_row.id, img.id, v.id)
            if target is None:
                still.append(env_row.name)
                continue
            rolled.append(_move(s.connection(), env_row=env_row, img=img, v=target, action="rollback", actor=actor,
                                ticket=ticket, reason=f"revoked {label}: {reason}", approved_by=[], overridden=[],
                                extra={"cause": "revoke"}))
        doc = version_json(s, img, v)
        doc["rolled_back"] = rolled
        doc["still_current_in"] = still
        return doc


def unrevoke(ledger: Ledger, ref: str, *, reason: str, actor: str) -> dict:
    if not (reason and reason.strip()):
        raise UsageError("unrevoke needs --reason '...'")
    from releasemgr.release.versions import resolve, version_json

    with ledger.write() as s:
        img, v = resolve(s, parse_ref(ref, default="latest"))
        if not v.revoked:
            raise Conflict(f"{img.name}@v{v.number} is not revoked")
        v.revoked, v.revoked_at, v.revoked_by, v.revoked_reason = False, None, None, None
        s.add(v)
        s.flush()
        audit.append(s, "version.unrevoked", actor=actor, image=img.name, version=f"v{v.number}", reason=reason)
        return version_json(s, img, v)
