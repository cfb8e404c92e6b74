"""A temporary security group that opens SSH only to the given CIDRs."""

from __future__ import annotations

import time

from releasemgr.pipeline.runner import Step, StepFailed
from releasemgr.providers.aws.client import AwsError, call, error_code, release_tags, tag_list
from releasemgr.providers.aws.config import AwsConfig
from releasemgr.providers.aws.state import AwsState


class StepSecurityGroup(Step):
    name = "security-group"
    #: DeleteSecurityGroup attempts while the terminated instance still holds the group
    attempts = 30

    def __init__(self, config: AwsConfig):
        self.run_config, self.comm = config.run, config.comm
        self.created: str | None = None  # the temporary group's id, once AWS made it
        self.region = ""

    def run(self, ctx) -> None:
        st: AwsState = ctx.state
        run = self.run_config
        if run.security_group_ids:
            st.security_group_ids = list(run.security_group_ids)
            return
        name = f"release_{ctx.build_id[:8]}_{ctx.source_name}"
        kw = {"GroupName": name, "Description": f"Temporary group for releasemgr build {ctx.build_id}",
              "TagSpecifications": [{"ResourceType": "security-group",
                                     "Tags": tag_list(release_tags(ctx.build_id, ctx.image))}]}
        if run.vpc_id:
            kw["VpcId"] = run.vpc_id
        ctx.say("Creating temporary security group for this instance: " + name)
        cidrs, port = run.temporary_security_group_source_cidrs, self.comm.ssh_port
        try:
            res = call(st.ec2.create_security_group, "CreateSecurityGroup", **kw)
            self.created, self.region = res["GroupId"], st.region
            call(st.ec2.authorize_security_group_ingress, "AuthorizeSecurityGroupIngress", GroupId=self.created,
                 IpPermissions=[{"IpProtocol": "tcp", "FromPort": port, "ToPort": port,
                                 "IpRanges": [{"CidrIp": c} for c in cidrs]}])
        except AwsError as exc:
            raise StepFailed(str(exc)) from None
        ctx.say(f"Authorized SSH (port {port}) from {', '.join(cidrs)}")
        st.security_group_ids = [self.created]

    def cleanup(self, ctx) -> list[str]:
        if not self.created:
            return []
        st: AwsState = ctx.state
        ctx.say("Deleting temporary security group...")
        for attempt in range(self.attempts):  # the instance may still be shutting down
            try:
                st.ec2.delete_security_group(GroupId=self.created)
                return []
            except Exception as exc:  # noqa: BLE001 - reported to the operator, never raised
                if error_code(exc) == "DependencyViolation" and attempt < self.attempts - 1:
                    time.sleep(min(2 + attempt, 10))
                    continue
                return [f"security group {self.created} in {self.region} ({exc}; `release gc` finds it too)"]
        return []

    def leftovers(self, ctx) -> list[str]:
        return [f"security group {self.created} in {self.region}"] if self.created else []
