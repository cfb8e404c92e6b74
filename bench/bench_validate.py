#!/usr/bin/env python3
"""`release validate` against `packer validate` (Debian's packer 1.6.6) on the same files, in
the same run, with hyperfine (medians).

    python bench/bench_validate.py            # BENCH_RUNS=20 by default

1. one template (tests/templates/null_full.pkr.hcl: variables with a validation rule, locals,
   two sources, provisioners, a post-processor chain) — target ratio <= 1.5;
2. one template tree of 500 *.pkr.hcl files (500 sources, 500 builds, shared variables and
   locals), validated as one folder by each tool — target ratio <= 2.

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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("BENCH_RUNS", "20"))
TREE_SIZE = 500


def hyperfine(cmds: dict[str, str], cwd: Path, env: dict, runs: int) -> dict[str, float]:
    out = cwd / "hf.json"
    argv = ["hyperfine", "--warmup", "2", "--runs", str(runs), "--export-json", str(out), "--style", "none",
            "-N"]
    for name, cmd in cmds.items():
        argv += ["-n", name, cmd]
    subprocess.run(argv, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return {r["command"]: r["median"] for r in json.loads(out.read_text())["results"]}


def make_tree(dir_: Path) -> None:
    dir_.mkdir()
    (dir_ / "variables.pkr.hcl").write_text(
        'variable "greeting" {\n  type    = string\n  default = "hello"\n  validation {\n'
        '    condition     = length(var.greeting) > 2\n'
        '    error_message = "The greeting must be longer than two characters."\n  }\n}\n\n'
        'variable "regions" {\n  type    = list(string)\n  default = ["a", "b", "c"]\n}\n\n'
        'locals {\n  stamp = "build"\n  names = [for r in var.regions : "${var.greeting}-${r}"]\n}\n')
    for i in range(TREE_SIZE - 1):
        (dir_ / f"t{i:03d}.pkr.hcl").write_text(
            f'source "null" "n{i}" {{\n  communicator = "none"\n}}\n\n'
            f'build {{\n  name    = "b{i}"\n  sources = ["source.null.n{i}"]\n\n'
            f'  provisioner "shell-local" {{\n'
            f'    inline = ["echo ${{local.stamp}} {i}", "echo ${{join(",", local.names)}}"]\n  }}\n\n'
            f'  post-processor "manifest" {{\n    output = "manifest-{i}.json"\n  }}\n}}\n')


def main() -> int:
    release = shutil.which("release")
    if not shutil.which("hyperfine") or not shutil.which("packer") or not release:
        print("needs hyperfine, packer and the release console script: apt-get install hyperfine packer; "
              "pip install -e .", file=sys.stderr)
        return 2
    env = dict(os.environ, PACKER_CHECKPOINT_DISABLE="1", CHECKPOINT_DISABLE="1")
    work = Path(tempfile.mkdtemp(prefix="bench-validate-"))
    rows = []
    try:
        single = work / "single.pkr.hcl"
        shutil.copy(ROOT / "tests" / "templates" / "null_full.pkr.hcl", single)
        tree = work / "tree"
        make_tree(tree)
        for target in (single, tree):
            for tool in ("release", "packer"):
                proc = subprocess.run([tool, "validate", str(target)], env=env, capture_output=True, text=True)
                if proc.returncode != 0:
                    print(f"{tool} rejects {target}:\n{proc.stdout}{proc.stderr}", file=sys.stderr)
                    return 1
        cases = [
            ("one template (null_full.pkr.hcl)", single, RUNS, 1.5),
            (f"tree of {TREE_SIZE} templates (one folder)", tree, max(5, RUNS // 4), 2.0),
        ]
        for label, target, runs, goal in cases:
            res = hyperfine({"release": f"{release} validate {target}", "packer": f"packer validate {target}"},
                            work, env, runs)
            rows.append((label, res["release"], res["packer"], res["release"] / res["packer"], goal))
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
        f"(medians, {RUNS} runs for the single file, {max(5, RUNS // 4)} for the tree, after 2 warm-ups); "
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
        f"post-processor chain; the tree is {TREE_SIZE} files in one folder ({TREE_SIZE - 1} sources and builds "
        "plus shared variables and locals), validated as one configuration by both tools.",
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
