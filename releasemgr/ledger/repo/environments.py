"""The `environment` table: the environments and the policy in force in each.

`policy` is the JSON of an environment's rules (requires, require_ticket, approvals,
approval_ttl, freeze, auto_deploy, description), recorded from release.toml when the ledger is
new and changed only by `release policy apply`; NULL on a row recorded before there was a
policy (a ledger older than schema 0002, or opened by name only). `retired_at` marks an
environment that `policy apply` removed (its rows stay: history refers to it).

Environment rows are covered by the audit chain (`releasemgr.ledger.audit.COVERED`): every
write here records the row in the next `action` event of its transaction (`policy.applied`,
or `environment.added` for a row recorded by name only), so an edited policy, position or
`retired_at` is caught by `release audit verify`. `record_initial` is the first recording of
release.toml's policy into a ledger, audited as `policy.applied` with `initial: true`.
"""

from __future__ import annotations

import json

from releasemgr.errors import NotFound
from releasemgr.ledger import audit
from releasemgr.ledger.clock import now_iso
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


def create(conn, name: str, *, position: int, at: str, policy: dict | None = None,
           action: str = "policy.applied") -> None:
    """A new environment row, recorded in the transaction's next `action` event."""
    conn.execute(_INSERT, {"n": name, "p": position, "at": at,
                           "policy": None if policy is None else _dump(policy)})
    env = find(conn, name)
    audit.record_row(conn, "environment", env.id, action=action)


def set_policy(conn, env_id: int, policy: dict, *, position: int, action: str = "policy.applied") -> None:
    """Record `policy` as the one in force (and bring a retired environment back)."""
    conn.execute(_SET_POLICY, {"policy": _dump(policy), "p": position, "id": env_id})
    audit.record_row(conn, "environment", env_id, action=action)


def retire(conn, env_id: int, *, at: str, action: str = "policy.applied") -> None:
    conn.execute(_RETIRE, {"at": at, "id": env_id})
    audit.record_row(conn, "environment", env_id, action=action)


def record_initial(conn, wanted: dict[str, dict], *, actor: str, config: str | None = None) -> bool:
    """The first recording of release.toml's environments and policies ({name: policy}, in
    release order) into a ledger that has none: the rows and their `policy.applied` event
    (`initial: true`), in the caller's transaction. False (nothing written) when a policy is
    recorded already, or was before: a ledger whose policies were all removed behind the
    tool's back is left for `release audit verify` to report, never silently re-recorded."""
    rows = {r.name: r for r in all_(conn)}
    if any(r.policy is not None for r in rows.values()) or policy_was_recorded(conn):
        return False
    at = now_iso()
    for pos, (name, policy) in enumerate(wanted.items()):
        if name in rows:
            set_policy(conn, rows[name].id, policy, position=pos)
        else:
            create(conn, name, position=pos, at=at, policy=policy)
    audit.append(conn, "policy.applied", actor=actor, at=at,
                 details={"initial": True, "environments": wanted, "config": config})
    return True


def policy_was_recorded(conn) -> bool:
    """The audit log shows that this ledger recorded a policy: a `policy.applied` event, or the
    `audit.adopted` event of `release ledger upgrade` holding environment rows with one (a
    ledger whose policy was recorded before the chain covered it). From then on a ledger
    without policy rows is damaged, never new (`release.policy`)."""
    if audit.has_action(conn, "policy.applied"):
        return True
    return any(r.get("policy") is not None for r in audit.adopted_rows(conn).get("environment", []))


def add_names(conn, names: list[str], *, actor: str) -> None:
    """Environments recorded by name only, without a policy (library use): one
    `environment.added` event."""
    have = {r.name for r in all_(conn)}
    missing = [(pos, n) for pos, n in enumerate(names) if n not in have]
    if not missing:
        return
    at = now_iso()
    for pos, name in missing:
        create(conn, name, position=pos, at=at, action="environment.added")
    missing = [n for _, n in missing]
    audit.append(conn, "environment.added", actor=actor, at=at, details={"environments": missing})


def _dump(policy: dict) -> str:
    return json.dumps(policy, sort_keys=True, separators=(",", ":"))
