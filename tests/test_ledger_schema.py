"""One schema, checked three ways, on SQLite and PostgreSQL: the migrated database, the
SQLModel declaration (`ledger/models.py`) and the typed rows (`ledger/rows.py`) name the same
columns; every INSERT of the ledger's repositories names each NOT NULL column that has no
server default. And the run-time side of "one road": no command imports sqlmodel, the ORM or
(on SQLite and PostgreSQL alike) SQLAlchemy, and no SQL statement lives outside
`releasemgr/ledger/`."""

from __future__ import annotations

import importlib
import pkgutil
import re
import shutil
from pathlib import Path

from sqlalchemy import create_engine, inspect

from aws_fixture import aws  # noqa: F401  (the moto server fixture)
from conftest import heavy_imports
from local_images import cleanup
from releasemgr.ledger import rows
from releasemgr.ledger.conn import Q
from releasemgr.ledger.db import normalise_url

ROOT = Path(__file__).resolve().parents[1]
_INSERT = re.compile(r"^\s*INSERT\s+INTO\s+(\w+)\s*\(([^)]*)\)", re.IGNORECASE)


def _database_columns(url: str) -> dict[str, list[dict]]:
    eng = create_engine(normalise_url(url))
    try:
        with eng.connect() as conn:
            insp = inspect(conn)
            return {t: insp.get_columns(t) for t in insp.get_table_names() if t != "alembic_version"}
    finally:
        eng.dispose()


def _model_tables() -> dict:
    from sqlmodel import SQLModel

    import releasemgr.ledger.models  # noqa: F401  (registers the tables)

    return SQLModel.metadata.tables


def ledger_statements() -> list[Q]:
    """Every `Q` defined at module level in `releasemgr.ledger` and its sub-packages."""
    import releasemgr.ledger as pkg

    found = []
    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        if ".migrations" in info.name or info.name.endswith(".models"):
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, Q):
                found.append(value)
            elif isinstance(value, dict):
                found += [v for v in value.values() if isinstance(v, Q)]
    return found


def inserts() -> dict[str, list[tuple[str, ...]]]:
    """{table: [the column list of each INSERT into it]}."""
    out: dict[str, list[tuple[str, ...]]] = {}
    for q in ledger_statements():
        m = _INSERT.match(q.sql)
        if m:
            out.setdefault(m.group(1), []).append(tuple(c.strip() for c in m.group(2).split(",")))
    return out


def test_database_models_and_rows_name_the_same_columns(cli):
    cli.ok("ledger", "upgrade")
    db = _database_columns(cli.env["RELEASE_LEDGER"])
    models = _model_tables()
    assert set(db) == set(models) == {r.TABLE for r in rows.TABLES}
    for row in rows.TABLES:
        in_db = [c["name"] for c in db[row.TABLE]]
        in_model = list(models[row.TABLE].columns.keys())
        assert in_db == in_model == list(row.COLUMNS), row.TABLE


def test_every_insert_names_the_not_null_columns_without_a_server_default(cli):
    cli.ok("ledger", "upgrade")
    db = _database_columns(cli.env["RELEASE_LEDGER"])
    models = _model_tables()
    found = inserts()
    assert set(found) == set(db), "a table without any INSERT in releasemgr/ledger/ (or an INSERT of an unknown one)"
    for table, statements in found.items():
        columns = {c["name"]: c for c in db[table]}
        generated = {c.name for c in models[table].primary_key.columns
                     if c.type.python_type is int and c.autoincrement in (True, "auto")}
        required = {name for name, c in columns.items()
                    if not c["nullable"] and c.get("default") is None and name not in generated}
        for named in statements:
            assert set(named) <= set(columns), (table, set(named) - set(columns))
            assert required <= set(named), f"INSERT INTO {table} misses {sorted(required - set(named))}"


def test_the_statement_collector_sees_the_repositories():
    statements = ledger_statements()
    assert len(statements) > 40
    assert {"image", "version", "artifact", "channel", "channel_history", "build", "deployment", "server",
            "environment", "audit_event", "ledger_meta"} <= set(inserts())


_SQL_TEXT = re.compile(r"""["'](\s*(SELECT|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b)""", re.IGNORECASE)


def test_no_sql_outside_the_ledger():
    """`release/`, `cli/` and the rest hold no SQL text and no `Q(`: the ledger owns it all."""
    offenders = []
    for path in sorted((ROOT / "releasemgr").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("releasemgr/ledger/"):
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _SQL_TEXT.search(line) or re.search(r"\bQ\(", line) or "ledger.conn import" in line:
                offenders.append(f"{rel}:{n}: {line.strip()}")
    assert offenders == []


def test_no_command_imports_the_orm(cli, tmp_path):
    """On an existing ledger, SQLite or PostgreSQL: build, promote, deploy, status, revoke,
    prune run on the driver alone, `sqlite3` or psycopg (no SQLAlchemy, no Alembic, no
    sqlmodel, no pydantic)."""
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    cli.ok("ledger", "init")  # the ledger exists before the measured processes
    steps = [
        ("build", "templates/local.pkr.hcl"),
        ("build", "templates/local.pkr.hcl", "--var", "greeting=again"),
        ("promote", "web@v1", "--to", "dev"),
        ("deploy", "web", "--env", "dev"),
        ("status",),
        ("promote", "web@v2", "--to", "dev", "--deploy"),
        ("rollback", "web", "--env", "dev", "--deploy"),
        ("revoke", "web@v2", "--reason", "bad"),
        ("unrevoke", "web@v2", "--reason", "fine"),
        ("retire", "web", "--env", "dev"),
        ("prune", "web", "--keep", "0"),
        ("deploy", "web", "--env", "dev"),
    ]
    try:
        for args in steps:
            r, heavy = heavy_imports(cli, *args)
            assert r.returncode == 0, (args, r.stdout, r.stderr)
            assert heavy == [], (args, heavy)
    finally:
        cleanup(tmp_path)


def test_gc_does_not_import_the_orm(cli, aws):  # noqa: F811
    cli.env.update(aws.env())
    cli.ok("ledger", "init")
    r, heavy = heavy_imports(cli, "gc", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert heavy == [], heavy

