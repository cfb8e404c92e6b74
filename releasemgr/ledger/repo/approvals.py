"""The `approval` table (`release approve`), and the facts the rollback exception reads:
whether a version reached healthy in an environment (a succeeded deployment of it there).

Approval rows are covered by the audit chain (`releasemgr.ledger.audit.COVERED`): `add`
records the new row in the `approval.recorded` event, `use` records the rows it marks used in
the event of the promotion (or rollback) that used them, appended in the same transaction."""

from __future__ import annotations

from releasemgr.ledger import audit
from releasemgr.ledger.conn import Q
from releasemgr.ledger.rows import Approval

_COLS = Approval.select_list()
_INSERT = Q("INSERT INTO approval (version_id, environment_id, approver, approver_key, ticket, reason, at, "
            "expires_at) VALUES (:v, :e, :approver, :key, :ticket, :reason, :at, :expires)")
_OF = Q(f"SELECT {_COLS} FROM approval WHERE version_id = :v AND environment_id = :e ORDER BY id")
_OF_VERSION = Q(f"SELECT {_COLS} FROM approval WHERE version_id = :v ORDER BY id")
_USE = Q("UPDATE approval SET used_at = :at, used_by = :by WHERE id IN :ids AND used_at IS NULL", "ids")
_GET = Q(f"SELECT {_COLS} FROM approval WHERE id = :id")
_SET_AT = Q("UPDATE approval SET at = :at, expires_at = :expires WHERE id = :id")
_DEPLOYED_OK = Q("SELECT 1 FROM deployment WHERE version_id = :v AND environment_id = :e AND status = 'succeeded' "
                 "LIMIT 1")
_DEPLOY_STATUSES = Q("SELECT DISTINCT status FROM deployment WHERE version_id = :v AND environment_id = :e")
_ANY_DEPLOYMENT = Q("SELECT 1 FROM deployment WHERE image_id = :i AND environment_id = :e LIMIT 1")


def add(conn, *, version_id: int, env_id: int, approver: str, approver_key: str, ticket: str | None,
        reason: str | None, at: str, expires_at: str) -> Approval:
    conn.execute(_INSERT, {"v": version_id, "e": env_id, "approver": approver, "key": approver_key,
                           "ticket": ticket, "reason": reason, "at": at, "expires": expires_at})
    a = of(conn, version_id, env_id)[-1]
    audit.record_row(conn, "approval", a.id, action="approval.recorded")
    return a


def get(conn, approval_id: int) -> Approval | None:
    return Approval.from_row(conn.execute(_GET, {"id": approval_id}).first())


def of(conn, version_id: int, env_id: int) -> list[Approval]:
    """Every approval of (version, environment), oldest first: valid, used and lapsed."""
    return [Approval.from_row(r) for r in conn.execute(_OF, {"v": version_id, "e": env_id})]


def of_version(conn, version_id: int) -> list[Approval]:
    return [Approval.from_row(r) for r in conn.execute(_OF_VERSION, {"v": version_id})]


def use(conn, ids: list[int], *, at: str, by: str, action: str) -> None:
    """Mark approvals used by a promotion (in the promotion's transaction); the rows go into
    its `action` event (`promote` / `rollback`)."""
    if ids:
        conn.execute(_USE, {"ids": ids, "at": at, "by": by})
        for approval_id in ids:
            audit.record_row(conn, "approval", approval_id, action=action)


def set_times(conn, approval_id: int, *, at: str, expires_at: str) -> None:
    """Move an approval's times (tests: an approval recorded long ago). Not audited: it is
    what `release audit verify` reports as a back-dated approval."""
    conn.execute(_SET_AT, {"at": at, "expires": expires_at, "id": approval_id})


def reached_healthy(conn, version_id: int, env_id: int) -> bool:
    """A deployment of the version in the environment succeeded (its servers became healthy)."""
    return conn.execute(_DEPLOYED_OK, {"v": version_id, "e": env_id}).first() is not None


def deployment_statuses(conn, version_id: int, env_id: int) -> set[str]:
    """The statuses of the version's deployments in the environment (succeeded, failed, ...)."""
    return set(conn.execute(_DEPLOY_STATUSES, {"v": version_id, "e": env_id}).scalars())


def has_deployments(conn, image_id: int, env_id: int) -> bool:
    """The image has ever been deployed to the environment (it has servers there)."""
    return conn.execute(_ANY_DEPLOYMENT, {"i": image_id, "e": env_id}).first() is not None
