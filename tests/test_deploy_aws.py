"""`release deploy` with the aws provider: EC2 instances in moto's server, rolled like local ones."""

from __future__ import annotations

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


FLEET_TOML = """
[[environments]]
name = "prod"

[aws]
region = "us-east-1"

[deploy.prod]
provider = "aws"
count = 50
strategy = "rolling"
batch_size = 10
health_check = { type = "ec2", timeout = "60s", interval = "0.2s" }
"""


def _cli(aws, tmp_path, toml):
    (tmp_path / "release.toml").write_text(toml)
    state = tmp_path / "state"
    return Cli(tmp_path, {"RELEASE_STATE": str(state), "RELEASE_LEDGER": f"sqlite:///{state / 'ledger.db'}",
                          "RELEASE_ACTOR": "alice", "NO_COLOR": "1", **aws.env()})


def test_fifty_instances_roll_forward_back_retire_and_prune(aws, tmp_path):  # noqa: F811
    cli = _cli(aws, tmp_path, FLEET_TOML)
    ec2 = aws.ec2()
    base = [i["ImageId"] for i in ec2.describe_images(Owners=["099720109477"])["Images"]][0]
    amis = []
    for n in range(3):  # three versions, each its own AMI with a snapshot
        inst = ec2.run_instances(ImageId=base, InstanceType="t3.micro", MinCount=1, MaxCount=1)["Instances"][0]
        amis.append(ec2.create_image(InstanceId=inst["InstanceId"], Name=f"web-{n}")["ImageId"])
        ec2.terminate_instances(InstanceIds=[inst["InstanceId"]])
        cli.ok("register", "web", "--artifact", f"aws:us-east-1:{amis[-1]}")
    d = cli.json("promote", "web@v1", "--to", "prod", "--deploy")["deployment"]
    assert d["status"] == "succeeded" and len(d["launched"]) == 50
    d = cli.json("promote", "web@v2", "--to", "prod", "--deploy")["deployment"]
    assert len(d["launched"]) == 50 and len(d["retired"]) == 50
    running = set(aws.running_instances())
    images = {i["ImageId"] for r in ec2.describe_instances(InstanceIds=sorted(running))["Reservations"]
              for i in r["Instances"]}
    assert len(running) == 50 and images == {amis[1]}
    # prune: v2 is current, v1 the rollback target (and its servers' image): both stay; v3 goes
    p = cli.json("prune", "web", "--keep", "0")
    assert [x["version"] for x in p["pruned"]] == ["v3"]
    assert {k["version"] for k in p["kept"]} >= {"v1", "v2"}
    left = {i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]}
    assert amis[2] not in left and amis[0] in left and amis[1] in left
    assert not ec2.describe_snapshots(OwnerIds=["self"], Filters=[{"Name": "description",
                                                                  "Values": [f"*{amis[2]}*"]}])["Snapshots"]
    d = cli.json("rollback", "web", "--env", "prod", "--deploy")["deployment"]
    assert d["version"] == "v1" and len(d["launched"]) == 50
    running = set(aws.running_instances())
    images = {i["ImageId"] for r in ec2.describe_instances(InstanceIds=sorted(running))["Reservations"]
              for i in r["Instances"]}
    assert len(running) == 50 and images == {amis[0]}
    assert cli("status", "--check").code == 0
    r = cli.json("retire", "web", "--env", "prod")  # rolling replaced them already: nothing of v2 is left
    assert set(aws.running_instances()) == running and r.get("retired", []) == []
    assert cli.json("show", "web@v3")["artifacts"][0]["deleted_at"]


ASG_TOML = """
[[environments]]
name = "prod"

[deploy.prod]
provider = "aws"
region = "us-east-1"
auto_scaling_group = "web-prod"
batch_size = 2
"""


def test_auto_scaling_group_rollout_and_rollback(aws, tmp_path):  # noqa: F811
    cli = _cli(aws, tmp_path, ASG_TOML)
    ec2, asg = aws.ec2(), aws.autoscaling()
    amis = [i["ImageId"] for i in ec2.describe_images(Owners=["099720109477"])["Images"]][:2]
    ec2.create_launch_template(LaunchTemplateName="web", LaunchTemplateData={"ImageId": amis[0],
                                                                              "InstanceType": "t3.micro"})
    asg.create_auto_scaling_group(AutoScalingGroupName="web-prod", MinSize=4, MaxSize=8, DesiredCapacity=4,
                                  LaunchTemplate={"LaunchTemplateName": "web", "Version": "$Latest"},
                                  AvailabilityZones=["us-east-1a"])
    for ami in amis:
        cli.ok("register", "web", "--artifact", f"aws:us-east-1:{ami}")
    cli.ok("promote", "web@v1", "--to", "prod")
    d = cli.json("promote", "web@v2", "--to", "prod", "--deploy")["deployment"]
    assert d["strategy"] == "auto-scaling-group" and d["ami"] == amis[1] and len(d["instances"]) == 4

    def group_images():
        g = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["web-prod"])["AutoScalingGroups"][0]
        ids = [i["InstanceId"] for i in g["Instances"]]
        return {i["ImageId"] for r in ec2.describe_instances(InstanceIds=ids)["Reservations"] for i in r["Instances"]}

    assert group_images() == {amis[1]}
    # v1 never ran in prod (promoted without a deploy), so it is no rollback target by itself
    # (it never reached healthy there); --to names it
    d = cli.json("rollback", "web", "--env", "prod", "--to", "web@v1", "--deploy")["deployment"]
    assert d["version"] == "v1" and group_images() == {amis[0]}
    events = [e["action"] for e in cli.json("audit", "--env", "prod")["events"]]
    assert events.count("deployment.finished") == 2
