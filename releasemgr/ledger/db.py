"""Opening the ledger and running transactions with the right locks.

SQLite: WAL, a 60 s busy timeout, and every write transaction starts with
`BEGIN IMMEDIATE`, so concurrent `release` processes queue for the write lock instead of
losing updates (measured: without it 10 x 100 read-modify-write transactions silently lost
228 updates). PostgreSQL: every write transaction first takes one transaction-scoped
advisory lock, which serialises writers the same way (and protects the audit chain head).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from releasemgr.errors import OperationFailed, UsageError

if TYPE_CHECKING:  # sqlmodel (with pydantic and the ORM) costs ~0.3 s to import: only where a Session is used
    from sqlalchemy.engine import Connection
    from sqlmodel import Session

WRITE_LOCK_KEY = 0x52454C45  # "RELE": the advisory lock id of the ledger's write lock
MIGRATION_LOCK_KEY = 0x52454C46


def normalise_url(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class Ledger:
    def __init__(self, engine: Engine, url: str):
        self.engine = engine
        self.url = url
        self.is_sqlite = engine.dialect.name == "sqlite"
        self._writer = engine.execution_options(release_write=True)

    # -- opening -------------------------------------------------------------------------
    @classmethod
    def open(cls, url: str, *, environments: list[str] | None = None, upgrade: bool = True) -> "Ledger":
        url = normalise_url(url)
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            path = Path(url[len("sqlite:///"):])
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UsageError(f"cannot create the ledger folder {path.parent}: {exc.strerror}") from None
        engine = _make_engine(url)
        ledger = cls(engine, url)
        try:
            from releasemgr.ledger import migrate

            migrate.ensure_current(ledger, upgrade=upgrade)
            if environments:
                ledger.sync_environments(environments)
        except OperationalError as exc:
            engine.dispose()
            raise OperationFailed(f"cannot open the ledger at {_safe(url)}: {exc.orig}",
                                  hint="check --ledger / RELEASE_LEDGER / [ledger] url") from None
        return ledger

    def close(self) -> None:
        self.engine.dispose()

    # -- transactions ----------------------------------------------------------------------
    @contextlib.contextmanager
    def write(self) -> Iterator["Session"]:
        """One state change: takes the write lock up front, commits or rolls back whole."""
        from sqlmodel import Session

        with Session(self._writer, expire_on_commit=False) as session:
            if not self.is_sqlite:
                session.exec(text("SELECT pg_advisory_xact_lock(:k)").bindparams(k=WRITE_LOCK_KEY))
            try:
                yield session
                session.flush()
                _debug_pause()
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextlib.contextmanager
    def transaction(self) -> Iterator["Connection"]:
        """`write()` in SQL Core: the same lock and all-or-nothing commit, on a plain
        connection (what promote, rollback and deploy use, so they never import the ORM)."""
        with self._writer.connect() as conn:
            if not self.is_sqlite:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": WRITE_LOCK_KEY})
            try:
                yield conn
                _debug_pause()
                conn.commit()
            except BaseException:
                conn.rollback()
                raise

    @contextlib.contextmanager
    def read(self) -> Iterator["Session"]:
        from sqlmodel import Session

        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextlib.contextmanager
    def connect(self) -> Iterator["Connection"]:
        """A plain read-only connection for SQL Core queries: what start-up-sensitive
        commands (`release status`, the reads of promote, rollback and deploy) use, so they
        never import the ORM."""
        with self.engine.connect() as conn:
            yield conn

    def sync_environments(self, names: list[str]) -> None:
        """Record environments of release.toml not yet in the ledger (cheap when none are new)."""
        with self.connect() as conn:
            known = {row[0] for row in conn.execute(text("SELECT name FROM environment"))}
        missing = [n for n in names if n not in known]
        if not missing:
            return
        from sqlmodel import select

        from releasemgr.ledger.clock import now_iso
        from releasemgr.ledger.models import EnvironmentRow

        with self.write() as s:
            known = set(s.exec(select(EnvironmentRow.name)).all())
            for pos, name in enumerate(names):
                if name not in known:
                    s.add(EnvironmentRow(name=name, position=pos, created_at=now_iso()))


def _debug_pause() -> None:
    """Test hook: `RELEASE_DEBUG_PAUSE_IN_TX=<seconds>` sleeps inside every write transaction,
    after its changes are flushed and before the commit, and says so on stderr, so that the
    kill tests can SIGKILL a process in the middle of a change. Unset in normal use."""
    pause = os.environ.get("RELEASE_DEBUG_PAUSE_IN_TX")
    if pause:
        import time

        os.write(2, b"release-debug: paused in transaction\n")
        time.sleep(float(pause))


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            if conn.get_execution_options().get("release_write"):
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.exec_driver_sql("BEGIN")

        return engine
    if url.startswith("postgresql"):
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise UsageError("a PostgreSQL ledger needs the psycopg driver",
                             hint="pip install 'releasemgr[postgres]'") from None
        return create_engine(url, pool_pre_ping=True)
    raise UsageError(f"unsupported ledger url {_safe(url)}", hint="use sqlite:///path or postgresql://user@host/db")


def _safe(url: str) -> str:
    """The URL without a password, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<ledger url>"
