"""The `environment` table."""

from __future__ import annotations

from releasemgr.errors import NotFound
from releasemgr.ledger.conn import Q
from releasemgr.ledger.rows import Environment

_BY_NAME = Q(f"SELECT {Environment.select_list()} FROM environment WHERE name = :n")
_ALL = Q(f"SELECT {Environment.select_list()} FROM environment ORDER BY position, id")
_NAMES = Q("SELECT name FROM environment")
_INSERT = Q("INSERT INTO environment (name, position, created_at) VALUES (:n, :p, :at)")


def find(conn, name: str) -> Environment | None:
    return Environment.from_row(conn.execute(_BY_NAME, {"n": name}).first())


def get(conn, name: str) -> Environment:
    env = find(conn, name)
    if env is None:
        raise NotFound(f"unknown environment {name!r}", hint="environments come from release.toml")
    return env


def all_(conn) -> list[Environment]:
    return [Environment.from_row(r) for r in conn.execute(_ALL)]


def names(conn) -> set[str]:
    return set(conn.execute(_NAMES).scalars())


def create(conn, name: str, *, position: int, at: str) -> None:
    conn.execute(_INSERT, {"n": name, "p": position, "at": at})
