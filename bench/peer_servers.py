#!/usr/bin/env python3
"""The peer of bench_deploy.py: what a shell script does today, as one process of its own.

It starts the same servers `release` starts (the image's `python3 server.py`, a free port in
$PORT, its own session), polls each one over HTTP every 10 ms until it answers 200 -- so its
time is the servers' own start and health time, give or take 10 ms -- and stops old ones
with SIGTERM to their process group, waiting until they are gone. It records nothing, writes
no route, takes no lock and copies no image: everything `release` does beyond this is
orchestration overhead.

    peer_servers.py start ROOT N              # start N servers, print [{"pid", "port"}]
    peer_servers.py roll ROOT OLD.json K      # replace the servers in OLD.json K at a time

Run as a process by bench_deploy.py and timed from outside, like `release` is.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time

POLL = 0.01


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(port: int) -> bool:
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", "/")
        ok = c.getresponse().status == 200
        c.close()
        return ok
    except OSError:
        return False


def start(root: str, n: int) -> list[dict]:
    servers = []
    for _ in range(n):
        port = free_port()
        p = subprocess.Popen(["python3", "server.py"], cwd=root, env={**os.environ, "PORT": str(port)},
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
        servers.append({"pid": p.pid, "port": port})
    pending = list(servers)
    while pending:
        pending = [s for s in pending if not healthy(s["port"])]
        if pending:
            time.sleep(POLL)
    return servers


def gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[-1].split()[0] in (b"Z", b"X")
    except OSError:
        return True


def stop(servers: list[dict]) -> None:
    for s in servers:
        try:
            os.killpg(s["pid"], signal.SIGTERM)
        except ProcessLookupError:
            pass
    for s in servers:
        while not gone(s["pid"]):
            time.sleep(POLL)


def main(argv: list[str]) -> int:
    if argv[:1] == ["start"]:
        print(json.dumps(start(argv[1], int(argv[2]))))
        return 0
    if argv[:1] == ["roll"]:
        root, old, k = argv[1], json.loads(open(argv[2]).read()), int(argv[3])
        new: list[dict] = []
        while old:
            new += start(root, min(k, len(old)))
            stop(old[:k])
            old = old[k:]
        print(json.dumps(new))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
