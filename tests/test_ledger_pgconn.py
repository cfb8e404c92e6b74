"""PostgreSQL without SQLAlchemy at run time: `PgConn` (releasemgr/ledger/conn.py) runs the
ledger's `Q` statements on psycopg directly. Its `:name` -> `%(name)s` translation is held to
what SQLAlchemy's `text()` compiles for every statement of the ledger; on the real server a
literal `%`, a `::` cast, `IN :ids` lists (empty ones too) and executemany run; every table
reads back with the same values and Python types as through SQLAlchemy; a dropped connection
is reopened; a server that is down is one clear error."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import bindparam
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.types import NullType

from releasemgr.errors import OperationFailed
from releasemgr.ledger import rows
from releasemgr.ledger.conn import PgConn, Q, SAConn
from releasemgr.ledger.db import Ledger
from conftest import Cli
from local_images import cleanup
from test_ledger_schema import ledger_statements

ROOT = Path(__file__).resolve().parents[1]


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
def pg_cli(pg_url, tmp_path) -> Cli:
    return Cli(tmp_path, {"RELEASE_STATE": str(tmp_path / "state"), "RELEASE_LEDGER": pg_url, "RELEASE_ACTOR": "alice",
                          "NO_COLOR": "1"})


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


def _fill_every_table(cli, tmp_path) -> None:
    """A ledger with rows in every table: builds, deployments and servers (the local builder
    and fleet, as tests/test_ledger_schema.py runs them), approvals, revocations."""
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    (tmp_path / "release.toml").write_text('[[environments]]\nname = "dev"\n\n[[environments]]\nname = "prod"\n'
                                           'approvals = 1\n')
    cli.ok("build", "templates/local.pkr.hcl")
    cli.ok("build", "templates/local.pkr.hcl", "--var", "greeting=again")
    cli.ok("promote", "web@v1", "--to", "dev", "--deploy")
    cli.ok("promote", "web@v2", "--to", "dev", "--deploy")
    cli.ok("approve", "web@v2", "--env", "prod", actor="bob")
    cli.ok("rollback", "web", "--env", "dev")
    cli.ok("revoke", "web@v2", "--reason", "cve")


# driver values beyond the ledger's columns (integer, text, boolean): what SQLAlchemy's text()
# gave back on psycopg is psycopg's own value, through PgConn as well
EXPRESSIONS = Q("SELECT TIMESTAMP '2026-12-02 12:00:00' AS ts, TIMESTAMPTZ '2026-12-02 12:00:00+00' AS tstz, "
                "DATE '2026-12-02' AS d, INTERVAL '1 day' AS i, 1.5::numeric AS n, 2.5::float8 AS f, "
                "'{\"a\": [1, null]}'::json AS j, '{\"b\": true}'::jsonb AS jb, ARRAY[1, 2] AS arr, "
                "'10.0.0.1'::inet AS ip, 'x'::bytea AS b, NULL AS nothing, 9223372036854775807 AS big, "
                "gen_random_uuid() IS NOT NULL AS t")


def test_every_table_reads_back_as_through_sqlalchemy(pg_cli, tmp_path):
    cli = pg_cli
    try:
        _fill_every_table(cli, tmp_path)
    finally:
        cleanup(tmp_path)
    led = Ledger.open(cli.env["RELEASE_LEDGER"])
    try:
        statements = [Q(f"SELECT * FROM {t.TABLE} ORDER BY 1") for t in rows.TABLES] + [EXPRESSIONS]
        with led.engine.connect() as sa:
            through_sa = [(list(r.keys()), [tuple(x) for x in r]) for r in (SAConn(sa).execute(q) for q in statements)]
        with led.connect() as conn:
            assert isinstance(conn, PgConn)
            direct = [(list(r.all()[0]._fields) if r.all() else None, [tuple(x) for x in r.all()])
                      for r in (conn.execute(q) for q in statements)]
        for (names, sa_rows), (our_names, our_rows), q in zip(through_sa, direct, statements):
            assert sa_rows, q.sql  # every table has rows: the comparison compares something
            assert our_names == names, q.sql
            assert [[(type(v), v) for v in r] for r in our_rows] == [[(type(v), v) for v in r] for r in sa_rows], q.sql
    finally:
        led.close()


def test_a_dropped_connection_is_reopened(pg_url, pg_cli):
    """What SQLAlchemy's pool_pre_ping gave: the server ended the idle connection (a restart,
    an idle timeout); the next use opens a new one instead of failing."""
    import psycopg

    cli = pg_cli
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-1")
    led = Ledger.open(cli.env["RELEASE_LEDGER"])
    try:
        with led.connect() as conn:
            pid = conn.execute(Q("SELECT pg_backend_pid()")).scalar()
        with psycopg.connect(pg_url, autocommit=True) as admin:
            assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]
        with led.transaction() as conn:
            assert conn.execute(Q("SELECT pg_backend_pid()")).scalar() != pid
            assert conn.execute(Q("SELECT count(*) FROM version")).scalar() == 1
        with led.connect() as conn:
            with led.connect() as inner:  # nested use (the heartbeat thread too): a second connection
                assert inner.raw is not conn.raw
    finally:
        led.close()


def test_a_server_that_is_down_is_one_clear_error(pg_cli):
    url = "postgresql://alice:s3cret@127.0.0.1:1/ledger"
    with pytest.raises(OperationFailed, match=r"cannot open the ledger at postgresql\+psycopg://alice:\*\*\*@"
                                              r"127.0.0.1:1/ledger: connection failed: .*refused"):
        Ledger.open(url)
    r = pg_cli("--ledger", url, "status")
    assert r.code == 1 and "Traceback" not in r.err and "s3cret" not in r.err, r
    assert "cannot open the ledger at postgresql+psycopg://alice:***@127.0.0.1:1/ledger" in r.err, r
    assert "check --ledger / RELEASE_LEDGER / [ledger] url" in r.err, r


def test_a_missing_database_is_one_clear_error(pg_url, pg_cli):
    url = pg_url.rsplit("/", 1)[0] + "/release_no_such_database"
    r = pg_cli("--ledger", url, "status")
    assert r.code == 1 and "Traceback" not in r.err, r
    assert 'database "release_no_such_database" does not exist' in r.err, r
