"""Launch the source instance, wait until it runs, learn its address and host key; stop it
before imaging; terminate it in cleanup."""

from __future__ import annotations

import base64
import re

from releasemgr.pipeline.runner import Step, StepFailed
from releasemgr.providers.aws.client import AwsError, call, release_tags, tag_list, wait_for

_HOSTKEYS = re.compile(r"-----BEGIN SSH HOST KEY KEYS-----(.*?)-----END SSH HOST KEY KEYS-----", re.S)


class StepRunInstance(Step):
    name = "run-instance"
    instance_id: str | None = None

    def run(self, ctx) -> None:
        aws = ctx.generated["aws"]
        cfg = ctx.source_config
        tags = {**release_tags(ctx.build_id, ctx.generated["image"]), "Name": "Packer Builder",
                **(cfg.get("run_tags") or {})}
        kw = {"ImageId": ctx.generated["source_ami"], "InstanceType": str(cfg.get("instance_type")),
              "MinCount": 1, "MaxCount": 1,
              "TagSpecifications": [{"ResourceType": "instance", "Tags": tag_list(tags)}]}
        vol_tags = {**release_tags(ctx.build_id, ctx.generated["image"]), **(cfg.get("run_volume_tags") or {})}
        kw["TagSpecifications"].append({"ResourceType": "volume", "Tags": tag_list(vol_tags)})
        if ctx.generated.get("key_name"):
            kw["KeyName"] = ctx.generated["key_name"]
        sgs = ctx.generated.get("security_group_ids") or []
        if cfg.get("subnet_id") or cfg.get("associate_public_ip_address") is not None:
            ni = {"DeviceIndex": 0, "Groups": sgs}
            if cfg.get("subnet_id"):
                ni["SubnetId"] = str(cfg["subnet_id"])
            if cfg.get("associate_public_ip_address") is not None:
                ni["AssociatePublicIpAddress"] = bool(cfg["associate_public_ip_address"])
            kw["NetworkInterfaces"] = [ni]
        elif sgs:
            kw["SecurityGroupIds"] = sgs
        user_data = cfg.get("user_data")
        if cfg.get("user_data_file"):
            try:
                user_data = open(str(cfg["user_data_file"])).read()
            except OSError as exc:
                raise StepFailed(f"user_data_file: {exc.strerror}") from None
        if user_data:
            kw["UserData"] = str(user_data)
        if cfg.get("iam_instance_profile"):
            kw["IamInstanceProfile"] = {"Name": str(cfg["iam_instance_profile"])}
        if cfg.get("shutdown_behavior"):
            kw["InstanceInitiatedShutdownBehavior"] = str(cfg["shutdown_behavior"])
        bdm = _block_devices(cfg.get("launch_block_device_mappings"))
        if bdm:
            kw["BlockDeviceMappings"] = bdm
        ctx.say(f"Launching a source AWS instance ({cfg.get('instance_type')} from {ctx.generated['source_ami']})...")
        try:
            res = call(aws.ec2.run_instances, "RunInstances", **kw)
        except AwsError as exc:
            raise StepFailed(str(exc)) from None
        self.instance_id = res["Instances"][0]["InstanceId"]
        ctx.generated["instance_id"] = self.instance_id
        ctx.say(f"Instance ID: {self.instance_id}")
        ctx.say(f"Waiting for instance ({self.instance_id}) to become ready...")
        try:
            inst = wait_for(lambda: self._state(aws, "running"), f"instance {self.instance_id} to run",
                            cancel=ctx.cancel_event, say=ctx.say)
        except AwsError as exc:
            raise StepFailed(str(exc)) from None
        ctx.generated["instance"] = inst
        ctx.generated["ssh_host"] = _address(inst, cfg)
        host_key = self._host_key_from_console(aws)
        if host_key:
            ctx.generated["host_key"] = host_key
            ctx.say("Learned the instance's SSH host key from its console output")

    def _state(self, aws, want):
        res = aws.ec2.describe_instances(InstanceIds=[self.instance_id])
        inst = res["Reservations"][0]["Instances"][0]
        state = inst["State"]["Name"]
        if state in ("terminated", "shutting-down") and want == "running":
            raise AwsError(f"instance {self.instance_id} went to {state} while starting")
        return inst if state == want else None

    def _host_key_from_console(self, aws) -> str | None:
        try:
            out = aws.ec2.get_console_output(InstanceId=self.instance_id).get("Output") or ""
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

    def cleanup(self, ctx) -> None:
        if not self.instance_id:
            return
        aws = ctx.generated["aws"]
        ctx.say(f"Terminating the source AWS instance {self.instance_id}...")
        try:
            call(aws.ec2.terminate_instances, "TerminateInstances", InstanceIds=[self.instance_id])
            wait_for(lambda: self._gone(aws), f"instance {self.instance_id} to terminate", delay=1)
        except AwsError as exc:
            ctx.say(f"Could not terminate {self.instance_id} ({exc}); terminate it by hand or run `release gc`")
            raise

    def _gone(self, aws):
        res = aws.ec2.describe_instances(InstanceIds=[self.instance_id])
        return res["Reservations"][0]["Instances"][0]["State"]["Name"] == "terminated"

    def leftovers(self, ctx):
        return [f"instance {self.instance_id} in {ctx.generated['aws'].region}"] if self.instance_id else []


def _address(inst: dict, cfg: dict) -> str | None:
    if cfg.get("ssh_host"):
        return str(cfg["ssh_host"])
    iface = cfg.get("ssh_interface")
    by = {"public_ip": inst.get("PublicIpAddress"), "private_ip": inst.get("PrivateIpAddress"),
          "public_dns": inst.get("PublicDnsName"), "private_dns": inst.get("PrivateDnsName")}
    if iface:
        return by.get(iface)
    return inst.get("PublicIpAddress") or inst.get("PrivateIpAddress")


def _block_devices(mappings) -> list[dict]:
    out = []
    for m in mappings or []:
        ebs = {}
        for src, dst in (("volume_size", "VolumeSize"), ("volume_type", "VolumeType"), ("iops", "Iops"),
                         ("throughput", "Throughput"), ("snapshot_id", "SnapshotId"),
                         ("delete_on_termination", "DeleteOnTermination"), ("encrypted", "Encrypted"),
                         ("kms_key_id", "KmsKeyId")):
            if m.get(src) is not None:
                ebs[dst] = m[src]
        item = {"DeviceName": str(m.get("device_name"))}
        if m.get("virtual_name"):
            item["VirtualName"] = str(m["virtual_name"])
        elif m.get("no_device"):
            item["NoDevice"] = ""
        else:
            item["Ebs"] = ebs
        out.append(item)
    return out


class StepStopInstance(Step):
    name = "stop-instance"

    def run(self, ctx) -> None:
        aws = ctx.generated["aws"]
        iid = ctx.generated["instance_id"]
        if ctx.source_config.get("disable_stop_instance"):
            return
        ctx.say("Stopping the source instance...")
        try:
            call(aws.ec2.stop_instances, "StopInstances", InstanceIds=[iid])
            wait_for(lambda: aws.ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
                     ["State"]["Name"] == "stopped", f"instance {iid} to stop", cancel=ctx.cancel_event, say=ctx.say)
        except AwsError as exc:
            raise StepFailed(str(exc)) from None
