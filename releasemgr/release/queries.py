"""Read-only views: images, versions, show, status (image x environment), channel history.

All of them are plain SQL on `Ledger.connect()`: these are what people and scripts run most
(`release show web@prod --json` is how a pipeline finds the AMI to launch), and not importing
sqlmodel, pydantic and the ORM (nor, on SQLite, SQLAlchemy) saves most of their start-up.
"""

from __future__ import annotations

import json

from releasemgr.config import Config
from releasemgr.ledger.db import Ledger
from releasemgr.release.refs import check_image_name


def list_images(ledger: Ledger) -> list[dict]:
    from releasemgr.ledger.conn import Q

    with ledger.connect() as conn:
        rows = conn.execute(Q(
            "SELECT i.name, i.created_at, v.number, v.semver FROM image i "
            "LEFT JOIN version v ON v.image_id = i.id AND v.number = "
            "(SELECT MAX(number) FROM version WHERE image_id = i.id) ORDER BY i.name")).all()
    return [{"image": name, "versions": number or 0, "latest": f"v{number}" if number else None,
             "latest_semver": semver if number else None, "created_at": created_at}
            for name, created_at, number, semver in rows]


def list_versions(ledger: Ledger, image: str, *, limit: int | None = None) -> dict:
    from releasemgr.ledger import sql
    from releasemgr.ledger.conn import Q
    from releasemgr.release.versions import version_json

    check_image_name(image)
    with ledger.connect() as conn:
        img = sql.image(conn, image)
        q = f"SELECT {sql.VERSION_COLS} FROM version WHERE image_id = :i ORDER BY number DESC"
        params = {"i": img.id}
        if limit:
            q += " LIMIT :n"
            params["n"] = limit
        versions = conn.execute(Q(q), params).all()
        envs: dict[int, list[str]] = {}
        for env_name, vid in conn.execute(Q(
                "SELECT e.name, c.version_id FROM channel c JOIN environment e ON e.id = c.environment_id "
                "WHERE c.image_id = :i ORDER BY e.position"), {"i": img.id}):
            envs.setdefault(vid, []).append(env_name)
        docs = []
        for v in versions:
            d = version_json(conn, img, v, detail=False)
            d["environments"] = envs.get(v.id, [])
            docs.append(d)
        return {"image": img.name, "versions": docs}


def show(ledger: Ledger, ref: str) -> dict:
    from releasemgr.ledger import sql
    from releasemgr.release.versions import version_json

    with ledger.connect() as conn:
        img, v = sql.resolve(conn, ref)
        return version_json(conn, img, v)


_STATUS_SQL = """
SELECT i.name, e.name, v.number, v.semver, v.revoked, c.updated_at, c.updated_by
FROM channel c
JOIN image i ON i.id = c.image_id
JOIN environment e ON e.id = c.environment_id
JOIN version v ON v.id = c.version_id
"""


def status(ledger: Ledger, config: Config, image: str | None = None, env: str | None = None) -> dict:
    from releasemgr.ledger import sql
    from releasemgr.ledger.conn import Q

    env_names = config.environment_names
    if env:
        config.environment(env)
        env_names = [env]
    with ledger.connect() as conn:
        if image:
            check_image_name(image)
            img_id = sql.image(conn, image).id  # NotFound with a did-you-mean
            rows = conn.execute(Q(_STATUS_SQL + " WHERE c.image_id = :i"), {"i": img_id}).all()
            images = [image]
        else:
            rows = conn.execute(Q(_STATUS_SQL)).all()
            images = [r[0] for r in conn.execute(Q("SELECT name FROM image ORDER BY name"))]
    channels, warnings = [], []
    order = {n: i for i, n in enumerate(env_names)}
    for name, env_name, number, sv, revoked, since, by in sorted(rows, key=lambda r: (r[0], order.get(r[1], 99))):
        if env_name not in order:
            continue
        channels.append({"env": env_name, "image": name, "version": f"v{number}", "number": number,
                         "semver": sv, "revoked": bool(revoked), "since": since, "by": by})
        if revoked:
            warnings.append(f"{name}@v{number} is revoked but still current in {env_name}: "
                            f"`release rollback {name} --env {env_name}`")
    return {"environments": env_names, "images": images, "channels": channels, "warnings": warnings}


def history(ledger: Ledger, image: str, env: str | None = None, limit: int | None = None) -> dict:
    from releasemgr.ledger import sql
    from releasemgr.ledger.conn import Q

    check_image_name(image)
    with ledger.connect() as conn:
        img = sql.image(conn, image)
        q = ("SELECT h.at, e.name, h.action, fv.number, tv.number, h.actor, h.ticket, h.reason, h.approved_by, "
             "h.override FROM channel_history h JOIN environment e ON e.id = h.environment_id "
             "LEFT JOIN version fv ON fv.id = h.from_version_id JOIN version tv ON tv.id = h.to_version_id "
             "WHERE h.image_id = :i")
        params: dict = {"i": img.id}
        if env:
            q += " AND h.environment_id = :e"
            params["e"] = sql.environment(conn, env).id
        q += " ORDER BY h.id DESC"
        if limit:
            q += " LIMIT :n"
            params["n"] = limit
        rows = conn.execute(Q(q), params).all()
    out = []
    for at, env_name, action, from_n, to_n, actor, ticket, reason, approved, override in rows:
        out.append({"at": at, "env": env_name, "image": img.name, "action": action,
                    "from": f"v{from_n}" if from_n else None, "to": f"v{to_n}", "version": f"v{to_n}",
                    "actor": actor, "ticket": ticket, "reason": reason,
                    "approved_by": json.loads(approved or "[]"), "override": bool(override)})
    return {"image": img.name, "env": env, "history": out}
