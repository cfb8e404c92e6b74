"""Nothing runs forever: builds and deployments whose process is gone are found and ended.

A build or deployment row says where it runs (host, pid) and keeps a heartbeat while it runs
(`ProcessHeartbeat`, started by every command that writes to the ledger, refreshes the
heartbeat of this process's running rows every `BEAT_SECONDS`). One whose row says `running`
is *stale* when its process is gone:

- on this host: no live process with its pid, or one that started after the row was made
  (the pid was reused);
- on another host: its heartbeat is older than `STALE_AFTER`.

`check()` is the one place that looks, called by the CLI when a command opens the ledger
(one indexed query when nothing runs). A read-only command (`status`, `show`, `history`,
...) only reports what is stale; a command that writes marks each stale run `abandoned`
with an audit event (`build.abandoned`, `deployment.abandoned`, once, whoever gets there
first) and deals with its leftovers:

- a build's run folder (`STATE/tmp/run-<build>-<pid>`): removed (`pipeline/workdir.py`);
- a deployment's server processes that were started but never recorded in the ledger (a
  SIGKILL between a process's start and its row): stopped when the environment's lock is free,
  else listed (the deploy holding the lock stops them when it heals);
- temporary files named after the dead process (`.<name>.<pid>.tmp`) in the state folder's
  image and server folders: removed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import NamedTuple

from releasemgr.ledger import audit
from releasemgr.ledger.clock import now_iso, parse_iso
from releasemgr.ledger.locks import LockTimeout, env_lock
from releasemgr.ledger.repo import builds, deployments, servers
from releasemgr.pipeline import workdir
from releasemgr.providers.base import LaunchedServer
from releasemgr.providers.registry import provider as provider_named
from releasemgr.release.server_rows import LIVE_STATES, open_fleet, provider_name, provider_settings

STALE_AFTER = timedelta(seconds=120)  # another host's run without a heartbeat for this long is gone
BEAT_SECONDS = 15.0
#: rows whose process the ledger believes runs (draining: out of the route, not stopped yet)
RECORDED_STATES = (*LIVE_STATES, "draining")


class Stale(NamedTuple):
    """A build or deployment whose row says `running` while its process is gone."""

    kind: str  # build | deployment
    id: str
    image: str
    env: str | None
    version: str | None
    host: str
    pid: int | None
    started_at: str
    heartbeat_at: str | None
    why: str
    leftovers: list  # what was done about what it left, one line each (filled by `check`)

    @property
    def name(self) -> str:
        where = f"{self.image}@{self.version} to {self.env}" if self.kind == "deployment" else self.image
        return f"{self.kind} {self.id[:8]} ({where})"

    def to_json(self) -> dict:
        return {"kind": self.kind, "id": self.id, "image": self.image, "env": self.env, "version": self.version,
                "host": self.host, "pid": self.pid, "started_at": self.started_at,
                "heartbeat_at": self.heartbeat_at, "why": self.why, "leftovers": self.leftovers}


# -- is the process there? ------------------------------------------------------------------------

def _boot_time() -> float | None:
    try:
        with open("/proc/stat") as fh:
            for line in fh:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except OSError:
        pass
    return None


def _process_started(pid: int) -> float | None:
    """When `pid` started (epoch seconds, Linux), None when unknown."""
    boot = _boot_time()
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().decode(errors="replace").rsplit(")", 1)[-1].split()
        return None if boot is None else boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def process_runs(pid: int | None, since: str) -> bool:
    """A live process `pid` on this host that started before `since` (a row's start time)."""
    if not pid or not workdir.pid_alive(pid):
        return False
    started = _process_started(pid)
    return started is None or started <= parse_iso(since).timestamp() + 2.0  # clock-tick slack


def why_gone(host: str, pid: int | None, started_at: str, heartbeat_at: str | None,
             now: datetime | None = None) -> str | None:
    """Why the process of a running row is gone, None while it runs."""
    if host and host == socket.gethostname():
        return None if process_runs(pid, started_at) else f"its process {pid} on {host} is gone"
    now = now or datetime.now(timezone.utc)
    beat = heartbeat_at or started_at
    if now - parse_iso(beat) > STALE_AFTER:
        return f"no heartbeat from {host or 'its host'} since {beat}"
    return None


def find_stale(conn) -> list[Stale]:
    """The running builds and deployments whose process is gone (reads only)."""
    now = datetime.now(timezone.utc)
    out = []
    for b, image in builds.running(conn):
        why = why_gone(b.host, b.pid, b.started_at, b.heartbeat_at, now)
        if why:
            out.append(Stale("build", b.id, image, None, None, b.host, b.pid, b.started_at, b.heartbeat_at, why,
                             []))
    for d, image, env, label in deployments.running(conn):
        why = why_gone(d.host, d.pid, d.started_at, d.heartbeat_at, now)
        if why:
            out.append(Stale("deployment", d.id, image, env, label, d.host, d.pid, d.started_at, d.heartbeat_at,
                             why, []))
    return out


# -- the one check ----------------------------------------------------------------------------------

def check(ledger, config, *, write: bool, actor: str, say=lambda _text: None) -> list[Stale]:
    """Read-only (`write=False`): the stale runs. Writing: mark each `abandoned` (audited)
    and remove or list its leftovers; returns what this process marked."""
    with ledger.connect() as conn:
        stale = find_stale(conn)
    if not stale or not write:
        return stale
    marked = []
    for s in stale:
        if _mark(ledger, s, actor):
            marked.append(s)
    for s in marked:
        try:
            _leftovers(ledger, config, s, actor)
        except Exception as exc:  # noqa: BLE001 - leftovers are best effort: never fail the command for them
            s.leftovers.append(f"could not clean up after it: {exc}")
        say(f"marked {s.name} abandoned: {s.why}"
            + (f"; {'; '.join(s.leftovers)}" if s.leftovers else ""))
    return marked


def _mark(ledger, s: Stale, actor: str) -> bool:
    """Mark one stale run abandoned with its audit event; False when another process ended
    it first (or it finished meanwhile)."""
    at = now_iso()
    why = f"abandoned: {s.why}"
    with ledger.transaction() as conn:
        if s.kind == "build":
            done = builds.abandon(conn, s.id, at=at, why=why)
        else:
            dep = deployments.get(conn, s.id)
            done = dep is not None and deployments.abandon(conn, dep, at=at, why=why)
        if done:
            audit.append(conn, f"{s.kind}.abandoned", actor=actor, image=s.image, version=s.version, env=s.env,
                         at=at, details={s.kind: s.id, "host": s.host, "pid": s.pid, "why": s.why,
                                         "heartbeat_at": s.heartbeat_at})
    return done


def _leftovers(ledger, config, s: Stale, actor: str) -> None:
    here = s.host == socket.gethostname()
    if s.kind == "build":
        if here:
            removed, failed = workdir.sweep(config.state_dir)
            s.leftovers.extend([f"removed {'its' if s.id in p else 'the'} run folder {p}" for p in removed])
            s.leftovers.extend([f"could not remove the run folder {p}: delete it by hand" for p in failed])
        return
    if here and s.pid:
        s.leftovers.extend([f"removed {p}" for p in remove_temp_files(config.state_dir, s.pid)])
    p = provider_named(provider_name(config, s.env))
    if p is not None and p.server_group(provider_settings(config, s.env)):
        return  # a group replaces its own servers: none of them is ours to stop
    try:
        s.leftovers.extend(stop_unrecorded(ledger, config, s.image, s.env, actor=actor, deployment=s.id))
    except Exception as exc:  # noqa: BLE001 - a cloud's error too: listed, the command goes on
        s.leftovers.append(f"could not look for servers it started in {s.env}: {exc} "
                           f"(the next `release deploy {s.image} --env {s.env}` stops those not recorded)")


def remove_temp_files(state_dir, pid: int) -> list[str]:
    """The `.<name>.<pid>.tmp` files and folders a dead process left in the state folder."""
    base = Path(state_dir)
    out = []
    for pattern in (f"images/unpacked/.*.{pid}.tmp", f"servers/*/.*.{pid}.tmp", f"routes/.*.{pid}.tmp"):
        for path in base.glob(pattern):
            with contextlib.suppress(OSError):
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
                out.append(str(path))
    return out


def stop_unrecorded(ledger, config, image: str, env: str, *, actor: str, deployment: str | None) -> list[str]:
    """Stop (image, env)'s server processes the ledger does not record, under the
    environment's lock if it is free (else only list them); what was done, one line each."""
    try:
        with env_lock(ledger, config.state_dir, image, env, actor=actor, operation="abandoned-deployment cleanup"):
            fleet = open_fleet(config, env)
            stopped, failed = unrecorded(ledger, fleet, image, env, actor=actor, deployment=deployment,
                                         reason=f"started by deployment {deployment} but never recorded",
                                         stop=True)
    except LockTimeout:
        fleet = open_fleet(config, env)
        ids, _ = unrecorded(ledger, fleet, image, env, actor=actor, deployment=deployment, reason="", stop=False)
        return [f"server {i} runs but is not recorded; the deploy holding the lock of {image} in {env} stops it"
                for i in ids]
    return ([f"stopped server {i}: running but not recorded in the ledger" for i in stopped]
            + [f"could not stop server {i}: {why} (stop it by hand)" for i, why in failed.items()])


def unrecorded(ledger, fleet, image: str, env: str, *, actor: str, deployment: str | None, reason: str,
               stop: bool, say=lambda _text: None) -> tuple[list[str], dict[str, str]]:
    """(image, env)'s live servers the fleet runs and the ledger does not record; with `stop`
    (the caller holds the environment's lock) they are stopped, each audited `server.retired`.
    Returns (ids, {id: why it could not be stopped})."""
    list_managed = getattr(fleet, "list_managed", None)
    if list_managed is None:
        return [], {}
    with ledger.connect() as conn:
        known = servers.ids_in_states(conn, RECORDED_STATES)
    stray = [m for m in list_managed(image, env) if m.alive and m.id not in known]
    if not stray or not stop:
        return [m.id for m in stray], {}
    res = fleet.terminate([LaunchedServer(m.id, fleet.provider, "", m.address, m.extra) for m in stray])
    done = [m for m in stray if m.id not in res.failed]
    if done:
        at = now_iso()
        with ledger.transaction() as conn:
            audit.append_many(conn, [
                dict(action="server.retired", actor=actor, image=image, version=m.version, env=env, at=at,
                     details={"server": m.id, "reason": reason, "deployment": deployment}) for m in done])
        for m in done:
            say(f"  stopped {m.id}: running but not recorded in the ledger")
    return [m.id for m in done], dict(res.failed)


# -- the heartbeat ----------------------------------------------------------------------------------

class ProcessHeartbeat:
    """Refreshes, every `interval` seconds, the heartbeat of every running build and
    deployment this process (host, pid) recorded. Best effort: a ledger briefly unavailable
    costs one beat. `start()` / `stop()`; a daemon thread, so it never keeps a process alive."""

    def __init__(self, ledger, interval: float = BEAT_SECONDS):
        self.ledger, self.interval = ledger, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self) -> int:
        host, pid, at = socket.gethostname(), os.getpid(), now_iso()
        with self.ledger.transaction() as conn:
            return (builds.heartbeat_process(conn, host=host, pid=pid, at=at)
                    + deployments.heartbeat(conn, host=host, pid=pid, at=at))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with contextlib.suppress(Exception):
                self.beat()

    def start(self) -> "ProcessHeartbeat":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="release-heartbeat", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


# -- signals ----------------------------------------------------------------------------------------

class hold_signals:
    """SIGINT and SIGTERM that arrive inside the block take effect when it ends (the handler
    in force then runs, or the default action happens), so the block is never cut in the
    middle: a server process is started *and* recorded, or stopped *and* recorded. In a
    thread other than the main one (which cannot receive them) it changes nothing. Keep the
    block short: an operator's Ctrl-C waits for it."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __enter__(self):
        self.old: dict = {}
        self.pending: list = []
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self.old[sig] = signal.signal(sig, self._hold)
        return self

    def _hold(self, signum, frame):
        self.pending.append((signum, frame))

    def __exit__(self, *exc):
        for sig, handler in self.old.items():
            signal.signal(sig, handler)
        for signum, frame in self.pending[:1]:  # the first one decides; a second adds nothing
            handler = self.old[signum]
            if callable(handler):
                handler(signum, frame)
            elif handler == signal.SIG_DFL:
                os.kill(os.getpid(), signum)
        return False
