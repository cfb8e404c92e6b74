"""The `amazon-ebs` builder: Packer's option names and step order, on boto3 + paramiko.

find source AMI -> temporary key pair -> temporary security group -> run instance (wait
running) -> SSH -> provision -> stop -> create AMI (tags, snapshots) -> copy to regions.
Every resource it creates is tagged with the build id (`release:build-id`) and
`release:managed=true`, so `release gc` can find what a killed process left behind.
"""

from __future__ import annotations

from dataclasses import dataclass

from releasemgr.pipeline.runner import Step, StepFailed
from releasemgr.pipeline.steps import StepProvision
from releasemgr.providers.aws import client as C
from releasemgr.providers.aws.steps.connect import StepConnect
from releasemgr.providers.aws.steps.image import StepCreateImage
from releasemgr.providers.aws.steps.instance import StepRunInstance, StepStopInstance
from releasemgr.providers.aws.steps.key_pair import StepKeyPair
from releasemgr.providers.aws.steps.security_group import StepSecurityGroup
from releasemgr.providers.aws.steps.source_ami import StepSourceAMI


@dataclass
class AwsHandle:
    session: object
    ec2: object
    region: str


class StepAwsSession(Step):
    name = "aws-session"

    def run(self, ctx) -> None:
        cfg = ctx.source_config
        try:
            sess = C.session(cfg)
            region = str(cfg.get("region") or sess.region_name or "")
            if not region:
                raise StepFailed("no AWS region: set region in the source or AWS_REGION")
            ctx.generated["aws"] = AwsHandle(sess, C.ec2(cfg, region, sess=sess), region)
        except C.AwsError as exc:
            raise StepFailed(str(exc)) from None


def steps(ctx) -> list[Step]:
    return [StepAwsSession(), StepSourceAMI(), StepKeyPair(), StepSecurityGroup(), StepRunInstance(), StepConnect(),
            StepProvision(), StepStopInstance(), StepCreateImage()]
