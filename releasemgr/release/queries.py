"""Read-only views: images, versions, status (image x environment), channel history.

`status` is written in plain SQL (`Ledger.connect()`): it is the command people and scripts
run most, and not importing sqlmodel, pydantic and the ORM (nor, on SQLite, SQLAlchemy)
saves most of its start-up. The other views import the models where they run.
"""

from __future__ import annotations

import json

from releasemgr.config import Config
from releasemgr.ledger.db import Ledger
from releasemgr.release.refs import check_image_name


def list_images(ledger: Ledger) -> list[dict]:
    from sqlalchemy import func
    from sqlmodel import select

    from releasemgr.ledger.models import Image, Version

    with ledger.read() as s:
        counts = dict(s.exec(select(Version.image_id, func.max(Version.number)).group_by(Version.image_id)).all())
        out = []
        for img in s.exec(select(Image).order_by(Image.name)).all():
            top = counts.get(img.id)
            latest = s.exec(select(Version).where(Version.image_id == img.id, Version.number == top)).first() \
                if top else None
            out.append({"image": img.name, "versions": top or 0,
                        "latest": f"v{latest.number}" if latest else None,
                        "latest_semver": latest.semver if latest else None,
                        "created_at": img.created_at})
        return out


def list_versions(ledger: Ledger, image: str, *, limit: int | None = None) -> dict:
    from sqlmodel import select

    from releasemgr.ledger.models import Channel, EnvironmentRow, Version
    from releasemgr.release.versions import get_image, version_json

    check_image_name(image)
    with ledger.read() as s:
        img = get_image(s, image)
        q = select(Version).where(Version.image_id == img.id).order_by(Version.number.desc())
        if limit:
            q = q.limit(limit)
        versions = s.exec(q).all()
        envs = {}
        for env_name, vid in s.exec(select(EnvironmentRow.name, Channel.version_id).join(
                Channel, Channel.environment_id == EnvironmentRow.id).where(Channel.image_id == img.id)
                .order_by(EnvironmentRow.position)).all():
            envs.setdefault(vid, []).append(env_name)
        docs = []
        for v in versions:
            d = version_json(s, img, v, detail=False)
            d["environments"] = envs.get(v.id, [])
            docs.append(d)
        return {"image": img.name, "versions": docs}


def show(ledger: Ledger, ref: str) -> dict:
    from releasemgr.release.versions import resolve, version_json

    with ledger.read() as s:
        img, v = resolve(s, ref)
        return version_json(s, img, v)


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
    from sqlalchemy.orm import aliased
    from sqlmodel import select

    from releasemgr.ledger.models import ChannelHistory, EnvironmentRow, Version
    from releasemgr.release.versions import get_env, get_image

    check_image_name(image)
    FromV, ToV = aliased(Version), aliased(Version)
    with ledger.read() as s:
        img = get_image(s, image)
        q = (select(ChannelHistory, EnvironmentRow.name, FromV.number, ToV.number)
             .join(EnvironmentRow, EnvironmentRow.id == ChannelHistory.environment_id)
             .outerjoin(FromV, FromV.id == ChannelHistory.from_version_id)
             .join(ToV, ToV.id == ChannelHistory.to_version_id)
             .where(ChannelHistory.image_id == img.id)
             .order_by(ChannelHistory.id.desc()))
        if env:
            q = q.where(ChannelHistory.environment_id == get_env(s, env).id)
        if limit:
            q = q.limit(limit)
        out = []
        for h, env_name, from_n, to_n in s.exec(q).all():
            out.append({"at": h.at, "env": env_name, "image": img.name, "action": h.action,
                        "from": f"v{from_n}" if from_n else None, "to": f"v{to_n}", "version": f"v{to_n}",
                        "actor": h.actor, "ticket": h.ticket, "reason": h.reason,
                        "approved_by": json.loads(h.approved_by or "[]"), "override": h.override})
        return {"image": img.name, "env": env, "history": out}
