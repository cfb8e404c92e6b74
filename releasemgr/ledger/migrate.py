"""Schema migrations with Alembic. A ledger is upgraded in place, never dropped.

Opening a ledger costs one query when it is current (on a SQLite file, through `sqlite3`
without SQLAlchemy); Alembic is imported only when there is something to do. Concurrent
processes opening a new ledger serialise on a lock (a file lock next to a SQLite file, an
advisory lock on PostgreSQL).
"""

from __future__ import annotations

import contextlib
import fcntl
from pathlib import Path

from releasemgr.errors import OperationFailed

HEAD = "0003"  # keep equal to the newest revision in migrations/versions
MIGRATION_LOCK_KEY = 0x52454C46  # the advisory lock id that serialises migrations on PostgreSQL
MIGRATIONS = Path(__file__).with_name("migrations")


def current_revision(conn) -> str | None:
    from sqlalchemy import text

    try:
        row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    except Exception:
        return None
    return row[0] if row else None


def ensure_current(ledger, *, upgrade: bool = True) -> None:
    with ledger.engine.connect() as conn:
        rev = current_revision(conn)
        conn.rollback()
    if rev == HEAD:
        return
    if rev is not None and rev > HEAD:
        raise OperationFailed(f"the ledger's schema ({rev}) is newer than this release understands ({HEAD})",
                              hint="upgrade releasemgr")
    if not upgrade:
        raise OperationFailed(f"the ledger's schema is {rev or 'empty'}, expected {HEAD}",
                              hint="run `release ledger upgrade`")
    upgrade_to_head(ledger)


def revision_after_migrations(ledger) -> str | None:
    """The schema revision once no migration is running (waits for the migration lock)."""
    with _migration_lock(ledger):
        with ledger.engine.connect() as conn:
            return current_revision(conn)


def upgrade_to_head(ledger) -> list[str]:
    """Apply pending migrations; returns the revisions applied."""
    from sqlalchemy import inspect

    with _migration_lock(ledger):
        with ledger.engine.connect() as conn:
            before = current_revision(conn)
            conn.rollback()
            if before == HEAD:
                return []
            if before is not None and before > HEAD:
                raise OperationFailed(f"the ledger's schema ({before}) is newer than this release understands "
                                      f"({HEAD})", hint="upgrade releasemgr; never downgrade a ledger")
            if before is None and inspect(conn).has_table("audit_event"):
                raise OperationFailed("the ledger has tables but no schema revision",
                                      hint="it was not made by releasemgr; refusing to touch it")
        from alembic import command
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with ledger.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        script = ScriptDirectory.from_config(cfg)
        revs = [s.revision for s in script.walk_revisions(before or "base", "heads") if s.revision != before]
        return list(reversed(revs))


@contextlib.contextmanager
def _migration_lock(ledger):
    if ledger.is_sqlite:
        db = ledger.url[len("sqlite:///"):]
        if not db or db == ":memory:":
            yield
            return
        lock_path = Path(db + ".migrate.lock")
        with open(lock_path, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return
    from sqlalchemy import text

    with ledger.engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)").bindparams(k=MIGRATION_LOCK_KEY))
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)").bindparams(k=MIGRATION_LOCK_KEY))
            conn.commit()
