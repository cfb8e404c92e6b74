"""Audit queries and exports (table, JSON, CSV) and chain verification."""

from __future__ import annotations

import csv
import io
import json
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
    """Events matching every filter given, oldest first (the newest `limit` ones with a limit)."""
    with ledger.connect() as conn:
        events = audit.query(conn, since=parse_when(since), until=parse_when(until, end=True), env=env, image=image,
                             actor=actor, action=action, ticket=ticket, limit=limit)
    return [audit.event_to_json(e) for e in events]


CSV_COLUMNS = ("seq", "at", "actor", "action", "image", "version", "env", "ticket", "reason", "details", "hash")


def to_csv(events: list[dict]) -> str:
    """The events as RFC 4180 CSV: a header row, one record per event, records ending in CRLF,
    and a field quoted (its quotes doubled) when it holds a comma, a quote, CR or LF. Values
    stay exact -- a reason with a newline is one quoted field, so a CSV reader sees one record
    per event; `details` is canonical JSON text."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(CSV_COLUMNS)
    for e in events:
        w.writerow([e["seq"], e["at"], e["actor"], e["action"], e["image"] or "", e["version"] or "",
                    e["env"] or "", e["ticket"] or "", e["reason"] or "",
                    json.dumps(e["details"], sort_keys=True), e["hash"]])
    return buf.getvalue()


def verify(ledger: Ledger) -> audit.VerifyResult:
    """Recompute the chain and check the covered rows and, on SQLite, the head file
    (`releasemgr.ledger.audit.verify`)."""
    with ledger.connect() as conn:
        return audit.verify(conn, head_file=ledger.head_file)


def reanchor(ledger: Ledger, *, actor: str, reason: str | None,
             ticket: str | None = None) -> tuple[audit.VerifyResult, dict | None]:
    """After a deliberate restore of a SQLite ledger from a backup: check everything but the
    head file; when that passes, append `audit.reanchored` (the old and the new head in its
    details) and make the head file name it. Returns the check and the event (None when the
    check failed)."""
    if ledger.head_file is None:
        raise UsageError("--reanchor is for a SQLite ledger file: only it keeps its head in a file",
                         hint="on PostgreSQL the chain head is in the database (ledger_meta)")
    if not (reason and reason.strip()):
        raise UsageError("--reanchor needs --reason '...' (e.g. which backup was restored, under which ticket)")
    with ledger.connect() as conn:
        result = audit.verify(conn, check_head_file=False)
        if not result.ok:
            return result, None
        before = audit.read_head_file(ledger.head_file)
        anchored = audit.verify(conn, head_file=ledger.head_file)
    with ledger.transaction() as conn:
        conn.force_head_file = True
        event = audit.append(conn, "audit.reanchored", actor=actor, reason=reason, ticket=ticket,
                             details={"head_file_before": f"{before[0]}:{before[1]}" if before else None,
                                      "chain_head_before": result.head, "head_file_problem": anchored.problem})
    return result, event
