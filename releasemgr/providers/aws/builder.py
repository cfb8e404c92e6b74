"""The `amazon-ebs` builder: Packer's option names and step order, on boto3 + paramiko.

find source AMI -> temporary key pair -> temporary security group -> run instance (wait
running) -> SSH -> provision -> stop -> create AMI (tags, snapshots) -> copy to regions.
Every resource it creates is tagged with the build id (`release:build-id`) and
`release:managed=true`, so `release gc` can find what a killed process left behind.
"""

from __future__ import annotations

from releasemgr.pipeline.runner import Step, StepFailed
from releasemgr.pipeline.steps import StepProvision
from releasemgr.providers.aws import client as C
from releasemgr.providers.aws.config import AwsConfig
from releasemgr.providers.aws.steps.connect import StepConnect
from releasemgr.providers.aws.steps.image import StepCreateImage
from releasemgr.providers.aws.steps.instance import StepRunInstance, StepStopInstance
from releasemgr.providers.aws.steps.key_pair import StepKeyPair
from releasemgr.providers.aws.steps.security_group import StepSecurityGroup
from releasemgr.providers.aws.steps.source_ami import StepSourceAMI
from releasemgr.providers.aws.state import AwsState


class StepAwsSession(Step):
    name = "aws-session"

    def run(self, ctx) -> None:
        st: AwsState = ctx.state
        options = st.config.access.client_options()
        try:
            sess = C.session(options)
            region = str(st.config.access.region or sess.region_name or "")
            if not region:
                raise StepFailed("no AWS region: set region in the source or AWS_REGION")
            st.session, st.ec2, st.region = sess, C.ec2(options, region, sess=sess), region
        except C.AwsError as exc:
            raise StepFailed(str(exc)) from None


class StepInvalidConfig(Step):
    name = "prepare"

    def __init__(self, error: str):
        self.error = error

    def run(self, ctx) -> None:
        raise StepFailed(self.error)


def steps(ctx) -> list[Step]:
    """Prepare the typed config (the template was validated: this only decodes), then the steps."""
    try:
        config = AwsConfig.prepare(ctx.source_config)
    except (TypeError, ValueError) as exc:
        return [StepInvalidConfig(f"amazon-ebs options: {exc}")]
    ctx.state = AwsState(config)
    return [StepAwsSession(), StepSourceAMI(config.run), StepKeyPair(config.comm), StepSecurityGroup(config),
            StepRunInstance(config.run), StepConnect(config.comm), StepProvision(), StepStopInstance(config.run),
            StepCreateImage(config.ami, config.access)]
