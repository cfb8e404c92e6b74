"""Looking up images and versions, and their JSON shape (the contract scripts rely on)."""

from __future__ import annotations

import json

from sqlalchemy import func
from sqlmodel import Session, select

from releasemgr.ledger.models import Artifact, Channel, EnvironmentRow, Image, Version
from releasemgr.ledger import sql
from releasemgr.release.refs import Ref


def get_image(s: Session, name: str) -> Image:
    return s.get(Image, sql.image(s.connection(), name).id)


def get_env(s: Session, name: str) -> EnvironmentRow:
    return s.get(EnvironmentRow, sql.environment(s.connection(), name).id)


def resolve(s: Session, ref: Ref | str) -> tuple[Image, Version]:
    """The ORM objects of a REF (the lookup itself is `releasemgr.ledger.sql.resolve`)."""
    img, v = sql.resolve(s.connection(), ref)
    return s.get(Image, img.id), s.get(Version, v.id)


def artifacts_of(s: Session, version_id: int) -> list[Artifact]:
    return list(s.exec(select(Artifact).where(Artifact.version_id == version_id).order_by(Artifact.id)).all())


def current_envs(s: Session, version_id: int) -> list[str]:
    rows = s.exec(select(EnvironmentRow.name, EnvironmentRow.position).join(
        Channel, Channel.environment_id == EnvironmentRow.id).where(Channel.version_id == version_id)).all()
    return [name for name, _ in sorted(rows, key=lambda r: r[1])]


def version_json(s: Session, img: Image, v: Version, *, detail: bool = True) -> dict:
    doc = {
        "image": img.name,
        "version": f"v{v.number}",
        "number": v.number,
        "semver": v.semver,
        "status": "revoked" if v.revoked else "available",
        "artifacts": [artifact_json(a) for a in artifacts_of(s, v.id)],
        "created_at": v.created_at,
        "created_by": v.created_by,
        "origin": v.origin,
    }
    if detail:
        doc.update({
            "build_id": v.build_id,
            "template_digest": v.template_digest,
            "git_commit": v.git_commit,
            "git_dirty": v.git_dirty,
            "parent": v.parent,
            "variables": json.loads(v.variables or "{}"),
            "environments": current_envs(s, v.id),
            "revoked": {"at": v.revoked_at, "by": v.revoked_by, "reason": v.revoked_reason} if v.revoked else None,
        })
    return doc


def artifact_json(a: Artifact) -> dict:
    doc = {"provider": a.provider, "region": a.region, "id": a.external_id}
    if a.builder_type:
        doc["builder_type"] = a.builder_type
    files = json.loads(a.files or "[]")
    if files:
        doc["files"] = files
    extra = json.loads(a.extra or "{}")
    if extra:
        doc["extra"] = extra
    if a.deleted_at:
        doc["deleted_at"] = a.deleted_at
    return doc


def next_number(s: Session, image_id: int) -> int:
    top = s.exec(select(func.max(Version.number)).where(Version.image_id == image_id)).one()
    return (top or 0) + 1
