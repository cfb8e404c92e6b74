"""Find the source AMI: `source_ami`, or `source_ami_filter` with owners and most_recent."""

from __future__ import annotations

from releasemgr.pipeline.runner import Step, StepFailed
from releasemgr.providers.aws.client import AwsError, call


class StepSourceAMI(Step):
    name = "source-ami"

    def run(self, ctx) -> None:
        aws = ctx.generated["aws"]
        cfg = ctx.source_config
        ec2 = aws.ec2
        try:
            if cfg.get("source_ami"):
                res = call(ec2.describe_images, "DescribeImages", ImageIds=[str(cfg["source_ami"])])
                images = res.get("Images", [])
                if not images:
                    raise StepFailed(f"source_ami {cfg['source_ami']} not found in {aws.region}")
            else:
                flt = cfg.get("source_ami_filter")
                if isinstance(flt, list):
                    flt = flt[0] if flt else None
                if not flt:
                    raise StepFailed("set source_ami or a source_ami_filter block")
                filters = [{"Name": str(k), "Values": [str(v)] if not isinstance(v, list) else [str(x) for x in v]}
                           for k, v in (flt.get("filters") or {}).items()]
                kw = {"Filters": filters}
                if flt.get("owners"):
                    kw["Owners"] = [str(o) for o in flt["owners"]]
                images = call(ec2.describe_images, "DescribeImages", **kw).get("Images", [])
                if not images:
                    raise StepFailed("source_ami_filter matched no image in " + aws.region +
                                     f" (filters: {', '.join(f['Name'] + '=' + ','.join(f['Values']) for f in filters)})")
                if len(images) > 1 and not flt.get("most_recent"):
                    raise StepFailed(f"source_ami_filter matched {len(images)} images; narrow the filters or set "
                                     "most_recent = true")
                images.sort(key=lambda i: i.get("CreationDate", ""), reverse=True)
        except AwsError as exc:
            raise StepFailed(str(exc)) from None
        chosen = images[0]
        ctx.generated["source_ami"] = chosen["ImageId"]
        ctx.parent = chosen["ImageId"]
        ctx.say(f"Found source AMI {chosen['ImageId']} ({chosen.get('Name', '')}) in {aws.region}")
