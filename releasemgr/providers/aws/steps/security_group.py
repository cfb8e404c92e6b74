"""A temporary security group that opens SSH only to the given CIDRs."""

from __future__ import annotations

import time

from releasemgr.pipeline.runner import Step, StepFailed
from releasemgr.providers.aws.client import AwsError, call, error_code, release_tags, tag_list


class StepSecurityGroup(Step):
    name = "security-group"
    created: str | None = None

    def run(self, ctx) -> None:
        aws = ctx.generated["aws"]
        cfg = ctx.source_config
        if cfg.get("security_group_ids") or cfg.get("security_group_id"):
            ids = cfg.get("security_group_ids") or [cfg["security_group_id"]]
            ctx.generated["security_group_ids"] = [str(i) for i in ids]
            return
        name = f"release_{ctx.build_id[:8]}_{ctx.source_name}"
        kw = {"GroupName": name, "Description": f"Temporary group for releasemgr build {ctx.build_id}",
              "TagSpecifications": [{"ResourceType": "security-group",
                                     "Tags": tag_list(release_tags(ctx.build_id, ctx.generated["image"]))}]}
        if cfg.get("vpc_id"):
            kw["VpcId"] = str(cfg["vpc_id"])
        ctx.say("Creating temporary security group for this instance: " + name)
        try:
            res = call(aws.ec2.create_security_group, "CreateSecurityGroup", **kw)
            self.created = res["GroupId"]
            cidrs = cfg.get("temporary_security_group_source_cidrs") or ["0.0.0.0/0"]
            port = int(cfg.get("ssh_port") or 22)
            call(aws.ec2.authorize_security_group_ingress, "AuthorizeSecurityGroupIngress", GroupId=self.created,
                 IpPermissions=[{"IpProtocol": "tcp", "FromPort": port, "ToPort": port,
                                 "IpRanges": [{"CidrIp": str(c)} for c in cidrs]}])
        except AwsError as exc:
            raise StepFailed(str(exc)) from None
        ctx.say(f"Authorized SSH (port {port}) from {', '.join(map(str, cidrs))}")
        ctx.generated["security_group_ids"] = [self.created]

    def cleanup(self, ctx) -> None:
        if not self.created:
            return
        from botocore.exceptions import ClientError

        aws = ctx.generated["aws"]
        ctx.say("Deleting temporary security group...")
        for attempt in range(30):  # the instance may still be shutting down
            try:
                aws.ec2.delete_security_group(GroupId=self.created)
                return
            except ClientError as exc:
                if error_code(exc) == "DependencyViolation" and attempt < 29:
                    time.sleep(min(2 + attempt, 10))
                    continue
                ctx.say(f"Could not delete security group {self.created} ({exc}); run `release gc`")
                raise

    def leftovers(self, ctx):
        return [f"security group {self.created} in {ctx.generated['aws'].region}"] if self.created else []
