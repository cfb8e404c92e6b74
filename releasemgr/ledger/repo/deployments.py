"""The `deployment` table: one rollout of a version to an environment."""

from __future__ import annotations

import json

from releasemgr.ledger.conn import Q
from releasemgr.ledger.rows import Deployment

_GET = Q(f"SELECT {Deployment.select_list()} FROM deployment WHERE id = :id")
_LAST_STRATEGY = Q("SELECT strategy FROM deployment WHERE image_id = :i AND environment_id = :e "
                   "ORDER BY started_at DESC LIMIT 1")
_INSERT = Q("INSERT INTO deployment (id, image_id, version_id, environment_id, strategy, count, batch_size, status, "
            "rolled_back, actor, started_at, finished_at, detail) VALUES (:id, :i, :v, :e, :strategy, :count, "
            ":batch, 'running', :f, :actor, :at, NULL, :detail)")
_FINISH = Q("UPDATE deployment SET status = :status, rolled_back = :rb, count = :count, finished_at = :at, "
            "detail = :detail WHERE id = :id")


def get(conn, deployment_id: str) -> Deployment | None:
    return Deployment.from_row(conn.execute(_GET, {"id": deployment_id}).first())


def last_strategy(conn, image_id: int, env_id: int) -> str | None:
    return conn.execute(_LAST_STRATEGY, {"i": image_id, "e": env_id}).scalar()


def start(conn, deployment_id: str, *, image_id: int, version_id: int, env_id: int, strategy: str, count: int,
          batch_size: int, actor: str, at: str, detail: dict) -> None:
    conn.execute(_INSERT, {"id": deployment_id, "i": image_id, "v": version_id, "e": env_id, "strategy": strategy,
                           "count": count, "batch": batch_size, "f": False, "actor": actor, "at": at,
                           "detail": json.dumps(detail)})


def finish(conn, dep: Deployment, *, status: str, at: str, detail: dict, rolled_back: bool = False,
           count: int | None = None) -> None:
    conn.execute(_FINISH, {"status": status, "rb": rolled_back, "count": dep.count if count is None else count,
                           "at": at, "detail": json.dumps(detail, sort_keys=True), "id": dep.id})
