"""Benchmark: the ssh communicator against OpenSSH's own clients, to the same sshd.

    python bench/bench_ssh.py [--rounds 5] [--size-mb 200] [--files 2000] [--commands 200]

(b) SFTP upload of one big file, and of a tree of small files, through SSHCommunicator
    against `scp` and `sftp` (OpenSSH, default settings);
(c) short commands over one connection against `ssh` with a ControlMaster.

Each round runs every contender once, interleaved, so load on the machine hits them alike;
the table shows medians. Our side runs in this process and includes connecting and
authenticating (not the interpreter start or the paramiko import); OpenSSH's side is the
processes a user would run. Results go to bench/results/ssh.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent))

from sshd_fixture import Sshd  # noqa: E402

from releasemgr.pipeline.communicator import SSHCommunicator, SSHConfig  # noqa: E402


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def make_tree(root: Path, files: int) -> int:
    total = 0
    for i in range(files):
        d = root / f"d{i % 40:02d}"
        d.mkdir(parents=True, exist_ok=True)
        data = os.urandom((i * 7919) % 8192)
        (d / f"f{i:05d}.txt").write_bytes(data)
        total += len(data)
    return total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--size-mb", type=int, default=200)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--commands", type=int, default=200)
    ap.add_argument("--out", default=str(HERE / "results" / "ssh.md"))
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-ssh-"))
    server = Sshd(work / "sshd").start()
    try:
        return run(args, work, server)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def run(args, work: Path, server: Sshd) -> int:
    target = f"{server.username}@{server.host}"
    ssh_opts = server.ssh_args()
    cfg = SSHConfig(host=server.host, port=server.port, username=server.username,
                    private_key_file=str(server.client_key), known_hosts_file=str(server.known_hosts),
                    agent_auth=False)
    big = work / "big.bin"
    with open(big, "wb") as f:
        for _ in range(args.size_mb):
            f.write(os.urandom(1 << 20))
    tree = work / "tree"
    tree_bytes = make_tree(tree, args.files)
    dest = work / "dest"

    def fresh():
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir()

    def ours_put_file():
        with SSHCommunicator(cfg) as c:
            c.upload(big, str(dest / "big.bin"))

    def ours_get_file():
        with SSHCommunicator(cfg) as c:
            c.download(str(big), str(dest / "big.bin"))

    def ours_tree(method: str):
        def go():
            with SSHCommunicator(SSHConfig(**{**cfg.__dict__, "directory_transfer": method})) as c:
                c.upload(str(tree) + "/", str(dest / "tree"))
        return go

    def sh(cmd: list[str], stdin: str | None = None):
        return lambda: subprocess.run(cmd, input=stdin, text=True, check=True, stdout=subprocess.DEVNULL)

    scp = ["scp", "-q", "-P", str(server.port), *ssh_opts]
    sftp = ["sftp", "-q", "-P", str(server.port), *ssh_opts, "-b", "-", target]
    contenders = {
        "file_up": [
            ("SSHCommunicator.upload (SFTP)", ours_put_file),
            ("scp", sh([*scp, str(big), f"{target}:{dest}/big.bin"])),
            ("sftp put", sh(sftp, f"put {big} {dest}/big.bin\n")),
        ],
        "file_down": [
            ("SSHCommunicator.download (SFTP)", ours_get_file),
            ("scp", sh([*scp, f"{target}:{big}", str(dest / "big.bin")])),
            ("sftp get", sh(sftp, f"get {big} {dest}/big.bin\n")),
        ],
        "tree_up": [
            ("SSHCommunicator.upload (tar stream)", ours_tree("tar")),
            ("SSHCommunicator.upload (per-file SFTP)", ours_tree("sftp")),
            ("scp -r", sh([*scp, "-r", str(tree), f"{target}:{dest}/tree"])),
            ("sftp put -r", sh(sftp, f"put -r {tree} {dest}/tree\n")),
        ],
    }
    times: dict[str, dict[str, list[float]]] = {k: {n: [] for n, _ in v} for k, v in contenders.items()}
    for r in range(args.rounds):
        for group, items in contenders.items():
            for name, fn in items:
                fresh()
                times[group][name].append(timed(fn))
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)

    # (c) short commands over one connection
    control = work / "cm.sock"
    master = ["ssh", "-p", str(server.port), *ssh_opts, "-o", f"ControlPath={control}"]
    subprocess.run([*master, "-o", "ControlMaster=yes", "-o", "ControlPersist=yes", "-N", "-f", target], check=True)
    cmd_times: dict[str, list[float]] = {"SSHCommunicator.run (one connection)": [],
                                         "ssh with ControlMaster": []}
    n = args.commands
    try:
        for _ in range(max(3, args.rounds // 2 + 1)):
            def ours_cmds():
                with SSHCommunicator(cfg) as c:
                    for _ in range(n):
                        c.run("true")

            def openssh_cmds():
                for _ in range(n):
                    subprocess.run([*master, target, "true"], check=True)

            cmd_times["SSHCommunicator.run (one connection)"].append(timed(ours_cmds))
            cmd_times["ssh with ControlMaster"].append(timed(openssh_cmds))
    finally:
        subprocess.run([*master, "-O", "exit", target], capture_output=True)

    med = lambda xs: statistics.median(xs)  # noqa: E731
    lines = []
    size = args.size_mb
    rows = []

    def section(title: str, group: str, unit_bytes: float, peer_names: list[str]):
        ours = [n for n, _ in contenders[group] if n.startswith("SSHCommunicator")]
        best_peer = min(med(times[group][p]) for p in peer_names)
        rows.append(f"\n**{title}**\n")
        rows.append("| tool | median s | MB/s | vs fastest OpenSSH (throughput) |")
        rows.append("| --- | ---: | ---: | ---: |")
        for name, _ in contenders[group]:
            t = med(times[group][name])
            rows.append(f"| {name} | {t:.3f} | {unit_bytes / t / 1e6:.1f} | {best_peer / t:.2f}× |")
        return {n: best_peer / med(times[group][n]) for n in ours}

    r_up = section(f"Upload of one {size} MB file", "file_up", size * 1e6 * 1.048576, ["scp", "sftp put"])
    r_down = section(f"Download of one {size} MB file", "file_down", size * 1e6 * 1.048576, ["scp", "sftp get"])
    r_tree = section(f"Upload of a tree of {args.files} files ({tree_bytes / 1e6:.1f} MB)", "tree_up", tree_bytes,
                     ["scp -r", "sftp put -r"])
    rows.append(f"\n**{n} short commands (`true`) over one connection**\n")
    rows.append("| tool | median s | ms per command | vs ssh ControlMaster |")
    rows.append("| --- | ---: | ---: | ---: |")
    peer = med(cmd_times["ssh with ControlMaster"])
    for name, ts in cmd_times.items():
        rows.append(f"| {name} | {med(ts):.3f} | {med(ts) / n * 1000:.1f} | {peer / med(ts):.2f}× |")

    cmdline = "python bench/bench_ssh.py" + "".join(
        f" --{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "out")
    load = os.getloadavg()
    lines += [
        "## SSH communicator vs OpenSSH (`scp`, `sftp`, `ssh` ControlMaster)",
        "",
        f"Measured {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores "
        f"(load average at the end {load[0]:.1f}), against one OpenSSH sshd on 127.0.0.1 "
        f"({subprocess.run(['ssh', '-V'], capture_output=True, text=True).stderr.strip()}), "
        f"{args.rounds} interleaved rounds, medians. Target: ≥ 0.8× OpenSSH's throughput.",
        f"Reproduce: `{cmdline}`.",
        "Our side runs in-process and includes connecting and authenticating; OpenSSH's side is the "
        "processes a user runs, with default options (ratio > 1 means we are faster).",
        *rows,
        "",
        f"Summary: file upload {min(r_up.values()):.2f}×, file download {min(r_down.values()):.2f}×, "
        f"tree upload (tar stream) {r_tree['SSHCommunicator.upload (tar stream)']:.2f}× / "
        f"(per-file SFTP) {r_tree['SSHCommunicator.upload (per-file SFTP)']:.2f}×, "
        f"commands {peer / med(cmd_times['SSHCommunicator.run (one connection)']):.2f}× the fastest OpenSSH client.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
