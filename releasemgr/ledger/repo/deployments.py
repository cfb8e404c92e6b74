"""The `deployment` table: one rollout of a version to an environment."""

from __future__ import annotations

import json
import os
import socket

from releasemgr.ledger.conn import Q
from releasemgr.ledger.rows import Deployment

_GET = Q(f"SELECT {Deployment.select_list()} FROM deployment WHERE id = :id")
_LAST_STRATEGY = Q("SELECT strategy FROM deployment WHERE image_id = :i AND environment_id = :e "
                   "ORDER BY started_at DESC LIMIT 1")
_INSERT = Q("INSERT INTO deployment (id, image_id, version_id, environment_id, strategy, count, batch_size, status, "
            "rolled_back, actor, started_at, finished_at, detail, host, pid, heartbeat_at) VALUES (:id, :i, :v, :e, "
            ":strategy, :count, :batch, 'running', :f, :actor, :at, NULL, :detail, :host, :pid, :at)")
_RUNNING = Q(f"SELECT {Deployment.select_list('d')}, i.name, e.name, v.number FROM deployment d "
             "JOIN image i ON i.id = d.image_id JOIN environment e ON e.id = d.environment_id "
             "JOIN version v ON v.id = d.version_id WHERE d.status = 'running' ORDER BY d.started_at")
_HEARTBEAT = Q("UPDATE deployment SET heartbeat_at = :at WHERE status = 'running' AND host = :host AND pid = :pid "
                  "RETURNING id")
_ABANDON = Q("UPDATE deployment SET status = 'abandoned', finished_at = :at, detail = :detail "
             "WHERE id = :id AND status = 'running' RETURNING id")
_FINISH = Q("UPDATE deployment SET status = :status, rolled_back = :rb, count = :count, finished_at = :at, "
            "detail = :detail WHERE id = :id")


def get(conn, deployment_id: str) -> Deployment | None:
    return Deployment.from_row(conn.execute(_GET, {"id": deployment_id}).first())


def last_strategy(conn, image_id: int, env_id: int) -> str | None:
    return conn.execute(_LAST_STRATEGY, {"i": image_id, "e": env_id}).scalar()


def start(conn, deployment_id: str, *, image_id: int, version_id: int, env_id: int, strategy: str, count: int,
          batch_size: int, actor: str, at: str, detail: dict, host: str | None = None,
          pid: int | None = None) -> None:
    """Record a running deployment; `host`/`pid` (default: this process) say where it runs."""
    conn.execute(_INSERT, {"id": deployment_id, "i": image_id, "v": version_id, "e": env_id, "strategy": strategy,
                           "count": count, "batch": batch_size, "f": False, "actor": actor, "at": at,
                           "detail": json.dumps(detail), "host": socket.gethostname() if host is None else host,
                           "pid": os.getpid() if pid is None else pid})


def running(conn) -> list[tuple[Deployment, str, str, str]]:
    """The deployments whose row says `running` (the status index makes this cheap), each
    with its image's and environment's names and its version's label."""
    n = len(Deployment.COLUMNS)
    return [(Deployment.from_row(r[:n]), r[n], r[n + 1], f"v{r[n + 2]}") for r in conn.execute(_RUNNING)]


def heartbeat(conn, *, host: str, pid: int, at: str) -> int:
    """Refresh the heartbeat of every running deployment of the process (host, pid)."""
    return len(conn.execute(_HEARTBEAT, {"at": at, "host": host, "pid": pid}).all())


def abandon(conn, dep: Deployment, *, at: str, why: str) -> bool:
    """Mark a running deployment `abandoned`; False when it was no longer running."""
    detail = json.dumps({**dep.detail, "error": why}, sort_keys=True)
    return conn.execute(_ABANDON, {"at": at, "detail": detail, "id": dep.id}).first() is not None


def finish(conn, dep: Deployment, *, status: str, at: str, detail: dict, rolled_back: bool = False,
           count: int | None = None) -> None:
    conn.execute(_FINISH, {"status": status, "rb": rolled_back, "count": dep.count if count is None else count,
                           "at": at, "detail": json.dumps(detail, sort_keys=True), "id": dep.id})
