"""The EC2 fleet: servers are instances launched from a version's AMI, tagged with image,
version, environment and server id.

API economy (throttling buckets are small: Describe* 100 with 20/s refill, RunInstances
1,000 with 2/s): health checks of type `ec2` share one DescribeInstanceStatus per refresh for
every instance being watched (chunks of 1,000 ids), describe calls filter by tag and
paginate, terminations go 1,000 ids per call, and `launch_many` starts a batch with one
RunInstances.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.request

from releasemgr.providers.aws import client as C
from releasemgr.providers.base import (Fleet, FleetError, HealthCheck, LaunchedServer, ManagedServer, ServerState,
                                       TerminateResult)

TAG_SERVER = "release:server-id"
CHUNK = 1000


class EC2Fleet(Fleet):
    provider = "aws"

    def __init__(self, settings: dict | None = None, *, status_ttl: float = 1.0):
        self.settings = dict(settings or {})
        self.region = str(self.settings.get("region") or C.session(self.settings).region_name or "us-east-1")
        self._ec2 = None
        self._lock = threading.Lock()
        self._status: dict[str, tuple[str, str, str]] = {}  # instance id -> (state, system, instance status)
        self._status_at = 0.0
        self._watch: set[str] = set()
        self.status_ttl = status_ttl

    @property
    def ec2(self):
        if self._ec2 is None:
            self._ec2 = C.ec2(self.settings, self.region)
        return self._ec2

    # -- launch ------------------------------------------------------------------------------
    def _run_args(self, artifact: dict, n: int, tags: dict) -> dict:
        s = self.settings
        if artifact.get("provider") != "aws":
            raise FleetError(f"the aws fleet cannot start a {artifact.get('provider')} artifact")
        kw = {"ImageId": artifact["id"], "InstanceType": str(s.get("instance_type") or "t3.micro"), "MinCount": n,
              "MaxCount": n, "TagSpecifications": [{"ResourceType": "instance", "Tags": C.tag_list(tags)}]}
        for src, dst in (("subnet_id", "SubnetId"), ("key_name", "KeyName"), ("user_data", "UserData")):
            if s.get(src):
                kw[dst] = str(s[src])
        if s.get("security_group_ids"):
            kw["SecurityGroupIds"] = [str(x) for x in s["security_group_ids"]]
        if s.get("iam_instance_profile"):
            kw["IamInstanceProfile"] = {"Name": str(s["iam_instance_profile"])}
        return kw

    def _tags(self, image: str, version: str, env: str, server_id: str | None) -> dict:
        tags = {**(self.settings.get("tags") or {}), C.TAG_MANAGED: "true", C.TAG_IMAGE: image, C.TAG_VERSION: version,
                C.TAG_ENV: env, "Name": f"{image}-{env}-{version}"}
        if server_id:
            tags[TAG_SERVER] = server_id
        return tags

    def launch(self, artifact: dict, *, server_id: str, image: str, version: str, env: str,
               port: int | None = None) -> LaunchedServer:
        return self.launch_many(artifact, server_ids=[server_id], image=image, version=version, env=env)[0]

    def launch_many(self, artifact: dict, *, server_ids: list[str], image: str, version: str,
                    env: str) -> list[LaunchedServer]:
        """One RunInstances for the batch; each instance then gets its server id tag."""
        if artifact.get("region") and artifact["region"] != self.region:
            raise FleetError(f"the AMI {artifact['id']} is in {artifact['region']}, the fleet in {self.region}")
        try:
            res = C.call(self.ec2.run_instances, "RunInstances",
                         **self._run_args(artifact, len(server_ids), self._tags(image, version, env, None)))
            instances = res["Instances"]
            for sid, inst in zip(server_ids, instances):
                C.call(self.ec2.create_tags, "CreateTags", Resources=[inst["InstanceId"]],
                       Tags=C.tag_list({TAG_SERVER: sid}))
        except C.AwsError as exc:
            raise FleetError(str(exc)) from None
        out = []
        port = self.settings.get("port")
        for sid, inst in zip(server_ids, instances):
            ip = inst.get("PrivateIpAddress") or inst.get("PublicIpAddress")
            out.append(LaunchedServer(id=sid, provider="aws", provider_id=inst["InstanceId"],
                                      address=f"{ip}:{port}" if ip and port else ip,
                                      extra={"region": self.region, "instance_id": inst["InstanceId"]}))
            self._watch.add(inst["InstanceId"])
        return out

    # -- state -------------------------------------------------------------------------------
    def _describe_ids(self, ids: list[str]) -> dict[str, dict]:
        out = {}
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            for page in self.ec2.get_paginator("describe_instances").paginate(InstanceIds=chunk):
                for r in page["Reservations"]:
                    for i in r["Instances"]:
                        out[i["InstanceId"]] = i
        return out

    def describe(self, servers: list[LaunchedServer]) -> dict[str, ServerState]:
        found = self._describe_ids([s.provider_id for s in servers]) if servers else {}
        out = {}
        for s in servers:
            inst = found.get(s.provider_id)
            state = inst["State"]["Name"] if inst else "missing"
            out[s.id] = ServerState(s.id, state in ("pending", "running"), state)
        return out

    def _refresh_status(self) -> None:
        with self._lock:
            if time.monotonic() - self._status_at < self.status_ttl:
                return
            ids = sorted(self._watch)
            status = {}
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start:start + CHUNK]
                for page in self.ec2.get_paginator("describe_instance_status").paginate(
                        InstanceIds=chunk, IncludeAllInstances=True):
                    for st in page["InstanceStatuses"]:
                        status[st["InstanceId"]] = (st["InstanceState"]["Name"],
                                                    st.get("SystemStatus", {}).get("Status", "ok"),
                                                    st.get("InstanceStatus", {}).get("Status", "ok"))
            self._status = status
            self._status_at = time.monotonic()

    def health_detail(self, server: LaunchedServer, check: HealthCheck, timeout: float) -> tuple[bool, str]:
        self._watch.add(server.provider_id)
        if check.type in ("ec2", "process"):
            self._refresh_status()
            st = self._status.get(server.provider_id)
            if st is None:
                return False, "not reported yet"
            state, system, inst = st
            if state in ("terminated", "shutting-down", "stopped", "stopping"):
                return False, f"instance {state}"
            ok = state == "running" and system in ("ok", "not-applicable") and inst in ("ok", "not-applicable")
            return ok, f"{state}, system {system}, instance {inst}"
        host, _, port = (server.address or "").partition(":")
        port = int(port or check_port(check) or 80)
        try:
            if check.type == "tcp":
                with socket.create_connection((host, port), timeout=min(timeout, 5)):
                    return True, "tcp ok"
            if check.type == "http":
                with urllib.request.urlopen(f"http://{host}:{port}{check.path}", timeout=min(timeout, 5)) as r:
                    body = r.read(65536).decode("utf-8", "replace")
                    ok = r.status == check.expected_status and (not check.body_contains or
                                                                check.body_contains in body)
                    return ok, f"http {r.status}"
        except OSError as exc:
            return False, str(exc)
        return False, f"health check type {check.type!r} is not supported for EC2 servers"

    def check_health(self, server: LaunchedServer, check: HealthCheck, timeout: float) -> bool:
        return self.health_detail(server, check, timeout)[0]

    # -- terminate and list -------------------------------------------------------------------
    def terminate(self, servers: list[LaunchedServer], *, grace: float | None = None) -> TerminateResult:
        res = TerminateResult()
        ids = {s.provider_id: s.id for s in servers}
        keys = list(ids)
        from botocore.exceptions import ClientError

        for start in range(0, len(keys), CHUNK):  # TerminateInstances takes up to 1,000 ids
            chunk = keys[start:start + CHUNK]
            try:
                self.ec2.terminate_instances(InstanceIds=chunk)
                res.stopped += [ids[i] for i in chunk]
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code == "InvalidInstanceID.NotFound" and len(chunk) == 1:
                    res.stopped.append(ids[chunk[0]])
                    continue
                for i in chunk:
                    res.failed[ids[i]] = f"{code}: terminate instance {i} by hand"
        self._watch.difference_update(keys)
        return res

    def list_managed(self, image: str | None = None, env: str | None = None) -> list[ManagedServer]:
        flt = [{"Name": f"tag:{C.TAG_MANAGED}", "Values": ["true"]}, {"Name": "tag-key", "Values": [TAG_SERVER]},
               {"Name": "instance-state-name", "Values": ["pending", "running"]}]
        if image:
            flt.append({"Name": f"tag:{C.TAG_IMAGE}", "Values": [image]})
        if env:
            flt.append({"Name": f"tag:{C.TAG_ENV}", "Values": [env]})
        out = []
        for page in self.ec2.get_paginator("describe_instances").paginate(Filters=flt):
            for r in page["Reservations"]:
                for i in r["Instances"]:
                    tags = {t["Key"]: t["Value"] for t in i.get("Tags", [])}
                    out.append(ManagedServer(id=tags.get(TAG_SERVER, i["InstanceId"]), image=tags.get(C.TAG_IMAGE, ""),
                                             env=tags.get(C.TAG_ENV, ""), version=tags.get(C.TAG_VERSION),
                                             alive=True, address=i.get("PrivateIpAddress"),
                                             extra={"instance_id": i["InstanceId"], "region": self.region}))
        return out


def check_port(check: HealthCheck):
    return getattr(check, "port", None)
