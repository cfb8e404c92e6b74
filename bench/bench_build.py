#!/usr/bin/env python3
"""`release build` of the local example against `packer build` of an equivalent
`null` + `shell-local` template doing the same work (copy the app, write a file, tar it),
in the same run. Writes bench/results/build.md."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = int(os.environ.get("BENCH_RUNS", "10"))


def hyperfine(cmds: dict[str, str], cwd: Path, env: dict) -> dict[str, float]:
    out = cwd / "hf.json"
    argv = ["hyperfine", "--warmup", "1", "--runs", str(RUNS), "--export-json", str(out), "--style", "none"]
    for name, cmd in cmds.items():
        argv += ["-n", name, cmd]
    subprocess.run(argv, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return {r["command"]: r["median"] for r in json.loads(out.read_text())["results"]}


def main() -> int:
    if not shutil.which("hyperfine") or not shutil.which("packer"):
        print("needs hyperfine and packer: apt-get install hyperfine packer", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="bench-build-"))
    try:
        shutil.copytree(ROOT / "templates" / "app", work / "app")
        (work / "local.pkr.hcl").write_text((ROOT / "templates" / "local.pkr.hcl").read_text())
        (work / "null.pkr.hcl").write_text("""
variable "greeting" {
  type    = string
  default = "hello"
}

source "null" "web" {
  communicator = "none"
}

build {
  name    = "web"
  sources = ["source.null.web"]

  provisioner "shell-local" {
    inline = [
      "rm -rf root && cp -r app root",
      "echo '${var.greeting}' > root/greeting.txt",
      "echo '' > root/VERSION.txt",
      "tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf image.tar -C root .",
    ]
  }

  post-processor "manifest" {
    output     = "packer-manifest.json"
    strip_path = true
  }
}
""")
        base_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env = {**base_env, "RELEASE_STATE": str(work / "state"), "RELEASE_ACTOR": "bench", "NO_COLOR": "1",
               "CHECKPOINT_DISABLE": "1", "PACKER_NO_COLOR": "1"}
        release = f"{sys.executable} -m releasemgr"
        times = hyperfine({
            "packer build (null + shell-local), the peer": "packer build -color=false null.pkr.hcl",
            "release build --force (local builder)": f"{release} build --force local.pkr.hcl",
        }, work, env)
        peer = times["packer build (null + shell-local), the peer"]
        ours = times["release build --force (local builder)"]
        ratio = ours / peer
        date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        lines = [
            "## Builds (`release build` vs `packer build`)",
            "",
            f"Measured {date} on {os.cpu_count()} cores, hyperfine median of {RUNS} runs. "
            "Reproduce: `python bench/bench_build.py` (BENCH_RUNS to change the count).",
            "",
            "Same work on both sides: copy `templates/app`, write two files from variables, make a "
            "reproducible tarball, write a manifest. `release build` also loads and validates the template, "
            "writes the build row, the version, the audit events and the build log in the ledger.",
            "",
            "| command | median s | ratio |",
            "| --- | ---: | ---: |",
            f"| `packer build` 1.6.6, null + shell-local, the peer | {peer:.3f} | 1.00 |",
            f"| `release build --force templates/local.pkr.hcl` | {ours:.3f} | {ratio:.2f} |",
            "",
            f"Overhead ratio: **{ratio:.2f}×** packer's wall time for the same work.",
            "",
        ]
        (ROOT / "bench" / "results").mkdir(exist_ok=True)
        (ROOT / "bench" / "results" / "build.md").write_text("\n".join(lines))
        print("\n".join(lines))
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
