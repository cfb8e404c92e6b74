"""The `artifact` table."""

from __future__ import annotations

import json

from releasemgr.ledger.conn import Q
from releasemgr.ledger.rows import Artifact

_COLS = Artifact.select_list()
_OF_VERSION = Q(f"SELECT {_COLS} FROM artifact WHERE version_id = :v ORDER BY id")
_OF_VERSION_PROVIDER = Q(f"SELECT {_COLS} FROM artifact WHERE version_id = :v AND provider = :p ORDER BY id")
_OF_IMAGE = Q(f"SELECT {Artifact.select_list('a')} FROM artifact a JOIN version v ON v.id = a.version_id "
              "WHERE v.image_id = :i ORDER BY a.id")
_REGIONS = Q("SELECT DISTINCT region FROM artifact WHERE provider = :p")
_LIVE_IDS = Q("SELECT external_id FROM artifact WHERE provider = :p AND deleted_at IS NULL")
_INSERT = Q("INSERT INTO artifact (version_id, provider, region, external_id, builder_type, files, extra) "
            "VALUES (:v, :provider, :region, :id, :builder_type, :files, :extra)")
_DELETED = Q("UPDATE artifact SET deleted_at = :at WHERE id = :id")


def of_version(conn, version_id: int) -> list[Artifact]:
    return [Artifact.from_row(r) for r in conn.execute(_OF_VERSION, {"v": version_id})]


def live_of(conn, version_id: int, provider: str) -> tuple[list[Artifact], bool]:
    """(the version's artifacts of `provider` not pruned, whether it had any at all)."""
    rows = [Artifact.from_row(r) for r in conn.execute(_OF_VERSION_PROVIDER, {"v": version_id, "p": provider})]
    return [a for a in rows if not a.deleted_at], bool(rows)


def of_image(conn, image_id: int) -> dict[int, list[Artifact]]:
    """{version id: its artifacts} of an image."""
    out: dict[int, list[Artifact]] = {}
    for r in conn.execute(_OF_IMAGE, {"i": image_id}):
        a = Artifact.from_row(r)
        out.setdefault(a.version_id, []).append(a)
    return out


def regions(conn, provider: str) -> list[str]:
    return [r for r in conn.execute(_REGIONS, {"p": provider}).scalars() if r]


def live_external_ids(conn, provider: str) -> set[str]:
    return set(conn.execute(_LIVE_IDS, {"p": provider}).scalars())


def add(conn, version_id: int, artifacts: list[dict]) -> None:
    """`artifacts`: dicts with provider, region, id, builder_type, files, extra."""
    conn.execute(_INSERT, [
        {"v": version_id, "provider": a["provider"], "region": a["region"], "id": a["id"],
         "builder_type": a.get("builder_type"), "files": json.dumps(a.get("files") or []),
         "extra": json.dumps(a.get("extra") or {}, sort_keys=True)} for a in artifacts])


def mark_deleted(conn, artifact_ids: list[int], *, at: str) -> None:
    conn.execute(_DELETED, [{"at": at, "id": i} for i in artifact_ids])
