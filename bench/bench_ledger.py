"""Ledger benchmarks on a generated ledger of 1,000 images x 50 versions and 200,000 audit events.

    python bench/bench_ledger.py [--runs 15] [--regen] [--url sqlite:///...]

Measures, with the interpreter's start-up included (each is a fresh `release` process):
  - `release status` (every image in every environment),
  - `release promote` that changes something on every run (img0001 alternates v49/v50 in dev),
  - `packer version` as the start-up reference of a native CLI, measured in the same rounds;
and the throughput of `release audit verify`: in-process (`audit.verify` on an open session)
and as the whole command. The commands are run round-robin (one of each per round) so that a
busy machine slows all of them alike; the figure is the median. Prints a table and writes
bench/results/ledger.md (assembled into docs/benchmarks.md by the docs runner).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
RESULTS = HERE / "results" / "ledger.md"
sys.path.insert(0, str(HERE))

from gen_ledger import DEFAULT_URL, generate  # noqa: E402

TARGETS = {"status": 0.6, "promote": 0.7, "verify_eps": 200_000}
IMAGES, VERSIONS, EVENTS = 1000, 50, 200_000


def _ledger_ready(url: str) -> bool:
    from sqlalchemy import create_engine, text

    from releasemgr.ledger.db import normalise_url

    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).is_file():
        return False
    eng = create_engine(normalise_url(url))
    try:
        with eng.connect() as conn:
            images = conn.execute(text("SELECT COUNT(*) FROM image")).scalar()
            versions = conn.execute(text("SELECT COUNT(*) FROM version")).scalar()
            events = conn.execute(text("SELECT COUNT(*) FROM audit_event")).scalar()
        return images == IMAGES and versions == IMAGES * VERSIONS and events >= EVENTS
    except Exception:
        return False
    finally:
        eng.dispose()


def _release_cmd() -> list[str]:
    exe = shutil.which("release")
    return [exe] if exe else [sys.executable, "-m", "releasemgr"]


def _time(cmd: list[str], env: dict, cwd: Path) -> tuple[float, float]:
    """Wall time and CPU time (user + system, from the child's rusage) of one run."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    elapsed = time.perf_counter() - t0
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}): {err.strip()}")
    return elapsed, usage.ru_utime + usage.ru_stime


def run(url: str, runs: int, regen: bool) -> dict:
    WORK.mkdir(exist_ok=True)
    gen = None
    if regen or not _ledger_ready(url):
        print(f"generating the ledger ({IMAGES} images x {VERSIONS} versions, {EVENTS} events) ...", flush=True)
        gen = generate(url, IMAGES, VERSIONS, quiet=True)
        print(f"  done in {gen['seconds']} s", flush=True)
    env = {**os.environ, "RELEASE_LEDGER": url, "RELEASE_STATE": str(WORK / "state"), "RELEASE_ACTOR": "bench",
           "NO_COLOR": "1"}
    for k in ("RELEASE_CONFIG", "RELEASE_DEBUG_PAUSE_IN_TX"):
        env.pop(k, None)
    release = _release_cmd()
    packer = shutil.which("packer")
    load_before = os.getloadavg()

    # round-robin: one of each command per round, after one warm-up round (page cache, .pyc)
    times: dict[str, list[float]] = {"packer version": [], "release status": [], "release promote": []}
    cpu: dict[str, list[float]] = {k: [] for k in times}
    promote_flip = [f"img0001@v{VERSIONS - 1}", f"img0001@v{VERSIONS}"]
    for rnd in range(runs + 1):
        cmds = {"release status": [*release, "status"],
                "release promote": [*release, "promote", promote_flip[rnd % 2], "--to", "dev"]}
        if packer:
            cmds = {"packer version": [packer, "version"], **cmds}
        for name, cmd in cmds.items():
            t, c = _time(cmd, env, WORK)
            if rnd:
                times[name].append(t)
                cpu[name].append(c)

    # audit verify, in-process and as the command
    from releasemgr.ledger.db import Ledger
    from releasemgr.release import audit_report

    inproc, inproc_cpu, n_events = [], [], 0
    ledger = Ledger.open(url)
    try:
        for _ in range(3):
            t0, c0 = time.perf_counter(), time.process_time()
            res = audit_report.verify(ledger)
            inproc.append(time.perf_counter() - t0)
            inproc_cpu.append(time.process_time() - c0)
            assert res.ok, res
            n_events = res.events
    finally:
        ledger.close()
    cmd_runs = [_time([*release, "audit", "verify"], env, WORK) for _ in range(3)]
    cmd_times = [w for w, _ in cmd_runs]
    load_after = os.getloadavg()

    med = {k: statistics.median(v) for k, v in times.items() if v}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items() if v}
    doc = {
        "url": url, "runs": runs, "medians": med, "cpu": med_cpu, "all": times, "events": n_events,
        "verify_inproc_cpu_s": statistics.median(inproc_cpu),
        "verify_cmd_cpu_s": statistics.median([c for _, c in cmd_runs]),
        "verify_inproc_s": statistics.median(inproc), "verify_cmd_s": statistics.median(cmd_times),
        "cores": os.cpu_count(), "load": (load_before, load_after), "generated": gen,
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "python": sys.version.split()[0], "packer": bool(packer),
    }
    doc["verify_inproc_eps"] = n_events / doc["verify_inproc_s"]
    doc["verify_cmd_eps"] = n_events / doc["verify_cmd_s"]
    return doc


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def render(doc: dict) -> tuple[str, str]:
    med, cpu = doc["medians"], doc["cpu"]
    peer, peer_cpu = med.get("packer version"), cpu.get("packer version")
    def ratio(s, p):
        return f"{s / p:.1f}x" if p else "n/a"
    ev = doc["events"]
    rows = [
        ("`release status` (1,000 images x 3 envs)", f"{med['release status']:.3f} s",
         ratio(med["release status"], peer), f"{cpu['release status']:.3f} s", ratio(cpu["release status"], peer_cpu),
         f"<= {TARGETS['status']} s", _verdict(med["release status"] <= TARGETS["status"])),
        ("`release promote` (changes dev each run)", f"{med['release promote']:.3f} s",
         ratio(med["release promote"], peer), f"{cpu['release promote']:.3f} s",
         ratio(cpu["release promote"], peer_cpu), f"<= {TARGETS['promote']} s",
         _verdict(med["release promote"] <= TARGETS["promote"])),
        ("`packer version` (start-up reference)", f"{peer:.3f} s" if peer else "packer not installed", "1.0x",
         f"{peer_cpu:.3f} s" if peer_cpu else "-", "1.0x", "-", "-"),
        (f"`audit.verify` in-process ({ev:,} events)", f"{doc['verify_inproc_eps']:,.0f} events/s",
         f"{doc['verify_inproc_s']:.2f} s", f"{ev / doc['verify_inproc_cpu_s']:,.0f} events/s",
         f"{doc['verify_inproc_cpu_s']:.2f} s", f">= {TARGETS['verify_eps']:,} events/s",
         _verdict(doc["verify_inproc_eps"] >= TARGETS["verify_eps"])),
        ("`release audit verify` (whole command)", f"{doc['verify_cmd_eps']:,.0f} events/s",
         f"{doc['verify_cmd_s']:.2f} s", f"{ev / doc['verify_cmd_cpu_s']:,.0f} events/s",
         f"{doc['verify_cmd_cpu_s']:.2f} s", f">= {TARGETS['verify_eps']:,} events/s",
         _verdict(doc["verify_cmd_eps"] >= TARGETS["verify_eps"])),
    ]
    head = ("what", "wall median", "vs packer / time", "CPU median", "vs packer / CPU", "target", "wall")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    table = "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in [head] + rows)
    lb, la = doc["load"]
    md = [
        "## Ledger",
        "",
        f"Measured {doc['date']} on a machine with {doc['cores']} cores (Python {doc['python']}); "
        f"load average {lb[0]:.1f} before and {la[0]:.1f} after the run. The machine was shared with other "
        "jobs, so wall times are upper bounds; the CPU time of each process (user + system, from its "
        "rusage) and the ratio to `packer version` measured in the same rounds are the steadier figures.",
        f"Ledger: `{doc['url'].replace(str(HERE.parent) + '/', '')}`, {IMAGES:,} images x {VERSIONS} versions, "
        f"{ev:,} audit events. Each command is a fresh process (interpreter start-up included); "
        f"{doc['runs']} rounds after one warm-up round, one of each command per round; medians.",
        "",
        "| what | wall median | vs `packer version` (wall) / total | CPU median | vs `packer version` (CPU) / total "
        "| target | wall vs target |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *("| " + " | ".join(r) + " |" for r in rows),
        "",
        "Reproduce: `python bench/bench_ledger.py` (add `--regen` to rebuild the ledger with "
        "`python bench/gen_ledger.py`).",
        "",
    ]
    spread = {k: (min(v), max(v)) for k, v in doc["all"].items() if v}
    md.append("Wall spread (min - max): " + "; ".join(f"{k} {a:.3f} - {b:.3f} s" for k, (a, b) in spread.items())
              + ".")
    md.append("")
    return table, "\n".join(md)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--regen", action="store_true")
    ap.add_argument("--url", default=DEFAULT_URL)
    ap.add_argument("--no-write", action="store_true", help="print only; leave bench/results/ledger.md alone")
    args = ap.parse_args(argv)
    doc = run(args.url, args.runs, args.regen)
    table, md = render(doc)
    print(table)
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(md)
        print(f"\nwrote {RESULTS.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
