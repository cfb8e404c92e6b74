"""The EC2 fleet against moto's server: batched launch, shared status checks, batched
terminate, tag-filtered listing -- with the API calls counted."""

from __future__ import annotations

from collections import Counter

from releasemgr.providers.aws.fleet import EC2Fleet
from releasemgr.providers.base import HealthCheck


def counted(fleet: EC2Fleet) -> Counter:
    calls: Counter = Counter()
    fleet.ec2.meta.events.register("before-call.ec2", lambda model, **kw: calls.update([model.name]))
    return calls


def test_fleet_launch_health_terminate_in_few_calls(aws):
    ami = aws.ec2().describe_images(Owners=["099720109477"])["Images"][0]["ImageId"]
    fleet = EC2Fleet({"region": "us-east-1", "instance_type": "t3.micro", "tags": {"Team": "web"}})
    calls = counted(fleet)
    ids = [f"web-prod-{i:03d}" for i in range(50)]
    servers = fleet.launch_many({"provider": "aws", "region": "us-east-1", "id": ami}, server_ids=ids, image="web",
                                version="v1", env="prod")
    assert calls["RunInstances"] == 1 and len(servers) == 50
    assert {s.id for s in servers} == set(ids)
    check = HealthCheck(type="ec2")
    before = calls["DescribeInstanceStatus"]
    assert all(fleet.check_health(s, check, 5) for s in servers)
    assert calls["DescribeInstanceStatus"] - before <= 1  # one shared call for the 50 checks
    states = fleet.describe(servers)
    assert all(st.alive for st in states.values()) and calls["DescribeInstances"] == 1
    managed = fleet.list_managed("web", "prod")
    assert {m.id for m in managed} == set(ids) and all(m.version == "v1" for m in managed)
    tags = aws.ec2().describe_tags(Filters=[{"Name": "resource-id", "Values": [servers[0].provider_id]}])["Tags"]
    assert {t["Key"]: t["Value"] for t in tags}["Team"] == "web"
    res = fleet.terminate(servers)
    assert sorted(res.stopped) == sorted(ids) and not res.failed
    assert calls["TerminateInstances"] == 1
    assert fleet.list_managed("web", "prod") == []
    assert not any(st.alive for st in fleet.describe(servers).values())


def test_fleet_refuses_an_ami_of_another_region(aws):
    fleet = EC2Fleet({"region": "us-west-2"})
    import pytest

    from releasemgr.providers.base import FleetError

    with pytest.raises(FleetError, match="us-east-1"):
        fleet.launch({"provider": "aws", "region": "us-east-1", "id": "ami-1"}, server_id="x", image="web",
                      version="v1", env="prod")
