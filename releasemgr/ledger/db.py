"""Opening the ledger and running transactions with the right locks.

SQLite: WAL, a 60 s busy timeout, and every write transaction starts with
`BEGIN IMMEDIATE`, so concurrent `release` processes queue for the write lock instead of
losing updates (measured: without it 10 x 100 read-modify-write transactions silently lost
228 updates). PostgreSQL: every write transaction first takes one transaction-scoped
advisory lock, which serialises writers the same way (and protects the audit chain head).

One way in: `connect()` (a read snapshot) and `transaction()` (a state change) give a
connection (`releasemgr.ledger.conn`) that the repositories (`releasemgr.ledger.repo`) run
their statements on. On a SQLite file it is the standard library's `sqlite3`, on PostgreSQL
psycopg (one connection per Ledger, opened on first use and checked before each reuse, as
SQLAlchemy's `pool_pre_ping` did; a second only while the first is in use). The SQLAlchemy
engine is only made when something asks for it (migrations), so commands never import
SQLAlchemy.

No silent new ledger: `Ledger.open(url)` opens an existing ledger and raises NotFound (exit 4)
when there is none; only `create=True` (what `build`, `register`, `ledger init` and `ledger
upgrade` pass) makes one, and then `ledger.created` is true. A SQLite file of 0 bytes is a
damaged ledger (exit 1), never re-created; in-memory and empty-path SQLite URLs are refused
(exit 2): they would keep nothing.

The chain head outside the database: on a SQLite file every transaction that appended audit
events writes `<file>.head` (`<seq>:<hash>`, replaced atomically, never moved backwards)
after its commit; `release audit verify` checks that the chain still contains it (see
`releasemgr.ledger.audit`).
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, NamedTuple

from releasemgr.errors import NotFound, OperationFailed, UsageError
from releasemgr.ledger import audit
from releasemgr.ledger.conn import LiteConn, PgConn, Q
from releasemgr.ledger import urls
from releasemgr.ledger.repo import environments
from releasemgr.ledger import migrate
from releasemgr.common.identity import default_actor

if TYPE_CHECKING:  # SQLAlchemy costs ~0.15 s to import: only PostgreSQL and migrations need it
    from sqlalchemy.engine import Engine

WRITE_LOCK_KEY = 0x52454C45  # "RELE": the advisory lock id of the ledger's write lock
_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA busy_timeout=60000", "PRAGMA synchronous=NORMAL",
            "PRAGMA foreign_keys=ON")


def normalise_url(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_file(url: str) -> str | None:
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:" and "?" not in url:
        return url[len("sqlite:///"):]
    return None


def sqlite_path(url: str) -> str | None:
    """The file of a SQLite URL (its query string aside), else None."""
    if not url.startswith("sqlite:///"):
        return None
    return url[len("sqlite:///"):].split("?", 1)[0] or None


SUPPORTED_URLS = "use sqlite:///path (sqlite:////abs/path for an absolute one) or postgresql://user@host/db"
_POSTGRES_PREFIXES = ("postgresql://", "postgres://", "postgresql+psycopg://")  # the last: what normalise_url makes


def check_url(url: str, source: str | None = None) -> None:
    """The one place that judges a ledger URL, before anything uses it: only `sqlite:///PATH`
    (a file) and `postgresql://...` / `postgres://...` pass. Anything else is a UsageError
    (exit 2) that names the URL and, with `source`, where it came from ("--ledger",
    "RELEASE_LEDGER", "[ledger] url in release.toml:2"): other schemes and drivers
    (`sqlite+pysqlite://`, `postgresql+asyncpg://`), `sqlite:/x`, control characters, and
    URLs that would keep nothing (`sqlite://`, `sqlite:///:memory:`, an empty path,
    `?mode=memory`)."""
    where = f" (from {source})" if source else ""
    if not isinstance(url, str) or any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise UsageError(f"unsupported ledger url {_shown_url(url)}{where}: it contains a control character",
                         hint=SUPPORTED_URLS)
    if url.startswith(_POSTGRES_PREFIXES):
        _check_postgres_url(url, where)
        return
    if not url.startswith("sqlite:/"):  # other schemes and drivers, sqlite3:, sqlitefoo://
        raise UsageError(f"unsupported ledger url {_shown_url(url)}{where}", hint=SUPPORTED_URLS)
    path = sqlite_path(url)
    query = url.split("?", 1)[1] if "?" in url else ""
    if url == "sqlite://" or url.startswith("sqlite:///") and (
            path is None or ":memory:" in path or path.startswith("file::memory") or "mode=memory" in query):
        raise UsageError(f"the ledger url {url} keeps nothing (an in-memory or empty-path SQLite database){where}",
                         hint=SUPPORTED_URLS)
    if not url.startswith("sqlite:///"):  # sqlite:/x, sqlite://host/x
        raise UsageError(f"unsupported ledger url {_shown_url(url)}{where}: a SQLite ledger is sqlite:///PATH",
                         hint=SUPPORTED_URLS)
    if query:
        raise UsageError(f"unsupported ledger url {_shown_url(url)}{where}: a SQLite ledger URL takes no "
                         "?options", hint=SUPPORTED_URLS)


def _check_postgres_url(url: str, where: str) -> None:
    """A PostgreSQL URL SQLAlchemy can read (`releasemgr.ledger.urls`: read as SQLAlchemy
    reads it, without importing it), with a database name and hosts and ports that pair up."""
    try:
        parsed = urls.parse(normalise_url(url))  # a port that is not a number raises here
        urls.pg_connect_args(parsed)
    except ValueError as exc:
        raise UsageError(f"unsupported ledger url {_shown_url(url)}{where}: {exc}", hint=SUPPORTED_URLS) from None
    if not parsed.database:
        raise UsageError(f"the ledger url {_shown_url(url)}{where} names no database",
                         hint="use postgresql://user@host/db")


def _shown_url(url) -> str:
    """The URL for a message: without a password, control characters escaped."""
    text = safe_url(url) if isinstance(url, str) else repr(url)
    return "".join(c if 0x20 <= ord(c) != 0x7F else f"\\x{ord(c):02x}" for c in text)


def head_file_of(url: str) -> Path | None:
    """Where a SQLite ledger keeps its chain head outside the database (`<file>.head`)."""
    path = sqlite_path(url)
    return Path(path + ".head") if path else None


def missing_ledger(url: str) -> NotFound:
    return NotFound(f"no ledger at {safe_url(url)}",
                    hint="create it with `release ledger init` (or a first `release build` / `release register`); "
                         "check --ledger, RELEASE_LEDGER, [ledger] url and the folder you run in "
                         "(release.toml is searched from the current folder upward)")


def _size_after_creation(path: Path) -> int | None:
    """The file's size once no process is creating it: a ledger being made (under the
    migration lock, `releasemgr.ledger.migrate`) is 0 bytes for a moment; wait for that."""
    import fcntl

    lock = Path(str(path) + ".migrate.lock")
    if not lock.exists():
        return 0
    try:
        with open(lock, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            fcntl.flock(fh, fcntl.LOCK_UN)
        return path.stat().st_size
    except FileNotFoundError:
        return None
    except OSError:
        return 0


def check_can_create(url: str) -> None:
    """What `Ledger.open(create=True)` checks before making a ledger (for `ledger upgrade`,
    which migrates without opening): the URL keeps data, no damaged file or orphaned head file."""
    check_url(url)
    url = normalise_url(url)
    path = sqlite_path(url)
    if path:
        _check_file(url, Path(path), create=True)


def _check_file(url: str, path: Path, *, create: bool) -> bool:
    """Checks before opening a SQLite file; True when a new ledger is to be made there."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        size = None
    except OSError as exc:
        raise OperationFailed(f"cannot read the ledger file {path}: {exc.strerror}") from None
    head = audit.read_head_file(head_file_of(url))
    if size == 0:
        size = _size_after_creation(path)
    if size == 0:
        had = f"; its head file records {head[0]} audit events" if head else ""
        raise OperationFailed(f"the ledger file {path} is empty (0 bytes): it is damaged or was truncated{had}",
                              hint="restore it from a backup (then `release audit verify`); "
                                   "an empty file is never re-created as a new ledger")
    if size is not None:
        return False
    if head and head[0] > 0:
        raise (OperationFailed if create else NotFound)(
            f"the ledger file {path} is missing, but its head file {head_file_of(url)} records "
            f"{head[0]} audit events: it was deleted or moved",
            hint="restore it from a backup (then `release audit verify --reanchor` if needed); to start a new "
                 "ledger there deliberately, remove the head file first")
    if not create:
        raise missing_ledger(url)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # the state folder, usually: private
    except OSError as exc:
        raise UsageError(f"cannot create the ledger folder {path.parent}: {exc.strerror}") from None
    return True


LEDGER_FILE_MODE = 0o600


def _make_private(path: Path) -> None:
    """A SQLite ledger this process made: the file and its WAL/shared-memory files readable
    by their owner only (SQLite creates them 0644 under the usual umask; later WAL files take
    the database file's mode)."""
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(p, LEDGER_FILE_MODE)


def _stderr_warning(text: str) -> None:
    sys.stderr.write(f"warning: {text}\n")


class Ledger:
    def __init__(self, engine: "Engine | None", url: str):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._engine = engine
        self._file = _sqlite_file(url)
        if self.is_sqlite and self._file is None:  # `check_url` refuses these before anything opens
            raise UsageError(f"unsupported ledger url {_shown_url(url)}", hint=SUPPORTED_URLS)
        self._idle: list[sqlite3.Connection] = []
        self._idle_lock = threading.Lock()
        self.head_file = head_file_of(url)  # the chain head outside the database (SQLite)
        self.created = False  # made by this `open(create=True)`
        #: Where the ledger's warnings go (a head file it could not write after a commit); the
        #: CLI points it at its Ui, so that --json keeps stderr JSON Lines.
        self.warn: Callable[[str], None] = _stderr_warning

    @property
    def engine(self) -> "Engine":
        """The SQLAlchemy engine, made on first use."""
        if self._engine is None:
            self._engine = make_engine(self.url)
        return self._engine

    # -- opening -------------------------------------------------------------------------
    @classmethod
    def open(cls, url: str, *, environments: "list[str] | dict[str, dict] | None" = None, upgrade: bool = True,
             create: bool = False, actor: str | None = None,
             warn: Callable[[str], None] | None = None) -> "Ledger":
        """Open the ledger at `url`; NotFound (exit 4) when there is none, unless `create`
        (then `ledger.created` says whether it was made now). `warn` takes its warnings."""
        check_url(url)
        url = normalise_url(url)
        path = sqlite_path(url)
        new_file = _check_file(url, Path(path), create=create) if path else False
        ledger = cls(None, url)
        if warn is not None:
            ledger.warn = warn
        try:
            if not (ledger._file and not new_file and ledger._schema_is_current(migrate.HEAD)):
                revision = None if new_file else ledger._revision()
                if revision is None and not new_file and ledger._has_tables():
                    # tables without a revision: another process may be making this ledger right now
                    # (its migration holds the lock and writes the revision last); ask again after it
                    revision = migrate.revision_after_migrations(ledger)
                    if revision is None:
                        raise OperationFailed(f"{safe_url(url)} has tables but no schema revision",
                                              hint="it was not made by releasemgr; refusing to touch it")
                if revision is None:  # no ledger in this database (yet)
                    if not create:
                        raise missing_ledger(url)
                    # made now, unless a concurrent process made it first (it holds the lock)
                    ledger.created = bool(migrate.upgrade_to_head(ledger))
                    if ledger.created and path:
                        _make_private(Path(path))
                elif revision != migrate.HEAD:  # current: nothing to do (and no SQLAlchemy to load)
                    migrate.ensure_current(ledger, upgrade=upgrade)
            if environments:
                ledger.sync_environments(environments, actor=actor)
        except Exception as exc:
            ledger.close()
            cause = _db_error(exc)
            if cause is None:
                raise
            raise OperationFailed(f"cannot open the ledger at {safe_url(url)}: {cause}",
                                  hint="check --ledger / RELEASE_LEDGER / [ledger] url") from None
        return ledger

    def _revision(self) -> str | None:
        """The schema revision, None when the database holds no ledger."""
        with self.connect() as conn:
            try:
                return conn.execute(_SCHEMA_REVISION).scalar()
            except Exception as exc:
                if _no_table(exc):
                    return None
                raise

    def _has_tables(self) -> bool:
        """The database holds tables (what SQLAlchemy's `inspect().get_table_names()` lists)."""
        with self.connect() as conn:
            return conn.execute(_ANY_TABLE_SQLITE if self.is_sqlite else _ANY_TABLE_PG).first() is not None

    def _schema_is_current(self, head: str) -> bool:
        with self.connect() as conn:
            try:
                return conn.execute(_SCHEMA_REVISION).scalar() == head
            except sqlite3.OperationalError:  # no such table: a new ledger
                return False

    def close(self) -> None:
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for raw in idle:
            raw.close()
        if self._engine is not None:
            self._engine.dispose()

    # -- sqlite3 connections on a SQLite file, psycopg ones on PostgreSQL -----------------
    def _checkout(self):
        with self._idle_lock:
            raw = self._idle.pop() if self._idle else None
        if not self._file:
            return _pg_checked(raw) or self._pg_connect()
        if raw is not None:
            return raw
        raw = sqlite3.connect(self._file, timeout=60, isolation_level=None, check_same_thread=False)
        for pragma in _PRAGMAS:
            raw.execute(pragma)
        return raw

    def _checkin(self, raw) -> None:
        if not self._file:
            if not _pg_reset(raw):
                return
        elif raw.in_transaction:
            raw.execute("ROLLBACK")
        with self._idle_lock:
            self._idle.append(raw)

    def _pg_connect(self):
        """A new psycopg connection, in autocommit mode (`PgConn` issues BEGIN), with the
        arguments SQLAlchemy's psycopg dialect would pass."""
        try:
            import psycopg
        except ImportError:
            raise UsageError("a PostgreSQL ledger needs the psycopg driver",
                             hint="pip install 'releasemgr[postgres]'") from None
        return psycopg.connect(**{**urls.pg_connect_args(urls.parse(self.url)), "autocommit": True})

    @contextlib.contextmanager
    def own_connection(self) -> Iterator[PgConn]:
        """PostgreSQL: a connection of its own, outside any transaction (each statement
        commits by itself), closed afterwards: for session-level advisory locks that outlive
        transactions (`releasemgr.ledger.locks`)."""
        raw = self._pg_connect()
        try:
            yield PgConn(raw, begin=None)
        finally:
            raw.close()

    # -- transactions ----------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator["LiteConn | PgConn"]:
        """One state change: the write lock up front (`BEGIN IMMEDIATE` on SQLite,
        `pg_advisory_xact_lock` on PostgreSQL), all or nothing."""
        raw = self._checkout()
        try:
            raw.execute("BEGIN IMMEDIATE" if self._file else "BEGIN")
            conn = LiteConn(raw, begin=None) if self._file else PgConn(raw, begin=None)
            try:
                if not self.is_sqlite:
                    conn.execute(_PG_WRITE_LOCK, {"k": WRITE_LOCK_KEY})
                yield conn
                audit.check_staged(conn)
                _debug_pause()
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
        finally:
            self._checkin(raw)
        self._write_head(conn)

    def _write_head(self, conn) -> None:
        """After a commit that appended audit events: the new head into the head file."""
        head = getattr(conn, "new_head", None)
        if head is not None and self.head_file is not None:
            problem = audit.write_head_file(self.head_file, head, force=getattr(conn, "force_head_file", False))
            if problem:
                self.warn(problem)

    @contextlib.contextmanager
    def connect(self) -> Iterator["LiteConn | PgConn"]:
        """A read-only connection (one snapshot)."""
        raw = self._checkout()
        try:
            yield LiteConn(raw) if self._file else PgConn(raw)
        finally:
            self._checkin(raw)

    def sync_environments(self, wanted: "list[str] | dict[str, dict]", *, actor: str | None = None) -> None:
        """Record release.toml's environments in a ledger that has no policy yet.

        `wanted` is {name: policy} in release order (what `release.policy.wanted()` makes of a
        release.toml): a ledger without a recorded policy (new, or older than schema 0002)
        records them; once recorded, release.toml changes nothing here (`release policy
        apply` does). A plain list of names (library use) only adds the missing rows, without a
        policy. Both are audited in the same transaction (`policy.applied` with `initial: true`;
        `environment.added`), by `actor` (default: the OS account). Cheap (one query) when
        there is nothing to do."""
        with self.connect() as conn:
            rows = environments.all_(conn)
        by_policy = isinstance(wanted, dict)
        if by_policy and any(r.policy is not None for r in rows):
            return
        if not by_policy and all(n in {r.name for r in rows} for n in wanted):
            return
        actor = actor or default_actor()
        with self.transaction() as conn:
            if by_policy:
                environments.record_initial(conn, wanted, actor=actor)
            else:
                environments.add_names(conn, list(wanted), actor=actor)

    def adopt_rows(self, *, actor: str | None = None) -> dict | None:
        """`release ledger upgrade` on a ledger older than the covered-rows rule: record the rows
        no event recorded in one `audit.adopted` event (`audit.adopt`), once. The chain is
        verified first (and the head file, where there is one): rows are never adopted into a
        broken chain (OperationFailed, exit 1). On a SQLite file the commit writes the head file
        (an old ledger has none). Returns the event, None when nothing was due."""
        with self.connect() as conn:
            if not audit.adoption_due(conn):
                return None
            head_file = self.head_file if self.head_file is not None and self.head_file.exists() else None
            checked = audit.verify(conn, head_file=head_file, check_head_file=head_file is not None,
                                   check_rows=False)
        if not checked.ok:
            where = f" at event {checked.first_bad_seq}" if checked.first_bad_seq else ""
            raise OperationFailed(f"the rows written before the audit chain covered them were not recorded: the "
                                  f"chain is broken{where}: {checked.problem}",
                                  hint="see `release audit verify`; the schema is upgraded, run `release ledger "
                                       "upgrade` again once the chain verifies")
        extra = {}
        if self.head_file is not None:
            found = audit.read_head_file(self.head_file)
            extra["head_file_before"] = None if found is None else f"{found[0]}:{found[1]}"
        with self.transaction() as conn:
            return audit.adopt(conn, actor=actor or default_actor(), extra=extra)

    def broken_references(self) -> list[str]:
        """Rows that refer to a row that is not there (`channel row 3 refers to a missing
        environment row`): what deleting rows behind the tool's back leaves, for the CLI to
        name instead of failing on it. SQLite only (it checks its foreign keys when asked);
        PostgreSQL enforces them on every write."""
        if not self.is_sqlite:
            return []
        with self.connect() as conn:
            rows = conn.execute(_FOREIGN_KEY_CHECK).all()
        return [f"{r[0]} row {r[1]} refers to a missing {r[2]} row" for r in rows]

    def info(self) -> dict:
        """Where the ledger is, its schema revision and its size (`release ledger info`)."""
        with self.connect() as conn:
            counts = {key: conn.execute(q).scalar_one() for key, q in _COUNTS.items()}
            schema = conn.execute(_SCHEMA_REVISION).scalar()
        return {"url": safe_url(self.url), "backend": "sqlite" if self.is_sqlite else "postgresql",
                "schema": schema, "schema_head": migrate.HEAD, **counts}


_FOREIGN_KEY_CHECK = Q("PRAGMA foreign_key_check")
_PG_WRITE_LOCK = Q("SELECT pg_advisory_xact_lock(:k)")
# a table in the schemas searched (SQLAlchemy's get_table_names: no temporary or catalog ones)
_ANY_TABLE_PG = Q("SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                  "WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't' AND pg_catalog.pg_table_is_visible(c.oid) "
                  "AND n.nspname <> 'pg_catalog' LIMIT 1")
_ANY_TABLE_SQLITE = Q("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite~_%' ESCAPE '~' "
                      "LIMIT 1")
_SCHEMA_REVISION = Q("SELECT version_num FROM alembic_version")
_COUNTS = {"images": Q("SELECT count(*) FROM image"), "versions": Q("SELECT count(*) FROM version"),
           "audit_events": Q("SELECT count(*) FROM audit_event")}


def _db_error(exc: BaseException):
    """The driver's error when `exc` means the database cannot be used, else None."""
    if isinstance(exc, sqlite3.Error):
        return exc
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None and isinstance(exc, psycopg.OperationalError):  # server down, no such database or role
        return exc
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if sa_exc is not None and isinstance(exc, sa_exc.OperationalError):
        return exc.orig
    return None


def _no_table(exc: BaseException) -> bool:
    """`exc` says a table does not exist (SQLite's "no such table", PostgreSQL's undefined table)."""
    if isinstance(exc, sqlite3.OperationalError):
        return "no such table" in str(exc)
    pg_errors = sys.modules.get("psycopg.errors")
    if pg_errors is not None and isinstance(exc, pg_errors.UndefinedTable):
        return True
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if sa_exc is not None and isinstance(exc, sa_exc.ProgrammingError):
        return "does not exist" in str(exc) or "no such table" in str(exc)
    if sa_exc is not None and isinstance(exc, sa_exc.OperationalError):
        return "no such table" in str(exc)
    return False


def _pg_checked(raw):
    """An idle psycopg connection if it still answers (one empty statement, as SQLAlchemy's
    `pool_pre_ping`), else None: closed, so that the caller opens a new one."""
    if raw is None:
        return None
    if not (raw.closed or raw.broken):
        import psycopg

        try:
            raw.execute(";")
            return raw
        except psycopg.Error:
            pass
    with contextlib.suppress(Exception):
        raw.close()
    return None


def _pg_reset(raw) -> bool:
    """A psycopg connection back out of its transaction; False (and closed) when it is broken."""
    import psycopg

    try:
        if not (raw.closed or raw.broken):
            raw.rollback()  # nothing when idle
            return True
    except psycopg.Error:
        pass
    with contextlib.suppress(Exception):
        raw.close()
    return False


def _debug_pause() -> None:
    """Test hook: `RELEASE_DEBUG_PAUSE_IN_TX=<seconds>` sleeps inside every write transaction,
    after its changes are flushed and before the commit, and says so on stderr, so that the
    kill tests can SIGKILL a process in the middle of a change. Unset in normal use."""
    pause = os.environ.get("RELEASE_DEBUG_PAUSE_IN_TX")
    if pause:
        import time

        os.write(2, b"release-debug: paused in transaction\n")
        time.sleep(float(pause))


def make_engine(url: str) -> "Engine":
    from sqlalchemy import create_engine, event

    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            for pragma in _PRAGMAS:
                cur.execute(pragma)
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            conn.exec_driver_sql("BEGIN")

        return engine
    if url.startswith("postgresql"):
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise UsageError("a PostgreSQL ledger needs the psycopg driver",
                             hint="pip install 'releasemgr[postgres]'") from None
        return create_engine(url, pool_pre_ping=True)
    raise UsageError(f"unsupported ledger url {safe_url(url)}", hint="use sqlite:///path or postgresql://user@host/db")


def safe_url(url: str) -> str:
    """The URL without a password, for messages."""
    try:
        return urls.render(urls.parse(url), hide_password=True)
    except Exception:  # not a URL SQLAlchemy reads: cut what could be a password out by hand
        return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


class Upgraded(NamedTuple):
    applied: list[str]  # the revisions applied
    adopted: dict | None  # the `audit.adopted` event, when this upgrade recorded one


def upgrade(url: str, environments: "list[str] | dict[str, dict]", *, actor: str | None = None) -> Upgraded:
    """`release ledger upgrade`: apply pending migrations to the ledger at `url` (made if
    missing), record the environments (a policy not recorded yet), and record the rows a
    ledger older than the covered-rows rule holds without an event (`Ledger.adopt_rows`).
    Each step does nothing when done already: a second upgrade adds nothing."""
    check_url(url)
    url = normalise_url(url)
    path = sqlite_path(url)
    new_file = bool(path) and not Path(path).exists()
    if path:
        Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    ledger = Ledger(None, url)
    try:
        applied = migrate.upgrade_to_head(ledger)
        if new_file and applied:
            _make_private(Path(path))
        ledger.sync_environments(environments, actor=actor)
        adopted = ledger.adopt_rows(actor=actor)
    finally:
        ledger.close()
    return Upgraded(applied, adopted)
