"""Audit queries and exports (table, JSON, CSV) and chain verification."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from releasemgr.common.durations import DurationError, age_seconds, is_age
from releasemgr.errors import UsageError
from releasemgr.ledger import audit
from releasemgr.ledger.db import Ledger

_DATE_START = re.compile(r"\d{4}-")  # a date or a timestamp, not an age
_WHEN_HINT = "use 2026-11-01, 2026-11-01T12:00Z or an age such as 7d, 12h, 1d12h, 1y"


def parse_when(text: str | None, *, end: bool = False) -> str | None:
    """`2026-11-01`, `2026-11-01T12:00`, `2026-11-01T12:00:00Z`, or an age ago: `7d`, `12h`, `1d12h`, `1y`."""
    if not text:
        return None
    t = text.strip()
    if not _DATE_START.match(t) and is_age(t):
        try:
            since = datetime.now(timezone.utc) - timedelta(seconds=age_seconds(t))
        except DurationError as exc:
            raise UsageError(f"cannot read the time {text!r}: {exc}", hint=_WHEN_HINT) from None
        except OverflowError:
            raise UsageError(f"cannot read the time {text!r}: too long ago", hint=_WHEN_HINT) from None
        return since.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
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
        raise UsageError(f"cannot read the time {text!r}", hint=_WHEN_HINT) from None
    return d.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def query(ledger: Ledger, *, since=None, until=None, env=None, image=None, actor=None, action=None,
          ticket=None, limit: int | None = None) -> list[dict]:
    """Events matching every filter given, oldest first (the newest `limit` ones with a limit).
    Plain SQL: `release audit` never imports the ORM."""
    from releasemgr.ledger.conn import Q

    s_since, s_until = parse_when(since), parse_when(until, end=True)
    where, params = [], {}
    for column, op, value in (("at", ">=", s_since), ("at", "<", s_until), ("env", "=", env), ("image", "=", image),
                              ("actor", "=", actor), ("ticket", "=", ticket)):
        if value:
            name = f"p{len(params)}"
            where.append(f"{column} {op} :{name}")
            params[name] = value
    if action:  # the action itself, or one of its kind: "deployment" matches deployment.started, ...
        where.append("(action = :action OR substr(action, 1, :plen) = :prefix)")
        params.update(action=action, prefix=action + ".", plen=len(action) + 1)
    sql = f"SELECT {', '.join(audit.FIELDS)}, hash FROM audit_event"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY seq DESC LIMIT :limit" if limit else " ORDER BY seq"
    if limit:
        params["limit"] = limit
    with ledger.connect() as conn:
        events = [audit.event_to_json(e) for e in conn.execute(Q(sql), params).all()]
    if limit:
        events.reverse()
    return events


def verify(ledger: Ledger) -> audit.VerifyResult:
    """Plain SQL, like `query`: `audit verify` never imports the ORM."""
    with ledger.connect() as conn:
        return audit.verify(conn)
