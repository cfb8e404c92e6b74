"""The tamper-evident audit log.

Each event's hash is sha256 over its canonical form: the JSON array
`[seq, at, actor, action, image, version, env, ticket, reason, details, prev_hash]`
(compact separators, UTF-8, `details` being itself canonical JSON text with sorted keys).
`prev_hash` of the first event is 64 zeros. The newest `seq:hash` is also kept in
`ledger_meta.audit_head`, so deleting events from the end is detected as well, and, on a
SQLite file, outside the database in the head file `<file>.head` (written by
`Ledger.transaction()` after each commit that appended events), so a ledger that became
shorter, empty, or lost its events and head record together is detected too.

Covered tables: the rows of the tables in `COVERED` (channel pointers and their history,
the environments with the policy in force, the approvals) are recorded in the chain. A
repository that writes such a row calls `record_row(conn, table, id, action=...)`; the row's
content (with the names and numbers it refers to) goes into the `ledger_rows` of the details
of the next event of that action in the same transaction, and a transaction that would commit
a recorded row without such an event fails.
`verify` checks that every row of a covered table equals the content its newest event
recorded (and that no recorded row is gone), and that each channel pointer is the `to` of
the last history row of its (environment, image). Covering another table is one `COVERED`
entry and one `record_row` call where it is written (or `record_row_deleted`).

Ledgers older than that rule (their first event recorded no rows) hold rows no event
recorded. `adopt()` (what `release ledger upgrade` runs, once per such ledger) records every
one of them, as found, in one `audit.adopted` event: the baseline of those rows is the upgrade,
not their creation. A ledger made under the rule, or adopted once, never adopts again: a row
without an event there is reported by `verify`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import threading
from dataclasses import dataclass
from itertools import compress, repeat
from pathlib import Path
from typing import Any

from releasemgr.common.secrets import process_masker
from releasemgr.ledger.clock import now_iso
from releasemgr.ledger.conn import LiteConn, Q
from releasemgr.ledger.rows import AuditEvent

GENESIS = "0" * 64
FIELDS = ("seq", "at", "actor", "action", "image", "version", "env", "ticket", "reason", "details", "prev_hash")
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_INSERT = Q("INSERT INTO audit_event (" + ", ".join(FIELDS) + ", hash) VALUES ("
            + ", ".join(":" + f for f in FIELDS) + ", :hash)")


def _fast_encoder():
    """The C encoder behind `_encode`, built once: same bytes, ~1.5x faster per row."""
    import json.encoder as je

    c_make = getattr(je, "c_make_encoder", None)
    if c_make is None:  # no C accelerator: the pure-Python path
        return lambda row: _encode(list(row))
    enc = c_make(None, None, je.encode_basestring, None, ":", ",", False, False, True)
    join = "".join
    return lambda row: join(enc(row, 0))


def canonical_details(details: dict[str, Any] | None) -> str:
    return json.dumps(details or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def compute_hash(row) -> str:
    """`row`: the FIELDS in order (a tuple from SQL or a list)."""
    return hashlib.sha256(_encode(list(row)).encode("utf-8")).hexdigest()


# -- covered tables -------------------------------------------------------------------------

@dataclass(frozen=True)
class Covered:
    """A table whose rows are recorded in the chain: `select` gives each row's content (with
    `id` first, joined names and numbers after the columns), `where` selects one by `:id`."""

    table: str
    select: str
    order: str

    @property
    def all(self) -> Q:
        return Q(f"{self.select} ORDER BY {self.order}")

    @property
    def one(self) -> Q:
        return Q(f"{self.select} WHERE {self.order} = :id")


COVERED: dict[str, Covered] = {c.table: c for c in (
    Covered("channel_history",
            "SELECT h.id, h.environment_id, e.name AS env, h.image_id, i.name AS image, h.from_version_id, "
            "fv.number AS from_number, h.to_version_id, tv.number AS to_number, h.action, h.actor, h.ticket, "
            "h.reason, h.approved_by, h.override, h.at FROM channel_history h "
            "LEFT JOIN environment e ON e.id = h.environment_id LEFT JOIN image i ON i.id = h.image_id "
            "LEFT JOIN version fv ON fv.id = h.from_version_id LEFT JOIN version tv ON tv.id = h.to_version_id",
            "h.id"),
    Covered("channel",
            "SELECT c.id, c.environment_id, e.name AS env, c.image_id, i.name AS image, c.version_id, "
            "v.number AS number, c.updated_at, c.updated_by FROM channel c "
            "LEFT JOIN environment e ON e.id = c.environment_id LEFT JOIN image i ON i.id = c.image_id "
            "LEFT JOIN version v ON v.id = c.version_id",
            "c.id"),
    Covered("environment",
            "SELECT e.id, e.name, e.position, e.created_at, e.policy, e.retired_at FROM environment e",
            "e.id"),
    Covered("approval",
            "SELECT a.id, a.version_id, i.name AS image, v.number AS number, a.environment_id, e.name AS env, "
            "a.approver, a.approver_key, a.ticket, a.reason, a.at, a.expires_at, a.used_at, a.used_by "
            "FROM approval a LEFT JOIN version v ON v.id = a.version_id LEFT JOIN image i ON i.id = v.image_id "
            "LEFT JOIN environment e ON e.id = a.environment_id",
            "a.id"),
)}
_COVERED_Q = {name: (c.all, c.one) for name, c in COVERED.items()}
ROWS_KEY = "ledger_rows"


def _plain(value):
    if isinstance(value, bool):
        return int(value)
    if value is None or isinstance(value, (int, float, str)):
        return value
    return str(value)


def _content(row) -> dict:
    return {k: _plain(v) for k, v in zip(row._fields, row)}


def _queries(table: str) -> tuple[Q, Q]:
    if table not in _COVERED_Q:
        c = COVERED[table]
        _COVERED_Q[table] = (c.all, c.one)
    return _COVERED_Q[table]


def record_row(conn, table: str, row_id: int, *, action: str) -> dict:
    """Record the current content of row `row_id` of the covered `table` in the next `action`
    event this transaction appends; returns the content."""
    row = conn.execute(_queries(table)[1], {"id": row_id}).first()
    if row is None:
        raise LookupError(f"{table} row {row_id} not found")
    content = _content(row)
    conn.__dict__.setdefault("staged_rows", []).append((action, table, content))
    return content


def record_rows(conn, table: str, ids: list[int], *, action: str) -> None:
    """`record_row` for many rows of `table` (one query)."""
    want = set(ids)
    staged = conn.__dict__.setdefault("staged_rows", [])
    for row in conn.execute(_queries(table)[0]):
        if row[0] in want:
            staged.append((action, table, _content(row)))


def record_row_deleted(conn, table: str, row_id: int, *, action: str) -> None:
    """Record that row `row_id` of the covered `table` was deleted (by the next `action` event)."""
    conn.__dict__.setdefault("staged_rows", []).append((action, table, {"id": row_id, "deleted": True}))


def check_staged(conn) -> None:
    """Before a commit: every recorded row went into an event (else the change is refused)."""
    staged = conn.__dict__.pop("staged_rows", None)
    if staged:
        what = ", ".join(f"{t} row {c['id']} (for a {a!r} event)" for a, t, c in staged)
        raise RuntimeError(f"changed without an audit event: {what}")


def _attach_staged(conn, action: str, details: dict[str, Any] | None) -> dict[str, Any] | None:
    staged = conn.__dict__.get("staged_rows")
    if not staged:
        return details
    mine = [s for s in staged if s[0] == action]
    if not mine:
        return details
    conn.__dict__["staged_rows"] = [s for s in staged if s[0] != action]
    rows: dict[str, list] = {}
    for _, table, content in mine:
        rows.setdefault(table, []).append(content)
    return {**(details or {}), ROWS_KEY: rows}


# -- the head file (SQLite) -------------------------------------------------------------------

def read_head_file(path: Path | None) -> tuple[int, str] | None:
    """(seq, hash) of a head file; None when there is none; (-1, text) when it is unreadable."""
    if path is None:
        return None
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        return (-1, str(exc))
    seq, _, h = text.partition(":")
    if not seq.isdigit() or len(h) != 64:
        return (-1, text[:80])
    return int(seq), h


def write_head_file(path: Path, head: str, *, force: bool = False) -> str | None:
    """Replace the head file atomically with `head` (`seq:hash`), unless it already records a
    later event (a concurrent writer that committed after us got there first), or `force`.

    Writers -- processes, and threads of one process (a deploy retires from a worker) -- take
    turns on `<head file>.lock` (flock), so the compare and the replace are one step and the
    file never moves back. Returns what went wrong, for the caller to warn about: the change
    is committed, so a head file that cannot be written does not fail it."""
    seq = int(head.partition(":")[0])
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        fd = os.open(path.with_name(path.name + ".lock"), os.O_WRONLY | os.O_CREAT, 0o600)
    except OSError as exc:
        return f"cannot write the audit head file {path}: {exc.strerror}"
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if not force:
            current = read_head_file(path)
            if current is not None and current[0] >= seq:
                return None
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="ascii") as fh:
            fh.write(head + "\n")  # private, as the ledger file is
        os.replace(tmp, path)
        return None
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        return f"cannot write the audit head file {path}: {exc.strerror}"
    finally:
        os.close(fd)  # and with it the lock


_HEAD = Q("SELECT value FROM ledger_meta WHERE key = 'audit_head'")
_NEW_HEAD = Q("INSERT INTO ledger_meta (key, value) VALUES ('audit_head', :v)")
_MOVE_HEAD = Q("UPDATE ledger_meta SET value = :v WHERE key = 'audit_head'")


def append(conn, action: str, *, actor: str, image: str | None = None,
           version: str | None = None, env: str | None = None, ticket: str | None = None,
           reason: str | None = None, details: dict[str, Any] | None = None,
           at: str | None = None) -> dict:
    """Append one event; returns it (as `event_to_json` shapes it, details as text). Must
    run inside `Ledger.transaction()` (which holds the write lock)."""
    return append_many(conn, [dict(action=action, actor=actor, image=image, version=version, env=env,
                                     ticket=ticket, reason=reason, details=details, at=at)])[0]


_TEXT_FIELDS = ("actor", "action", "image", "version", "env", "ticket", "reason")


def append_many(conn, events: list[dict[str, Any]]) -> list[dict]:
    """Append events in order (each a dict of `append`'s keyword arguments, `action` and
    `actor` required): one read of the chain head, one insert, one head update. Every text
    field and the details pass through the process's masker (`common.secrets`) first."""
    head = conn.execute(_HEAD).scalar()
    if head is None:
        seq, prev = 0, GENESIS
    else:
        last_seq, _, prev = head.partition(":")
        seq = int(last_seq)
    out = []
    masker = process_masker()  # the run's secrets never enter the chain (it cannot be scrubbed later)
    for e in events:
        seq += 1
        # masked before the covered rows are attached: those must equal their tables' rows
        details = _attach_staged(conn, e["action"], masker.mask_data(e.get("details")))
        text = {k: masker.mask(e[k]) if isinstance(e.get(k), str) else e.get(k) for k in _TEXT_FIELDS}
        ev = {"seq": seq, "at": e.get("at") or now_iso(), "actor": text["actor"], "action": text["action"],
              "image": text["image"], "version": text["version"], "env": text["env"], "ticket": text["ticket"],
              "reason": text["reason"], "details": canonical_details(details), "prev_hash": prev}
        ev["hash"] = prev = compute_hash([ev[f] for f in FIELDS])
        out.append(ev)
    if not out:
        return out
    conn.execute(_INSERT, out if len(out) > 1 else out[0])
    value = f"{seq}:{prev}"
    conn.execute(_NEW_HEAD if head is None else _MOVE_HEAD, {"v": value})
    conn.new_head = value  # `Ledger.transaction()` writes it to the head file after the commit
    return out


@dataclass
class VerifyResult:
    ok: bool
    events: int
    head: str | None
    first_bad_seq: int | None = None
    problem: str | None = None
    event: dict | None = None
    table: str | None = None  # a covered table's row that does not match the chain
    row: int | None = None
    adoptable: bool = False  # (not in the JSON) the problem predates the covered-rows rule: `ledger upgrade`

    def to_json(self) -> dict:
        return {"ok": self.ok, "events": self.events, "head": self.head, "first_bad_seq": self.first_bad_seq,
                "problem": self.problem, "event": self.event, "table": self.table, "row": self.row}


def verify(conn, batch: int = 20000, *, head_file: Path | None = None, check_head_file: bool = True,
           check_rows: bool = True) -> VerifyResult:
    """Recompute the whole chain; report the first event that does not match; then the head
    record, the head file (`head_file`, SQLite) and (with `check_rows`) the rows of the
    covered tables."""
    meta = conn.execute(_HEAD).scalar()
    anchor = read_head_file(head_file) if head_file is not None and check_head_file else None
    anchor_seq = anchor[0] if anchor else None
    anchor_hash = None
    marked: list[tuple[int, str]] = []  # (seq, details) of the events that recorded rows
    # the raw driver cursor: SQLAlchemy's row objects cost more than the hashing itself
    cur = conn.raw_cursor()
    cur.execute(_ALL_EVENTS.sql)
    prev, expected_seq, count, last_hash = GENESIS, 1, 0, None
    sha = hashlib.sha256
    enc = _fast_encoder()
    marker = f'"{ROWS_KEY}"'
    while True:
        rows = cur.fetchmany(batch)
        if not rows:
            break
        for row in rows:
            seq = row[0]
            if seq != expected_seq:
                return _bad(row, count, f"event {expected_seq} is missing (found {seq} next)", expected_seq)
            if row[10] != prev:
                return _bad(row, count, "prev_hash does not match the previous event's hash")
            if sha(enc(row[:11]).encode("utf-8")).hexdigest() != row[11]:
                return _bad(row, count, "the event's content does not match its hash (it was changed)")
            prev = last_hash = row[11]
            if seq == anchor_seq:
                anchor_hash = last_hash
            if marker in row[9]:
                marked.append((seq, row[9]))
            expected_seq += 1
            count += 1
    cur.close()
    head = f"{count}:{last_hash}" if count else None
    if meta is not None and meta != head:
        mseq = int(meta.partition(":")[0])
        if mseq > count:
            return VerifyResult(False, count, head, count + 1,
                                f"events {count + 1}..{mseq} were removed from the end of the log")
        return VerifyResult(False, count, head, mseq, "the recorded chain head does not match the last event")
    if meta is None and count:
        return VerifyResult(False, count, head, 1, "the chain head record is missing")
    if head_file is not None and check_head_file:
        bad = _check_anchor(head_file, anchor, anchor_hash, count, head)
        if bad is not None and anchor is None and adoption_due(conn):  # a release that kept none wrote it
            bad.adoptable = True
            bad.problem = (f"the head file {head_file} is missing: this ledger was written by a release that kept "
                           "none (`release ledger upgrade` writes it)")
        if bad is not None:
            return bad
    if not check_rows or _rows_match_fast(conn, marked):
        return VerifyResult(True, count, head)
    bad = _check_rows(conn, _recorded(marked), count, head)
    if bad is None:
        return VerifyResult(True, count, head)
    if bad.first_bad_seq is None and bad.problem.endswith(_NO_EVENT) and adoption_due(conn):
        bad.adoptable = True
        bad.problem = (f"{bad.table} row {bad.row} has no audit event: this ledger has rows written before the "
                       "audit chain covered them, not yet recorded (`release ledger upgrade` records them)")
    return bad


def _recorded(marked: list[tuple[int, str]]) -> dict[str, dict[int, tuple[int, dict]]]:
    """table -> id -> (seq, content) of the newest event that recorded each row."""
    recorded: dict[str, dict[int, tuple[int, dict]]] = {}
    for seq, details in marked:
        for table, contents in json.loads(details).get(ROWS_KEY, {}).items():
            got = recorded.setdefault(table, {})
            for content in contents:
                got[content["id"]] = (seq, content)
    return recorded


# -- the fast check of the covered rows (SQLite) ------------------------------------------------
# The recorded contents are compared as text: each row's content as canonical JSON (built by
# SQLite's json_object, keys sorted) against the text of the object its newest event recorded,
# cut out of the events' details with string operations instead of parsing every event. The
# cut is exact when no string value inside `ledger_rows` holds a brace (checked by counting:
# every recorded object has exactly one "id" key). Equal texts are equal contents; anything
# else (a difference, details of another shape, PostgreSQL) falls back to `_check_rows`,
# which decides and names the first bad row.

_ROWS_AT = f'"{ROWS_KEY}":{{'
_ID_RX = re.compile(r'"id":(\d+)')
_DELETED = '"deleted":true,'
_POINTERS_OK = Q(
    "SELECT (SELECT COUNT(*) FROM channel c LEFT JOIN (SELECT environment_id, image_id, MAX(id) AS id "
    "FROM channel_history GROUP BY environment_id, image_id) l "
    "ON l.environment_id = c.environment_id AND l.image_id = c.image_id "
    "LEFT JOIN channel_history h ON h.id = l.id WHERE h.id IS NULL OR h.to_version_id <> c.version_id), "
    "(SELECT COUNT(*) FROM (SELECT DISTINCT environment_id, image_id FROM channel_history) g "
    "WHERE NOT EXISTS (SELECT 1 FROM channel c WHERE c.environment_id = g.environment_id "
    "AND c.image_id = g.image_id))")


def _json_select(c: Covered) -> str:
    """`c.select` as `(id as text, the row's canonical JSON without its braces)`."""
    cols, _, rest = c.select[len("SELECT "):].partition(" FROM ")
    named = []
    for item in cols.split(", "):
        expr, _, alias = item.partition(" AS ")
        named.append((alias or expr.rpartition(".")[2], expr))
    args = ", ".join(f"'{name}', {expr}" for name, expr in sorted(named))
    # trim: an object's text starts with `{"` and ends with a scalar then `}`
    return f"SELECT CAST({named[0][1]} AS TEXT), trim(json_object({args}), '{{}}') FROM {rest}"


_JSON_Q = {name: Q(_json_select(c)) for name, c in COVERED.items()}


def _texts(text: str) -> dict[str, dict[str, str]] | None:
    """The recorded rows of plain details (`_plain`, joined by newlines: a raw newline is never
    inside canonical JSON): table -> id (as text) -> the object's text without its braces; the
    later of two objects of one row wins.

    In canonical JSON a quote inside a string is escaped, so `":[{` and `"id":` are always
    keys, and in plain details every brace is an object's."""
    # `..."a":[{x},{y}],"b":[{z}]}...` -> `..."a`, `x},{y`, `,"b`, `z`, `}...`: the bodies of the
    # arrays alternate with the text that ends with each one's name
    pieces = text.replace("}]", '":[{').split('":[{')
    if len(pieces) % 2 == 0:
        return None
    bodies, before = pieces[1::2], pieces[0:-1:2]
    recorded: dict[str, dict[str, str]] = {}
    for table in COVERED:
        mine = list(compress(bodies, map(str.endswith, before, repeat(f'"{table}'))))
        if not mine:
            continue
        body = "},{".join(mine)
        ids = _ID_RX.findall(body)
        objs = mine if body.count("},{") == len(mine) - 1 else body.split("},{")
        if len(objs) != len(ids):
            return None
        recorded[table] = dict(zip(ids, objs))
    return recorded


def _recorded_texts(marked: list[tuple[int, str]]) -> dict[str, dict[str, str]] | None:
    """table -> id (as text) -> the text (without its braces) of the object the newest event
    recorded (the content as canonical JSON: as `canonical_details` wrote it); None when the
    details cannot be read so.

    Plain details (whose only objects are themselves, their `ledger_rows` and the recorded
    rows, each with one "id" key: the shape the tool writes for moves and approvals) are read
    together by `_texts`; others (a policy, say) are parsed."""
    dets = [d for _, d in marked]
    text = "\n".join(dets)
    n = len(dets)
    objects = 2 * n + text.count('"id":')
    if text.count(_ROWS_AT) == n and text.count("{") == objects and text.count("}") == objects:
        return _texts(text)  # all plain: in one go
    opens = map(str.count, dets, repeat("{"))
    closes = map(str.count, dets, repeat("}"))
    ids = map(str.count, dets, repeat('"id":'))
    at = map(str.count, dets, repeat(_ROWS_AT))
    odd = [i for i, (o, c, k, r) in enumerate(zip(opens, closes, ids, at)) if o != c or o != k + 2 or r != 1]
    recorded: dict[str, dict[str, str]] = {}

    def merge(part: dict[str, dict[str, str]] | None) -> bool:
        if part is None:
            return False
        for table, rows in part.items():
            recorded.setdefault(table, {}).update(rows)
        return True

    start = 0
    for i in [*odd, n]:
        if i > start and not merge(_texts("\n".join(dets[start:i]))):
            return None
        start = i + 1
        if i == n:
            break
        rows = json.loads(dets[i]).get(ROWS_KEY)
        if not isinstance(rows, dict):
            continue
        part: dict[str, dict[str, str]] = {}
        for table, contents in rows.items():
            for c in contents:
                if not isinstance(c, dict) or type(c.get("id")) is not int:
                    return None
                part.setdefault(table, {})[str(c["id"])] = _encode_sorted(c)[1:-1]
        merge(part)
    return recorded


def _encode_sorted(content: dict) -> str:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _rows_match_fast(conn, marked: list[tuple[int, str]]) -> bool:
    """Every covered row equals, as canonical JSON text, what its newest event recorded, no
    recorded row is gone, and every channel pointer is the `to` of its last history row.
    False means "not shown": the detailed check decides."""
    if not isinstance(conn, LiteConn):
        return False
    recorded = _recorded_texts(marked)
    if recorded is None:
        return False
    cur = conn.raw_cursor()
    try:
        for table in COVERED:
            want = recorded.get(table, {})
            if any(v.startswith(_DELETED) for v in want.values()):
                want = {k: v for k, v in want.items() if not v.startswith(_DELETED)}
            cur.execute(_JSON_Q[table].sql)
            if dict(cur.fetchall()) != want:
                return False
        cur.execute(_POINTERS_OK.sql)
        return tuple(cur.fetchone()) == (0, 0)
    finally:
        cur.close()


_REANCHOR = "if the ledger was restored from a backup deliberately: `release audit verify --reanchor --reason ...`"


def _check_anchor(path: Path, anchor, anchor_hash, count: int, head: str | None) -> VerifyResult | None:
    if anchor is None:
        if count:
            return VerifyResult(False, count, head, None,
                                f"the head file {path} is missing (the ledger has {count} events); {_REANCHOR}")
        return None
    seq, h = anchor
    if seq < 0:
        return VerifyResult(False, count, head, None, f"the head file {path} is damaged ({h})")
    if seq > count:
        missing = (f"all {seq} events are missing" if not count else f"event {seq} is missing" if seq == count + 1
                   else f"events {count + 1}..{seq} are missing")
        return VerifyResult(False, count, head, count + 1,
                            f"{missing}: the head file {path} records {seq} events (the ledger became shorter, "
                            f"was emptied or replaced)")
    if seq and anchor_hash != h:
        return VerifyResult(False, count, head, seq,
                            f"event {seq} does not match the head file {path} (the chain was rewritten or the ledger "
                            f"replaced)")
    return None


def _check_rows(conn, recorded: dict, count: int, head: str | None) -> VerifyResult | None:
    """Every row of a covered table equals what its newest event recorded; every recorded
    row still exists; each channel pointer is the `to` of its last history row."""
    current: dict[str, dict[int, dict]] = {}
    for table in COVERED:
        rows = {r[0]: _content(r) for r in conn.execute(_queries(table)[0])}
        current[table] = rows
        got = recorded.get(table, {})
        for rid, content in rows.items():
            if rid not in got or got[rid][1].get("deleted"):
                return _bad_row(count, head, table, rid, None, _NO_EVENT)
            seq, want = got[rid]
            for key in [*content, *(k for k in want if k not in content)]:
                if key in want and content.get(key) != want[key]:
                    return _bad_row(count, head, table, rid, seq,
                                    f"does not match audit event {seq}: {key} is {content.get(key)!r}, "
                                    f"the event recorded {want[key]!r}")
        for rid, (seq, want) in sorted(got.items()):
            if rid not in rows and not want.get("deleted"):
                return _bad_row(count, head, table, rid, seq, f"recorded by audit event {seq} was deleted")
    history, channels = current.get("channel_history", {}), current.get("channel", {})
    last: dict[tuple, dict] = {}
    for rid in sorted(history):
        h = history[rid]
        last[(h["environment_id"], h["image_id"])] = h
    for rid in sorted(channels):
        c = channels[rid]
        h = last.pop((c["environment_id"], c["image_id"]), None)
        if h is None:
            return _bad_row(count, head, "channel", rid, None, "has no channel_history row")
        if h["to_version_id"] != c["version_id"]:
            return _bad_row(count, head, "channel", rid, None,
                            f"points at version id {c['version_id']}, but its last channel_history row "
                            f"{h['id']} moved it to {h['to_version_id']}")
    if last:
        h = min(last.values(), key=lambda x: x["id"])
        return _bad_row(count, head, "channel_history", h["id"], None,
                        f"moved {h['image']} in {h['env']}, which has no channel pointer")
    return None


_NO_EVENT = "has no audit event (it was added or restored behind the tool's back)"


def _bad_row(count, head, table, rid, seq, problem) -> VerifyResult:
    return VerifyResult(False, count, head, seq, f"{table} row {rid} {problem}", table=table, row=rid)


def _bad(row, count, problem, seq=None) -> VerifyResult:
    event = dict(zip(FIELDS, row[:11]))
    event["hash"] = row[11]
    return VerifyResult(False, count, None, seq or row[0], problem, event)


# -- adopting the rows of a ledger older than the covered-rows rule ----------------------------

ADOPTED = "audit.adopted"
ADOPTED_REASON = "rows written before the audit chain covered them, recorded as found at this upgrade"
_FIRST_EVENT = Q("SELECT details FROM audit_event WHERE seq = 1")
_RECORDING = Q("SELECT seq, details FROM audit_event WHERE details LIKE :m ORDER BY seq")
_EVENT_OF = Q("SELECT details FROM audit_event WHERE action = :a ORDER BY seq")


def covered_from_the_start(conn) -> bool:
    """The ledger's first event recorded rows: a release that covers rows made it (its first
    event is the first recording of the policy, or its environments by name)."""
    first = conn.execute(_FIRST_EVENT).scalar()
    return first is not None and ROWS_KEY in json.loads(first)


def adoption_due(conn) -> bool:
    """The ledger is older than the covered-rows rule and has not adopted its rows yet."""
    return not has_action(conn, ADOPTED) and not covered_from_the_start(conn)


def unrecorded(conn) -> dict[str, list[int]]:
    """table -> the ids of the covered rows no event ever recorded (a row whose newest event
    recorded it deleted is not among them: it was restored behind the tool's back)."""
    marked = [(r[0], r[1]) for r in conn.execute(_RECORDING, {"m": f'%"{ROWS_KEY}"%'})]
    recorded = _recorded(marked)
    out: dict[str, list[int]] = {}
    for table in COVERED:
        got = recorded.get(table, {})
        ids = [r[0] for r in conn.execute(_queries(table)[0]) if r[0] not in got]
        if ids:
            out[table] = ids
    return out


def adopt(conn, *, actor: str, extra: dict[str, Any] | None = None) -> dict | None:
    """Record the rows of a ledger older than the covered-rows rule that no event recorded,
    as they are now, in one `audit.adopted` event by `actor` (`details.rows`: how many of each
    table; the rows themselves in `ledger_rows`); returns the event, None when nothing is due
    (a ledger made under the rule, one adopted already, or an empty one). A ledger older than
    the rule gets the event even when every row has one already: it marks where the chain
    took over, so no later row is ever adopted. `extra`: more details (the head file found).
    The caller has verified the chain; must run inside `Ledger.transaction()`."""
    if not adoption_due(conn):
        return None
    rows = unrecorded(conn)
    head = conn.execute(_HEAD).scalar()
    if head is None and not rows:
        return None
    for table, ids in rows.items():
        record_rows(conn, table, ids, action=ADOPTED)
    details = {"rows": {t: len(ids) for t, ids in rows.items()}, "chain_head_before": head,
               "note": "these rows existed before the audit chain covered them; their baseline is this upgrade, "
                       "not their creation", **(extra or {})}
    return append(conn, ADOPTED, actor=actor, reason=ADOPTED_REASON, details=details)


def adopted_rows(conn) -> dict[str, list[dict]]:
    """table -> the contents the `audit.adopted` event recorded ({} without one)."""
    out: dict[str, list[dict]] = {}
    for (details,) in conn.execute(_EVENT_OF, {"a": ADOPTED}):
        for table, contents in json.loads(details).get(ROWS_KEY, {}).items():
            out.setdefault(table, []).extend(contents)
    return out


_HAS_ACTION = Q("SELECT 1 FROM audit_event WHERE action = :a LIMIT 1")


def has_action(conn, action: str) -> bool:
    """Some event of `action` is in the log."""
    return conn.execute(_HAS_ACTION, {"a": action}).first() is not None


_ALL_EVENTS = Q(f"SELECT {AuditEvent.select_list()} FROM audit_event ORDER BY seq")


def query(conn, *, since: str | None = None, until: str | None = None, env: str | None = None,
          image: str | None = None, actor: str | None = None, action: str | None = None, ticket: str | None = None,
          limit: int | None = None) -> list[AuditEvent]:
    """Events matching every filter given (`since` inclusive, `until` exclusive), oldest
    first (the newest `limit` ones with a limit). `action` matches the action itself or one
    of its kind: "deployment" matches deployment.started, ..."""
    where, params = [], {}
    for column, op, value in (("at", ">=", since), ("at", "<", until), ("env", "=", env), ("image", "=", image),
                              ("actor", "=", actor), ("ticket", "=", ticket)):
        if value:
            name = f"p{len(params)}"
            where.append(f"{column} {op} :{name}")
            params[name] = value
    if action:
        where.append("(action = :action OR substr(action, 1, :plen) = :prefix)")
        params.update(action=action, prefix=action + ".", plen=len(action) + 1)
    sql = f"SELECT {AuditEvent.select_list()} FROM audit_event"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY seq DESC LIMIT :limit" if limit else " ORDER BY seq"
    if limit:
        params["limit"] = limit
    events = [AuditEvent.from_row(r) for r in conn.execute(Q(sql), params)]
    if limit:
        events.reverse()
    return events


def event_to_json(ev: AuditEvent) -> dict:
    return {"seq": ev.seq, "at": ev.at, "actor": ev.actor, "action": ev.action, "image": ev.image,
            "version": ev.version, "env": ev.env, "ticket": ev.ticket, "reason": ev.reason,
            "details": json.loads(ev.details or "{}"), "prev_hash": ev.prev_hash, "hash": ev.hash}
