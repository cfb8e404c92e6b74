"""The ledger's connections: SQLite's own driver, or SQLAlchemy.

Every statement is a `Q` with `:name` parameters, kept in `releasemgr.ledger.repo`. On a
SQLite file ledger it runs on the standard library's `sqlite3` directly, so commands import
no SQLAlchemy (~0.15 s of every process); on PostgreSQL the same statements run through
SQLAlchemy. Both connection kinds offer
the part of SQLAlchemy's `Connection`/`Result` API these paths use: `execute(q, params)`
(a list of dicts = executemany), and `first()`, `all()`, `scalar()`, `scalar_one()`,
`scalars()` and iteration on the result, whose rows read by attribute (`row.id`) or index.
"""

from __future__ import annotations

import re
from operator import itemgetter
from typing import Any, Iterator


class Q:
    """One SQL statement with `:name` parameters; `lists` are the parameters bound to a
    list for `IN :name` (expanded to one parameter per item)."""

    __slots__ = ("sql", "lists", "_sa", "_pattern")

    def __init__(self, sql: str, *lists: str):
        self.sql = sql
        self.lists = lists
        self._sa = None
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
    """A SQLAlchemy connection (PostgreSQL, or a SQLite URL that is not a plain file) behind the same API."""

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

