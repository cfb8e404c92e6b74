"""Benchmark of the template function library (releasemgr.template.functions).

    python bench/bench_functions.py

Measures (medians):
1. in process: microseconds per `call_function` call for representative functions;
2. start-up: `import releasemgr.template.functions` in a fresh interpreter against a bare
   interpreter (the peer), with hyperfine;
3. end to end against Packer 1.6.6 (the peer): the ~190 calls of the differential test
   (tests/test_functions_packer.py) evaluated by a fresh `python` process (import +
   calls) and by `packer validate` on a template whose `locals` hold the same calls
   (parse + evaluation; Packer has no way to evaluate without a template), with hyperfine.

Prints a table and writes bench/results/functions.md.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from releasemgr.template.functions import FunctionContext, call_function  # noqa: E402

CALLS = [
    ("upper", ["hello world"]),
    ("title", ["hello wORLD-foo_bar"]),
    ("replace", ["a-b-c", "-", "+"]),
    ("regex_replace", ["hello world", r"(\w+) (\w+)", "$2 $1"]),
    ("split", [",", "a,b,c,d"]),
    ("join", ["-", ["a", "b", "c"]]),
    ("format", ["%s-%03d-%.2f", "web", 7, 3.14159]),
    ("formatdate", ["YYYY-MM-DD'T'hh:mm:ssZ", "2026-01-02T03:04:05Z"]),
    ("timestamp", []),
    ("jsonencode", [{"b": [1, 2.5, "<&>", None, True], "a": "x"}]),
    ("jsondecode", ['{"a": [1, 2.5, null, true, "x"]}']),
    ("merge", [{"a": 1, "b": 2}, {"b": 3, "c": 4}]),
    ("lookup", [{"a": "x"}, "b", "d"]),
    ("toset", [["b", "a", "b", "c"]]),
    ("sha256", ["hello"]),
    ("fileset", [".", "data/**/*.txt"]),
]


def _tree() -> Path:
    from test_functions_packer import _make_tree  # noqa: PLC0415

    root = Path(tempfile.mkdtemp(prefix="bench-functions-"))
    _make_tree(root)
    return root


def in_process(root: Path, repeat: int = 2000) -> dict[str, float]:
    ctx = FunctionContext(base_dir=str(root))
    out = {}
    for name, args in CALLS:
        n = repeat if name != "fileset" else repeat // 20
        samples = []
        for _ in range(7):
            t0 = time.perf_counter()
            for _ in range(n):
                call_function(name, args, ctx)
            samples.append((time.perf_counter() - t0) / n * 1e6)
        out[name] = statistics.median(samples)
    return out


def all_cases_in_process(root: Path) -> tuple[float, int]:
    """Median milliseconds to evaluate every differential-test call once, in process."""
    from test_functions_packer import CASES  # noqa: PLC0415

    ctx = FunctionContext(base_dir=str(root))
    samples = []
    for _ in range(15):
        t0 = time.perf_counter()
        for _, name, args in CASES:
            call_function(name, args, ctx)
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples), len(CASES)


def hyperfine(commands: list[str], cwd: Path, runs: int = 20) -> list[float]:
    """Median milliseconds per command."""
    exe = shutil.which("hyperfine")
    if exe is None:
        raise SystemExit("hyperfine is not installed: apt-get install hyperfine")
    export = cwd / "hyperfine.json"
    subprocess.run([exe, "--warmup", "3", "--runs", str(runs), "--export-json", str(export),
                    "--style", "none", *commands], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL)
    results = json.loads(export.read_text())["results"]
    return [r["median"] * 1000 for r in results]


EVAL_SCRIPT = """\
import json, sys
sys.path.insert(0, {root!r})
from releasemgr.template.functions import FunctionContext, call_function
ctx = FunctionContext(base_dir={tree!r})
with open("cases.json") as fh:
    for name, args in json.load(fh):
        call_function(name, args, ctx)
"""


def end_to_end(root: Path) -> tuple[float, float, int]:
    from test_functions_packer import CASES, _template  # noqa: PLC0415

    exprs = {f"c{i}": expr for i, (expr, _, _) in enumerate(CASES)}
    (root / "t.pkr.hcl").write_text(_template(exprs, root / "out.json"))
    (root / "cases.json").write_text(json.dumps([[name, args] for _, name, args in CASES]))
    (root / "eval.py").write_text(EVAL_SCRIPT.format(root=str(ROOT), tree=str(root)))
    check = subprocess.run(["packer", "validate", "t.pkr.hcl"], cwd=root, capture_output=True,
                           text=True)
    if check.returncode != 0:
        raise SystemExit("packer validate failed:\n" + check.stdout + check.stderr)
    packer_ms, ours_ms = hyperfine(["packer validate t.pkr.hcl", f"{sys.executable} eval.py"], root)
    return packer_ms, ours_ms, len(CASES)


def main() -> None:
    if shutil.which("packer") is None:
        raise SystemExit("packer is not installed (the peer): apt-get install packer")
    load_before = os.getloadavg()[0]
    root = _tree()
    per_call = in_process(root)
    all_ms, ncalls = all_cases_in_process(root)
    bare_ms, import_ms = hyperfine(
        [f"{sys.executable} -c pass",
         f"{sys.executable} -c 'import releasemgr.template.functions'"], root)
    packer_ms, ours_ms, ncases = end_to_end(root)

    load_after = os.getloadavg()[0]
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cores = os.cpu_count()
    lines = [
        "## Template functions (`releasemgr.template.functions`)",
        "",
        f"Measured {now} on {cores} cores ({platform.machine()}, Python "
        f"{platform.python_version()}), 1-minute load average {load_before:.1f} at the start "
        f"and {load_after:.1f} at the end (other work shared the machine; ratios are measured "
        "in the same run). Reproduce: `python bench/bench_functions.py`.",
        "",
        "In process, one `call_function` call (median of 7 x 2000 calls; fileset: 7 x 100 "
        "on a 7-file tree):",
        "",
        "| call | µs per call |",
        "| --- | ---: |",
        *[f"| `{name}` | {us:.1f} |" for name, us in per_call.items()],
        "",
        f"All {ncalls} calls of the differential test, once each, in process: {all_ms:.2f} ms "
        "(median of 15).",
        "",
        "Start-up (hyperfine, median of 20 runs):",
        "",
        "| command | ms | ratio |",
        "| --- | ---: | ---: |",
        f"| python (bare interpreter), the peer | {bare_ms:.1f} | 1.00 |",
        f"| `import releasemgr.template.functions` | {import_ms:.1f} | {import_ms / bare_ms:.2f} |",
        "",
        f"End to end: the {ncases} calls of the differential test, each evaluated once "
        "(hyperfine, median of 20 runs; Packer also parses its template):",
        "",
        "| command | ms | ratio to packer |",
        "| --- | ---: | ---: |",
        f"| `packer validate` 1.6.6 (locals holding the calls), the peer | {packer_ms:.1f} | 1.00 |",
        f"| `python eval.py` (import + {ncases} `call_function` calls) | {ours_ms:.1f} | "
        f"{ours_ms / packer_ms:.2f} |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    out = ROOT / "bench" / "results" / "functions.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
