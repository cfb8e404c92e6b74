"""`release deploy` with the aws provider: EC2 instances in moto's server, rolled like local ones."""

from __future__ import annotations

from aws_fixture import aws  # noqa: F401
from conftest import Cli

TOML = """
[[environments]]
name = "prod"

[aws]
region = "us-east-1"
instance_type = "t3.micro"

[deploy.prod]
provider = "aws"
count = 3
strategy = "rolling"
batch_size = 3
health_check = { type = "ec2", timeout = "20s", interval = "0.2s" }
"""


def test_rolling_deploy_of_ec2_instances_and_drift(aws, tmp_path):  # noqa: F811
    (tmp_path / "release.toml").write_text(TOML)
    state = tmp_path / "state"
    cli = Cli(tmp_path, {"RELEASE_STATE": str(state), "RELEASE_LEDGER": f"sqlite:///{state / 'ledger.db'}",
                         "RELEASE_ACTOR": "alice", "NO_COLOR": "1", **aws.env()})
    amis = [i["ImageId"] for i in aws.ec2().describe_images(Owners=["099720109477"])["Images"]][:2]
    for ami in amis:
        cli.ok("register", "web", "--artifact", f"aws:us-east-1:{ami}")
    d = cli.json("promote", "web@v1", "--to", "prod", "--deploy")["deployment"]
    assert d["status"] == "succeeded" and len(d["launched"]) == 3
    servers = cli.json("servers", "web", "--env", "prod")["servers"]
    assert {s["provider"] for s in servers} == {"aws"} and {s["state"] for s in servers} == {"healthy"}
    v1_instances = set(aws.running_instances())
    assert len(v1_instances) == 3

    d = cli.json("promote", "web@v2", "--to", "prod", "--deploy")["deployment"]
    assert len(d["launched"]) == 3 and len(d["retired"]) == 3
    running = set(aws.running_instances())
    assert len(running) == 3 and not running & v1_instances  # replaced, not changed
    images = {i["ImageId"] for r in aws.ec2().describe_instances(InstanceIds=sorted(running))["Reservations"]
              for i in r["Instances"]}
    assert images == {amis[1]}
    assert cli("status", "--check").code == 0

    # an instance terminated behind our back is drift; deploy heals it
    victim = sorted(running)[0]
    aws.ec2().terminate_instances(InstanceIds=[victim])
    r = cli("status", "--check", "--json")
    assert r.code == 1
    d = cli.json("deploy", "web", "--env", "prod")
    assert len(d["healed"]) == 1 and len(d["launched"]) == 1
    assert len(set(aws.running_instances())) == 3
    assert cli("status", "--check").code == 0
