"""An Auto Scaling group rollout on moto: new launch template version, batch replacement."""

from __future__ import annotations

from releasemgr.providers.aws import asg as A


def test_asg_rollout_replaces_every_instance_and_back(aws):
    ec2, asg = aws.ec2(), aws.autoscaling()
    amis = [i["ImageId"] for i in ec2.describe_images(Owners=["099720109477"])["Images"]]
    ec2.create_launch_template(LaunchTemplateName="web", LaunchTemplateData={"ImageId": amis[0],
                                                                              "InstanceType": "t3.micro"})
    asg.create_auto_scaling_group(AutoScalingGroupName="web-prod", MinSize=4, MaxSize=8, DesiredCapacity=4,
                                  LaunchTemplate={"LaunchTemplateName": "web", "Version": "$Latest"},
                                  AvailabilityZones=["us-east-1a"])
    said = []
    doc = A.roll({"auto_scaling_group": "web-prod", "region": "us-east-1"}, amis[1], image="web", version="v2",
                 env="prod", batch_size=2, say=said.append)
    assert len(doc["replaced"]) == 4 and len(doc["instances"]) == 4
    assert set(A._images(ec2, doc["instances"]).values()) == {amis[1]}
    assert sum("replacing 2 instance(s)" in s for s in said) == 2  # two batches of two
    back = A.roll({"auto_scaling_group": "web-prod", "region": "us-east-1"}, amis[0], image="web", version="v1",
                  env="prod", batch_size=4)
    assert set(A._images(ec2, back["instances"]).values()) == {amis[0]}
    assert int(back["launch_template_version"]) == int(doc["launch_template_version"]) + 1
    import pytest

    with pytest.raises(A.AsgError, match="no Auto Scaling group"):
        A.roll({"auto_scaling_group": "nope", "region": "us-east-1"}, amis[0], image="web", version="v1", env="prod")
