"""Health checks against a server's address: http, tcp, command.

Each function does one check within `timeout` seconds and returns (ok, detail); none raises.
"""

from __future__ import annotations

import socket
import subprocess


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host or "127.0.0.1", int(port)


def check_tcp(address: str, timeout: float) -> tuple[bool, str]:
    try:
        host, port = split_address(address)
        with socket.create_connection((host, port), timeout=max(timeout, 0.01)):
            return True, "connected"
    except (OSError, ValueError) as exc:
        return False, f"tcp {address}: {exc}"


def check_http(address: str, path: str, expected_status: int, body_contains: str | None,
               timeout: float) -> tuple[bool, str]:
    import http.client

    try:
        host, port = split_address(address)
        conn = http.client.HTTPConnection(host, port, timeout=max(timeout, 0.01))
        try:
            conn.request("GET", path or "/", headers={"User-Agent": "releasemgr-health"})
            resp = conn.getresponse()
            body = resp.read(1 << 20)
        finally:
            conn.close()
    except (OSError, ValueError, http.client.HTTPException) as exc:
        return False, f"GET {path}: {exc or type(exc).__name__}"
    if resp.status != expected_status:
        return False, f"GET {path}: status {resp.status}, expected {expected_status}"
    if body_contains and body_contains.encode() not in body:
        return False, f"GET {path}: body does not contain {body_contains!r}"
    return True, f"GET {path}: {resp.status}"


def check_command(command: list[str], *, cwd: str | None, env: dict[str, str], timeout: float) -> tuple[bool, str]:
    """Run `command` with exactly `env` (the caller's declared environment, not ours)."""
    try:
        proc = subprocess.run(command, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=max(timeout, 0.05))
    except subprocess.TimeoutExpired:
        return False, f"{command[0]}: timed out after {timeout:g}s"
    except OSError as exc:
        return False, f"{command[0]}: {exc.strerror or exc}"
    if proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        return False, f"{command[0]} exited {proc.returncode} {tail[0]}".rstrip()
    return True, "exit 0"
