"""Find the source AMI: `source_ami`, or `source_ami_filter` with owners and most_recent."""

from __future__ import annotations

from releasemgr.pipeline.runner import Step, StepFailed
from releasemgr.providers.aws.client import AwsError, call
from releasemgr.providers.aws.config import RunConfig
from releasemgr.providers.aws.state import AwsState


class StepSourceAMI(Step):
    name = "source-ami"

    def __init__(self, run: RunConfig):
        self.config = run

    def run(self, ctx) -> None:
        st: AwsState = ctx.state
        try:
            images = self._find(st)
        except AwsError as exc:
            raise StepFailed(str(exc)) from None
        chosen = images[0]
        st.source_ami = chosen["ImageId"]
        ctx.parent = chosen["ImageId"]
        ctx.say(f"Found source AMI {chosen['ImageId']} ({chosen.get('Name', '')}) in {st.region}")

    def _find(self, st: AwsState) -> list[dict]:
        ec2 = st.ec2
        if self.config.source_ami:
            images = call(ec2.describe_images, "DescribeImages", ImageIds=[self.config.source_ami]).get("Images", [])
            if not images:
                raise StepFailed(f"source_ami {self.config.source_ami} not found in {st.region}")
            return images
        flt = self.config.source_ami_filter
        if flt is None:
            raise StepFailed("set source_ami or a source_ami_filter block")
        filters = [{"Name": k, "Values": v} for k, v in flt.filters.items()]
        kw = {"Filters": filters}
        if flt.owners:
            kw["Owners"] = flt.owners
        images = call(ec2.describe_images, "DescribeImages", **kw).get("Images", [])
        if not images:
            raise StepFailed("source_ami_filter matched no image in " + st.region +
                             f" (filters: {', '.join(f['Name'] + '=' + ','.join(f['Values']) for f in filters)})")
        if len(images) > 1 and not flt.most_recent:
            raise StepFailed(f"source_ami_filter matched {len(images)} images; narrow the filters or set "
                             "most_recent = true")
        images.sort(key=lambda i: i.get("CreationDate", ""), reverse=True)
        return images
