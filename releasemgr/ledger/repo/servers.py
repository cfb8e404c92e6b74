"""The `server` table: one running machine launched from one version."""

from __future__ import annotations

import json

from releasemgr.ledger.conn import Q
from releasemgr.ledger.rows import Server

_COLS = Server.select_list()
_LIVE = Q(f"SELECT {_COLS} FROM server WHERE image_id = :i AND environment_id = :e AND state IN :states "
          "ORDER BY launched_at", "states")
_IN_STATES = Q(f"SELECT {_COLS} FROM server WHERE state IN :states ORDER BY launched_at", "states")
_OF_IMAGE_IN_STATES = Q(f"SELECT {_COLS} FROM server WHERE image_id = :i AND state IN :states "
                        "ORDER BY launched_at", "states")
_OF_DEPLOYMENT = Q(f"SELECT {_COLS} FROM server WHERE deployment_id = :d AND state IN :states "
                   "ORDER BY launched_at", "states")
_IDS_IN_STATES = Q("SELECT id FROM server WHERE state IN :states", "states")
_LISTING = (f"SELECT {Server.select_list('s')}, e.name FROM server s JOIN environment e ON e.id = s.environment_id "
            "WHERE s.image_id = :i")
_LISTINGS = {(by_env, every): Q(_LISTING + (" AND e.name = :env" if by_env else "")
                                + ("" if every else " AND s.state IN :states") + " ORDER BY s.launched_at",
                                *(() if every else ("states",)))
             for by_env in (False, True) for every in (False, True)}
_SET_STATE = Q("UPDATE server SET state = :state WHERE id IN :ids", "ids")
_RETIRE = Q("UPDATE server SET state = :state, retired_at = :at WHERE id = :id")
_INSERT = Q("INSERT INTO server (id, image_id, version_id, environment_id, deployment_id, provider, provider_id, "
            "address, state, extra, launched_at, retired_at) VALUES (:id, :i, :v, :e, :d, :provider, :pid, :address, "
            "'pending', :extra, :at, NULL)")


def _rows(result) -> list[Server]:
    return [Server.from_row(r) for r in result]


def live(conn, image_id: int, env_id: int, states: tuple[str, ...]) -> list[Server]:
    return _rows(conn.execute(_LIVE, {"i": image_id, "e": env_id, "states": list(states)}))


def in_states(conn, states: tuple[str, ...], *, image_id: int | None = None) -> list[Server]:
    if image_id is None:
        return _rows(conn.execute(_IN_STATES, {"states": list(states)}))
    return _rows(conn.execute(_OF_IMAGE_IN_STATES, {"i": image_id, "states": list(states)}))


def ids_in_states(conn, states: tuple[str, ...]) -> set[str]:
    return set(conn.execute(_IDS_IN_STATES, {"states": list(states)}).scalars())


def of_deployment(conn, deployment_id: str, states: tuple[str, ...]) -> list[Server]:
    return _rows(conn.execute(_OF_DEPLOYMENT, {"d": deployment_id, "states": list(states)}))


def listing(conn, image_id: int, *, env: str | None, states: tuple[str, ...] | None) -> list[tuple[Server, str]]:
    """(server, its environment's name) of an image, oldest first; `states` None: every state."""
    params: dict = {"i": image_id}
    if env:
        params["env"] = env
    if states is not None:
        params["states"] = list(states)
    n = len(Server.COLUMNS)
    return [(Server.from_row(r[:n]), r[n]) for r in conn.execute(_LISTINGS[(bool(env), states is None)], params)]


def set_state(conn, ids: list[str], state: str) -> None:
    conn.execute(_SET_STATE, {"state": state, "ids": list(ids)})


def retire(conn, ids: list[str], *, state: str, at: str) -> None:
    conn.execute(_RETIRE, [{"state": state, "at": at, "id": i} for i in ids])


def add(conn, servers: list, *, image_id: int, version_id: int, env_id: int, deployment_id: str | None,
        at: str) -> None:
    """`servers`: launched servers (id, provider, provider_id, address, extra), recorded pending."""
    conn.execute(_INSERT, [
        {"id": s.id, "i": image_id, "v": version_id, "e": env_id, "d": deployment_id, "provider": s.provider,
         "pid": s.provider_id, "address": s.address, "extra": json.dumps(s.extra, sort_keys=True), "at": at}
        for s in servers])
