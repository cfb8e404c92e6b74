"""What the amazon-ebs steps learn and hand on, typed (instead of Packer's string-keyed bag).

One `AwsState` per source build, on `BuildContext.state`. A field is None until the step
that learns it has run; a cleanup must not assume that later fields were ever set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from releasemgr.providers.aws.config import AwsConfig


@dataclass
class AwsState:
    config: AwsConfig
    session: Any = None  # boto3.Session (StepAwsSession)
    ec2: Any = None  # EC2 client of the build region
    region: str = ""
    source_ami: str | None = None  # StepSourceAMI
    key_name: str | None = None  # StepKeyPair: the key pair the instance starts with
    private_key_file: str | None = None  # ... and the key SSH authenticates with
    security_group_ids: list[str] = field(default_factory=list)  # StepSecurityGroup
    instance_id: str | None = None  # StepRunInstance
    instance: dict | None = None  # DescribeInstances' view of it once running
    ssh_host: str | None = None  # the address to connect to
    host_key: str | None = None  # learned from the console output, if the image prints it
