"""Schema migrations (Alembic): a ledger is upgraded on open or by `release ledger upgrade`,
never dropped; a ledger newer than the code is refused -- on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sqlite3

from sqlalchemy import create_engine, inspect, text

from releasemgr.ledger import migrate
from releasemgr.ledger.db import normalise_url


def _engine(cli):
    return create_engine(normalise_url(cli.env["RELEASE_LEDGER"]))


def _scalar(cli, sql: str):
    eng = _engine(cli)
    try:
        with eng.begin() as conn:
            return conn.execute(text(sql)).scalar()
    finally:
        eng.dispose()


def _exec(cli, sql: str):
    eng = _engine(cli)
    try:
        with eng.begin() as conn:
            conn.execute(text(sql))
    finally:
        eng.dispose()


def _alembic_upgrade(cli, rev: str):
    from alembic import command
    from alembic.config import Config

    url = cli.env["RELEASE_LEDGER"]
    if url.startswith("sqlite:///"):
        from pathlib import Path

        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    eng = _engine(cli)
    try:
        cfg = Config()
        cfg.set_main_option("script_location", str(migrate.MIGRATIONS))
        with eng.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, rev)
    finally:
        eng.dispose()


def test_empty_database_is_not_silently_made_a_ledger(cli):
    """An empty database is no ledger: `status` refuses it (a 0-byte SQLite file is a damaged
    ledger, exit 1, never re-created; an empty PostgreSQL database is a missing one, exit 4)
    and only `ledger init` makes one in an empty PostgreSQL database."""
    sqlite = cli.env["RELEASE_LEDGER"].startswith("sqlite")
    if sqlite:
        path = cli.env["RELEASE_LEDGER"][len("sqlite:///"):]
        from pathlib import Path

        Path(path).parent.mkdir(parents=True, exist_ok=True)
        sqlite3.connect(path).close()  # an empty file: a database with no tables
    r = cli("status")
    assert r.code == (1 if sqlite else 4) and "Traceback" not in r.err, r
    assert ("is empty (0 bytes)" if sqlite else "no ledger at") in r.err
    if sqlite:
        assert cli("ledger", "init").code == 1 and Path(path).stat().st_size == 0
        return
    assert "created ledger" in cli.ok("ledger", "init").err
    doc = cli.json("status")
    assert doc["environments"] == ["dev", "staging", "prod"]
    assert _scalar(cli, "SELECT version_num FROM alembic_version") == migrate.HEAD
    info = cli.json("ledger", "info")
    assert (info["schema"], info["schema_head"]) == (migrate.HEAD, migrate.HEAD)
    assert info["images"] == info["versions"] == 0
    assert info["audit_events"] == 1  # the first recording of release.toml's policy (policy.applied, initial)


def test_ledger_upgrade_is_idempotent(cli):
    first = cli.json("ledger", "upgrade")
    assert first == {"applied": ["0001", "0002", "0003"], "schema": migrate.HEAD, "adopted": None}
    assert migrate.HEAD == "0003"
    second = cli.json("ledger", "upgrade")
    assert second == {"applied": [], "schema": migrate.HEAD, "adopted": None}
    assert "ledger already at" in cli.ok("ledger", "upgrade").out
    assert _scalar(cli, "SELECT COUNT(*) FROM alembic_version") == 1


def test_ledger_made_at_the_first_revision_keeps_its_data(cli):
    """Created by Alembic at the first revision, filled, then upgraded and used: nothing lost."""
    _alembic_upgrade(cli, "0001")
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-1", "--version", "1.0.0")
    cli.ok("promote", "web@v1", "--to", "dev", "--ticket", "CHG-1")
    before = cli.json("audit", "verify")
    cli.ok("ledger", "upgrade")
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-2", "--bump", "minor")
    info = cli.json("ledger", "info")
    # events: policy.applied (release.toml's policy, recorded when 0002 added it), image.created,
    # version.created, promote, version.created
    assert (info["images"], info["versions"], info["audit_events"]) == (1, 2, 5)
    assert cli.json("show", "web@1.0.0")["artifacts"] == [{"provider": "aws", "region": "us-east-1", "id": "ami-1"}]
    after = cli.json("audit", "verify")
    assert after["ok"] and after["events"] == before["events"] + 1
    assert cli.json("history", "web")["history"][0]["ticket"] == "CHG-1"


def test_schema_from_migrations_matches_the_models(cli):
    """A model change without a migration fails here (Alembic's autogenerate finds a diff)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    import releasemgr.ledger.models  # noqa: F401  (registers the tables)

    cli.ok("ledger", "upgrade")
    eng = _engine(cli)
    try:
        with eng.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": False})
            diff = compare_metadata(ctx, SQLModel.metadata)
            tables = set(inspect(conn).get_table_names())
    finally:
        eng.dispose()
    assert diff == [], diff
    assert {"image", "build", "version", "artifact", "environment", "channel", "channel_history",
            "deployment", "server", "audit_event", "ledger_meta", "alembic_version"} <= tables


def test_newer_schema_is_refused(cli):
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-1")
    _exec(cli, "UPDATE alembic_version SET version_num = '9999'")
    for args in (["status"], ["ledger", "upgrade"], ["register", "web", "--artifact", "aws:x:ami-2"]):
        r = cli(*args)
        assert r.code == 1, (args, r)
        assert "newer than this release understands" in r.err, r
        assert "Traceback" not in r.err and "internal error" not in r.err
    # and nothing was touched
    assert _scalar(cli, "SELECT COUNT(*) FROM version") == 1
    assert _scalar(cli, "SELECT version_num FROM alembic_version") == "9999"


def test_foreign_tables_without_a_revision_are_not_touched(cli):
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-1")
    _exec(cli, "DROP TABLE alembic_version")
    r = cli("status")
    assert r.code == 1 and "no schema revision" in r.err, r
    assert _scalar(cli, "SELECT COUNT(*) FROM audit_event") == 3  # policy.applied, image.created, version.created


def test_many_processes_opening_a_new_ledger_at_once(cli):
    procs = [cli.proc("ledger", "init", "--json") for _ in range(4)]
    created = 0
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        created += json.loads(out)["created"]
    assert created == 1  # one made it; the others found it made
    assert cli.json("status")["environments"] == ["dev", "staging", "prod"]
    assert _scalar(cli, "SELECT COUNT(*) FROM alembic_version") == 1
    assert _scalar(cli, "SELECT COUNT(*) FROM environment") == 3


def test_ledger_info_text_and_url_without_password(cli):
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-1")
    out = cli.ok("ledger", "info").out
    assert f"schema: {migrate.HEAD}" in out and "versions: 1" in out and "audit_events: 3" in out


def test_ledger_flag_with_password_is_hidden(tmp_path, pg_url):
    from conftest import Cli

    url = pg_url.replace("postgres@", "postgres:s3cret@", 1) if "@" in pg_url else pg_url
    c = Cli(tmp_path, {"RELEASE_STATE": str(tmp_path / "state"), "RELEASE_ACTOR": "alice", "NO_COLOR": "1"})
    r = c("ledger", "init", "--ledger", url)
    assert r.code == 0 and "created ledger" in r.err and "s3cret" not in r.err, r
    r = c("ledger", "info", "--json", "--ledger", url)
    assert r.code == 0, r
    assert "s3cret" not in r.out and r.json["backend"] == "postgresql"


def test_migrations_run_without_sqlmodel(tmp_path):
    """Upgrading a ledger (a new one: every revision runs) imports neither the SQLModel
    declaration nor sqlmodel/pydantic: they are a test/autogenerate dependency only."""
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'state' / 'ledger.db'}"
    code = ("import sys\nfrom releasemgr.ledger import db\n"
            f"print(db.upgrade({url!r}, ['dev']).applied)\n"
            "print([m for m in ('sqlmodel', 'pydantic', 'releasemgr.ledger.models') if m in sys.modules])\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [str(["0001", "0002", migrate.HEAD]), "[]"], r.stdout
