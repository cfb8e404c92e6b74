"""The `build` table: every attempt to make a version."""

from __future__ import annotations

import json

from releasemgr.ledger.conn import Q
from releasemgr.ledger.rows import Build

_COLS = Build.select_list()
_GET = Q(f"SELECT {_COLS} FROM build WHERE id = :id")
_MANY = Q(f"SELECT {_COLS} FROM build WHERE id IN :ids", "ids")
_INSERT = Q("INSERT INTO build (id, image_id, status, actor, host, pid, started_at, heartbeat_at, template_path, "
            "template_digest, inputs, log_path) VALUES (:id, :i, 'running', :actor, :host, :pid, :at, :at, "
            ":template_path, :digest, :inputs, :log_path)")
_HEARTBEAT = Q("UPDATE build SET heartbeat_at = :at WHERE id = :id")
_FINISH = Q("UPDATE build SET status = :status, finished_at = :at, error = :error WHERE id = :id")
_RUNNING = Q(f"SELECT {Build.select_list('b')}, i.name FROM build b JOIN image i ON i.id = b.image_id "
             "WHERE b.status = 'running' ORDER BY b.started_at")
_BEAT_PROCESS = Q("UPDATE build SET heartbeat_at = :at WHERE status = 'running' AND host = :host AND pid = :pid "
                  "RETURNING id")
_ABANDON = Q("UPDATE build SET status = 'abandoned', finished_at = :at, error = :error "
             "WHERE id = :id AND status = 'running' RETURNING id")
_FAIL_RUNNING = Q("UPDATE build SET status = 'failed', finished_at = :at, error = :error "
                  "WHERE id = :id AND status = 'running'")
# a build of a source of some type was started: its audit event lists the sources ("amazon-ebs.web")
_SOURCE_STARTED = Q("SELECT 1 FROM audit_event WHERE action = 'build.started' AND details LIKE :pattern LIMIT 1")


def get(conn, build_id: str) -> Build | None:
    return Build.from_row(conn.execute(_GET, {"id": build_id}).first())


def get_many(conn, build_ids: list[str]) -> dict[str, Build]:
    if not build_ids:
        return {}
    return {b.id: b for b in map(Build.from_row, conn.execute(_MANY, {"ids": list(build_ids)}))}


def start(conn, build_id: str, image_id: int, *, actor: str, host: str, pid: int, at: str, template_path: str,
          template_digest: str, inputs: dict, log_path: str) -> None:
    conn.execute(_INSERT, {"id": build_id, "i": image_id, "actor": actor, "host": host, "pid": pid, "at": at,
                           "template_path": template_path, "digest": template_digest,
                           "inputs": json.dumps(inputs, sort_keys=True, default=str), "log_path": log_path})


def heartbeat(conn, build_id: str, *, at: str) -> None:
    conn.execute(_HEARTBEAT, {"at": at, "id": build_id})


def running(conn) -> list[tuple[Build, str]]:
    """The builds whose row says `running` (the status index makes this cheap), each with
    its image's name."""
    n = len(Build.COLUMNS)
    return [(Build.from_row(r[:n]), r[n]) for r in conn.execute(_RUNNING)]


def heartbeat_process(conn, *, host: str, pid: int, at: str) -> int:
    """Refresh the heartbeat of every running build of the process (host, pid)."""
    return len(conn.execute(_BEAT_PROCESS, {"at": at, "host": host, "pid": pid}).all())


def abandon(conn, build_id: str, *, at: str, why: str) -> bool:
    """Mark a running build `abandoned`; False when it was no longer running."""
    return conn.execute(_ABANDON, {"at": at, "error": why, "id": build_id}).first() is not None


def finish(conn, build_id: str, *, status: str, at: str, error: str | None) -> None:
    conn.execute(_FINISH, {"status": status, "at": at, "error": error, "id": build_id})


def fail_if_running(conn, build_id: str, *, at: str, error: str) -> None:
    conn.execute(_FAIL_RUNNING, {"at": at, "error": error, "id": build_id})


def any_started_with(conn, source_prefixes) -> bool:
    """Whether any build of this ledger ran a source whose type starts with one of
    `source_prefixes` ("amazon-": amazon-ebs, amazon-instance ...), so it may have left
    something on that provider's platform."""
    return any(conn.execute(_SOURCE_STARTED, {"pattern": f'%"{prefix}%'}).first() is not None
               for prefix in source_prefixes)
