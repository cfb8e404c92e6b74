"""AMIs as artifacts: version tags, and deletion (prune) with their snapshots."""

from __future__ import annotations

from collections import defaultdict

from releasemgr.providers.aws import client as C
from releasemgr.providers.aws.steps.image import delete_image, image_snapshots


def tag_version(artifacts, version: str) -> None:
    by_region = defaultdict(list)
    for a in artifacts:
        by_region[a.region].append(a.id)
    for region, amis in by_region.items():
        ec2 = C.ec2(None, region)
        resources = list(amis)
        for img in ec2.describe_images(ImageIds=amis).get("Images", []):
            resources += image_snapshots(img)
        ec2.create_tags(Resources=resources, Tags=C.tag_list({C.TAG_VERSION: version}))


def delete_amis(region_amis: dict[str, list[str]]) -> list[dict]:
    """Deregister AMIs and delete their snapshots; returns what was removed per AMI."""
    out = []
    for region, amis in region_amis.items():
        ec2 = C.ec2(None, region)
        for ami in amis:
            snaps = delete_image(ec2, ami)
            out.append({"region": region, "ami": ami, "snapshots": snaps})
    return out
