"""Lookups in SQL Core, on a plain connection: what the hot paths share.

`promote`, `rollback`, `deploy` and `status` run plain SQL (`Ledger.transaction()` /
`Ledger.connect()`, see `releasemgr.ledger.conn`), so that a `release` process that changes
an environment imports neither the ORM nor, on SQLite, SQLAlchemy. The rows returned here
read by the ORM models' attribute names (`img.id`, `v.number`, `v.revoked`), so code written
against either reads them the same. ORM code uses these too, passing its session or
`session.connection()` (see `releasemgr.release.versions`).
"""

from __future__ import annotations

from typing import Any

from releasemgr.errors import NotFound
from releasemgr.ledger.conn import Q, adapt
from releasemgr.release.refs import Ref, parse_ref

Connection = Any  # a LiteConn/SAConn, a SQLAlchemy Connection or an ORM Session (see adapt)
Row = Any

IMAGE_COLS = "id, name, created_at, created_by"
VERSION_COLS = ("id, image_id, number, semver, build_id, origin, template_digest, git_commit, git_dirty, variables, "
                "parent, created_at, created_by, revoked, revoked_at, revoked_by, revoked_reason")
ENV_COLS = "id, name, position, created_at"
CHANNEL_COLS = "id, environment_id, image_id, version_id, updated_at, updated_by"
SERVER_COLS = ("id, image_id, version_id, environment_id, deployment_id, provider, provider_id, address, state, "
               "extra, launched_at, retired_at")
ARTIFACT_COLS = "id, version_id, provider, region, external_id, builder_type, files, extra, deleted_at"


def image(conn: Connection, name: str) -> Row:
    conn = adapt(conn)
    row = conn.execute(Q(f"SELECT {IMAGE_COLS} FROM image WHERE name = :n"), {"n": name}).first()
    if row is None:
        import difflib

        names = list(conn.execute(Q("SELECT name FROM image LIMIT 5000")).scalars())
        close = difflib.get_close_matches(name, names, n=1)
        raise NotFound(f"no image named {name!r}",
                       hint=f"did you mean {close[0]!r}?" if close else "see `release images`")
    return row


def environment(conn: Connection, name: str) -> Row:
    conn = adapt(conn)
    row = conn.execute(Q(f"SELECT {ENV_COLS} FROM environment WHERE name = :n"), {"n": name}).first()
    if row is None:
        raise NotFound(f"unknown environment {name!r}", hint="environments come from release.toml")
    return row


def version(conn: Connection, version_id: int) -> Row | None:
    conn = adapt(conn)
    return conn.execute(Q(f"SELECT {VERSION_COLS} FROM version WHERE id = :i"), {"i": version_id}).first()


def channel(conn: Connection, image_id: int, env_id: int) -> Row | None:
    conn = adapt(conn)
    return conn.execute(Q(f"SELECT {CHANNEL_COLS} FROM channel WHERE image_id = :i AND environment_id = :e"),
                        {"i": image_id, "e": env_id}).first()


def resolve(conn: Connection, ref: Ref | str) -> tuple[Row, Row]:
    """(image row, version row) of web@v3, web@1.4.0, web@latest or web@<environment>."""
    conn = adapt(conn)
    if isinstance(ref, str):
        ref = parse_ref(ref)
    img = image(conn, ref.image)
    q = f"SELECT {VERSION_COLS} FROM version WHERE image_id = :i"
    if ref.kind == "number":
        v = conn.execute(Q(q + " AND number = :n"), {"i": img.id, "n": ref.value}).first()
    elif ref.kind == "semver":
        v = conn.execute(Q(q + " AND semver = :s"), {"i": img.id, "s": ref.value}).first()
    elif ref.kind == "latest":
        v = conn.execute(Q(q + " AND revoked = :f ORDER BY number DESC LIMIT 1"), {"i": img.id, "f": False}).first()
        if v is None:
            raise NotFound(f"{ref.image} has no version that is not revoked")
    else:  # environment
        env = conn.execute(Q("SELECT id FROM environment WHERE name = :n"), {"n": ref.value}).first()
        if env is None:
            raise NotFound(f"unknown environment {ref.value!r} in {ref}",
                           hint="use web@v3, web@1.4.0, web@<environment> or web@latest")
        ch = channel(conn, img.id, env.id)
        if ch is None:
            raise NotFound(f"{ref.image} has no current version in {ref.value}")
        v = version(conn, ch.version_id)
    if v is None:
        raise NotFound(f"no version {ref}", hint=f"see `release versions {ref.image}`")
    return img, v


def was_ever_current(conn: Connection, env_id: int, image_id: int, version_id: int) -> bool:
    conn = adapt(conn)
    return conn.execute(Q("SELECT 1 FROM channel_history WHERE environment_id = :e AND image_id = :i "
                          "AND to_version_id = :v LIMIT 1"),
                        {"e": env_id, "i": image_id, "v": version_id}).first() is not None


def version_labels(conn: Connection, image_id: int) -> dict[int, str]:
    conn = adapt(conn)
    return {vid: f"v{n}" for vid, n in conn.execute(Q("SELECT id, number FROM version WHERE image_id = :i"),
                                                    {"i": image_id})}


def live_artifacts(conn: Connection, version_id: int, provider: str) -> tuple[list[Row], bool]:
    """(the version's artifacts of `provider` not pruned, whether it had any at all)."""
    conn = adapt(conn)
    rows = conn.execute(Q(f"SELECT {ARTIFACT_COLS} FROM artifact WHERE version_id = :v AND provider = :p "
                          "ORDER BY id"), {"v": version_id, "p": provider}).all()
    return [a for a in rows if not a.deleted_at], bool(rows)
