"""The ledger's connections: SQLite's and PostgreSQL's own drivers; SQLAlchemy only for migrations.

Every statement is a `Q` with `:name` parameters, kept in `releasemgr.ledger.repo`. On a
SQLite file ledger it runs on the standard library's `sqlite3` directly, and on PostgreSQL on
psycopg 3 directly (`PgConn`: `:name` becomes `%(name)s` once per statement), so commands
import no SQLAlchemy (~0.15-0.3 s of every process); SQLAlchemy and Alembic are loaded only
to create or upgrade a ledger (`releasemgr.ledger.migrate`). Every connection kind offers
the part of SQLAlchemy's `Connection`/`Result` API these paths use: `execute(q, params)`
(a list of dicts = executemany), and `first()`, `all()`, `scalar()`, `scalar_one()`,
`scalars()` and iteration on the result, whose rows read by attribute (`row.id`) or index;
`raw_cursor()` (the driver's cursor, for bulk reads), `commit()` and `rollback()`.
"""

from __future__ import annotations

import re
from operator import itemgetter
from typing import Any, Iterator


class Q:
    """One SQL statement with `:name` parameters; `lists` are the parameters bound to a
    list for `IN :name` (expanded to one parameter per item)."""

    __slots__ = ("sql", "lists", "_sa", "_pg", "_pattern")

    def __init__(self, sql: str, *lists: str):
        self.sql = sql
        self.lists = lists
        self._sa = None
        self._pg = None
        self._pattern = re.compile(":(" + "|".join(map(re.escape, lists)) + r")\b") if lists else None

    def sa(self):
        """The statement as SQLAlchemy `text()` (built once)."""
        if self._sa is None:
            from sqlalchemy import bindparam, text

            t = text(self.sql)
            if self.lists:
                t = t.bindparams(*(bindparam(n, expanding=True) for n in self.lists))
            self._sa = t
        return self._sa

    def expand(self, params: dict) -> tuple[str, dict]:
        """SQL and parameters with every list parameter spelled out (for sqlite3)."""
        if not self.lists:
            return self.sql, params
        params = dict(params)
        for name in self.lists:
            values = list(params.pop(name))
            for i, v in enumerate(values):
                params[f"{name}__{i}"] = v
            params[name] = values
        sql = self._pattern.sub(lambda m: "(" + ", ".join(f":{m.group(1)}__{i}"
                                                          for i in range(len(params[m.group(1)]))) + ")", self.sql)
        for name in self.lists:
            del params[name]
        return sql, params

    def pg(self, params: dict) -> tuple[str, dict]:
        """SQL and parameters for psycopg: `:name` as `%(name)s`, every list parameter spelled
        out, the rest as SQLAlchemy's `text()` reads it (a literal `%` doubled, `::type` casts
        and `\\:` left alone). The translation is made once; only lists are filled in per call."""
        parts = self._pg
        if parts is None:
            parts = self._pg = _pg_parts(self.sql, self.lists)
        if not self.lists:
            return parts, params
        params = dict(params)
        values = {name: list(params.pop(name)) for name in self.lists}
        for name, items in values.items():
            for i, v in enumerate(items):
                params[f"{name}__{i}"] = v
        return "".join(p if isinstance(p, str) else _pg_list(*p, values[p[1]]) for p in parts), params


# A parameter as SQLAlchemy's text() finds it (sqlalchemy.sql.elements.TextClause): not after
# `:`, a word character or `\`, and not followed by `:` or a word character (`x::int` is a cast).
# Compiled on first use (re's cache): SQLite never needs them.
_BIND = r"(?<![:\w\x5c]):(\w+)(?![:\w])"
_BIND_ESCAPED = r"\x5c(:\w*)(?![:\w])"  # `\:name`: a literal `:name`
_IN_LIST = r"((?i:\b(?:NOT\s+)?IN)\s+)?(?<![:\w\x5c]):(\w+)(?![:\w])"


def _pg_parts(sql: str, lists: tuple[str, ...]):
    """The statement in psycopg's `%(name)s` style: one string, or (with list parameters) a
    list of strings and (`IN ` / `NOT IN ` / "", name) for each list to fill in per call."""
    sql = sql.replace("%", "%%")
    if not lists:
        return re.sub(_BIND_ESCAPED, r"\1", re.sub(_BIND, r"%(\1)s", sql))
    parts: list = []
    at = 0
    for m in re.finditer(_IN_LIST, sql):
        op, name = m.group(1) or "", m.group(2)
        if name in lists:
            parts.append(sql[at:m.start()])
            parts.append((op, name))
        else:
            parts.append(sql[at:m.start()] + op + f"%({name})s")
        at = m.end()
    parts.append(sql[at:])
    return [re.sub(_BIND_ESCAPED, r"\1", p) if isinstance(p, str) else p for p in parts]


def _pg_list(op: str, name: str, items: list) -> str:
    if items:
        return op + "(" + ", ".join(f"%({name}__{i})s" for i in range(len(items))) + ")"
    # an empty list: `IN ()` is no SQL on PostgreSQL; an empty array literal takes the type of
    # the other side (SQLAlchemy's empty set is typed INTEGER and fails against a text column)
    if not op:
        return "(NULL)"
    return "<> ALL('{}') " if op.split()[0].upper() == "NOT" else "= ANY('{}') "


_row_classes: dict[tuple, type] = {}


def _row_class(names: tuple) -> type:
    cls = _row_classes.get(names)
    if cls is None:
        ns: dict[str, Any] = {"__slots__": (), "_fields": names}
        for i, n in enumerate(names):
            if n.isidentifier() and not n.startswith("_"):
                ns[n] = property(itemgetter(i))
        cls = _row_classes[names] = type("Row", (tuple,), ns)
    return cls


class Result:
    """The rows of one statement, fetched at once (the statements here return few)."""

    __slots__ = ("_rows",)

    def __init__(self, rows: list):
        self._rows = rows

    def first(self):
        return self._rows[0] if self._rows else None

    def all(self) -> list:
        return self._rows

    def scalar(self):
        return self._rows[0][0] if self._rows else None

    def scalar_one(self):
        if len(self._rows) != 1:
            raise LookupError(f"expected one row, got {len(self._rows)}")
        return self._rows[0][0]

    def scalars(self) -> list:
        return [r[0] for r in self._rows]

    def __iter__(self) -> Iterator:
        return iter(self._rows)


class LiteConn:
    """A `sqlite3` connection (autocommit mode: the ledger issues BEGIN itself)."""

    def __init__(self, raw, *, begin: str | None = "BEGIN"):
        self.raw = raw
        self._begin = begin  # issued before the first statement (None: already begun)

    def execute(self, q: Q | str, params: dict | list | None = None) -> Result:
        if isinstance(q, str):
            q = Q(q)
        if self._begin is not None and not self.raw.in_transaction:
            self.raw.execute(self._begin)
        if isinstance(params, list):
            self.raw.executemany(q.sql, params)
            return Result([])
        sql, params = q.expand(params or {})
        cur = self.raw.execute(sql, params)
        if cur.description is None:
            return Result([])
        cls = _row_class(tuple(d[0] for d in cur.description))
        return Result([cls(r) for r in cur.fetchall()])

    def raw_cursor(self):
        if self._begin is not None and not self.raw.in_transaction:
            self.raw.execute(self._begin)
        return self.raw.cursor()

    def commit(self) -> None:
        if self.raw.in_transaction:
            self.raw.execute("COMMIT")

    def rollback(self) -> None:
        if self.raw.in_transaction:
            self.raw.execute("ROLLBACK")


class SAConn:
    """A SQLAlchemy connection behind the same API: for code that already holds one (the
    tests that build an old ledger at an Alembic revision, or compare `PgConn` with
    SQLAlchemy). Commands never use it."""

    def __init__(self, conn):
        self.sa = conn

    def execute(self, q: Q | str, params: dict | list | None = None):
        if isinstance(q, str):
            q = Q(q)
        return self.sa.execute(q.sa(), params) if params is not None else self.sa.execute(q.sa())

    def raw_cursor(self):
        return self.sa.connection.driver_connection.cursor()

    def commit(self) -> None:
        self.sa.commit()

    def rollback(self) -> None:
        self.sa.rollback()



class PgConn:
    """A psycopg 3 connection in autocommit mode: like `LiteConn`, BEGIN is issued here before
    the first statement (`begin=None`: already begun, or every statement on its own)."""

    def __init__(self, raw, *, begin: str | None = "BEGIN"):
        self.raw = raw
        self._begin = begin

    def _begun(self) -> None:
        if self._begin is not None and self.raw.info.transaction_status == _PG_IDLE:
            self.raw.execute(self._begin)

    def execute(self, q: Q | str, params: dict | list | None = None) -> Result:
        if isinstance(q, str):
            q = Q(q)
        self._begun()
        if isinstance(params, list):
            with self.raw.cursor() as cur:
                cur.executemany(q.pg({})[0], params)
            return Result([])
        sql, params = q.pg(params or {})
        with self.raw.cursor() as cur:
            cur.execute(sql, params)  # always with parameters, so that `%%` reads as `%`
            if cur.description is None:
                return Result([])
            cls = _row_class(tuple(d.name for d in cur.description))
            return Result([cls(r) for r in cur.fetchall()])

    def raw_cursor(self):
        self._begun()
        return self.raw.cursor()

    def commit(self) -> None:
        if self.raw.info.transaction_status != _PG_IDLE:
            self.raw.execute("COMMIT")

    def rollback(self) -> None:
        if self.raw.closed or self.raw.broken:  # the server ended the transaction with the connection
            return
        if self.raw.info.transaction_status != _PG_IDLE:
            self.raw.execute("ROLLBACK")


_PG_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE (not imported here: SQLite never loads psycopg)
