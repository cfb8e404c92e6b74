"""The `channel` table (what is current where) and `channel_history` (every move of it)."""

from __future__ import annotations

import json

from releasemgr.ledger import audit
from releasemgr.ledger.conn import Q
from releasemgr.ledger.rows import Channel, ChannelMove, HistoryEntry, StatusEntry

_COLS = Channel.select_list()
_GET = Q(f"SELECT {_COLS} FROM channel WHERE image_id = :i AND environment_id = :e")
_OF_IMAGE = Q(f"SELECT {_COLS} FROM channel WHERE image_id = :i")
_OF_VERSION = Q(f"SELECT {_COLS} FROM channel WHERE version_id = :v")
_ALL = Q(f"SELECT {_COLS} FROM channel")
_INSERT = Q("INSERT INTO channel (environment_id, image_id, version_id, updated_at, updated_by) "
            "VALUES (:e, :i, :v, :at, :by)")
_MOVE = Q("UPDATE channel SET version_id = :v, updated_at = :at, updated_by = :by WHERE id = :id")
_ENVS_OF_VERSION = Q("SELECT e.name FROM environment e JOIN channel c ON c.environment_id = e.id "
                     "WHERE c.version_id = :v ORDER BY e.position")
_CURRENT_OF_IMAGE = Q("SELECT e.name, c.version_id FROM channel c JOIN environment e ON e.id = c.environment_id "
                      "WHERE c.image_id = :i ORDER BY e.position")
_STATUS = ("SELECT i.name, e.name, v.number, v.semver, v.revoked, c.updated_at, c.updated_by FROM channel c "
           "JOIN image i ON i.id = c.image_id JOIN environment e ON e.id = c.environment_id "
           "JOIN version v ON v.id = c.version_id")
_STATUS_ALL = Q(_STATUS)
_STATUS_OF_IMAGE = Q(_STATUS + " WHERE c.image_id = :i")

_MOVE_COLS = ChannelMove.select_list()
_INSERT_MOVE = Q("INSERT INTO channel_history (environment_id, image_id, from_version_id, to_version_id, action, "
                 "actor, ticket, reason, approved_by, override, at) VALUES (:e, :i, :f, :t, :action, :actor, "
                 ":ticket, :reason, :approved, :override, :at)")
_MOVES_NEWEST_FIRST = Q(f"SELECT {_MOVE_COLS} FROM channel_history WHERE environment_id = :e AND image_id = :i "
                        "ORDER BY id DESC")
_MOVES_OF_IMAGE = Q(f"SELECT {_MOVE_COLS} FROM channel_history WHERE image_id = :i ORDER BY id")
_NEWEST_MOVE_ID = Q("SELECT max(id) FROM channel_history WHERE environment_id = :e AND image_id = :i")
_EVER_CURRENT = Q("SELECT 1 FROM channel_history WHERE environment_id = :e AND image_id = :i "
                  "AND to_version_id = :v LIMIT 1")
_HISTORY = ("SELECT h.at, e.name, h.action, fv.number, tv.number, h.actor, h.ticket, h.reason, h.approved_by, "
            "h.override FROM channel_history h JOIN environment e ON e.id = h.environment_id "
            "LEFT JOIN version fv ON fv.id = h.from_version_id JOIN version tv ON tv.id = h.to_version_id "
            "WHERE h.image_id = :i")
_HISTORIES = {(by_env, limited): Q(_HISTORY + (" AND h.environment_id = :e" if by_env else "")
                                   + " ORDER BY h.id DESC" + (" LIMIT :n" if limited else ""))
              for by_env in (False, True) for limited in (False, True)}


def get(conn, image_id: int, env_id: int) -> Channel | None:
    return Channel.from_row(conn.execute(_GET, {"i": image_id, "e": env_id}).first())


def of_image(conn, image_id: int) -> list[Channel]:
    return [Channel.from_row(r) for r in conn.execute(_OF_IMAGE, {"i": image_id})]


def of_version(conn, version_id: int) -> list[Channel]:
    return [Channel.from_row(r) for r in conn.execute(_OF_VERSION, {"v": version_id})]


def all_(conn) -> list[Channel]:
    return [Channel.from_row(r) for r in conn.execute(_ALL)]


def point(conn, current: Channel | None, *, env_id: int, image_id: int, version_id: int, at: str, by: str) -> None:
    """Make `version_id` current (a new channel row, or `current` moved)."""
    if current is None:
        conn.execute(_INSERT, {"e": env_id, "i": image_id, "v": version_id, "at": at, "by": by})
    else:
        conn.execute(_MOVE, {"v": version_id, "at": at, "by": by, "id": current.id})


def record_move(conn, *, env_id: int, image_id: int, from_id: int | None, to_id: int, action: str, actor: str,
                ticket: str | None, reason: str | None, approved_by: list[str], override: bool, at: str) -> dict:
    """Append the history row of a move (after `point`). The row and the channel pointer it
    moved are recorded in the chain: their content goes into the details (`ledger_rows`) of
    the `action` event the caller appends in the same transaction (`audit.record_row`), which
    `release audit verify` compares with the tables. Returns the history row's content."""
    conn.execute(_INSERT_MOVE, {"e": env_id, "i": image_id, "f": from_id, "t": to_id, "action": action,
                                "actor": actor, "ticket": ticket, "reason": reason,
                                "approved": json.dumps(approved_by), "override": override, "at": at})
    move_id = conn.execute(_NEWEST_MOVE_ID, {"e": env_id, "i": image_id}).scalar()
    content = audit.record_row(conn, "channel_history", move_id, action=action)
    pointer = get(conn, image_id, env_id)
    if pointer is not None:
        audit.record_row(conn, "channel", pointer.id, action=action)
    return content


def moves(conn, env_id: int, image_id: int) -> list[ChannelMove]:
    """The moves of (image, environment), newest first."""
    return [ChannelMove.from_row(r) for r in conn.execute(_MOVES_NEWEST_FIRST, {"e": env_id, "i": image_id})]


def moves_of_image(conn, image_id: int) -> list[ChannelMove]:
    """Every move of the image in every environment, oldest first."""
    return [ChannelMove.from_row(r) for r in conn.execute(_MOVES_OF_IMAGE, {"i": image_id})]


def was_ever_current(conn, env_id: int, image_id: int, version_id: int) -> bool:
    return conn.execute(_EVER_CURRENT, {"e": env_id, "i": image_id, "v": version_id}).first() is not None


def environments_of(conn, version_id: int) -> list[str]:
    """The environments where the version is current, in release order."""
    return list(conn.execute(_ENVS_OF_VERSION, {"v": version_id}).scalars())


def current_of_image(conn, image_id: int) -> dict[int, list[str]]:
    """{version id: environments where it is current} of an image."""
    out: dict[int, list[str]] = {}
    for env_name, vid in conn.execute(_CURRENT_OF_IMAGE, {"i": image_id}):
        out.setdefault(vid, []).append(env_name)
    return out


def status(conn, image_id: int | None = None) -> list[StatusEntry]:
    if image_id is None:
        rows = conn.execute(_STATUS_ALL)
    else:
        rows = conn.execute(_STATUS_OF_IMAGE, {"i": image_id})
    return [StatusEntry(name, env, number, sv, bool(revoked), since, by)
            for name, env, number, sv, revoked, since, by in rows]


def history(conn, image_id: int, *, env_id: int | None = None, limit: int | None = None) -> list[HistoryEntry]:
    """The moves of an image joined with names and numbers, newest first."""
    params: dict = {"i": image_id}
    if env_id is not None:
        params["e"] = env_id
    if limit:
        params["n"] = limit
    rows = conn.execute(_HISTORIES[(env_id is not None, bool(limit))], params)
    return [HistoryEntry(at, env, action, from_n, to_n, actor, ticket, reason, json.loads(approved or "[]"),
                         bool(override))
            for at, env, action, from_n, to_n, actor, ticket, reason, approved, override in rows]
