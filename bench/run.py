#!/usr/bin/env python3
"""Run the benchmarks and assemble docs/benchmarks.md from bench/results/*.md.

    python bench/run.py              # run every bench/bench_*.py, then assemble
    python bench/run.py ledger build # run only these, then assemble
    python bench/run.py --assemble   # only assemble the results already there

Each bench script measures against a peer in the same run and writes its section to
bench/results/<name>.md; a miss against a target is recorded, not hidden.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ORDER = ["ledger", "completion", "validate", "fmt", "functions", "schema", "build", "ssh", "deploy", "aws"]


def scripts() -> dict[str, Path]:
    return {p.stem.removeprefix("bench_"): p for p in sorted(HERE.glob("bench_*.py"))}


def assemble() -> Path:
    results = {p.stem: p for p in (HERE / "results").glob("*.md")}
    names = [n for n in ORDER if n in results] + sorted(set(results) - set(ORDER))
    parts = [
        "# Benchmarks\n",
        "Measured on this project's machines (2 cores). Every figure is measured beside a peer in the same run,",
        "and a miss against an issue's target is recorded as a miss. Reproduce everything with",
        "`python bench/run.py` (or one section: `python bench/run.py ledger`); each section names its own",
        "command. Sections are written by `bench/bench_<name>.py` into `bench/results/<name>.md`.\n",
    ]
    for n in names:
        parts.append(results[n].read_text().rstrip() + "\n")
    out = ROOT / "docs" / "benchmarks.md"
    out.write_text("\n".join(parts))
    return out


def main(argv: list[str]) -> int:
    available = scripts()
    if "--assemble" not in argv:
        wanted = [a for a in argv if not a.startswith("-")] or list(available)
        unknown = [w for w in wanted if w not in available]
        if unknown:
            print(f"unknown benchmark(s): {', '.join(unknown)}; have: {', '.join(available)}", file=sys.stderr)
            return 2
        for name in wanted:
            print(f"== {name}", flush=True)
            t0 = time.time()
            # measure as an installed tool runs: with byte-code caches (some shells set PYTHONDONTWRITEBYTECODE)
            env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
            r = subprocess.run([sys.executable, str(available[name])], cwd=ROOT, env=env)
            print(f"== {name}: exit {r.returncode} after {time.time() - t0:.0f}s", flush=True)
    print(f"wrote {assemble()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
