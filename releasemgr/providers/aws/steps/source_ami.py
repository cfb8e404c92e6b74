"""Find the source AMI: `source_ami`, or `source_ami_filter` with owners and most_recent.

`resolve_source_amis` does the same search before a build starts (`Provider.resolve_inputs`):
the AMI a filter finds is part of the build's inputs (its template digest), and the build then
starts from that AMI (`source_ami`), not from a second search that could find a newer one."""

from __future__ import annotations

from releasemgr.pipeline.runner import Step, StepFailed
from releasemgr.providers.aws import client as C
from releasemgr.providers.aws.client import AwsError, call
from releasemgr.providers.aws.config import AccessConfig, RunConfig
from releasemgr.providers.aws.state import AwsState
from releasemgr.providers.base import InputsUnresolved


class StepSourceAMI(Step):
    name = "source-ami"

    def __init__(self, run: RunConfig):
        self.config = run

    def run(self, ctx) -> None:
        st: AwsState = ctx.state
        try:
            images = find_source_images(st.ec2, self.config, st.region)
        except AwsError as exc:
            raise StepFailed(str(exc)) from None
        chosen = images[0]
        st.source_ami = chosen["ImageId"]
        ctx.parent = chosen["ImageId"]
        ctx.say(f"Found source AMI {chosen['ImageId']} ({chosen.get('Name', '')}) in {st.region}")


def find_source_images(ec2, run: RunConfig, region: str) -> list[dict]:
    """The source AMI's DescribeImages entries, the one to use first; AwsError when there is
    none, or a filter matched several without `most_recent`."""
    if run.source_ami:
        images = call(ec2.describe_images, "DescribeImages", ImageIds=[run.source_ami]).get("Images", [])
        if not images:
            raise AwsError(f"source_ami {run.source_ami} not found in {region}")
        return images
    flt = run.source_ami_filter
    if flt is None:
        raise AwsError("set source_ami or a source_ami_filter block")
    filters = [{"Name": k, "Values": v} for k, v in flt.filters.items()]
    kw = {"Filters": filters}
    if flt.owners:
        kw["Owners"] = flt.owners
    images = call(ec2.describe_images, "DescribeImages", **kw).get("Images", [])
    if not images:
        raise AwsError("source_ami_filter matched no image in " + region +
                       f" (filters: {', '.join(f['Name'] + '=' + ','.join(f['Values']) for f in filters)})")
    if len(images) > 1 and not flt.most_recent:
        raise AwsError(f"source_ami_filter matched {len(images)} images; narrow the filters or set "
                       "most_recent = true")
    images.sort(key=lambda i: i.get("CreationDate", ""), reverse=True)
    return images


def resolve_source_amis(source_configs: dict[str, dict]) -> dict[str, dict]:
    """{display name: {"source_ami": id}} of each source whose AMI a `source_ami_filter` names
    (one DescribeImages call per source, in its region); sources with a literal `source_ami`
    are left out (the template says it). Raises InputsUnresolved."""
    out: dict[str, dict] = {}
    for display, cfg in source_configs.items():
        try:
            run = RunConfig.prepare(cfg)
        except (TypeError, ValueError):
            continue  # the builder's prepare step reports it
        if run.source_ami or run.source_ami_filter is None:
            continue
        options = AccessConfig.prepare(cfg).client_options()
        try:
            sess = C.session(options)
            region = str(options.get("region") or sess.region_name or "")
            if not region:
                raise InputsUnresolved(f"{display}: no AWS region: set region in the source or AWS_REGION")
            images = find_source_images(C.ec2(options, region, sess=sess), run, region)
        except AwsError as exc:
            raise InputsUnresolved(f"{display}: {exc}") from None
        out[display] = {"source_ami": images[0]["ImageId"]}
    return out
