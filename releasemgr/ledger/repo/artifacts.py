"""The `artifact` table."""

from __future__ import annotations

import json
from typing import NamedTuple

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
# every live reference (any image) to an artifact (provider, region, id) that some version of
# image :i has: the rows prune counts before it deletes a shared image
_REFS_TO_IMAGE = Q("SELECT a.id, a.version_id, a.provider, a.region, a.external_id, v.image_id, i.name, v.number "
                   "FROM artifact a JOIN version v ON v.id = a.version_id JOIN image i ON i.id = v.image_id "
                   "WHERE a.deleted_at IS NULL AND EXISTS (SELECT 1 FROM artifact b JOIN version w "
                   "ON w.id = b.version_id WHERE w.image_id = :i AND b.provider = a.provider "
                   "AND b.region = a.region AND b.external_id = a.external_id) ORDER BY a.id")
_REFS_TO = Q("SELECT a.id, a.version_id, a.provider, a.region, a.external_id, v.image_id, i.name, v.number "
             "FROM artifact a JOIN version v ON v.id = a.version_id JOIN image i ON i.id = v.image_id "
             "WHERE a.deleted_at IS NULL AND a.provider = :p AND a.region = :r AND a.external_id = :x "
             "ORDER BY a.id")


class Reference(NamedTuple):
    """One live row of `artifact`: version `image@v<number>` references the stored image
    (provider, region, external_id)."""

    artifact_id: int
    version_id: int
    provider: str
    region: str
    external_id: str
    image_id: int
    image: str
    number: int

    @property
    def key(self) -> tuple[str, str, str]:
        return self.provider, self.region, self.external_id

    @property
    def label(self) -> str:
        return f"{self.image}@v{self.number}"


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


def key(a: Artifact) -> tuple[str, str, str]:
    """What identifies a stored image: several versions' rows may name the same one."""
    return a.provider, a.region, a.external_id


def references_to_image(conn, image_id: int) -> dict[tuple[str, str, str], list[Reference]]:
    """{(provider, region, id): its live references, from every image} for each artifact a
    version of the image has (or had)."""
    out: dict[tuple[str, str, str], list[Reference]] = {}
    for r in conn.execute(_REFS_TO_IMAGE, {"i": image_id}):
        ref = Reference._make(r)
        out.setdefault(ref.key, []).append(ref)
    return out


def references(conn, provider: str, region: str, external_id: str) -> list[Reference]:
    """The live references (rows not pruned, from every image) to one stored image."""
    return [Reference._make(r) for r in conn.execute(_REFS_TO, {"p": provider, "r": region, "x": external_id})]


def mark_deleted(conn, artifact_ids: list[int], *, at: str) -> None:
    conn.execute(_DELETED, [{"at": at, "id": i} for i in artifact_ids])
