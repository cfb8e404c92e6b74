"""Read-only views: images, versions, show, status (image x environment), channel history, servers.

All of them read on `Ledger.connect()` through the ledger's repositories: these are what
people and scripts run most (`release show web@prod --json` is how a pipeline finds the AMI
to launch), and on a SQLite ledger they import no SQLAlchemy.
"""

from __future__ import annotations

from releasemgr.config import Config
from releasemgr.ledger.db import Ledger
from releasemgr.ledger.refs import check_image_name
from releasemgr.ledger.repo import channels, environments, images, servers, versions
from releasemgr.release.server_rows import LIVE_STATES, server_json
from releasemgr.release.versions import version_json
from releasemgr.release import approvals


def list_images(ledger: Ledger) -> list[dict]:
    with ledger.connect() as conn:
        rows = images.summaries(conn)
    return [{"image": r.name, "versions": r.number or 0, "latest": f"v{r.number}" if r.number else None,
             "latest_semver": r.semver if r.number else None, "created_at": r.created_at}
            for r in rows]


def list_versions(ledger: Ledger, image: str, *, limit: int | None = None) -> dict:
    check_image_name(image)
    with ledger.connect() as conn:
        img = images.get(conn, image)
        rows = versions.of_image(conn, img.id, limit=limit)
        envs = channels.current_of_image(conn, img.id)
        docs = []
        for v in rows:
            d = version_json(conn, img, v, detail=False)
            d["environments"] = envs.get(v.id, [])
            docs.append(d)
        return {"image": img.name, "versions": docs}


def show(ledger: Ledger, ref: str) -> dict:
    with ledger.connect() as conn:
        img, v = versions.resolve(conn, ref)
        doc = version_json(conn, img, v)
        doc["approvals"] = approvals.of_version(conn, v.id)
        return doc


def status(ledger: Ledger, config: Config, image: str | None = None, env: str | None = None) -> dict:
    env_names = config.environment_names
    if env:
        config.environment(env)
        env_names = [env]
    with ledger.connect() as conn:
        if image:
            check_image_name(image)
            img_id = images.get(conn, image).id  # NotFound with a did-you-mean
            rows = channels.status(conn, img_id)
            names = [image]
        else:
            rows = channels.status(conn)
            names = images.names(conn)
    entries, warnings = [], []
    order = {n: i for i, n in enumerate(env_names)}
    for r in sorted(rows, key=lambda r: (r.image, order.get(r.env, 99))):
        if r.env not in order:
            continue
        entries.append({"env": r.env, "image": r.image, "version": f"v{r.number}", "number": r.number,
                        "semver": r.semver, "revoked": r.revoked, "since": r.since, "by": r.by})
        if r.revoked:
            warnings.append(f"{r.image}@v{r.number} is revoked but still current in {r.env}: "
                            f"`release rollback {r.image} --env {r.env}`")
    return {"environments": env_names, "images": names, "channels": entries, "warnings": warnings}


def history(ledger: Ledger, image: str, env: str | None = None, limit: int | None = None) -> dict:
    check_image_name(image)
    with ledger.connect() as conn:
        img = images.get(conn, image)
        env_id = environments.get(conn, env).id if env else None
        rows = channels.history(conn, img.id, env_id=env_id, limit=limit)
    out = [{"at": h.at, "env": h.env, "image": img.name, "action": h.action,
            "from": f"v{h.from_number}" if h.from_number else None, "to": f"v{h.to_number}",
            "version": f"v{h.to_number}", "actor": h.actor, "ticket": h.ticket, "reason": h.reason,
            "approved_by": h.approved_by, "override": h.override} for h in rows]
    return {"image": img.name, "env": env, "history": out}


def list_servers(ledger: Ledger, config: Config, image: str, env: str | None = None, *,
                 all_states: bool = False) -> dict:
    check_image_name(image)
    if env:
        config.environment(env)
    with ledger.connect() as conn:
        img = images.get(conn, image)
        rows = servers.listing(conn, img.id, env=env, states=None if all_states else LIVE_STATES + ("draining",))
        labels = versions.labels(conn, img.id)
    return {"image": image, "env": env,
            "servers": [server_json(r, image, labels.get(r.version_id, "?"), env_name) for r, env_name in rows]}
