"""Audit queries and exports (table, JSON, CSV) and chain verification."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from releasemgr.errors import UsageError
from releasemgr.ledger import audit
from releasemgr.ledger.db import Ledger

_REL = re.compile(r"^(\d+)([smhdw])$")


def parse_when(text: str | None, *, end: bool = False) -> str | None:
    """`2026-11-01`, `2026-11-01T12:00`, `2026-11-01T12:00:00Z` or relative `7d`, `12h`, `30m`, `2w`."""
    if not text:
        return None
    t = text.strip()
    m = _REL.match(t)
    if m:
        n, unit = int(m.group(1)), m.group(2)
        delta = {"s": timedelta(seconds=n), "m": timedelta(minutes=n), "h": timedelta(hours=n),
                 "d": timedelta(days=n), "w": timedelta(weeks=n)}[unit]
        return (datetime.now(timezone.utc) - delta).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    try:
        if len(t) == 10:
            d = datetime.strptime(t, "%Y-%m-%d").replace(tzinfo=timezone.utc)
            if end:
                d += timedelta(days=1)
        else:
            d = datetime.fromisoformat(t.replace("Z", "+00:00"))
            if d.tzinfo is None:
                d = d.replace(tzinfo=timezone.utc)
    except ValueError:
        raise UsageError(f"cannot read the time {text!r}", hint="use 2026-11-01, 2026-11-01T12:00Z or 7d/12h") from None
    return d.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def query(ledger: Ledger, *, since=None, until=None, env=None, image=None, actor=None, action=None,
          ticket=None, limit: int | None = None) -> list[dict]:
    """Events matching every filter given, oldest first (the newest `limit` ones with a limit)."""
    with ledger.connect() as conn:
        events = audit.query(conn, since=parse_when(since), until=parse_when(until, end=True), env=env, image=image,
                             actor=actor, action=action, ticket=ticket, limit=limit)
    return [audit.event_to_json(e) for e in events]


def verify(ledger: Ledger) -> audit.VerifyResult:
    """Recompute the chain (`releasemgr.ledger.audit.verify`)."""
    with ledger.connect() as conn:
        return audit.verify(conn)
