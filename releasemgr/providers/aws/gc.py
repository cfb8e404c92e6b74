"""Find and remove what builds left behind in AWS, by the tags every build puts on what it
creates (`release:managed=true`, `release:build-id`). The ledger decides which builds are
dead; this module says where to look, lists, keeps the AMIs of versions (and the snapshots of
succeeded builds) and deletes."""

from __future__ import annotations

import os

from releasemgr.providers.aws import client as C
from releasemgr.providers.base import GarbageCollector, LedgerFacts, Leftover, LeftoversUnreadable

__all__ = ["AwsCollector", "Leftover", "find", "remove"]


def _tags(obj) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in obj.get("Tags", []) or []}


def find(region: str) -> list[Leftover]:
    """Everything tagged by a build in `region` (not yet filtered by build status)."""
    ec2 = C.ec2(None, region)
    flt = [{"Name": "tag-key", "Values": [C.TAG_BUILD]}, {"Name": "tag:" + C.TAG_MANAGED, "Values": ["true"]}]
    out: list[Leftover] = []

    def add(kind, rid, obj):
        tags = _tags(obj)
        out.append(Leftover(region, kind, rid, tags.get(C.TAG_BUILD, ""), tags.get(C.TAG_IMAGE)))

    pages = ec2.get_paginator("describe_instances").paginate(
        Filters=flt + [{"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}])
    for page in pages:
        for r in page["Reservations"]:
            for i in r["Instances"]:
                add("instance", i["InstanceId"], i)
    for k in ec2.describe_key_pairs(Filters=flt).get("KeyPairs", []):
        add("key-pair", k["KeyName"], k)
    for g in ec2.describe_security_groups(Filters=flt).get("SecurityGroups", []):
        add("security-group", g["GroupId"], g)
    for page in ec2.get_paginator("describe_images").paginate(Owners=["self"], Filters=flt):
        for img in page["Images"]:
            add("image", img["ImageId"], img)
    for page in ec2.get_paginator("describe_snapshots").paginate(OwnerIds=["self"], Filters=flt):
        for s in page["Snapshots"]:
            add("snapshot", s["SnapshotId"], s)
    for page in ec2.get_paginator("describe_volumes").paginate(
            Filters=flt + [{"Name": "status", "Values": ["available"]}]):
        for v in page["Volumes"]:
            add("volume", v["VolumeId"], v)
    return out


def remove(items: list[Leftover], say=lambda s: None) -> tuple[list[Leftover], dict[str, str]]:
    """Delete in dependency order; returns (removed, failures by id)."""
    import time

    from botocore.exceptions import ClientError

    removed, failed = [], {}
    by_region: dict[str, list[Leftover]] = {}
    for it in items:
        by_region.setdefault(it.region, []).append(it)
    for region, its in by_region.items():
        ec2 = C.ec2(None, region)
        kinds = {k: [i for i in its if i.kind == k] for k in
                 ("instance", "image", "snapshot", "volume", "key-pair", "security-group")}
        ids = [i.id for i in kinds["instance"]]
        for start in range(0, len(ids), 1000):  # TerminateInstances takes up to 1,000 ids
            chunk = ids[start:start + 1000]
            try:
                ec2.terminate_instances(InstanceIds=chunk)
                removed += [i for i in kinds["instance"] if i.id in chunk]
                say(f"terminated {len(chunk)} instance(s) in {region}")
            except ClientError as exc:
                for i in chunk:
                    failed[i] = str(exc)
        if ids:
            waiter_ids = [i for i in ids if i not in failed]
            for _ in range(60):
                res = ec2.describe_instances(InstanceIds=waiter_ids) if waiter_ids else {"Reservations": []}
                states = [i["State"]["Name"] for r in res["Reservations"] for i in r["Instances"]]
                if all(s == "terminated" for s in states):
                    break
                time.sleep(1)
        for kind, call in (("image", lambda i: ec2.deregister_image(ImageId=i.id)),
                           ("snapshot", lambda i: ec2.delete_snapshot(SnapshotId=i.id)),
                           ("volume", lambda i: ec2.delete_volume(VolumeId=i.id)),
                           ("key-pair", lambda i: ec2.delete_key_pair(KeyName=i.id)),
                           ("security-group", lambda i: ec2.delete_security_group(GroupId=i.id))):
            for it in kinds[kind]:
                for attempt in range(10):
                    try:
                        call(it)
                        removed.append(it)
                        say(f"removed {kind} {it.id} in {region}")
                        break
                    except ClientError as exc:
                        code = exc.response.get("Error", {}).get("Code", "")
                        if code in ("DependencyViolation", "InvalidSnapshot.InUse") and attempt < 9:
                            time.sleep(min(1 + attempt, 5))
                            continue
                        if code.endswith("NotFound") or code.endswith(".NotFound"):
                            removed.append(it)
                            break
                        failed[it.id] = str(exc)
                        break
    return removed, failed


class AwsCollector(GarbageCollector):
    """`release gc` in AWS: the regions of `[aws]`, of recorded AMIs, of AWS_REGION and of aws
    deploy targets (else us-east-1), or only those asked for."""

    def __init__(self, settings: dict | None, deploy_settings: list[dict], facts: LedgerFacts, regions: list[str]):
        self.settings = settings
        self.deploy_settings = deploy_settings
        self.facts = facts
        self.given = list(dict.fromkeys(regions))

    def in_use(self) -> bool:
        """Regions asked for, `[aws]` or an aws deploy target configured, or builds/artifacts of
        AWS in the ledger. A ledger of local builds only has nothing there, and needs no AWS
        credentials to say so."""
        return bool(self.given or self.settings is not None or self.deploy_settings
                    or self.facts.artifact_regions or self.facts.built)

    def regions(self) -> list[str]:
        if self.given:
            return list(self.given)
        out = [str(r) for r in (self.settings or {}).get("regions", [])]
        out += self.facts.artifact_regions
        for var in ("AWS_REGION", "AWS_DEFAULT_REGION"):
            if os.environ.get(var):
                out.append(os.environ[var])
        out += [str(s["region"]) for s in self.deploy_settings if s.get("region")]
        return list(dict.fromkeys(out)) or ["us-east-1"]

    def find(self, region: str) -> list[Leftover]:
        try:
            return find(region)
        except C.AwsError as exc:
            raise LeftoversUnreadable(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - botocore errors: one line
            raise LeftoversUnreadable(f"AWS: {exc}", hint="check credentials, region and endpoint") from None

    def keeps(self, item: Leftover, build_status: str, artifact_ids: set[str]) -> bool:
        if item.kind == "image":
            return item.id in artifact_ids  # a version's AMI
        # snapshots of a succeeded build back its AMIs; prune removes them with the AMI
        return item.kind == "snapshot" and build_status == "succeeded"

    def remove(self, items: list[Leftover], say=lambda s: None) -> tuple[list[Leftover], dict[str, str]]:
        return remove(items, say=say)
