"""Launch the source instance, wait until it runs, learn its address and host key; stop it
before imaging; terminate it in cleanup."""

from __future__ import annotations

import base64
import re

from releasemgr.pipeline.runner import Step, StepFailed
from releasemgr.providers.aws.client import AwsError, call, release_tags, tag_list, wait_for
from releasemgr.providers.aws.config import RunConfig
from releasemgr.providers.aws.state import AwsState

_HOSTKEYS = re.compile(r"-----BEGIN SSH HOST KEY KEYS-----(.*?)-----END SSH HOST KEY KEYS-----", re.S)


class StepRunInstance(Step):
    name = "run-instance"

    def __init__(self, run: RunConfig):
        self.config = run
        self.instance_id: str | None = None  # set as soon as AWS accepted RunInstances
        self.region = ""

    def _run_args(self, ctx, st: AwsState) -> dict:
        run = self.config
        tags = {**release_tags(ctx.build_id, ctx.image), "Name": "Packer Builder", **run.run_tags}
        vol_tags = {**release_tags(ctx.build_id, ctx.image), **run.run_volume_tags}
        kw = {"ImageId": st.source_ami, "InstanceType": run.instance_type, "MinCount": 1, "MaxCount": 1,
              "TagSpecifications": [{"ResourceType": "instance", "Tags": tag_list(tags)},
                                    {"ResourceType": "volume", "Tags": tag_list(vol_tags)}]}
        if st.key_name:
            kw["KeyName"] = st.key_name
        sgs = st.security_group_ids
        if run.subnet_id or run.associate_public_ip_address is not None:
            ni = {"DeviceIndex": 0, "Groups": sgs}
            if run.subnet_id:
                ni["SubnetId"] = run.subnet_id
            if run.associate_public_ip_address is not None:
                ni["AssociatePublicIpAddress"] = run.associate_public_ip_address
            kw["NetworkInterfaces"] = [ni]
        elif sgs:
            kw["SecurityGroupIds"] = sgs
        user_data = run.user_data
        if run.user_data_file:
            try:
                user_data = open(run.user_data_file).read()
            except OSError as exc:
                raise StepFailed(f"user_data_file: {exc.strerror}") from None
        if user_data:
            kw["UserData"] = str(user_data)
        if run.iam_instance_profile:
            kw["IamInstanceProfile"] = {"Name": run.iam_instance_profile}
        if run.shutdown_behavior:
            kw["InstanceInitiatedShutdownBehavior"] = run.shutdown_behavior
        if run.block_devices:
            kw["BlockDeviceMappings"] = [d.mapping() for d in run.block_devices]
        return kw

    def run(self, ctx) -> None:
        st: AwsState = ctx.state
        kw = self._run_args(ctx, st)
        ctx.say(f"Launching a source AWS instance ({self.config.instance_type} from {st.source_ami})...")
        try:
            res = call(st.ec2.run_instances, "RunInstances", **kw)
        except AwsError as exc:
            raise StepFailed(str(exc)) from None
        self.instance_id, self.region = res["Instances"][0]["InstanceId"], st.region
        st.instance_id = self.instance_id
        ctx.say(f"Instance ID: {self.instance_id}")
        ctx.say(f"Waiting for instance ({self.instance_id}) to become ready...")
        try:
            inst = wait_for(lambda: self._state(st, "running"), f"instance {self.instance_id} to run",
                            cancel=ctx.cancel_event, say=ctx.say)
        except AwsError as exc:
            raise StepFailed(str(exc)) from None
        st.instance = inst
        st.ssh_host = _address(inst, self.config, st.config.comm.ssh_host)
        host_key = self._host_key_from_console(st)
        if host_key:
            st.host_key = host_key
            ctx.say("Learned the instance's SSH host key from its console output")

    def _state(self, st: AwsState, want):
        res = st.ec2.describe_instances(InstanceIds=[self.instance_id])
        inst = res["Reservations"][0]["Instances"][0]
        state = inst["State"]["Name"]
        if state in ("terminated", "shutting-down") and want == "running":
            raise AwsError(f"instance {self.instance_id} went to {state} while starting")
        return inst if state == want else None

    def _host_key_from_console(self, st: AwsState) -> str | None:
        try:
            out = st.ec2.get_console_output(InstanceId=self.instance_id).get("Output") or ""
        except Exception:
            return None
        try:
            text = base64.b64decode(out).decode("utf-8", "replace") if out and not out.startswith("-") else out
        except Exception:
            text = out
        m = _HOSTKEYS.search(text or "")
        if not m:
            return None
        keys = [" ".join(line.split()[:2]) for line in m.group(1).strip().splitlines() if line.strip()]
        ed = [k for k in keys if k.startswith("ssh-ed25519")]
        return (ed or keys or [None])[0]

    def cleanup(self, ctx) -> list[str]:
        if not self.instance_id:
            return []
        st: AwsState = ctx.state
        ctx.say(f"Terminating the source AWS instance {self.instance_id}...")
        try:
            call(st.ec2.terminate_instances, "TerminateInstances", InstanceIds=[self.instance_id])
            wait_for(lambda: self._gone(st), f"instance {self.instance_id} to terminate", delay=1)
        except Exception as exc:  # noqa: BLE001 - reported to the operator, never raised
            return [f"instance {self.instance_id} in {self.region} ({exc}; terminate it, or run `release gc`)"]
        return []

    def _gone(self, st: AwsState):
        res = st.ec2.describe_instances(InstanceIds=[self.instance_id])
        return res["Reservations"][0]["Instances"][0]["State"]["Name"] == "terminated"

    def leftovers(self, ctx) -> list[str]:
        return [f"instance {self.instance_id} in {self.region}"] if self.instance_id else []


def _address(inst: dict, run: RunConfig, ssh_host: str | None) -> str | None:
    if ssh_host:
        return ssh_host
    by = {"public_ip": inst.get("PublicIpAddress"), "private_ip": inst.get("PrivateIpAddress"),
          "public_dns": inst.get("PublicDnsName"), "private_dns": inst.get("PrivateDnsName")}
    if run.ssh_interface:
        return by.get(run.ssh_interface)
    return inst.get("PublicIpAddress") or inst.get("PrivateIpAddress")


class StepStopInstance(Step):
    name = "stop-instance"

    def __init__(self, run: RunConfig):
        self.config = run

    def run(self, ctx) -> None:
        st: AwsState = ctx.state
        iid = st.instance_id
        if self.config.disable_stop_instance:
            return
        ctx.say("Stopping the source instance...")
        try:
            call(st.ec2.stop_instances, "StopInstances", InstanceIds=[iid])
            wait_for(lambda: st.ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
                     ["State"]["Name"] == "stopped", f"instance {iid} to stop", cancel=ctx.cancel_event, say=ctx.say)
        except AwsError as exc:
            raise StepFailed(str(exc)) from None
