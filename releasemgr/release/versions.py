"""Looking up images and versions, and their JSON shape (the contract scripts rely on)."""

from __future__ import annotations

import json

from sqlalchemy import func
from sqlmodel import Session, select

from releasemgr.errors import NotFound
from releasemgr.ledger.models import Artifact, Channel, ChannelHistory, EnvironmentRow, Image, Version
from releasemgr.release.refs import Ref, parse_ref


def get_image(s: Session, name: str) -> Image:
    img = s.exec(select(Image).where(Image.name == name)).first()
    if img is None:
        import difflib

        names = s.exec(select(Image.name).limit(5000)).all()
        close = difflib.get_close_matches(name, names, n=1)
        raise NotFound(f"no image named {name!r}",
                       hint=f"did you mean {close[0]!r}?" if close else "see `release images`")
    return img


def get_env(s: Session, name: str) -> EnvironmentRow:
    env = s.exec(select(EnvironmentRow).where(EnvironmentRow.name == name)).first()
    if env is None:
        raise NotFound(f"unknown environment {name!r}", hint="environments come from release.toml")
    return env


def resolve(s: Session, ref: Ref | str, *, env_names: list[str] | None = None) -> tuple[Image, Version]:
    if isinstance(ref, str):
        ref = parse_ref(ref)
    img = get_image(s, ref.image)
    q = select(Version).where(Version.image_id == img.id)
    if ref.kind == "number":
        v = s.exec(q.where(Version.number == ref.value)).first()
    elif ref.kind == "semver":
        v = s.exec(q.where(Version.semver == ref.value)).first()
    elif ref.kind == "latest":
        v = s.exec(q.where(Version.revoked == False).order_by(Version.number.desc()).limit(1)).first()  # noqa: E712
        if v is None:
            raise NotFound(f"{ref.image} has no version that is not revoked")
    else:  # environment
        env = s.exec(select(EnvironmentRow).where(EnvironmentRow.name == ref.value)).first()
        if env is None:
            raise NotFound(f"unknown environment {ref.value!r} in {ref}",
                           hint="use web@v3, web@1.4.0, web@<environment> or web@latest")
        ch = s.exec(select(Channel).where(Channel.image_id == img.id, Channel.environment_id == env.id)).first()
        if ch is None:
            raise NotFound(f"{ref.image} has no current version in {ref.value}")
        v = s.get(Version, ch.version_id)
    if v is None:
        raise NotFound(f"no version {ref}", hint=f"see `release versions {ref.image}`")
    return img, v


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


def was_ever_current(s: Session, env_id: int, image_id: int, version_id: int) -> bool:
    row = s.exec(select(ChannelHistory.id).where(
        ChannelHistory.environment_id == env_id, ChannelHistory.image_id == image_id,
        ChannelHistory.to_version_id == version_id).limit(1)).first()
    return row is not None
