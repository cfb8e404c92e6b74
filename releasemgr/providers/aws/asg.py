"""Auto Scaling group rollouts: a new launch-template version with the AMI, then the old
instances are replaced in batches (terminated without lowering the desired capacity, so
the group launches replacements from the new version), waiting for the group to be whole
and healthy after each batch. moto has no StartInstanceRefresh, and a batch loop we control
also gives us progress, cancel and the same code on AWS."""

from __future__ import annotations

import time

from releasemgr.providers.aws import client as C


class AsgError(Exception):
    pass


def _group(asg, name: str) -> dict:
    groups = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    if not groups:
        raise AsgError(f"no Auto Scaling group named {name!r}")
    return groups[0]


def _template_of(group: dict) -> dict:
    lt = group.get("LaunchTemplate") or (group.get("MixedInstancesPolicy", {}).get("LaunchTemplate", {})
                                         .get("LaunchTemplateSpecification"))
    if not lt:
        raise AsgError(f"Auto Scaling group {group['AutoScalingGroupName']} has no launch template")
    return lt


def roll(settings: dict, ami: str, *, image: str, version: str, env: str, batch_size: int = 1,
         timeout: float = 600.0, say=lambda s: None, cancel=None) -> dict:
    name = str(settings["auto_scaling_group"])
    region = str(settings.get("region") or C.session(settings).region_name or "us-east-1")
    sess = C.session(settings, region)
    ec2, asg = C.ec2(settings, region, sess=sess), C.autoscaling(settings, region, sess=sess)
    try:
        group = _group(asg, name)
        lt = _template_of(group)
        spec = {"LaunchTemplateId": lt["LaunchTemplateId"]} if lt.get("LaunchTemplateId") else \
            {"LaunchTemplateName": lt["LaunchTemplateName"]}
        tags = [{"ResourceType": "instance", "Tags": C.tag_list({C.TAG_MANAGED: "true", C.TAG_IMAGE: image,
                                                                   C.TAG_VERSION: version, C.TAG_ENV: env})}]
        new = ec2.create_launch_template_version(**spec, SourceVersion="$Latest",
                                                 VersionDescription=f"releasemgr {image}@{version}",
                                                 LaunchTemplateData={"ImageId": ami, "TagSpecifications": tags})
        number = str(new["LaunchTemplateVersion"]["VersionNumber"])
        asg.update_auto_scaling_group(AutoScalingGroupName=name, LaunchTemplate={**spec, "Version": number})
        say(f"{name}: launch template version {number} uses {ami}")
    except Exception as exc:  # botocore ClientError: one line
        raise AsgError(f"{name}: {exc}") from None
    replaced: list[str] = []
    while True:
        group = _group(asg, name)
        ids = [i["InstanceId"] for i in group["Instances"]]
        images = _images(ec2, ids)
        old = [i for i in ids if images.get(i) != ami]
        if not old:
            break
        batch = old[:max(1, batch_size)]
        say(f"{name}: replacing {len(batch)} instance(s) ({len(old)} on the old image)")
        for iid in batch:
            asg.terminate_instance_in_auto_scaling_group(InstanceId=iid, ShouldDecrementDesiredCapacity=False)
        replaced += batch
        _wait_whole(asg, ec2, name, ami, timeout, cancel)
    group = _group(asg, name)
    return {"auto_scaling_group": name, "launch_template_version": number, "ami": ami, "replaced": replaced,
            "instances": [i["InstanceId"] for i in group["Instances"]], "region": region}


def _images(ec2, ids: list[str]) -> dict[str, str]:
    out = {}
    for start in range(0, len(ids), 1000):
        chunk = ids[start:start + 1000]
        if not chunk:
            continue
        for page in ec2.get_paginator("describe_instances").paginate(InstanceIds=chunk):
            for r in page["Reservations"]:
                for i in r["Instances"]:
                    out[i["InstanceId"]] = i["ImageId"]
    return out


def _wait_whole(asg, ec2, name, ami, timeout, cancel) -> None:
    deadline = time.monotonic() + timeout
    delay = float(C.wait_settings()[0])
    while time.monotonic() < deadline:
        g = _group(asg, name)
        live = [i for i in g["Instances"] if i["LifecycleState"] == "InService" and i["HealthStatus"] == "Healthy"]
        if len(live) >= g["DesiredCapacity"]:
            return
        if cancel is not None and cancel.wait(delay):
            raise AsgError(f"{name}: cancelled while waiting for replacements")
        elif cancel is None:
            time.sleep(delay)
    raise AsgError(f"{name}: the group did not become whole and healthy within {timeout:.0f}s")
