"""Shell completion: how long one TAB takes on a ledger of 1,000 images x 50 versions.

    python bench/bench_completion.py [--runs 30] [--url sqlite:///...] [--pg postgresql://... | --no-pg]

The shell runs `release` on every TAB with `_RELEASE_COMPLETE=bash_complete` and the line in
COMP_WORDS/COMP_CWORD (as click's bash script does, docs/completion.md); each completion here
is such a fresh process, interpreter start-up included:
  - image names: `release deploy img<TAB>` (all 1,000 images),
  - version names: `release show img0500@<TAB>` (latest, the 3 environments, and the newest 30
    of 50 versions as vN and as their semantic version),
  - environment names: `release deploy img0500 --env <TAB>`,
  - version names again on a PostgreSQL ledger of the same size (when the server answers:
    RELEASE_BENCH_PG, else postgresql://postgres@127.0.0.1:5432/release_bench, created and
    generated if missing),
beside `packer version` as the start-up reference of a native CLI and `python -c pass` (the
interpreter's own start, the floor of any Python CLI), measured in the same rounds. The ledger
is bench/gen_ledger.py's (the one bench/bench_ledger.py uses: 1,000 images x 50 versions,
200,000 audit events), generated if it is not there. The commands run round-robin (one of each
per round, after one warm-up round that also checks each completion's answer) so a busy machine
slows all of them alike; the figures are medians of wall time and of CPU time (user + system,
from the child's rusage). Prints a table and writes bench/results/completion.md (assembled into
docs/benchmarks.md by `python bench/run.py`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work"
RESULTS = HERE / "results" / "completion.md"
sys.path.insert(0, str(HERE))

from bench_ledger import EVENTS, IMAGES, VERSIONS, _ledger_ready  # noqa: E402
from gen_ledger import DEFAULT_URL, ENVS, generate, image_name  # noqa: E402

TARGET = 0.2  # seconds a TAB may take (the issue: "fast: under 0.2 s")
SHOWN = 30  # versions offered per image, each as vN and 1.N.0 (releasemgr.cli.complete.VERSIONS_SHOWN)
ONE = image_name(IMAGES // 2)
FLOOR = "python -c pass"
PG_DEFAULT = os.environ.get("RELEASE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/release_bench")


def _cases(url: str, pg: str | None) -> dict[str, tuple[str, str, list[str]]]:
    """name -> (the ledger, the line up to the cursor, the completions it must give)."""
    newest = [f"{ONE}@{v}" for n in range(VERSIONS, VERSIONS - SHOWN, -1) for v in (f"v{n}", f"1.{n}.0")]
    refs = (f"release show {ONE}@", [f"{ONE}@latest", *(f"{ONE}@{e}" for e in ENVS), *newest])
    cases = {
        "image names": (url, "release deploy img", [image_name(i) for i in range(1, IMAGES + 1)]),
        "version names": (url, *refs),
        "environment names": (url, f"release deploy {ONE} --env ", list(ENVS)),
    }
    if pg:
        cases["version names, PostgreSQL ledger"] = (pg, *refs)
    return cases


def _pg_database(url: str) -> str | None:
    """`url` once its database exists (created on the server if missing), or None with the
    reason printed when the server does not answer."""
    try:
        import psycopg
    except ImportError:
        print("psycopg is not installed: no PostgreSQL row", flush=True)
        return None
    server, _, name = url.rpartition("/")
    try:
        with psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=3) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # noqa: BLE001 - no server: the SQLite rows stand alone
        print(f"PostgreSQL does not answer at {server}: no PostgreSQL row ({exc})", flush=True)
        return None
    return url


def _ensure(url: str) -> dict | None:
    if _ledger_ready(url):
        return None
    print(f"generating {url} ({IMAGES} images x {VERSIONS} versions, {EVENTS} events) ...", flush=True)
    gen = generate(url, IMAGES, VERSIONS, quiet=True)
    print(f"  done in {gen['seconds']} s", flush=True)
    return gen


def _release_cmd() -> list[str]:
    """The console script installed beside this interpreter (what a shell runs; not a pyenv
    shim, which adds a bash script and its forks to every run), else `python -m releasemgr`."""
    script = Path(sys.executable).parent / "release"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "releasemgr"]


def _time(cmd: list[str], env: dict) -> tuple[float, float, str]:
    """Wall time, CPU time (user + system: the growth of this process's RUSAGE_CHILDREN, which
    the one child reaped adds to) and stdout of one run, read whole as the shell reads it."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, cwd=WORK, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate()
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0 or err:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}): {err.decode(errors='replace').strip()}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), out.decode()


def run(url: str, runs: int, pg: str | None) -> dict:
    WORK.mkdir(exist_ok=True)
    pg = pg and _pg_database(pg)
    gen = [g for g in (_ensure(url), pg and _ensure(pg)) if g]
    # as an installed tool runs: this checkout, byte-code caches written and used
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONDONTWRITEBYTECODE", "RELEASE_CONFIG", "RELEASE_DEBUG_PAUSE_IN_TX")}
    env.update({"PYTHONPATH": str(ROOT), "RELEASE_STATE": str(WORK / "state"),
                "NO_COLOR": "1", "_RELEASE_COMPLETE": "bash_complete"})
    release = _release_cmd()
    packer = shutil.which("packer")
    cases = _cases(url, pg)
    load_before = os.getloadavg()

    names = (["packer version"] if packer else []) + [FLOOR, *cases]
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    for rnd in range(runs + 1):
        for name in names:
            if name == "packer version":
                w, c, _ = _time([packer, "version"], {k: v for k, v in env.items() if not k.startswith("_RELEASE")})
            elif name == FLOOR:
                w, c, _ = _time([sys.executable, "-c", "pass"], env)
            else:
                ledger, line, expected = cases[name]
                w, c, out = _time(release, {**env, "RELEASE_LEDGER": ledger, "COMP_WORDS": line,
                                            "COMP_CWORD": str(line.count(" "))})
                got = [x.split(",", 1)[1] for x in out.splitlines() if x]
                if got != expected:
                    raise SystemExit(f"{line!r} completed {len(got)} names, not the {len(expected)} expected: "
                                     f"{got[:5]} ...")
            if rnd:  # round 0 warms the page cache and writes the .pyc files
                wall[name].append(w)
                cpu[name].append(c)
    load_after = os.getloadavg()
    return {
        "url": url, "pg": pg, "runs": runs, "cases": cases, "release": release,
        "wall": {k: statistics.median(v) for k, v in wall.items()},
        "cpu": {k: statistics.median(v) for k, v in cpu.items()},
        "spread": {k: (min(v), max(v)) for k, v in wall.items()},
        "cores": os.cpu_count(), "load": (load_before, load_after), "generated": gen,
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "python": sys.version.split()[0], "packer": bool(packer),
    }


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def render(doc: dict) -> tuple[str, str]:
    med, cpu = doc["wall"], doc["cpu"]
    peer, peer_cpu = med.get("packer version"), cpu.get("packer version")

    def ratio(s, p):
        return f"{s / p:.1f}x" if p else "n/a"

    rows = []
    for name, (_, line, expected) in doc["cases"].items():
        rows.append((f"{name}: `{line}<TAB>` ({len(expected):,})", f"{med[name]:.3f} s", ratio(med[name], peer),
                     f"{cpu[name]:.3f} s", ratio(cpu[name], peer_cpu), f"<= {TARGET} s",
                     _verdict(med[name] <= TARGET), _verdict(cpu[name] <= TARGET)))
    rows.append(("`packer version` (start-up reference)", f"{peer:.3f} s" if peer else "packer not installed",
                 "1.0x", f"{peer_cpu:.3f} s" if peer_cpu else "-", "1.0x", "-", "-", "-"))
    rows.append(("`python -c pass` (the interpreter's start: the floor)", f"{med[FLOOR]:.3f} s",
                 ratio(med[FLOOR], peer), f"{cpu[FLOOR]:.3f} s", ratio(cpu[FLOOR], peer_cpu), "-", "-", "-"))
    head = ("what", "wall median", "vs packer / wall", "CPU median", "vs packer / CPU", "target", "wall", "CPU")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    table = "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in [head] + rows)
    lb, la = doc["load"]
    cmd = " ".join(Path(doc["release"][0]).name if i == 0 else a for i, a in enumerate(doc["release"]))
    md = [
        "## Shell completion",
        "",
        f"Measured {doc['date']} on a machine with {doc['cores']} cores (Python {doc['python']}); "
        f"load average {lb[0]:.1f} before and {la[0]:.1f} after the run. The machine was shared with other "
        "jobs, so wall times are upper bounds; the CPU time of each process (user + system, from its "
        "rusage) and the ratio to `packer version` measured in the same rounds are the steadier figures.",
        f"Ledger: `{doc['url'].replace(str(ROOT) + '/', '')}` (bench/gen_ledger.py's, as for the ledger "
        f"section), {IMAGES:,} images x {VERSIONS} versions in {len(ENVS)} environments"
        + (f"; the PostgreSQL row reads the same ledger generated into `{doc['pg']}` on the local server. "
           if doc["pg"] else "; PostgreSQL did not answer, so there is no PostgreSQL row. ")
        + "Each TAB is a fresh "
        f"`{cmd}` process with `_RELEASE_COMPLETE=bash_complete`, COMP_WORDS and COMP_CWORD, as bash runs it "
        f"(interpreter start-up included), and its answer is checked; {doc['runs']} rounds after one warm-up "
        "round, one of each command per round; medians.",
        "",
        "| what (completions) | wall median | vs `packer version` (wall) | CPU median | vs `packer version` (CPU) "
        "| target | wall vs target | CPU vs target |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        *("| " + " | ".join(r) + " |" for r in rows),
        "",
        "Reproduce: `python bench/run.py completion` (or `python bench/bench_completion.py`; the ledger is "
        "made by `python bench/gen_ledger.py` when missing; `--no-pg` leaves PostgreSQL out). What keeps a "
        "TAB fast on a SQLite ledger -- the process reads it with the standard library's sqlite3 and imports "
        "no SQLAlchemy, sqlmodel, pydantic, alembic, psycopg, boto3, paramiko or rich -- is checked by "
        "tests/test_completion.py; its time is measured only here. On a PostgreSQL ledger completion reads "
        "the ledger through psycopg directly (no SQLAlchemy, checked by the same test file); importing psycopg "
        "(~0.12 s with the asyncio, ssl and importlib.metadata it loads) and connecting are most of the "
        "difference to the SQLite rows.",
        "",
        "Wall spread (min - max): " + "; ".join(f"{k} {a:.3f} - {b:.3f} s" for k, (a, b) in doc["spread"].items())
        + ".",
        "",
    ]
    return table, "\n".join(md)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--url", default=DEFAULT_URL)
    ap.add_argument("--pg", default=PG_DEFAULT, help="the PostgreSQL ledger of the PostgreSQL row")
    ap.add_argument("--no-pg", action="store_true", help="no PostgreSQL row")
    ap.add_argument("--no-write", action="store_true", help="print only; leave bench/results/completion.md alone")
    args = ap.parse_args(argv)
    doc = run(args.url, args.runs, None if args.no_pg else args.pg)
    table, md = render(doc)
    print(table)
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(md)
        print(f"\nwrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
