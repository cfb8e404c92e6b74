"""The `aws` provider: the amazon-ebs builder, the EC2 fleet, the AMI store (prune) and
garbage collection of what killed builds left behind. boto3 is imported only here, and
only when a call needs it."""

from __future__ import annotations

from releasemgr.providers import base
from releasemgr.providers.aws import builder
from releasemgr.providers.aws.client import AwsError, session
from releasemgr.providers.aws.fleet import EC2Fleet
from releasemgr.providers.aws.images import delete_amis, tag_version
from releasemgr.providers.aws import asg
from releasemgr.providers.aws.gc import AwsCollector
from releasemgr.providers.aws.steps.source_ami import resolve_source_amis


class AmiStore(base.ImageStore):
    def delete(self, region: str, artifact_id: str) -> None:
        delete_amis({region: [artifact_id]})  # deregisters the AMI in its region, deletes its snapshots


class Provider(base.Provider):
    name = "aws"
    builder_types = ("amazon-ebs",)
    packer_builders = ("amazon",)

    def steps(self, ctx) -> list:
        return builder.steps(ctx)

    def credentials_problem(self, source_config: dict) -> tuple[str, str] | None:
        """No AWS credentials for the source (its access_key/secret_key or profile, else the
        standard chain)."""
        hint = ("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or give the source "
                "access_key/secret_key or profile")
        try:
            creds = session(source_config).get_credentials()
        except AwsError as exc:
            return str(exc), hint
        except Exception as exc:  # noqa: BLE001 - botocore's own errors: one message
            return f"AWS credentials: {exc}", hint
        return None if creds is not None else ("no AWS credentials found for the amazon-ebs builder", hint)

    def resolve_inputs(self, source_configs: dict[str, dict]) -> dict[str, dict]:
        """The AMI each `source_ami_filter` finds now (DescribeImages): `{"source_ami": id}`."""
        return resolve_source_amis(source_configs)

    def fleet(self, state_dir, settings: dict | None = None) -> base.Fleet:
        return EC2Fleet(settings)

    def image_store(self, state_dir) -> base.ImageStore:
        return AmiStore()

    def tag_version(self, artifacts: list, version: str) -> None:
        """`release:version` on the AMIs and their snapshots, in each artifact's region."""
        tag_version(artifacts, version)

    def server_group(self, settings: dict) -> str | None:
        """`auto_scaling_group = "name"` in `[deploy.<env>]`."""
        return str(settings["auto_scaling_group"]) if settings.get("auto_scaling_group") else None

    def roll_group(self, settings: dict, artifact_id: str, *, image: str, version: str, env: str,
                   batch_size: int, timeout: float, say=lambda s: None) -> dict:
        return asg.roll(settings, artifact_id, image=image, version=version, env=env, batch_size=batch_size,
                        timeout=timeout, say=say)

    def garbage_collector(self, settings: dict | None, deploy_settings: list[dict], facts: base.LedgerFacts,
                          regions: list[str]) -> base.GarbageCollector:
        """Instances, key pairs, security groups, AMIs, snapshots and volumes tagged by builds."""
        return AwsCollector(settings, deploy_settings, facts, regions)

    def manifest_artifacts(self, artifact_id: str) -> list[tuple[str, str]]:
        """Packer's amazon artifact id: `region:ami-id[,region:ami-id]`."""
        out = []
        for part in artifact_id.split(","):
            region, sep, ami = part.strip().partition(":")
            if not sep or not ami:
                raise ValueError("not region:ami-id[,region:ami-id]")
            out.append((region, ami))
        return out
