"""A temporary key pair for the build (or the existing `ssh_keypair_name` + key file)."""

from __future__ import annotations

import os

from releasemgr.pipeline.runner import Step, StepFailed
from releasemgr.providers.aws.client import AwsError, call, release_tags, tag_list


class StepKeyPair(Step):
    name = "key-pair"
    created: str | None = None

    def run(self, ctx) -> None:
        aws = ctx.generated["aws"]
        cfg = ctx.source_config
        if cfg.get("ssh_keypair_name") or cfg.get("communicator") == "none" or cfg.get("ssh_password"):
            if cfg.get("ssh_keypair_name") and not cfg.get("ssh_private_key_file") and not cfg.get("ssh_agent_auth"):
                raise StepFailed("ssh_keypair_name needs ssh_private_key_file (or ssh_agent_auth)")
            ctx.generated["key_name"] = cfg.get("ssh_keypair_name")
            ctx.generated["private_key_file"] = cfg.get("ssh_private_key_file")
            return
        if cfg.get("ssh_private_key_file"):
            # as Packer: a key file without a key pair name means the key is already in the image
            ctx.generated["private_key_file"] = cfg["ssh_private_key_file"]
            return
        name = f"release_{ctx.build_id[:8]}_{ctx.source_name}"
        key_type = str(cfg.get("temporary_key_pair_type") or "rsa")
        ctx.say(f"Creating temporary keypair: {name}")
        try:
            res = call(aws.ec2.create_key_pair, "CreateKeyPair", KeyName=name, KeyType=key_type,
                       TagSpecifications=[{"ResourceType": "key-pair",
                                           "Tags": tag_list(release_tags(ctx.build_id, ctx.generated["image"]))}])
        except AwsError as exc:
            raise StepFailed(str(exc)) from None
        self.created = name
        path = ctx.work_dir / "temporary_key.pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(res["KeyMaterial"])
        ctx.generated["key_name"] = name
        ctx.generated.setdefault("private_key_file", str(path))

    def cleanup(self, ctx) -> None:
        if not self.created:
            return
        aws = ctx.generated["aws"]
        ctx.say(f"Deleting temporary keypair {self.created}...")
        try:
            call(aws.ec2.delete_key_pair, "DeleteKeyPair", KeyName=self.created)
        except AwsError as exc:
            ctx.say(f"Could not delete key pair {self.created} ({exc}); delete it by hand or run `release gc`")
            raise

    def leftovers(self, ctx):
        return [f"key pair {self.created} in {ctx.generated['aws'].region}"] if self.created else []
