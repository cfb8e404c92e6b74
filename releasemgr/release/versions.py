"""Looking up images and versions, and their JSON shape (the contract scripts rely on).

`version_json` and the lookups run plain SQL (`releasemgr.ledger.sql`) on whatever they are
given -- a plain connection, or an ORM session -- so `show`, `versions` and `register` shape a
version the same way. Only `get_image`, `get_env`, `resolve` and `next_number`, which hand
ORM objects to ORM code, import the models.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from releasemgr.ledger import sql
from releasemgr.ledger.conn import Q, adapt
from releasemgr.release.refs import Ref

if TYPE_CHECKING:
    from sqlmodel import Session

    from releasemgr.ledger.models import EnvironmentRow, Image, Version


def get_image(s: Session, name: str) -> Image:
    from releasemgr.ledger.models import Image

    return s.get(Image, sql.image(s, name).id)


def get_env(s: Session, name: str) -> EnvironmentRow:
    from releasemgr.ledger.models import EnvironmentRow

    return s.get(EnvironmentRow, sql.environment(s, name).id)


def resolve(s: Session, ref: Ref | str) -> tuple[Image, Version]:
    """The ORM objects of a REF (the lookup itself is `releasemgr.ledger.sql.resolve`)."""
    from releasemgr.ledger.models import Image, Version

    img, v = sql.resolve(s, ref)
    return s.get(Image, img.id), s.get(Version, v.id)


_ARTIFACTS = Q(f"SELECT {sql.ARTIFACT_COLS} FROM artifact WHERE version_id = :v ORDER BY id")
_CURRENT_ENVS = Q("SELECT e.name FROM environment e JOIN channel c ON c.environment_id = e.id "
                  "WHERE c.version_id = :v ORDER BY e.position")


def artifacts_of(conn, version_id: int) -> list:
    return adapt(conn).execute(_ARTIFACTS, {"v": version_id}).all()


def current_envs(conn, version_id: int) -> list[str]:
    return [r[0] for r in adapt(conn).execute(_CURRENT_ENVS, {"v": version_id})]


def _flag(value) -> bool | None:
    """A boolean column as JSON: SQLite hands back 0/1."""
    return None if value is None else bool(value)


def version_json(conn, img, v, *, detail: bool = True) -> dict:
    """`img`, `v`: rows or ORM objects; `conn`: a connection or a session."""
    conn = adapt(conn)
    doc = {
        "image": img.name,
        "version": f"v{v.number}",
        "number": v.number,
        "semver": v.semver,
        "status": "revoked" if v.revoked else "available",
        "artifacts": [artifact_json(a) for a in artifacts_of(conn, v.id)],
        "created_at": v.created_at,
        "created_by": v.created_by,
        "origin": v.origin,
    }
    if detail:
        doc.update({
            "build_id": v.build_id,
            "template_digest": v.template_digest,
            "git_commit": v.git_commit,
            "git_dirty": _flag(v.git_dirty),
            "parent": v.parent,
            "variables": json.loads(v.variables or "{}"),
            "environments": current_envs(conn, v.id),
            "revoked": {"at": v.revoked_at, "by": v.revoked_by, "reason": v.revoked_reason} if v.revoked else None,
        })
    return doc


def artifact_json(a) -> dict:
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
    top = adapt(s).execute(Q("SELECT MAX(number) FROM version WHERE image_id = :i"), {"i": image_id}).scalar()
    return (top or 0) + 1
