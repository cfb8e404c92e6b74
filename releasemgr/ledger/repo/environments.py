"""The `environment` table: the environments and the policy in force in each.

`policy` is the JSON of an environment's rules (requires, require_ticket, approvals,
approval_ttl, freeze, auto_deploy, description), recorded from release.toml when the ledger is
new and changed only by `release policy apply`; NULL on a row recorded before there was a
policy (a ledger older than schema 0002, or opened by name only). `retired_at` marks an
environment that `policy apply` removed (its rows stay: history refers to it).
"""

from __future__ import annotations

import json

from releasemgr.errors import NotFound
from releasemgr.ledger.conn import Q
from releasemgr.ledger.rows import Environment

_COLS = Environment.select_list()
_BY_NAME = Q(f"SELECT {_COLS} FROM environment WHERE name = :n")
_ALL = Q(f"SELECT {_COLS} FROM environment ORDER BY position, id")
_NAMES = Q("SELECT name FROM environment")
_INSERT = Q("INSERT INTO environment (name, position, created_at, policy) VALUES (:n, :p, :at, :policy)")
_SET_POLICY = Q("UPDATE environment SET policy = :policy, position = :p, retired_at = NULL WHERE id = :id")
_RETIRE = Q("UPDATE environment SET retired_at = :at WHERE id = :id")


def find(conn, name: str) -> Environment | None:
    return Environment.from_row(conn.execute(_BY_NAME, {"n": name}).first())


def get(conn, name: str) -> Environment:
    env = find(conn, name)
    if env is None:
        raise NotFound(f"unknown environment {name!r}", hint="environments come from the policy in force: "
                       "release policy show")
    return env


def all_(conn) -> list[Environment]:
    """Every environment row, retired ones too, in release order."""
    return [Environment.from_row(r) for r in conn.execute(_ALL)]


def names(conn) -> set[str]:
    return set(conn.execute(_NAMES).scalars())


def create(conn, name: str, *, position: int, at: str, policy: dict | None = None) -> None:
    conn.execute(_INSERT, {"n": name, "p": position, "at": at,
                           "policy": None if policy is None else _dump(policy)})


def set_policy(conn, env_id: int, policy: dict, *, position: int) -> None:
    """Record `policy` as the one in force (and bring a retired environment back)."""
    conn.execute(_SET_POLICY, {"policy": _dump(policy), "p": position, "id": env_id})


def retire(conn, env_id: int, *, at: str) -> None:
    conn.execute(_RETIRE, {"at": at, "id": env_id})


def _dump(policy: dict) -> str:
    return json.dumps(policy, sort_keys=True, separators=(",", ":"))
