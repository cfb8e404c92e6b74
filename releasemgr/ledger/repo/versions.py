"""The `version` table, and resolving references (`web@v3`, `web@prod`) to rows."""

from __future__ import annotations

import json

from releasemgr.common.suggest import closest
from releasemgr.errors import NotFound
from releasemgr.ledger.conn import Q
from releasemgr.ledger.refs import Ref, parse_ref
from releasemgr.ledger.repo import channels, environments, images
from releasemgr.ledger.rows import Image, Version

_COLS = Version.select_list()
_BY_ID = Q(f"SELECT {_COLS} FROM version WHERE id = :i")
_BY_NUMBER = Q(f"SELECT {_COLS} FROM version WHERE image_id = :i AND number = :n")
_BY_SEMVER = Q(f"SELECT {_COLS} FROM version WHERE image_id = :i AND semver = :s")
_LATEST_GOOD = Q(f"SELECT {_COLS} FROM version WHERE image_id = :i AND revoked = :f ORDER BY number DESC LIMIT 1")
_NEWEST = Q(f"SELECT {_COLS} FROM version WHERE image_id = :i ORDER BY number DESC LIMIT 1")
_OF_IMAGE = Q(f"SELECT {_COLS} FROM version WHERE image_id = :i ORDER BY number DESC")
_OF_IMAGE_LIMIT = Q(f"SELECT {_COLS} FROM version WHERE image_id = :i ORDER BY number DESC LIMIT :n")
# versions built from the same inputs that still stand: not revoked, no artifact pruned
_IDENTICAL = Q(f"SELECT {Version.select_list('v')} FROM version v WHERE v.image_id = :i AND v.template_digest = :d "
               "AND v.revoked = :f AND NOT EXISTS (SELECT 1 FROM artifact a WHERE a.version_id = v.id "
               "AND a.deleted_at IS NOT NULL) ORDER BY v.number DESC LIMIT 1")
_SEMVERS = Q("SELECT semver FROM version WHERE image_id = :i AND semver IS NOT NULL")
_MAX_NUMBER = Q("SELECT MAX(number) FROM version WHERE image_id = :i")
_LABELS = Q("SELECT id, number FROM version WHERE image_id = :i")
_INSERT = Q("INSERT INTO version (image_id, number, semver, build_id, origin, template_digest, git_commit, "
            "git_dirty, variables, parent, created_at, created_by, revoked) VALUES (:i, :number, :semver, "
            ":build_id, :origin, :digest, :commit, :dirty, :variables, :parent, :at, :by, :f) RETURNING id")
_REVOKE = Q("UPDATE version SET revoked = :r, revoked_at = :at, revoked_by = :by, revoked_reason = :reason "
            "WHERE id = :i")


def get(conn, version_id: int) -> Version | None:
    return Version.from_row(conn.execute(_BY_ID, {"i": version_id}).first())


def by_semver(conn, image_id: int, semver: str) -> Version | None:
    return Version.from_row(conn.execute(_BY_SEMVER, {"i": image_id, "s": semver}).first())


def newest(conn, image_id: int) -> Version | None:
    return Version.from_row(conn.execute(_NEWEST, {"i": image_id}).first())


def identical(conn, image_id: int, template_digest: str) -> Version | None:
    """The newest version of the image with this template digest that is neither revoked nor
    pruned (any of them, not only the image's newest), or None."""
    return Version.from_row(conn.execute(_IDENTICAL, {"i": image_id, "d": template_digest, "f": False}).first())


def of_image(conn, image_id: int, *, limit: int | None = None) -> list[Version]:
    """Newest first."""
    if limit:
        rows = conn.execute(_OF_IMAGE_LIMIT, {"i": image_id, "n": limit})
    else:
        rows = conn.execute(_OF_IMAGE, {"i": image_id})
    return [Version.from_row(r) for r in rows]


def semvers(conn, image_id: int) -> list[str]:
    return list(conn.execute(_SEMVERS, {"i": image_id}).scalars())


def next_number(conn, image_id: int) -> int:
    return (conn.execute(_MAX_NUMBER, {"i": image_id}).scalar() or 0) + 1


def labels(conn, image_id: int) -> dict[int, str]:
    """{version id: "v3"} of an image."""
    return {vid: f"v{n}" for vid, n in conn.execute(_LABELS, {"i": image_id})}


def create(conn, image_id: int, number: int, *, semver: str | None, build_id: str | None, origin: str,
           template_digest: str | None, git_commit: str | None, git_dirty: bool | None, variables: dict,
           parent: str | None, at: str, by: str) -> int:
    return conn.execute(_INSERT, {
        "i": image_id, "number": number, "semver": semver, "build_id": build_id, "origin": origin,
        "digest": template_digest, "commit": git_commit, "dirty": git_dirty,
        "variables": json.dumps(variables or {}, sort_keys=True), "parent": parent, "at": at, "by": by,
        "f": False}).scalar_one()


def set_revoked(conn, version_id: int, *, at: str | None, by: str | None, reason: str | None) -> None:
    """Revoke (with `at`, `by`, `reason`) or lift a revocation (all None)."""
    conn.execute(_REVOKE, {"r": at is not None, "at": at, "by": by, "reason": reason, "i": version_id})


def resolve(conn, ref: Ref | str) -> tuple[Image, Version]:
    """(image, version) of web@v3, web@1.4.0, web@latest or web@<environment>."""
    if isinstance(ref, str):
        ref = parse_ref(ref)
    img = images.get(conn, ref.image)
    if ref.kind == "number":
        v = Version.from_row(conn.execute(_BY_NUMBER, {"i": img.id, "n": ref.value}).first())
    elif ref.kind == "semver":
        v = by_semver(conn, img.id, ref.value)
    elif ref.kind == "latest":
        v = Version.from_row(conn.execute(_LATEST_GOOD, {"i": img.id, "f": False}).first())
        if v is None:
            raise NotFound(f"{ref.image} has no version that is not revoked")
    else:  # environment
        env = environments.find(conn, ref.value)
        if env is None:
            close = closest(ref.value, [e.name for e in environments.all_(conn) if not e.retired_at])
            raise NotFound(f"unknown environment {ref.value!r} in {ref}",
                           hint=f"did you mean {close!r}? ({ref.image}@{close})" if close
                           else "use web@v3, web@1.4.0, web@<environment> or web@latest")
        ch = channels.get(conn, img.id, env.id)
        if ch is None:
            raise NotFound(f"{ref.image} has no current version in {ref.value}")
        v = get(conn, ch.version_id)
    if v is None:
        raise NotFound(f"no version {ref}", hint=f"see `release versions {ref.image}`")
    return img, v
