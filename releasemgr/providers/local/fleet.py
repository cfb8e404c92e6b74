"""The local fleet: a server is a detached process started from an unpacked, read-only copy
of one local image, on its own port, with its log under the state folder.

An image is unpacked once, read-only, to `<state>/images/unpacked/<digest>/`, and every
server of it runs there (its cwd and `$IMAGE_ROOT`): like a container runtime's shared image
layers, nothing is copied per server, so starting the 50th server of a 500 MB image costs
what starting the first does. `prune` removes the copy with the image.

Layout per server: `<state>/servers/<id>/server.log` (stdout and stderr) and `server.json`
(what the fleet knows: pid, the process's start time, port, image, version, env, root). A
stopped server's folder moves to `<state>/retired-servers/<id>`, so `servers/` only ever
holds what runs and looking for strays costs the same after a thousand deploys as after one.

A server is identified by its pid *and* the start time the kernel recorded for it
(`/proc/<pid>/stat`, field 22), so a pid reused by another process is never taken for our
server, never signalled and never reported alive.

Servers are started in their own session (`start_new_session=True`): they outlive the
`release` process, and stopping one signals its whole process group.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from releasemgr.providers.base import (Fleet, FleetError, HealthCheck, LaunchedServer, ManagedServer, ServerState,
                                       TerminateResult)
from releasemgr.providers.local import health
from releasemgr.providers.local.image import (ImageError, ImageMismatch, check_sealed, image_path, remove_tree,
                                              sidecar_paths, unpack_sealed)
from releasemgr.common.durations import seconds as parse_duration

_recent_ports: set[int] = set()
_port_lock = threading.Lock()
_unpack_lock = threading.Lock()
SERVER_PATH = "/usr/local/bin:/usr/bin:/bin"


def servers_dir(state_dir) -> Path:
    return Path(state_dir) / "servers"


def retired_dir(state_dir) -> Path:
    return Path(state_dir) / "retired-servers"


def unpacked_dir(state_dir) -> Path:
    return Path(state_dir) / "images" / "unpacked"


def image_root(state_dir, tar: Path) -> Path:
    """The read-only unpacked copy of the image `tar`, made on first use; see `open_image`."""
    return open_image(state_dir, tar)[0]


def open_image(state_dir, tar: Path) -> tuple[Path, dict]:
    """(root, metadata) of the read-only unpacked copy of the image `tar` (`<hex>.tar`, whose
    artifact id is `sha256:<hex>`).

    A new copy is made only from a tarball whose sha256 is its id, and sealed (image.py); a
    copy that exists is checked against its seal before it is used (ImageMismatch names what
    differs). A copy without a seal (unpacked by an older releasemgr, with the metadata inside
    the served root) is replaced by a fresh one; the old folder moves aside, so servers that
    run in it keep running. Concurrent makers (threads, other `release` processes) each unpack
    to a temporary folder and rename it into place; the first rename wins, the others drop
    theirs (the side files they wrote are byte-identical)."""
    artifact_id = f"sha256:{tar.stem}"
    root = unpacked_dir(state_dir) / tar.stem
    with _unpack_lock:
        if root.is_dir():
            try:
                return root, check_sealed(root, artifact_id)
            except ImageMismatch:
                raise
            except ImageError:
                pass  # no seal: an old copy, replaced below
        root.parent.mkdir(parents=True, exist_ok=True)
        tmp = root.parent / f".{tar.stem}.{os.getpid()}.tmp"
        remove_tree(tmp)
        unsealed = root.is_dir()
        meta = unpack_sealed(tar, tmp, artifact_id, final=root)
        if unsealed:
            _move_aside(root)
        try:
            os.rename(tmp, root)
        except OSError:
            remove_tree(tmp)
            if not root.is_dir():
                raise
    return root, meta


def _move_aside(root: Path) -> None:
    """Rename an unsealed copy to `.old-<hex>-<pid>` (deleted with the image)."""
    try:
        os.rename(root, root.with_name(f".old-{root.name}-{os.getpid()}"))
    except OSError:
        pass


def server_environment(home: Path, meta: dict, pass_env: list[str] | tuple = (), environ=None) -> dict[str, str]:
    """What a server (and its `command` health check) gets: a fixed PATH, HOME = its own folder,
    LANG, the image's `env`, and the operator's variables `pass_env` names (those unset are
    left out). Nothing else of the `release` process's environment: it holds the ledger's
    password, cloud and git credentials."""
    environ = os.environ if environ is None else environ
    env = {"PATH": SERVER_PATH, "HOME": str(home), "LANG": "C.UTF-8"}
    env.update({str(k): str(v) for k, v in (meta.get("env") or {}).items()})
    env.update({name: environ[name] for name in pass_env if name in environ})
    return env


def process_start_time(pid: int) -> int | None:
    """The kernel's start time of `pid` in clock ticks since boot, or None when there is no
    such live process (zombies count as gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read().decode(errors="replace")
    except OSError:
        return None
    fields = raw.rsplit(")", 1)[-1].split()
    if len(fields) < 20 or fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def is_ours(pid: int | None, start_time: int | None) -> bool:
    return bool(pid) and start_time is not None and process_start_time(pid) == start_time


def free_port() -> int:
    """A free loopback port, not one handed out moments ago by this process."""
    with _port_lock:
        for _ in range(50):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            if port not in _recent_ports:
                _recent_ports.add(port)
                return port
        return port


def _signal_number(name: str | int | None) -> int:
    if isinstance(name, int):
        return name
    name = (name or "TERM").upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    return int(getattr(signal, name, signal.SIGTERM))


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except (ChildProcessError, OSError):
        pass


class ImageRefused(FleetError):
    """The image (its tarball or its unpacked copy) does not match its digest: nothing may
    start from it, and retrying will not help."""


class LocalFleet(Fleet):
    provider = "local"
    poll_cap = 0.02  # a check is a loopback connection or a /proc read: look every 20 ms at most
    launch_workers = 1  # a fork and an exec: the image is unpacked once, so threads only add contention

    def __init__(self, state_dir, settings: dict | None = None):
        self.state_dir = Path(state_dir)
        self.pass_env = list((settings or {}).get("pass_env") or [])  # [deploy.<env>] pass_env
        self._images: dict[str, tuple[Path, dict]] = {}  # artifact id -> (root, metadata), checked once
        self._refused: dict[str, str] = {}  # artifact id -> why it does not match its digest

    def _open(self, artifact_id: str) -> tuple[Path, dict]:
        """The image's unpacked copy and metadata, verified (once per fleet, i.e. per command)."""
        if artifact_id in self._refused:
            raise ImageRefused(self._refused[artifact_id])
        if artifact_id not in self._images:
            try:
                tar = image_path(self.state_dir, artifact_id)
            except ImageError as exc:
                raise FleetError(str(exc)) from None
            if not tar.is_file():
                raise FleetError(f"image {artifact_id} is not in {tar.parent} (pruned or never built here)")
            try:
                self._images[artifact_id] = open_image(self.state_dir, tar)
            except ImageMismatch as exc:
                self._refused[artifact_id] = str(exc)
                raise ImageRefused(str(exc)) from None
            except (ImageError, OSError) as exc:
                raise FleetError(str(exc)) from None
        return self._images[artifact_id]

    def _meta_of_root(self, root: str | None) -> dict:
        """The metadata of the image a server runs in (its `root`), {} when unknown."""
        if not root:
            return {}
        try:
            return json.loads(sidecar_paths(root)[0].read_text())
        except (OSError, ValueError):
            return {}

    # -- launch ------------------------------------------------------------------------------
    def launch(self, artifact: dict, *, server_id: str, image: str, version: str, env: str,
               port: int | None = None) -> LaunchedServer:
        if artifact.get("provider") != "local":
            raise FleetError(f"the local fleet cannot launch a {artifact.get('provider')} artifact")
        root, meta = self._open(artifact["id"])
        command = meta.get("command")
        if not isinstance(command, list) or not command or not all(isinstance(c, str) for c in command):
            raise FleetError(f"image {artifact['id']} declares no command to run")
        home = servers_dir(self.state_dir) / server_id
        home.mkdir(parents=True, exist_ok=False)
        wants_port = bool(meta.get("port_env")) or bool(meta.get("port_arg"))
        if wants_port and port is None:
            port = free_port()
        run_env = {**server_environment(home, meta, self.pass_env),
                   "RELEASE_SERVER_ID": server_id, "RELEASE_IMAGE": image, "RELEASE_VERSION": version,
                   "RELEASE_ENV": env, "IMAGE_ROOT": str(root)}
        argv = list(command)
        if wants_port:
            if meta.get("port_env"):
                run_env[str(meta["port_env"])] = str(port)
            if meta.get("port_arg"):
                argv.append(str(port))
        log_path = home / "server.log"
        # described before it starts: a `release` killed (SIGKILL) right after the start still
        # leaves a record, and `list_managed` finds the process by its RELEASE_SERVER_ID
        _write_json(home / "server.json", {"id": server_id, "image": image, "version": version, "env": env,
                                           "artifact": artifact["id"], "starting": True, "retired": False,
                                           "pid": None, "start_time": None})
        try:
            with open(log_path, "ab") as log, open(os.devnull, "rb") as devnull:
                proc = subprocess.Popen(argv, cwd=root, env=run_env, stdin=devnull, stdout=log, stderr=log,
                                        start_new_session=True, close_fds=True)
        except OSError as exc:
            remove_tree(home)
            raise FleetError(f"cannot start {argv[0]!r} for {server_id}: {exc.strerror or exc}") from None
        try:
            start = process_start_time(proc.pid)
            if start is None:  # died at once: still record it, so the deploy sees it as unhealthy
                start = -1
            address = f"127.0.0.1:{port}" if wants_port else None
            extra = {"pid": proc.pid, "start_time": start, "port": port, "root": str(root), "log": str(log_path),
                     "stop_signal": meta.get("stop_signal", "TERM"), "stop_timeout": meta.get("stop_timeout", "10s"),
                     "image_meta_health": meta.get("health_check")}
            record = {"id": server_id, "image": image, "version": version, "env": env, "address": address,
                      "artifact": artifact["id"], "launched_at": time.time(), "retired": False, **extra}
            _write_json(home / "server.json", record)
        except BaseException as exc:  # started but not described: it must not run unknown
            _kill_now(proc)
            remove_tree(home)
            if isinstance(exc, OSError):
                raise FleetError(f"cannot record {server_id}: {exc.strerror or exc}") from None
            raise
        proc.returncode = 0  # detached: we never wait on it here (terminate reaps it)
        return LaunchedServer(id=server_id, provider="local", provider_id=f"{proc.pid}@{start}",
                              address=address, extra=extra)

    # -- describe and health -------------------------------------------------------------------
    def describe(self, servers: list[LaunchedServer]) -> dict[str, ServerState]:
        out = {}
        for s in servers:
            pid, st = s.extra.get("pid"), s.extra.get("start_time")
            if is_ours(pid, st):
                out[s.id] = ServerState(s.id, True, f"pid {pid}")
            else:
                _reap(pid) if pid else None
                out[s.id] = ServerState(s.id, False, f"pid {pid} is gone" if pid else "no pid recorded")
        return out

    def check_health(self, server: LaunchedServer, check: HealthCheck, timeout: float) -> bool:
        return self.health_detail(server, check, timeout)[0]

    def health_detail(self, server: LaunchedServer, check: HealthCheck, timeout: float) -> tuple[bool, str]:
        if not is_ours(server.extra.get("pid"), server.extra.get("start_time")):
            return False, "process exited"
        if check.type == "process":
            return True, "running"
        if check.type == "command":
            meta = self._meta_of_root(server.extra.get("root"))
            env = {**server_environment(servers_dir(self.state_dir) / server.id, meta, self.pass_env),
                   "RELEASE_SERVER_ADDRESS": server.address or ""}
            if server.extra.get("port"):
                env["PORT"] = str(server.extra["port"])
                if meta.get("port_env"):
                    env[str(meta["port_env"])] = str(server.extra["port"])
            return health.check_command(list(check.command or []), cwd=server.extra.get("root"), env=env,
                                        timeout=timeout)
        if not server.address:
            return False, f"a {check.type} check needs an address (the image declares no port_env/port_arg)"
        if check.type == "http":
            return health.check_http(server.address, check.path, check.expected_status, check.body_contains,
                                     timeout)
        return health.check_tcp(server.address, timeout)

    # -- terminate ----------------------------------------------------------------------------
    def terminate(self, servers: list[LaunchedServer], *, grace: float | None = None) -> TerminateResult:
        result = TerminateResult()
        waiting: dict[str, tuple[LaunchedServer, float]] = {}
        now = time.monotonic()
        for s in servers:
            pid, st = s.extra.get("pid"), s.extra.get("start_time")
            if is_ours(pid, st):
                try:
                    os.killpg(pid, _signal_number(s.extra.get("stop_signal")))
                except ProcessLookupError:
                    pass
                except PermissionError as exc:
                    result.failed[s.id] = f"cannot signal pid {pid}: {exc}"
                    continue
                try:
                    limit = grace if grace is not None else parse_duration(s.extra.get("stop_timeout"), 10.0)
                except ValueError:
                    limit = 10.0
                waiting[s.id] = (s, now + limit)
        while waiting:
            for sid, (s, deadline) in list(waiting.items()):
                pid, st = s.extra["pid"], s.extra["start_time"]
                _reap(pid)
                if not is_ours(pid, st):
                    del waiting[sid]
                elif time.monotonic() >= deadline:
                    try:
                        os.killpg(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    waiting[sid] = (s, float("inf"))  # KILL cannot be ignored; wait for it to land
            if waiting:
                time.sleep(0.01)
        for s in servers:
            if s.id in result.failed:
                continue
            home = servers_dir(self.state_dir) / s.id
            remove_tree(home / "root")  # the per-server copy servers started by earlier releasemgr had
            rec = _read_json(home / "server.json")
            if rec is not None:
                rec["retired"] = True
                rec["retired_at"] = time.time()
                _write_json(home / "server.json", rec)
            _move_to_retired(home, retired_dir(self.state_dir) / s.id)
            result.stopped.append(s.id)
        return result

    # -- what runs ----------------------------------------------------------------------------
    def list_managed(self, image: str | None = None, env: str | None = None) -> list[ManagedServer]:
        out = []
        base = servers_dir(self.state_dir)
        if not base.is_dir():
            return out
        for home in sorted(base.iterdir()):
            rec = _read_json(home / "server.json")
            if rec is None or rec.get("retired"):
                continue
            if (image and rec.get("image") != image) or (env and rec.get("env") != env):
                continue
            if rec.get("pid") is None and rec.get("starting"):  # its starter died before describing it
                rec.update(_find_started(rec["id"]))
            alive = is_ours(rec.get("pid"), rec.get("start_time"))
            out.append(ManagedServer(id=rec["id"], image=rec.get("image"), env=rec.get("env"),
                                     version=rec.get("version"), alive=alive, address=rec.get("address"),
                                     extra={k: rec.get(k) for k in ("pid", "start_time", "port", "root", "log",
                                                                     "stop_signal", "stop_timeout")}))
        return out

    def server_from_record(self, server_id: str) -> LaunchedServer | None:
        rec = _read_json(servers_dir(self.state_dir) / server_id / "server.json")
        if rec is None:
            return None
        return LaunchedServer(id=server_id, provider="local", provider_id=f"{rec.get('pid')}@{rec.get('start_time')}",
                              address=rec.get("address"),
                              extra={k: rec.get(k) for k in ("pid", "start_time", "port", "root", "log",
                                                              "stop_signal", "stop_timeout")})


def _find_started(server_id: str) -> dict:
    """{pid, start_time} of the live process started as `server_id` (its environment names
    it), {} when there is none. Scans /proc: only for a server whose starter was killed
    between starting it and describing it."""
    needle = f"RELEASE_SERVER_ID={server_id}".encode()
    try:
        entries = [e for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return {}
    for entry in entries:
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                if needle not in fh.read().split(b"\0"):
                    continue
        except OSError:
            continue
        pid = int(entry)
        try:
            leader = os.getpgid(pid) == pid  # the server itself (its session's leader), not a child of it
        except OSError:
            continue
        start = process_start_time(pid)
        if leader and start is not None:
            return {"pid": pid, "start_time": start}
    return {}


def _kill_now(proc: subprocess.Popen) -> None:
    """Stop a server we just started (its whole process group) and wait for it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        proc.wait(timeout=10)
    except (subprocess.TimeoutExpired, OSError):
        pass


def _move_to_retired(home: Path, dest: Path) -> None:
    if not home.is_dir():
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        remove_tree(dest)
    try:
        os.replace(home, dest)
    except OSError:
        pass  # it stays in servers/, marked retired: list_managed skips it


def delete_image(state_dir, artifact_id: str) -> bool:
    """The local image store: delete one image tarball and its unpacked copy; False when
    the tarball was not there."""
    try:
        path = image_path(state_dir, artifact_id)
    except ImageError:
        return False
    root = unpacked_dir(state_dir) / path.stem
    remove_tree(root)
    for side in (*sidecar_paths(root), *root.parent.glob(f".old-{path.stem}-*")):
        remove_tree(side) if side.is_dir() else side.unlink(missing_ok=True)
    try:
        os.chmod(path, 0o644)
        path.unlink()
        return True
    except FileNotFoundError:
        return False


def _write_json(path: Path, doc: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, sort_keys=True, indent=2))
    os.replace(tmp, path)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
