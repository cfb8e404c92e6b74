"""The per-(image, environment) lock every change to an environment's servers holds.

A deploy, a rollback or promote with `--deploy`, and a retire of one environment never run
at the same time (the Spinnaker failure where a rollback raced a deploy and terminated the
servers it had just started). The lock lives as long as the operation, not as long as one
ledger transaction:

- SQLite ledger: an `fcntl` lock on `<state>/locks/<image>@<env>.lock`; the holder writes
  who it is into the file, so a refused process can name it.
- PostgreSQL ledger: a session-level `pg_advisory_lock` on a dedicated connection
  (`Ledger.own_connection()`, closed afterwards), keyed by a stable 64-bit hash of image and
  environment; the holder's `application_name` names it.

The lock dies with its process (file descriptor or connection closed), so a killed
`release` never leaves an environment locked.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import socket
import time
from pathlib import Path
from typing import Iterator

from releasemgr.errors import OperationFailed
from releasemgr.ledger.conn import Q


class LockTimeout(OperationFailed):
    kind = "locked"


def lock_key(image: str, env: str) -> int:
    """A stable signed 64-bit key (the same in every process and release)."""
    digest = hashlib.sha256(f"releasemgr-env-lock\0{image}\0{env}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _holder_doc(actor: str, operation: str) -> dict:
    return {"actor": actor, "operation": operation, "pid": os.getpid(), "host": socket.gethostname(),
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def _describe(doc: dict | None) -> str:
    if not doc:
        return "another release process"
    return f"{doc.get('operation', '?')} by {doc.get('actor', '?')} (pid {doc.get('pid')} on {doc.get('host')}, " \
           f"since {doc.get('since')})"


@contextlib.contextmanager
def env_lock(ledger, state_dir, image: str, env: str, *, actor: str, operation: str,
             timeout: float = 0.0, on_wait=None) -> Iterator[dict]:
    """Hold the lock of (image, env); wait up to `timeout` seconds, then raise LockTimeout
    (exit 1) naming the holder. `on_wait(text)` is called once when we have to wait."""
    if getattr(ledger, "is_sqlite", True):
        cm = _file_lock(Path(state_dir) / "locks" / f"{image}@{env}.lock", image, env, actor=actor,
                        operation=operation, timeout=timeout, on_wait=on_wait)
    else:
        cm = _pg_lock(ledger, image, env, actor=actor, operation=operation, timeout=timeout, on_wait=on_wait)
    with cm as holder:
        yield holder


def _refuse(image: str, env: str, timeout: float, holder: str):
    waited = f" after waiting {timeout:g}s" if timeout > 0 else ""
    raise LockTimeout(f"{image} in {env} is locked by {holder}{waited}",
                      hint="wait for it to finish, or give --lock-timeout SECONDS to wait longer")


@contextlib.contextmanager
def _file_lock(path: Path, image, env, *, actor, operation, timeout, on_wait):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + max(timeout, 0.0)
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    _refuse(image, env, timeout, _describe(_read_holder(path)))
                if on_wait and not told:
                    on_wait(f"waiting for the lock of {image} in {env}, held by {_describe(_read_holder(path))}")
                    told = True
                time.sleep(0.05)
        doc = _holder_doc(actor, operation)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(doc).encode(), 0)
        try:
            yield doc
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read_holder(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text() or "null")
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def _pg_lock(ledger, image, env, *, actor, operation, timeout, on_wait):
    key = lock_key(image, env)
    doc = _holder_doc(actor, operation)
    with ledger.own_connection() as conn:  # each statement commits by itself; closing it frees the lock
        name = f"release {operation} by {actor} pid {os.getpid()}"[:63]
        conn.execute(_SET_NAME, {"n": name})
        deadline = time.monotonic() + max(timeout, 0.0)
        told = False
        while True:
            if conn.execute(_TRY_LOCK, {"k": key}).scalar():
                break
            if time.monotonic() >= deadline:
                _refuse(image, env, timeout, _pg_holder(conn, key))
            if on_wait and not told:
                on_wait(f"waiting for the lock of {image} in {env}, held by {_pg_holder(conn, key)}")
                told = True
            time.sleep(0.05)
        try:
            yield doc
        finally:
            with contextlib.suppress(Exception):
                conn.execute(_UNLOCK, {"k": key})


_SET_NAME = Q("SELECT set_config('application_name', :n, false)")
_TRY_LOCK = Q("SELECT pg_try_advisory_lock(:k)")
_UNLOCK = Q("SELECT pg_advisory_unlock(:k)")
_HOLDER = Q("SELECT a.application_name, a.client_addr, a.backend_start FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
            "AND l.classid = :hi AND l.objid = :lo AND l.objsubid = 1")


def _pg_holder(conn, key: int) -> str:
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    try:
        row = conn.execute(_HOLDER, {"hi": unsigned >> 32, "lo": unsigned & 0xFFFFFFFF}).first()
    except Exception:
        return "another release process"
    if row is None or not row[0]:
        return "another release process"
    return str(row[0])
