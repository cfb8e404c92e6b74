"""Helpers for fleet tests: make local images of a tiny stdlib HTTP server, register them,
and make sure no server outlives its test.

The server answers every GET with its version text. Its mode (a file in the image) makes it
misbehave: `500` answers 500, `exit` exits at once, `hang` accepts but never listens
(it sleeps), `slow:S` sleeps S seconds before listening.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

SERVER = r'''
import os, sys, time
mode = open("mode.txt").read().strip() if os.path.exists("mode.txt") else "ok"
if mode == "exit":
    sys.exit(3)
if mode == "hang":
    time.sleep(3600)
if mode.startswith("slow:"):
    time.sleep(float(mode[5:]))
from http.server import BaseHTTPRequestHandler, HTTPServer
body = open("version.txt", "rb").read()
status = 500 if mode == "500" else 200

class H(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass

port = int(os.environ["PORT"]) if "PORT" in os.environ else int(sys.argv[-1])
HTTPServer(("127.0.0.1", port), H).serve_forever()
'''


def make_image(state: Path, text: str, *, mode: str = "ok", health: dict | None = None,
               port_arg: bool = False, work: Path | None = None, extra_meta: dict | None = None) -> str:
    """Pack an image whose server answers `text`; returns its artifact id sha256:…"""
    from releasemgr.providers.local.image import images_dir, pack, write_metadata

    work = work or state.parent / "image-src"
    root = work / f"root-{abs(hash((text, mode, port_arg, str(health)))):x}"
    root.mkdir(parents=True, exist_ok=True)
    (root / "server.py").write_text(SERVER)
    (root / "version.txt").write_text(text)
    (root / "mode.txt").write_text(mode)
    meta = {"command": ["python3", "server.py"],
            "health_check": health if health is not None else {"type": "http", "path": "/", "timeout": "10s",
                                                                  "interval": "1s", "body_contains": text},
            "stop_signal": "TERM", "stop_timeout": "5s"}
    if port_arg:
        meta["port_arg"] = True
    else:
        meta["port_env"] = "PORT"
    meta.update(extra_meta or {})
    write_metadata(root, meta)
    artifact, _ = pack(root, images_dir(state))
    return artifact


def add_version(cli, state: Path, image: str, text: str, **kw) -> str:
    """Make and register an image version; returns 'v<N>'."""
    artifact = make_image(state, text, **kw)
    return cli.json("register", image, "--artifact", f"local::{artifact}")["version"]


def get(address: str, timeout: float = 2.0) -> tuple[int, str]:
    import http.client

    host, _, port = address.rpartition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("GET", "/")
        r = conn.getresponse()
        return r.status, r.read().decode()
    finally:
        conn.close()


def pids_under(path: Path) -> list[int]:
    """Processes whose working directory is under `path` (our servers run in their root)."""
    path = str(Path(path).resolve())
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if cwd == path or cwd.startswith(path + "/"):
            out.append(int(entry))
    return out


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def kill_all_under(path: Path) -> list[int]:
    """Kill every process started under `path`; returns the ones that were still alive."""
    found = [p for p in pids_under(path) if alive(p) and p != os.getpid()]
    for pid in found:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    for pid in found:
        for _ in range(100):
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            if not alive(pid):
                break
            time.sleep(0.01)
    return found


def cleanup(test_dir: Path) -> None:
    """A test's finalizer: kill `release` processes it started (their cwd is the test folder)
    and every server (cwd under its state folder); twice, in case a `release` process was
    starting one while we looked."""
    kill_all_under(test_dir)
    kill_all_under(test_dir)


def running_servers(state: Path) -> list[int]:
    """Servers run in their image's unpacked copy (state/images/unpacked/<digest>)."""
    return [p for p in pids_under(state / "images" / "unpacked") if alive(p)]
