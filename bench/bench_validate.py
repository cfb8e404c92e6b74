#!/usr/bin/env python3
"""`release validate` against `packer validate` (Debian's packer 1.6.6) on the same files, in
the same run, with hyperfine (medians).

    python bench/bench_validate.py            # BENCH_RUNS=20 by default

1. one template (tests/templates/null_full.pkr.hcl: variables with a validation rule, locals,
   two sources, provisioners, a post-processor chain) — target ratio <= 1.5;
2. a tree of 500 templates (tree/t000/template.pkr.hcl ...; each a null source, a build with a
   provisioner and a post-processor, a variable with a validation rule and locals), every one
   validated by its own process, as CI does over a repository of templates — target ratio <= 2.
   Packer 1.6.6 starts a plugin process per component, so one pass takes minutes: the tree is
   timed in one pass per tool (BENCH_TREE=N for a smaller tree).

Prints a table and writes bench/results/validate.md.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("BENCH_RUNS", "20"))
TREE_SIZE = int(os.environ.get("BENCH_TREE", "500"))


def hyperfine(cmds: dict[str, str], cwd: Path, env: dict, runs: int, warmup: int) -> dict[str, float]:
    out = cwd / "hf.json"
    argv = ["hyperfine", "--warmup", str(warmup), "--runs", str(runs), "--export-json", str(out), "--style", "none",
            "-N"]
    for name, cmd in cmds.items():
        argv += ["-n", name, cmd]
    subprocess.run(argv, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return {r["command"]: r["median"] for r in json.loads(out.read_text())["results"]}


def make_tree(dir_: Path, size: int) -> list[Path]:
    dirs = []
    for i in range(size):
        d = dir_ / f"t{i:03d}"
        d.mkdir(parents=True)
        (d / "template.pkr.hcl").write_text(
            f'variable "greeting" {{\n  type    = string\n  default = "hello{i}"\n  validation {{\n'
            '    condition     = length(var.greeting) > 2\n'
            '    error_message = "The greeting must be longer than two characters."\n  }\n}\n\n'
            'locals {\n  names = [for r in ["a", "b"] : "${var.greeting}-${r}"]\n}\n\n'
            f'source "null" "n{i}" {{\n  communicator = "none"\n}}\n\n'
            f'build {{\n  name    = "b{i}"\n  sources = ["source.null.n{i}"]\n\n'
            f'  provisioner "shell-local" {{\n'
            f'    inline = ["echo ${{join(",", local.names)}}"]\n  }}\n\n'
            f'  post-processor "manifest" {{\n    output = "manifest-{i}.json"\n  }}\n}}\n')
        dirs.append(d / "template.pkr.hcl")
    return dirs


def time_tree(tools: list[str], files: list[Path], env: dict) -> list[float]:
    """Validate every file with each tool in turn (interleaved, so both see the same load)."""
    totals = [0.0] * len(tools)
    for f in files:
        for i, tool in enumerate(tools):
            start = time.perf_counter()
            proc = subprocess.run([tool, "validate", str(f)], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE)
            totals[i] += time.perf_counter() - start
            if proc.returncode != 0:
                raise SystemExit(f"{tool} rejects {f}: {proc.stderr.decode()}")
    return totals


def main() -> int:
    release = shutil.which("release")
    if not shutil.which("hyperfine") or not shutil.which("packer") or not release:
        print("needs hyperfine, packer and the release console script: apt-get install hyperfine packer; "
              "pip install -e .", file=sys.stderr)
        return 2
    env = dict(os.environ, PACKER_CHECKPOINT_DISABLE="1", CHECKPOINT_DISABLE="1")
    # An installed package has its bytecode compiled; PYTHONDONTWRITEBYTECODE (set on these machines)
    # would otherwise make every `release` process compile the sources again.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "releasemgr")], check=True,
                   stdout=subprocess.DEVNULL)
    work = Path(tempfile.mkdtemp(prefix="bench-validate-"))
    rows = []
    try:
        single = work / "single.pkr.hcl"
        shutil.copy(ROOT / "tests" / "templates" / "null_full.pkr.hcl", single)
        files = make_tree(work / "tree", TREE_SIZE)
        for target in (single, files[0]):
            for tool in ("release", "packer"):
                proc = subprocess.run([tool, "validate", str(target)], env=env, capture_output=True, text=True)
                if proc.returncode != 0:
                    print(f"{tool} rejects {target}:\n{proc.stdout}{proc.stderr}", file=sys.stderr)
                    return 1
        res = hyperfine({"release": f"{release} validate {single}", "packer": f"packer validate {single}"},
                        work, env, RUNS, 2)
        rows.append(("one template (null_full.pkr.hcl)", res["release"], res["packer"],
                     res["release"] / res["packer"], 1.5))
        r, p = time_tree([release, "packer"], files, env)
        rows.append((f"tree of {TREE_SIZE} templates, one process each", r, p, r / p, 2.0))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    header = f"{'case':42} {'release':>10} {'packer':>10} {'ratio':>7} {'goal':>6}"
    print(header)
    for label, r, p, ratio, goal in rows:
        print(f"{label:42} {r * 1000:8.0f}ms {p * 1000:8.0f}ms {ratio:7.2f} {'<=' + str(goal):>6}")

    lines = [
        "## validate: `release validate` vs `packer validate`",
        "",
        f"Measured {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores with hyperfine "
        f"(medians of {RUNS} runs after 2 warm-ups) for the single file; the tree is one timed pass per tool; "
        "the peer is Debian's packer 1.6.6 measured in the same run on the same files.",
        "",
        "| case | release | packer 1.6.6 | ratio | target |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for label, r, p, ratio, goal in rows:
        ok = "met" if ratio <= goal else "NOT met"
        lines.append(f"| {label} | {r * 1000:.0f} ms | {p * 1000:.0f} ms | {ratio:.2f} | <= {goal} ({ok}) |")
    lines += [
        "",
        "The single template has variables with a validation rule, locals, two sources, provisioners and a "
        f"post-processor chain; the tree is {TREE_SIZE} folders of one template each (a variable with a "
        "validation rule, locals, a null source, a build with a shell-local provisioner and a manifest "
        "post-processor), each validated by its own `release validate` / `packer validate` process. "
        f"The machine's load average at the end of the run was {os.getloadavg()[0]:.1f} "
        "(other work shares these cores; both tools ran under the same load, interleaved in time).",
        "",
        "Bytecode of the package is compiled first (`python -m compileall releasemgr`), as an installed "
        "package has it.",
        "",
        "Reproduce: `python bench/bench_validate.py` (`BENCH_RUNS=N` to change the number of runs).",
        "",
    ]
    out = ROOT / "bench" / "results" / "validate.md"
    out.write_text("\n".join(lines))
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
