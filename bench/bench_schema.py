"""Benchmark of the component schema behind `release validate`.

    python bench/bench_schema.py

Measures (medians):
1. in process: one `check_component` call per component type, on realistic bodies;
2. start-up: `import releasemgr.template.schema` in a fresh interpreter, against a bare
   interpreter (the peer), with hyperfine;
3. end to end: `release validate` against `packer validate` (Debian's 1.6.6, the peer) on
   the same template with an amazon-ebs source, provisioners and post-processors, with
   hyperfine. This includes the template loader (not part of the schema); the schema's
   share is reported from (1).

Prints a table and writes bench/results/schema.md.
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

from releasemgr.template.schema import Body, check_component  # noqa: E402

TEMPLATE = """\
source "amazon-ebs" "web" {
  region                      = "us-east-1"
  instance_type               = "t3.micro"
  ami_name                    = "web-1700000000"
  ssh_username                = "ubuntu"
  ssh_timeout                 = "10m"
  ami_regions                 = ["eu-west-1", "eu-central-1"]
  tags                        = { Name = "web", Team = "platform" }
  run_tags                    = { Build = "ci" }
  custom_endpoint_ec2         = "http://127.0.0.1:9"
  skip_credential_validation  = true
  skip_region_validation      = true
  skip_metadata_api_check     = true
  source_ami_filter {
    filters     = { name = "ubuntu/images/*", root-device-type = "ebs" }
    owners      = ["099720109477"]
    most_recent = true
  }
  launch_block_device_mappings {
    device_name           = "/dev/sda1"
    volume_size           = 20
    volume_type           = "gp2"
    delete_on_termination = true
  }
}

build {
  sources = ["source.amazon-ebs.web"]
  provisioner "shell" {
    inline           = ["sudo apt-get update", "sudo apt-get install -y nginx"]
    environment_vars = ["DEBIAN_FRONTEND=noninteractive"]
  }
  provisioner "file" {
    source      = "app.txt"
    destination = "/tmp/app.txt"
  }
  post-processor "manifest" {
    output     = "manifest.json"
    strip_path = true
  }
  post-processor "checksum" {
    checksum_types = ["sha256"]
  }
}
"""

BODIES = {
    ("source", "amazon-ebs"): Body(
        attrs={
            "region": "us-east-1",
            "instance_type": "t3.micro",
            "ami_name": "web-1700000000",
            "ssh_username": "ubuntu",
            "ssh_timeout": "10m",
            "ami_regions": ["eu-west-1", "eu-central-1"],
            "tags": {"Name": "web", "Team": "platform"},
            "run_tags": {"Build": "ci"},
            "custom_endpoint_ec2": "http://127.0.0.1:9",
            "skip_credential_validation": True,
        },
        blocks={
            "source_ami_filter": [Body(attrs={"filters": {"name": "ubuntu/images/*"}, "owners": ["099720109477"], "most_recent": True})],
            "launch_block_device_mappings": [Body(attrs={"device_name": "/dev/sda1", "volume_size": 20, "volume_type": "gp2"})],
        },
    ),
    ("source", "local"): Body(
        attrs={"base": "./app", "command": ["python3", "-m", "http.server"], "port_arg": True, "env": {"A": "b"}},
        blocks={"health_check": [Body(attrs={"type": "http", "path": "/", "timeout": "30s"})]},
    ),
    ("source", "null"): Body(attrs={"ssh_host": "127.0.0.1", "ssh_username": "root", "ssh_private_key_file": "id"}),
    ("provisioner", "shell"): Body(attrs={"inline": ["apt-get update", "apt-get install -y nginx"], "environment_vars": ["A=1"]}),
    ("provisioner", "file"): Body(attrs={"source": "app/", "destination": "/opt/app"}),
    ("post-processor", "manifest"): Body(attrs={"output": "manifest.json", "strip_path": True}),
    ("post-processor", "checksum"): Body(attrs={"checksum_types": ["sha256"]}),
}


def in_process(repeat: int = 2000) -> dict[str, float]:
    """Median microseconds of one check_component call per component."""
    out = {}
    for (kind, type_name), body in BODIES.items():
        samples = []
        for _ in range(7):
            t0 = time.perf_counter()
            for _ in range(repeat):
                check_component(kind, type_name, body, environ={})
            samples.append((time.perf_counter() - t0) / repeat * 1e6)
        out[f"{kind} {type_name}"] = statistics.median(samples)
    return out


def hyperfine(commands: dict[str, str], cwd: Path, runs: int = 30) -> dict[str, float]:
    """Median milliseconds of each command, measured by hyperfine in one run."""
    export = cwd / "hf.json"
    args = ["hyperfine", "--warmup", "3", "--runs", str(runs), "--export-json", str(export), "--style", "none", "-N"]
    args += ["--ignore-failure"]
    for name, cmd in commands.items():
        args += ["-n", name, cmd]
    # Byte-code cached, as for an installed package (the warm-up runs fill the cache), but
    # kept out of the work tree.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(cwd / "pycache")
    env["CHECKPOINT_DISABLE"] = "1"
    subprocess.run(args, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    data = json.loads(export.read_text())
    return {r["command"]: statistics.median(r["times"]) * 1000 for r in data["results"]}


def main() -> int:
    if not shutil.which("hyperfine"):
        print("hyperfine is not installed: apt-get install hyperfine", file=sys.stderr)
        return 1
    packer = shutil.which("packer")
    release = shutil.which("release")
    per_call = in_process()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "web.pkr.hcl").write_text(TEMPLATE)
        (work / "app.txt").write_text("hello\n")
        py = sys.executable
        startup = hyperfine(
            {
                "python (bare interpreter)": f"{py} -c pass",
                "python -c 'import releasemgr.template.diagnostics'": f"{py} -c 'import releasemgr.template.diagnostics'",
                "python -c 'import releasemgr.template.schema'": f"{py} -c 'import releasemgr.template.schema'",
            },
            work,
        )
        e2e = {}
        if packer and release:
            e2e = hyperfine({"release validate": f"{release} validate web.pkr.hcl", "packer validate (1.6.6)": f"{packer} validate web.pkr.hcl"}, work)

    template_components = [("source", "amazon-ebs"), ("provisioner", "shell"), ("provisioner", "file"), ("post-processor", "manifest"), ("post-processor", "checksum")]
    schema_share_us = sum(per_call[f"{k} {t}"] for k, t in template_components)
    bare, imported = startup["python (bare interpreter)"], startup["python -c 'import releasemgr.template.schema'"]

    lines = []
    lines.append("## Component schema (`release validate`'s option checks)")
    lines.append("")
    lines.append(f"Measured {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} on {os.cpu_count()} cores "
                 f"({platform.machine()}, Python {platform.python_version()}). Reproduce: `python bench/bench_schema.py`.")
    lines.append("")
    lines.append("In process, one `check_component` call (median of 7 x 2000 calls):")
    lines.append("")
    lines.append("| component | µs per call |")
    lines.append("| --- | ---: |")
    for name, us in per_call.items():
        lines.append(f"| {name} | {us:.1f} |")
    lines.append("")
    lines.append("Start-up (hyperfine, median of 30 runs, byte-code cached):")
    lines.append("")
    lines.append("| command | ms | ratio |")
    lines.append("| --- | ---: | ---: |")
    lines.append(f"| python (bare interpreter), the peer | {bare:.1f} | 1.00 |")
    base = startup["python -c 'import releasemgr.template.diagnostics'"]
    lines.append(f"| `import releasemgr.template.diagnostics` (dataclasses, enum: what every template command loads) | {base:.1f} | {base / bare:.2f} |")
    lines.append(f"| `import releasemgr.template.schema` | {imported:.1f} | {imported / bare:.2f} |")
    lines.append("")
    lines.append(f"The schema module adds {imported - bare:.1f} ms to a bare interpreter's start-up, "
                 f"{imported - base:.1f} ms on top of the diagnostics module every template command imports anyway.")
    if e2e:
        ours, peer = e2e["release validate"], e2e["packer validate (1.6.6)"]
        lines.append("")
        lines.append("End to end on one amazon-ebs template with two provisioners and two post-processors "
                     "(hyperfine, median of 30 runs; includes the template loader):")
        lines.append("")
        lines.append("| command | ms | ratio to packer |")
        lines.append("| --- | ---: | ---: |")
        lines.append(f"| `packer validate` 1.6.6, the peer | {peer:.1f} | 1.00 |")
        lines.append(f"| `release validate` | {ours:.1f} | {ours / peer:.2f} |")
        lines.append("")
        lines.append(f"Of `release validate`'s time, the schema checks of the five components take "
                     f"{schema_share_us:.0f} µs ({schema_share_us / 1000 / ours * 100:.2f} %).")
    else:
        lines.append("")
        lines.append("End to end: skipped (needs `packer` — apt-get install packer — and the `release` command).")
    text = "\n".join(lines) + "\n"
    print(text)
    out = ROOT / "bench" / "results" / "schema.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
