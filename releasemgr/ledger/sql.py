"""Lookups in SQL Core, on a plain connection: what the hot paths share.

`promote`, `rollback`, `deploy` and `status` run in SQL Core (`Ledger.transaction()` /
`Ledger.connect()`), so that a `release` process that changes an environment never imports
sqlmodel, pydantic or the ORM (about 0.2 s of every such process). The rows returned here
are SQLAlchemy `Row`s whose attribute names are the ORM models' (`img.id`, `v.number`,
`v.revoked`), so code written against either reads them the same. ORM code uses these too,
through `session.connection()` (see `releasemgr.release.versions`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import bindparam, text

from releasemgr.errors import NotFound
from releasemgr.release.refs import Ref, parse_ref

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Row

IMAGE_COLS = "id, name, created_at, created_by"
VERSION_COLS = ("id, image_id, number, semver, build_id, origin, template_digest, git_commit, git_dirty, variables, "
                "parent, created_at, created_by, revoked, revoked_at, revoked_by, revoked_reason")
ENV_COLS = "id, name, position, created_at"
CHANNEL_COLS = "id, environment_id, image_id, version_id, updated_at, updated_by"
SERVER_COLS = ("id, image_id, version_id, environment_id, deployment_id, provider, provider_id, address, state, "
               "extra, launched_at, retired_at")
ARTIFACT_COLS = "id, version_id, provider, region, external_id, builder_type, files, extra, deleted_at"


def in_list(sql: str, *names: str):
    """A statement with `IN :name` lists (expanding bind parameters)."""
    return text(sql).bindparams(*(bindparam(n, expanding=True) for n in names))


def image(conn: "Connection", name: str) -> "Row":
    row = conn.execute(text(f"SELECT {IMAGE_COLS} FROM image WHERE name = :n"), {"n": name}).first()
    if row is None:
        import difflib

        names = list(conn.execute(text("SELECT name FROM image LIMIT 5000")).scalars())
        close = difflib.get_close_matches(name, names, n=1)
        raise NotFound(f"no image named {name!r}",
                       hint=f"did you mean {close[0]!r}?" if close else "see `release images`")
    return row


def environment(conn: "Connection", name: str) -> "Row":
    row = conn.execute(text(f"SELECT {ENV_COLS} FROM environment WHERE name = :n"), {"n": name}).first()
    if row is None:
        raise NotFound(f"unknown environment {name!r}", hint="environments come from release.toml")
    return row


def version(conn: "Connection", version_id: int) -> "Row | None":
    return conn.execute(text(f"SELECT {VERSION_COLS} FROM version WHERE id = :i"), {"i": version_id}).first()


def channel(conn: "Connection", image_id: int, env_id: int) -> "Row | None":
    return conn.execute(text(f"SELECT {CHANNEL_COLS} FROM channel WHERE image_id = :i AND environment_id = :e"),
                        {"i": image_id, "e": env_id}).first()


def resolve(conn: "Connection", ref: Ref | str) -> tuple["Row", "Row"]:
    """(image row, version row) of web@v3, web@1.4.0, web@latest or web@<environment>."""
    if isinstance(ref, str):
        ref = parse_ref(ref)
    img = image(conn, ref.image)
    q = f"SELECT {VERSION_COLS} FROM version WHERE image_id = :i"
    if ref.kind == "number":
        v = conn.execute(text(q + " AND number = :n"), {"i": img.id, "n": ref.value}).first()
    elif ref.kind == "semver":
        v = conn.execute(text(q + " AND semver = :s"), {"i": img.id, "s": ref.value}).first()
    elif ref.kind == "latest":
        v = conn.execute(text(q + " AND revoked = :f ORDER BY number DESC LIMIT 1"), {"i": img.id, "f": False}).first()
        if v is None:
            raise NotFound(f"{ref.image} has no version that is not revoked")
    else:  # environment
        env = conn.execute(text("SELECT id FROM environment WHERE name = :n"), {"n": ref.value}).first()
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


def was_ever_current(conn: "Connection", env_id: int, image_id: int, version_id: int) -> bool:
    return conn.execute(text("SELECT 1 FROM channel_history WHERE environment_id = :e AND image_id = :i "
                             "AND to_version_id = :v LIMIT 1"),
                        {"e": env_id, "i": image_id, "v": version_id}).first() is not None


def version_labels(conn: "Connection", image_id: int) -> dict[int, str]:
    return {vid: f"v{n}" for vid, n in conn.execute(text("SELECT id, number FROM version WHERE image_id = :i"),
                                                    {"i": image_id})}


def live_artifacts(conn: "Connection", version_id: int, provider: str) -> tuple[list["Row"], bool]:
    """(the version's artifacts of `provider` not pruned, whether it had any at all)."""
    rows = conn.execute(text(f"SELECT {ARTIFACT_COLS} FROM artifact WHERE version_id = :v AND provider = :p "
                             "ORDER BY id"), {"v": version_id, "p": provider}).all()
    return [a for a in rows if not a.deleted_at], bool(rows)
