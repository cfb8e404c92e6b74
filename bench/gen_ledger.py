"""Generate a large, valid ledger for the benchmarks.

    python bench/gen_ledger.py [--images 1000] [--versions 50] [--url sqlite:///bench/.work/ledger.db]

Per image: `image.created`, then for each version `version.created` and promotions to dev,
staging and prod (the newest version stops at staging, so prod can still be promoted).
With 1,000 images x 50 versions that is 50,000 versions, 149,000 channel moves and
200,000 audit events after the new ledger's own `environment.added` (which records the
environment rows), hash-chained with `releasemgr.ledger.audit.compute_hash` so that
`release audit verify` passes. Rows are written with executemany through the models' tables.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_URL = f"sqlite:///{HERE / '.work' / 'ledger.db'}"
ENVS = ("dev", "staging", "prod")


def image_name(i: int) -> str:
    return f"img{i:04d}"


def generate(url: str, images: int = 1000, versions: int = 50, quiet: bool = False) -> dict:
    from sqlalchemy import text

    from releasemgr.ledger import audit
    from releasemgr.ledger.db import Ledger, normalise_url
    from releasemgr.ledger.models import (Artifact, AuditEvent, Channel, ChannelHistory, Image,
                                          LedgerMeta, Version)

    t0 = time.perf_counter()
    if url.startswith("sqlite:///"):
        p = Path(url[len("sqlite:///"):])
        for suffix in ("", "-wal", "-shm", ".migrate.lock", ".head"):
            Path(str(p) + suffix).unlink(missing_ok=True)
    ledger = Ledger.open(normalise_url(url), environments=list(ENVS), create=True)
    with ledger.engine.connect() as conn:
        # a new ledger holds its creation's events (environment.added, recording the environment
        # rows): the generated chain continues from them
        if conn.execute(text("SELECT COUNT(*) FROM audit_event WHERE action <> 'environment.added'")).scalar():
            raise SystemExit(f"{url} is not empty; use a new database")
        env_ids = {name: i for i, name in conn.execute(text("SELECT id, name FROM environment"))}
        head = conn.execute(text("SELECT value FROM ledger_meta WHERE key = 'audit_head'")).scalar()

    base = datetime(2025, 1, 1, tzinfo=timezone.utc)
    second = timedelta(seconds=1)
    img_rows, ver_rows, art_rows, hist_rows, chan_rows, events = [], [], [], [], [], []
    seq, _, prev = head.partition(":") if head else ("0", "", audit.GENESIS)
    seq = int(seq)
    vid = 0
    hid = 0
    chan_ids: dict[tuple, int] = {}
    chan_last: dict[tuple, dict] = {}
    actor = "bench@gen"

    def event(action, image, version=None, env=None, details=None):
        nonlocal seq, prev
        seq += 1
        at = (base + seq * second).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        d = audit.canonical_details(details)
        row = [seq, at, actor, action, image, version, env, None, None, d, prev]
        h = audit.compute_hash(row)
        events.append({"seq": seq, "at": at, "actor": actor, "action": action, "image": image, "version": version,
                       "env": env, "ticket": None, "reason": None, "details": d, "prev_hash": prev, "hash": h})
        prev = h
        return at

    for i in range(1, images + 1):
        name = image_name(i)
        at = event("image.created", name)
        img_rows.append({"id": i, "name": name, "created_at": at, "created_by": actor})
        current: dict[str, int | None] = {e: None for e in ENVS}
        current_n: dict[str, int | None] = {e: None for e in ENVS}
        for n in range(1, versions + 1):
            vid += 1
            label = f"v{n}"
            ami = f"ami-{i:04d}{n:04d}"
            at = event("version.created", name, label,
                       details={"semver": f"1.{n}.0", "origin": "register", "artifacts": [f"aws:us-east-1:{ami}"]})
            ver_rows.append({"id": vid, "image_id": i, "number": n, "semver": f"1.{n}.0", "build_id": None,
                             "origin": "register", "template_digest": None, "git_commit": None, "git_dirty": None,
                             "variables": "{}", "parent": None, "created_at": at, "created_by": actor,
                             "revoked": False, "revoked_at": None, "revoked_by": None, "revoked_reason": None})
            art_rows.append({"version_id": vid, "provider": "aws", "region": "us-east-1", "external_id": ami,
                             "builder_type": "amazon-ebs", "files": "[]", "extra": "{}", "deleted_at": None})
            for env in ENVS:
                if env == "prod" and n == versions:
                    continue
                frm = current_n[env]
                hid += 1
                if (i, env) not in chan_ids:
                    chan_ids[(i, env)] = len(chan_ids) + 1
                at = (base + (seq + 1) * second).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # the event's time
                hist = {"id": hid, "environment_id": env_ids[env], "image_id": i, "from_version_id": current[env],
                        "to_version_id": vid, "action": "promote", "actor": actor, "ticket": None, "reason": None,
                        "approved_by": "[]", "override": False, "at": at}
                hist_rows.append(hist)
                chan = {"id": chan_ids[(i, env)], "environment_id": env_ids[env], "image_id": i, "version_id": vid,
                        "updated_at": at, "updated_by": actor}
                chan_last[(i, env)] = chan
                # the rows the move wrote are recorded in its event, as channels.record_move does
                rows = {"channel_history": [{**hist, "override": 0, "env": env, "image": name, "from_number": frm,
                                             "to_number": n}],
                        "channel": [{**chan, "env": env, "image": name, "number": n}]}
                event("promote", name, label, env, details={"from": f"v{frm}" if frm else None, "to": label,
                                                            "approved_by": [], "override": False,
                                                            audit.ROWS_KEY: rows})
                current[env], current_n[env] = vid, n
    chan_rows.extend(sorted(chan_last.values(), key=lambda c: c["id"]))
    t_build = time.perf_counter() - t0

    with ledger.engine.begin() as conn:  # a bulk load with the declared tables (bench only)
        for table, rows in ((Image, img_rows), (Version, ver_rows), (Artifact, art_rows),
                            (ChannelHistory, hist_rows), (Channel, chan_rows), (AuditEvent, events)):
            for k in range(0, len(rows), 20000):
                conn.execute(table.__table__.insert(), rows[k:k + 20000])
        meta = LedgerMeta.__table__
        if head:
            conn.execute(meta.update().where(meta.c.key == "audit_head").values(value=f"{seq}:{prev}"))
        else:
            conn.execute(meta.insert(), [{"key": "audit_head", "value": f"{seq}:{prev}"}])
    if ledger.head_file is not None:
        audit.write_head_file(ledger.head_file, f"{seq}:{prev}", force=True)
    if not ledger.is_sqlite:
        with ledger.engine.begin() as conn:
            for table in ("image", "version", "artifact", "channel_history", "channel"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT MAX(id) FROM {table}))"))
            conn.execute(text("ANALYZE"))
    else:
        with ledger.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    ledger.close()
    stats = {"url": url, "images": images, "versions": len(ver_rows), "artifacts": len(art_rows),
             "channel_moves": len(hist_rows), "audit_events": seq, "seconds": round(time.perf_counter() - t0, 1),
             "hashing_seconds": round(t_build, 1)}
    if not quiet:
        print(json.dumps(stats))
    return stats


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--versions", type=int, default=50)
    ap.add_argument("--url", default=DEFAULT_URL)
    args = ap.parse_args(argv)
    if args.url == DEFAULT_URL:
        (HERE / ".work").mkdir(exist_ok=True)
    generate(args.url, args.images, args.versions)
    return 0


if __name__ == "__main__":
    sys.exit(main())
