"""The `image` table."""

from __future__ import annotations

from releasemgr.errors import NotFound
from releasemgr.ledger.conn import Q
from releasemgr.ledger.rows import Image, ImageSummary
from releasemgr.common.suggest import closest

_BY_NAME = Q(f"SELECT {Image.select_list()} FROM image WHERE name = :n")
_NAMES = Q("SELECT name FROM image ORDER BY name")
_ALL = Q(f"SELECT {Image.select_list()} FROM image ORDER BY name")
_SOME_NAMES = Q("SELECT name FROM image LIMIT 5000")
_INSERT = Q("INSERT INTO image (name, created_at, created_by) VALUES (:n, :at, :by)")
_SUMMARIES = Q("SELECT i.name, i.created_at, v.number, v.semver FROM image i "
               "LEFT JOIN version v ON v.image_id = i.id AND v.number = "
               "(SELECT MAX(number) FROM version WHERE image_id = i.id) ORDER BY i.name")


def find(conn, name: str) -> Image | None:
    return Image.from_row(conn.execute(_BY_NAME, {"n": name}).first())


def get(conn, name: str) -> Image:
    """The image, or NotFound with a did-you-mean."""
    img = find(conn, name)
    if img is None:
        close = closest(name, conn.execute(_SOME_NAMES).scalars())
        raise NotFound(f"no image named {name!r}",
                       hint=f"did you mean {close!r}?" if close else "see `release images`")
    return img


def create(conn, name: str, *, at: str, by: str) -> Image:
    conn.execute(_INSERT, {"n": name, "at": at, "by": by})
    return find(conn, name)


def all_(conn) -> list[Image]:
    return [Image.from_row(r) for r in conn.execute(_ALL)]


def names(conn) -> list[str]:
    return list(conn.execute(_NAMES).scalars())


def summaries(conn) -> list[ImageSummary]:
    """Every image with its newest version's number and semver (None without versions)."""
    return [ImageSummary(*r) for r in conn.execute(_SUMMARIES)]
