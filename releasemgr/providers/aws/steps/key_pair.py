"""A temporary key pair for the build (or the existing `ssh_keypair_name` + key file)."""

from __future__ import annotations

import os

from releasemgr.pipeline.runner import Step, StepFailed
from releasemgr.providers.aws.client import AwsError, call, release_tags, tag_list
from releasemgr.providers.aws.config import CommConfig
from releasemgr.providers.aws.state import AwsState


class StepKeyPair(Step):
    name = "key-pair"

    def __init__(self, comm: CommConfig):
        self.config = comm
        self.created: str | None = None  # the temporary key pair's name, once AWS made it
        self.region = ""

    def run(self, ctx) -> None:
        st: AwsState = ctx.state
        comm = self.config
        if comm.ssh_keypair_name or comm.type == "none" or comm.ssh_password:
            if comm.ssh_keypair_name and not comm.ssh_private_key_file and not comm.ssh_agent_auth:
                raise StepFailed("ssh_keypair_name needs ssh_private_key_file (or ssh_agent_auth)")
            st.key_name = comm.ssh_keypair_name
            st.private_key_file = comm.ssh_private_key_file
            return
        if comm.ssh_private_key_file:
            # as Packer: a key file without a key pair name means the key is already in the image
            st.private_key_file = comm.ssh_private_key_file
            return
        name = f"release_{ctx.build_id[:8]}_{ctx.source_name}"
        ctx.say(f"Creating temporary keypair: {name}")
        try:
            res = call(st.ec2.create_key_pair, "CreateKeyPair", KeyName=name, KeyType=comm.temporary_key_pair_type,
                       TagSpecifications=[{"ResourceType": "key-pair",
                                           "Tags": tag_list(release_tags(ctx.build_id, ctx.image))}])
        except AwsError as exc:
            raise StepFailed(str(exc)) from None
        self.created, self.region = name, st.region
        path = ctx.work_dir / "temporary_key.pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(res["KeyMaterial"])
        st.key_name = name
        if st.private_key_file is None:
            st.private_key_file = str(path)

    def cleanup(self, ctx) -> list[str]:
        if not self.created:
            return []
        st: AwsState = ctx.state
        ctx.say(f"Deleting temporary keypair {self.created}...")
        try:
            call(st.ec2.delete_key_pair, "DeleteKeyPair", KeyName=self.created)
        except Exception as exc:  # noqa: BLE001 - reported to the operator, never raised
            return [f"key pair {self.created} in {self.region} ({exc}; `release gc` finds it too)"]
        return []

    def leftovers(self, ctx) -> list[str]:
        return [f"key pair {self.created} in {self.region}"] if self.created else []
