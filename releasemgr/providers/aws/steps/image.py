"""Create the AMI (tags on image and snapshots), copy it to the other regions in parallel.
On failure or cancel, every AMI and snapshot this step made is removed; what AWS will not
let go yet stays tagged for `release gc`."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from releasemgr.pipeline.context import Artifact
from releasemgr.pipeline.runner import Cancelled, Outcome, Step, StepFailed
from releasemgr.providers.aws import client as C
from releasemgr.providers.aws.client import AwsError, call, release_tags, tag_list, wait_for
from releasemgr.providers.aws.config import AccessConfig, AmiConfig
from releasemgr.providers.aws.state import AwsState


def image_snapshots(image: dict) -> list[str]:
    return [bd["Ebs"]["SnapshotId"] for bd in image.get("BlockDeviceMappings", [])
            if bd.get("Ebs", {}).get("SnapshotId")]


def delete_image(ec2, ami: str) -> list[str]:
    """Deregister an AMI and delete its snapshots; returns the snapshot ids deleted."""
    images = ec2.describe_images(ImageIds=[ami]).get("Images", [])
    snaps = image_snapshots(images[0]) if images else []
    if images:
        ec2.deregister_image(ImageId=ami)
    for s in snaps:
        ec2.delete_snapshot(SnapshotId=s)
    return snaps


class StepCreateImage(Step):
    name = "create-image"

    def __init__(self, ami: AmiConfig, access: AccessConfig):
        self.config, self.access = ami, access
        self.made: list[tuple[str, str]] = []  # (region, ami) made by this build
        self.lock = threading.Lock()

    def run(self, ctx) -> None:
        aws: AwsState = ctx.state
        cfg = self.config
        name = cfg.name
        tags = {**cfg.tags, **release_tags(ctx.build_id, ctx.image)}
        snap_tags = {**cfg.snapshot_tags, **release_tags(ctx.build_id, ctx.image)}
        try:
            existing = call(aws.ec2.describe_images, "DescribeImages", Owners=["self"],
                            Filters=[{"Name": "name", "Values": [name]}]).get("Images", [])
            if existing:
                if not cfg.force_deregister:
                    raise StepFailed(f"an AMI named {name!r} already exists ({existing[0]['ImageId']}); "
                                     "change ami_name or set force_deregister = true")
                for img in existing:
                    ctx.say(f"Deregistering the existing AMI {img['ImageId']} (force_deregister)")
                    aws.ec2.deregister_image(ImageId=img["ImageId"])
                    if cfg.force_delete_snapshot:
                        for s in image_snapshots(img):
                            aws.ec2.delete_snapshot(SnapshotId=s)
            ctx.say(f"Creating AMI {name} from instance {aws.instance_id}")
            kw = {"InstanceId": aws.instance_id, "Name": name,
                  "TagSpecifications": [{"ResourceType": "image", "Tags": tag_list(tags)}]}
            if cfg.description:
                kw["Description"] = cfg.description
            res = call(aws.ec2.create_image, "CreateImage", **kw)
            ami = res["ImageId"]
            with self.lock:
                self.made.append((aws.region, ami))
            ctx.say(f"AMI: {ami}")
            ctx.say("Waiting for AMI to become ready...")
            img = self._wait_available(aws.ec2, ami, ctx)
            self._tag_snapshots(aws.ec2, img, snap_tags)
            self._permissions(aws.ec2, ami)
            self._deprecate(aws.ec2, ami, ctx)
            results = {aws.region: ami}
            regions = [r for r in cfg.regions if r != aws.region]
            if regions:
                ctx.say(f"Copying AMI {ami} to {', '.join(regions)} in parallel...")
                with ThreadPoolExecutor(max_workers=min(8, len(regions))) as pool:
                    futures = {r: pool.submit(self._copy, aws, r, ami, tags, snap_tags, ctx)
                               for r in regions}
                    errors = []
                    for r, f in futures.items():
                        try:
                            results[r] = f.result()
                        except (AwsError, StepFailed) as exc:
                            errors.append(f"{r}: {exc}")
                    if ctx.cancel_event.is_set():
                        raise Cancelled()
                    if errors:
                        raise StepFailed("copying the AMI failed: " + "; ".join(errors))
        except AwsError as exc:
            raise StepFailed(str(exc)) from None
        for region in sorted(results):
            ctx.artifacts.append(Artifact(builder_type="amazon-ebs", provider="aws", id=results[region],
                                          region=region, extra={"name": name}))

    def _wait_available(self, ec2, ami, ctx) -> dict:
        def check():
            imgs = ec2.describe_images(ImageIds=[ami]).get("Images", [])
            if imgs and imgs[0]["State"] == "failed":
                raise AwsError(f"AMI {ami} failed: {imgs[0].get('StateReason', {}).get('Message', '')}")
            return imgs[0] if imgs and imgs[0]["State"] == "available" else None

        return wait_for(check, f"AMI {ami} to become available", cancel=ctx.cancel_event, say=ctx.say)

    def _tag_snapshots(self, ec2, img: dict, snap_tags: dict) -> None:
        snaps = image_snapshots(img)
        if snaps:  # moto has no snapshot TagSpecification on CreateImage: tag afterwards
            call(ec2.create_tags, "CreateTags", Resources=snaps, Tags=tag_list(snap_tags))

    def _permissions(self, ec2, ami: str) -> None:
        users, groups = self.config.users, self.config.groups
        if users or groups:
            add = [{"UserId": u} for u in users] + [{"Group": g} for g in groups]
            call(ec2.modify_image_attribute, "ModifyImageAttribute", ImageId=ami,
                 LaunchPermission={"Add": add})

    def _deprecate(self, ec2, ami: str, ctx) -> None:
        when = self.config.deprecate_at
        if not when:
            return
        from datetime import datetime

        try:
            at = datetime.fromisoformat(str(when).replace("Z", "+00:00"))
            ec2.enable_image_deprecation(ImageId=ami, DeprecateAt=at)
        except ValueError:
            raise StepFailed(f"deprecate_at {when!r} is not an RFC 3339 time (2027-01-01T00:00:00Z)") from None
        except Exception as exc:  # noqa: BLE001 - the AMI is good; say that deprecation was not set
            ctx.say(f"Could not set deprecate_at on {ami}: {exc}")

    def _copy(self, aws: AwsState, region, ami, tags, snap_tags, ctx) -> str:
        ec2 = C.ec2(self.access.client_options(), region, sess=aws.session)
        res = call(ec2.copy_image, f"CopyImage to {region}", SourceImageId=ami, SourceRegion=aws.region,
                   Name=self.config.name, Description=self.config.description or "")
        copy = res["ImageId"]
        with self.lock:
            self.made.append((region, copy))
        img = self._wait_available(ec2, copy, ctx)
        call(ec2.create_tags, f"CreateTags in {region}", Resources=[copy], Tags=tag_list(tags))
        self._tag_snapshots(ec2, img, snap_tags)
        self._permissions(ec2, copy)
        self._deprecate(ec2, copy, ctx)
        ctx.say(f"Copied to {region}: {copy}")
        return copy

    def cleanup(self, ctx) -> list[str]:
        if ctx.outcome is Outcome.SUCCEEDED or not self.made:
            return []
        aws: AwsState = ctx.state
        left = []
        for region, ami in self.made:
            try:
                ec2 = aws.ec2 if region == aws.region else C.ec2(self.access.client_options(), region,
                                                                 sess=aws.session)
                snaps = delete_image(ec2, ami)
                ctx.say(f"Removed the partial AMI {ami} in {region}" + (f" and snapshots {', '.join(snaps)}"
                                                                         if snaps else ""))
            except Exception as exc:  # noqa: BLE001 - best effort, then gc
                left.append(f"{ami} in {region} ({exc})")
        return [f"AMI {item}: tagged with this build's id, `release gc` removes it" for item in left]

    def leftovers(self, ctx) -> list[str]:
        return [f"AMI {ami} in {region}" for region, ami in self.made]
