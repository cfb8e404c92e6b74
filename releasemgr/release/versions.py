"""The JSON shape of a version and its artifacts (the contract scripts rely on).

`show`, `versions`, `register`, `revoke` and builds shape a version the same way, from the
typed rows of `releasemgr.ledger.repo` (booleans and JSON already decoded there).
"""

from __future__ import annotations

from releasemgr.ledger.repo import artifacts, channels
from releasemgr.ledger.rows import Artifact, Image, Version


def version_json(conn, img: Image, v: Version, *, detail: bool = True) -> dict:
    doc = {
        "image": img.name,
        "version": f"v{v.number}",
        "number": v.number,
        "semver": v.semver,
        "status": "revoked" if v.revoked else "available",
        "artifacts": [artifact_json(a) for a in artifacts.of_version(conn, v.id)],
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
            "variables": v.variables,
            "environments": channels.environments_of(conn, v.id),
            "revoked": {"at": v.revoked_at, "by": v.revoked_by, "reason": v.revoked_reason} if v.revoked else None,
        })
    return doc


def artifact_json(a: Artifact) -> dict:
    doc = {"provider": a.provider, "region": a.region, "id": a.external_id}
    if a.builder_type:
        doc["builder_type"] = a.builder_type
    if a.files:
        doc["files"] = a.files
    if a.extra:
        doc["extra"] = a.extra
    if a.deleted_at:
        doc["deleted_at"] = a.deleted_at
    return doc
