"""`PgConn` (releasemgr/ledger/conn.py) runs the ledger's `Q` statements on psycopg directly.
Its `:name` -> `%(name)s` translation is held to what SQLAlchemy's `text()` compiles for every
statement of the ledger; on the real server a literal `%`, a `::` cast, `IN :ids` lists (empty
ones too) and executemany run."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import bindparam
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.types import NullType

from releasemgr.ledger.conn import PgConn, Q
from test_ledger_schema import ledger_statements


def _normalised(sql: str) -> str:
    """Parameter names aside (SQLAlchemy spells a list's items ids_1, ids_2; PgConn ids__0, ...)."""
    return re.sub(r"%\((\w+?)_+\d+\)s", r"%(\1_N)s", sql)


def _sa_sql(q: Q, params: dict) -> str:
    """The SQL that SQLAlchemy sends psycopg for `q` (lists spelled out for these values)."""
    t = q.sa().bindparams(*(bindparam(n, value=v, type_=NullType(), expanding=n in q.lists)  # untyped, as run
                            for n, v in params.items()))
    return str(t.compile(dialect=PGDialect_psycopg(), compile_kwargs={"render_postcompile": True}))


EXTRA = [
    Q("SELECT '50%' AS p, x::text, CAST(:a AS integer), y\\:z, :b:c, e:f FROM t WHERE n LIKE :pat || '%'"),
    Q("SELECT 1 FROM t WHERE id IN :ids AND s NOT IN :ids OR k = :k AND name in :names", "ids", "names"),
]


@pytest.mark.parametrize("q", ledger_statements() + EXTRA, ids=lambda q: q.sql[:60])
def test_translation_is_what_sqlalchemy_compiles(q):
    lists = {name: [1, 2] for name in q.lists}
    params = {**lists, **{n: 0 for n in re.findall(r"(?<![:\w\\]):(\w+)(?![:\w])", q.sql) if n not in lists}}
    sql, values = q.pg(params)
    assert _normalised(sql) == _normalised(_sa_sql(q, params))
    assert set(values) == set(re.findall(r"%\((\w+)\)s", sql))


@pytest.fixture
def pg(pg_url):
    import psycopg

    raw = psycopg.connect(pg_url, autocommit=True)
    yield PgConn(raw)
    raw.close()


def test_percent_casts_lists_and_executemany_on_postgresql(pg):
    pg.execute(Q("CREATE TABLE t (id integer PRIMARY KEY, name text, flag boolean)"))
    pg.execute(Q("INSERT INTO t (id, name, flag) VALUES (:id, :name, :flag)"),
               [{"id": i, "name": f"n{i}%", "flag": i % 2 == 0} for i in range(1, 6)])
    pg.commit()
    row = pg.execute(Q("SELECT '50%' AS pct, '7'::integer + CAST(:a AS integer) AS sum, name FROM t "
                       "WHERE name LIKE 'n1' || '%' AND id = :a"), {"a": 1}).first()
    assert (row.pct, row.sum, row.name) == ("50%", 8, "n1%") and tuple(row) == ("50%", 8, "n1%")
    assert row[0] == "50%" and row._fields == ("pct", "sum", "name")
    by_ids = Q("SELECT id FROM t WHERE id IN :ids ORDER BY id", "ids")
    assert pg.execute(by_ids, {"ids": [4, 2, 9]}).scalars() == [2, 4]
    assert pg.execute(by_ids, {"ids": (3,)}).scalars() == [3]
    assert pg.execute(by_ids, {"ids": []}).all() == []
    by_names = Q("SELECT id FROM t WHERE name NOT IN :names AND id IN :ids ORDER BY id", "names", "ids")
    assert pg.execute(by_names, {"names": ["n1%", "n2%"], "ids": [1, 2, 3]}).scalars() == [3]
    assert pg.execute(by_names, {"names": [], "ids": [1, 2]}).scalars() == [1, 2]  # NOT IN nothing: every row
    assert pg.execute(Q("SELECT count(*) FROM t WHERE flag")).scalar_one() == 2
    cur = pg.raw_cursor()
    cur.execute("SELECT id, name FROM t ORDER BY id")
    assert cur.fetchmany(2) == [(1, "n1%"), (2, "n2%")]
    pg.rollback()


def test_a_transaction_is_all_or_nothing_and_a_failed_statement_rolls_back(pg):
    pg.execute(Q("CREATE TABLE t (id integer PRIMARY KEY)"))
    pg.commit()
    pg.execute(Q("INSERT INTO t (id) VALUES (:id)"), {"id": 1})
    with pytest.raises(Exception, match="duplicate key"):
        pg.execute(Q("INSERT INTO t (id) VALUES (:id)"), {"id": 1})
    pg.rollback()
    assert pg.execute(Q("SELECT count(*) FROM t")).scalar() == 0
