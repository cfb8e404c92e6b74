"""Benchmark of the component schema behind `release validate`.

    python bench/bench_schema.py

Measures (medians):
1. in process: one `check_component` call per component type, on realistic bodies;
2. start-up: `import releasemgr.template.schema` in a fresh interpreter, against a bare
   interpreter (the peer);
3. end to end: `release validate` against `packer validate` (Debian's 1.6.6, the peer) on
   the same template with an amazon-ebs source, provisioners and post-processors. This
   includes the template loader (not part of the schema); the schema's share is
   reported from (1).

Processes are timed with subprocess in interleaved rounds (medians of wall and CPU time)
rather than hyperfine's one-command-after-the-other, because the machine is shared.

Prints a table and writes bench/results/schema.md.
"""

from __future__ import annotations

import os
import platform
import random
import resource
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
            "source_ami_filter": [Body(attrs={"filters": {"name": "ubuntu/images/*"}, "owners": ["099720109477"],
                                              "most_recent": True})],
            "launch_block_device_mappings": [Body(attrs={"device_name": "/dev/sda1", "volume_size": 20,
                                                         "volume_type": "gp2"})],
        },
    ),
    ("source", "local"): Body(
        attrs={"base": "./app", "command": ["python3", "-m", "http.server"], "port_arg": True, "env": {"A": "b"}},
        blocks={"health_check": [Body(attrs={"type": "http", "path": "/", "timeout": "30s"})]},
    ),
    ("source", "null"): Body(attrs={"ssh_host": "127.0.0.1", "ssh_username": "root", "ssh_private_key_file": "id"}),
    ("provisioner", "shell"): Body(attrs={"inline": ["apt-get update", "apt-get install -y nginx"],
                                          "environment_vars": ["A=1"]}),
    ("provisioner", "file"): Body(attrs={"source": "app/", "destination": "/opt/app"}),
    ("post-processor", "manifest"): Body(attrs={"output": "manifest.json", "strip_path": True}),
    ("post-processor", "checksum"): Body(attrs={"checksum_types": ["sha256"]}),
}


def in_process(repeat: int = 2000) -> dict[str, float]:
    """Median CPU microseconds of one check_component call per component."""
    out = {}
    for (kind, type_name), body in BODIES.items():
        samples = []
        for _ in range(7):
            t0 = time.process_time()  # CPU time: steadier than wall time on a shared machine
            for _ in range(repeat):
                check_component(kind, type_name, body, environ={})
            samples.append((time.process_time() - t0) / repeat * 1e6)
        out[f"{kind} {type_name}"] = statistics.median(samples)
    return out


IMPORT_PROBE = (
    "import time, releasemgr.template.diagnostics\n"
    "t = time.process_time(); import releasemgr.template.schema; "
    "print((time.process_time() - t) * 1000)"
)


def import_cpu_ms(cwd: Path, runs: int = 21) -> float:
    """Median CPU ms of `import releasemgr.template.schema` alone, measured inside fresh
    interpreters that already loaded the diagnostics module (byte-code cached)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(cwd / "pycache")
    samples = []
    for i in range(runs + 2):
        out = subprocess.run([sys.executable, "-c", IMPORT_PROBE], cwd=cwd, env=env, capture_output=True, text=True,
                             check=True)
        if i >= 2:
            samples.append(float(out.stdout.strip()))
    return statistics.median(samples)


def measure(commands: dict[str, list[str]], cwd: Path, rounds: int = 30,
            warmup: int = 3) -> dict[str, tuple[float, float]]:
    """Median (wall ms, CPU ms) of each command.

    Rounds are interleaved (every command once per round, in a shuffled order), so a load
    change on a shared machine hits all commands alike; CPU time (user + system of the
    child) is reported beside wall time because it is far less sensitive to that load.
    """
    # Byte-code cached, as for an installed package (the warm-up rounds fill the cache),
    # but kept out of the work tree.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(cwd / "pycache")
    env["CHECKPOINT_DISABLE"] = "1"
    wall: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    rng = random.Random(7)
    for round_ in range(warmup + rounds):
        order = list(commands)
        rng.shuffle(order)
        for name in order:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run(commands[name], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            elapsed = time.perf_counter() - t0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if round_ >= warmup:
                wall[name].append(elapsed * 1000)
                cpu[name].append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
    return {name: (statistics.median(wall[name]), statistics.median(cpu[name])) for name in commands}


def main() -> int:
    packer = shutil.which("packer")
    release = shutil.which("release")
    load = os.getloadavg()
    per_call = in_process()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "web.pkr.hcl").write_text(TEMPLATE)
        (work / "app.txt").write_text("hello\n")
        commands = {
            "bare": [py, "-c", "pass"],
            "diagnostics": [py, "-c", "import releasemgr.template.diagnostics"],
            "schema": [py, "-c", "import releasemgr.template.schema"],
        }
        if packer and release:
            commands["release"] = [release, "validate", "web.pkr.hcl"]
            commands["packer"] = [packer, "validate", "web.pkr.hcl"]
        results = measure(commands, work)
        own_import = import_cpu_ms(work)

    template_components = [("source", "amazon-ebs"), ("provisioner", "shell"), ("provisioner", "file"),
                           ("post-processor", "manifest"), ("post-processor", "checksum")]
    schema_share_us = sum(per_call[f"{k} {t}"] for k, t in template_components)

    def row(label, name, peer):
        wall, cpu = results[name]
        pwall, pcpu = results[peer]
        return f"| {label} | {wall:.1f} | {cpu:.1f} | {wall / pwall:.2f} | {cpu / pcpu:.2f} |"

    lines = [
        "## Component schema (`release validate`'s option checks)",
        "",
        f"Measured {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} on {os.cpu_count()} cores "
        f"({platform.machine()}, Python {platform.python_version()}). Reproduce: `python bench/bench_schema.py`.",
        "Processes: median of 30 interleaved rounds after 3 warm-up rounds, byte-code cached; wall and CPU "
        "(user + system) milliseconds. The machine is shared, so CPU time is the steadier figure "
        f"(1-minute load average {load[0]:.1f} before, {os.getloadavg()[0]:.1f} after the run).",
        "",
        "In process, one `check_component` call (CPU time, median of 7 x 2000 calls):",
        "",
        "| component | µs per call |",
        "| --- | ---: |",
    ]
    lines += [f"| {name} | {us:.1f} |" for name, us in per_call.items()]
    lines += [
        "",
        "Start-up cost of the module:",
        "",
        "| command | wall ms | CPU ms | wall ratio | CPU ratio |",
        "| --- | ---: | ---: | ---: | ---: |",
        row("`python -c pass` (the peer)", "bare", "bare"),
        row("`import releasemgr.template.diagnostics` (what every template command loads)", "diagnostics", "bare"),
        row("`import releasemgr.template.schema`", "schema", "bare"),
        "",
        f"The schema module costs {results['schema'][1] - results['diagnostics'][1]:.1f} ms of CPU on top of the "
        f"diagnostics module ({results['schema'][0] - results['diagnostics'][0]:.1f} ms wall) by difference of the "
        f"medians above; timed inside the interpreter (process time around the import alone, median of 21 fresh "
        f"interpreters) it is {own_import:.1f} ms.",
    ]
    if "packer" in results:
        lines += [
            "",
            "End to end on one amazon-ebs template with two provisioners and two post-processors "
            "(includes the template loader, which is not part of the schema):",
            "",
            "| command | wall ms | CPU ms | wall ratio | CPU ratio |",
            "| --- | ---: | ---: | ---: | ---: |",
            row("`packer validate` 1.6.6 (the peer)", "packer", "packer"),
            row("`release validate`", "release", "packer"),
            "",
            f"The schema checks of the template's five components take {schema_share_us:.0f} µs in process, "
            f"{schema_share_us / 1000 / results['release'][0] * 100:.2f} % of `release validate`'s wall time.",
        ]
    else:
        lines += ["", "End to end: skipped (needs `packer` -- apt-get install packer -- and the `release` command)."]
    text = "\n".join(lines) + "\n"
    print(text)
    out = ROOT / "bench" / "results" / "schema.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
