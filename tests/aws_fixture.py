"""moto in server mode on a free loopback port, for tests that talk to AWS.

conftest.py registers it (`pytest_plugins`): take a test argument `aws`; the server is reset
for each test, the standard variables point boto3 at it (AWS_ENDPOINT_URL, fake
credentials, AWS_REGION=us-east-1), and `aws.ec2(region)` gives a client to assert with.
The AMI catalogue is tests/data/amis.json (Ubuntu 22.04 images owned by Canonical's id, plus
a newer look-alike owned by someone else), loaded through MOTO_AMIS_PATH.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

os.environ.setdefault("MOTO_AMIS_PATH", str(Path(__file__).with_name("data") / "amis.json"))

_server = None


def _start():
    global _server
    if _server is None:
        try:
            from moto.server import ThreadedMotoServer
        except ImportError:
            pytest.fail("moto's server mode is not installed: pip install 'moto[server]'")
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        _server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=bool(os.environ.get("MOTO_VERBOSE")))
        _server.start()
    host, port = _server.get_host_and_port()
    return f"http://{host}:{port}"


class Aws:
    def __init__(self, url: str):
        self.url = url

    def ec2(self, region: str = "us-east-1"):
        import boto3

        return boto3.client("ec2", region_name=region, endpoint_url=self.url, aws_access_key_id="testing",
                            aws_secret_access_key="testing")

    def autoscaling(self, region: str = "us-east-1"):
        import boto3

        return boto3.client("autoscaling", region_name=region, endpoint_url=self.url, aws_access_key_id="testing",
                            aws_secret_access_key="testing")

    def env(self) -> dict[str, str]:
        return {"AWS_ENDPOINT_URL": self.url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_POLL_DELAY_SECONDS": "0.05",
                "AWS_EC2_METADATA_DISABLED": "true", "MOTO_AMIS_PATH": os.environ["MOTO_AMIS_PATH"]}

    def running_instances(self, region: str = "us-east-1") -> list[str]:
        res = self.ec2(region).describe_instances(
            Filters=[{"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}])
        return [i["InstanceId"] for r in res["Reservations"] for i in r["Instances"]]

    def managed(self, region: str = "us-east-1") -> dict[str, list[str]]:
        """What carries release:managed=true (key pairs, security groups, images, snapshots)."""
        ec2 = self.ec2(region)
        flt = [{"Name": "tag:release:managed", "Values": ["true"]}]
        return {
            "key_pairs": [k["KeyName"] for k in ec2.describe_key_pairs(Filters=flt)["KeyPairs"]],
            "security_groups": [g["GroupId"] for g in ec2.describe_security_groups(Filters=flt)["SecurityGroups"]],
            "images": [i["ImageId"] for i in ec2.describe_images(Owners=["self"], Filters=flt)["Images"]],
            "snapshots": [s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"], Filters=flt)["Snapshots"]],
        }


@pytest.fixture
def aws(monkeypatch):
    import urllib.request

    url = _start()
    urllib.request.urlopen(urllib.request.Request(url + "/moto-api/reset", method="POST")).read()
    a = Aws(url)
    for k, v in a.env().items():
        monkeypatch.setenv(k, v)
    return a
