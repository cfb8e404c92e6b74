#!/usr/bin/env python3
"""API calls and wall time on moto's server for deploying and retiring 200 instances with
the EC2 fleet, beside the naive one-call-per-instance approach in the same run.
Writes bench/results/aws.md."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
N = int(os.environ.get("BENCH_INSTANCES", "200"))
os.environ.setdefault("MOTO_AMIS_PATH", str(ROOT / "tests" / "data" / "amis.json"))


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    srv = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    srv.start()
    host, port = srv.get_host_and_port()
    os.environ.update({"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"})
    from releasemgr.providers.aws import client as C
    from releasemgr.providers.aws.fleet import EC2Fleet
    from releasemgr.providers.base import HealthCheck

    ami = C.ec2(None, "us-east-1").describe_images(Owners=["099720109477"])["Images"][0]["ImageId"]
    art = {"provider": "aws", "region": "us-east-1", "id": ami}

    # ours
    fleet = EC2Fleet({"region": "us-east-1"})
    calls: Counter = Counter()
    fleet.ec2.meta.events.register("before-call.ec2", lambda model, **kw: calls.update([model.name]))
    t0 = time.perf_counter()
    servers = []
    for b in range(0, N, 50):  # batches of 50, as a rolling deploy would
        servers += fleet.launch_many(art, server_ids=[f"web-prod-{i}" for i in range(b, min(N, b + 50))],
                                     image="web", version="v1", env="prod")
    t_launch = time.perf_counter() - t0
    check = HealthCheck(type="ec2")
    before = calls["DescribeInstanceStatus"]
    t0 = time.perf_counter()
    assert all(fleet.check_health(s, check, 5) for s in servers)
    t_round = time.perf_counter() - t0
    describe_per_round = calls["DescribeInstanceStatus"] - before
    t0 = time.perf_counter()
    res = fleet.terminate(servers)
    t_term = time.perf_counter() - t0
    assert len(res.stopped) == N
    ours = dict(calls)

    # naive
    ec2 = C.ec2(None, "us-east-1")
    naive: Counter = Counter()
    ec2.meta.events.register("before-call.ec2", lambda model, **kw: naive.update([model.name]))
    t0 = time.perf_counter()
    ids = [ec2.run_instances(ImageId=ami, InstanceType="t3.micro", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
           for _ in range(N)]
    n_launch = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in ids:
        ec2.describe_instance_status(InstanceIds=[i], IncludeAllInstances=True)
    n_round = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in ids:
        ec2.terminate_instances(InstanceIds=[i])
    n_term = time.perf_counter() - t0
    srv.stop()

    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        f"## AWS fleet on moto ({N} instances)",
        "",
        f"Measured {date} on {os.cpu_count()} cores against moto's server on loopback. Reproduce: "
        "`python bench/bench_aws.py` (BENCH_INSTANCES to change the count). API calls counted with botocore's "
        "`before-call` event. Targets: ≤ 10 describe calls per wait round whatever the fleet size, ≤ 1 terminate "
        "call per 1,000 instances.",
        "",
        "| | EC2Fleet | naive (one call per instance), the peer |",
        "| --- | ---: | ---: |",
        f"| RunInstances calls to launch {N} (batches of 50) | {ours.get('RunInstances', 0)} "
        f"| {naive['RunInstances']} |",
        f"| describe calls per health-check round | {describe_per_round} | {naive['DescribeInstanceStatus']} |",
        f"| TerminateInstances calls to retire {N} | {ours.get('TerminateInstances', 0)} "
        f"| {naive['TerminateInstances']} |",
        f"| wall time: launch | {t_launch:.2f} s | {n_launch:.2f} s |",
        f"| wall time: one health round | {t_round:.2f} s | {n_round:.2f} s |",
        f"| wall time: retire | {t_term:.2f} s | {n_term:.2f} s |",
        "",
        f"Describe calls per round: **{describe_per_round}** (target ≤ 10: "
        f"{'met' if describe_per_round <= 10 else 'MISSED'}); terminate calls: "
        f"**{ours.get('TerminateInstances', 0)}** for {N} instances (target ≤ 1 per 1,000: "
        f"{'met' if ours.get('TerminateInstances', 0) <= max(1, -(-N // 1000)) else 'MISSED'}). "
        "Launching also tags each instance with its server id (one CreateTags per instance: "
        f"{ours.get('CreateTags', 0)} calls).",
        "",
    ]
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "aws.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
