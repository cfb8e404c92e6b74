"""The amazon-ebs options, decoded into typed configs the steps receive (Packer's `Prepare`).

Split by concern as packer-plugin-amazon's `builder/common` is: access (credentials,
region, endpoint), AMI (name, copies, permissions, tags), run (the build instance) and the
communicator options the AWS steps use. The template was checked against the schema before
the build (`template/schema/amazon/`), so decoding only converts; defaults come from that
schema where it has one, so the docs and the builder cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from releasemgr.template.schema import schema_for


def _default(name: str) -> Any:
    opt = schema_for("source", "amazon-ebs").option(name)
    return opt.default if opt is not None else None


def _str(value) -> str | None:
    return None if value is None or value == "" else str(value)


def _strs(value) -> list[str]:
    return [str(v) for v in value or []]


def _tags(value) -> dict:
    return dict(value or {})


@dataclass(frozen=True)
class AccessConfig:
    """Credentials, region and endpoint (`access_config.go`)."""

    region: str | None = None
    profile: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    token: str | None = None
    custom_endpoint_ec2: str | None = None

    @classmethod
    def prepare(cls, cfg: Mapping[str, Any]) -> AccessConfig:
        return cls(**{name: _str(cfg.get(name)) for name in cls.__dataclass_fields__})

    def client_options(self) -> dict[str, str]:
        """What `aws.client.session`/`ec2` read (they also take release.toml's settings)."""
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class AmiConfig:
    """The AMI to create, its copies, permissions and tags (`ami_config.go`)."""

    name: str
    description: str | None = None
    regions: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    tags: dict = field(default_factory=dict)
    snapshot_tags: dict = field(default_factory=dict)
    force_deregister: bool = False
    force_delete_snapshot: bool = False
    deprecate_at: str | None = None

    @classmethod
    def prepare(cls, cfg: Mapping[str, Any]) -> AmiConfig:
        return cls(name=str(cfg.get("ami_name")), description=_str(cfg.get("ami_description")),
                   regions=_strs(cfg.get("ami_regions")), users=_strs(cfg.get("ami_users")),
                   groups=_strs(cfg.get("ami_groups")), tags=_tags(cfg.get("tags")),
                   snapshot_tags=_tags(cfg.get("snapshot_tags")),
                   force_deregister=bool(cfg.get("force_deregister") or _default("force_deregister")),
                   force_delete_snapshot=bool(cfg.get("force_delete_snapshot") or _default("force_delete_snapshot")),
                   deprecate_at=_str(cfg.get("deprecate_at")))


@dataclass(frozen=True)
class AmiFilter:
    """`source_ami_filter`: DescribeImages filters, owners, most_recent."""

    filters: dict[str, list[str]] = field(default_factory=dict)
    owners: list[str] = field(default_factory=list)
    most_recent: bool = False

    @classmethod
    def prepare(cls, block) -> AmiFilter | None:
        if isinstance(block, list):
            block = block[0] if block else None
        if not block:
            return None
        filters = {str(k): [str(x) for x in v] if isinstance(v, list) else [str(v)]
                   for k, v in (block.get("filters") or {}).items()}
        return cls(filters, _strs(block.get("owners")), bool(block.get("most_recent")))


# launch_block_device_mappings option -> the EBS field of RunInstances
_EBS_FIELDS = (("volume_size", "VolumeSize"), ("volume_type", "VolumeType"), ("iops", "Iops"),
               ("throughput", "Throughput"), ("snapshot_id", "SnapshotId"),
               ("delete_on_termination", "DeleteOnTermination"), ("encrypted", "Encrypted"),
               ("kms_key_id", "KmsKeyId"))


@dataclass(frozen=True)
class BlockDevice:
    """One `launch_block_device_mappings` block (`block_device.go`). Unset fields stay unset:
    AWS's defaults (a root volume deleted on termination) apply, not the schema's."""

    device_name: str
    virtual_name: str | None = None
    no_device: bool = False
    ebs: dict[str, Any] = field(default_factory=dict)  # RunInstances' Ebs fields that were set

    @classmethod
    def prepare(cls, block: Mapping[str, Any]) -> BlockDevice:
        return cls(str(block.get("device_name")), _str(block.get("virtual_name")), bool(block.get("no_device")),
                   {dst: block[src] for src, dst in _EBS_FIELDS if block.get(src) is not None})

    def mapping(self) -> dict:
        item: dict[str, Any] = {"DeviceName": self.device_name}
        if self.virtual_name:
            item["VirtualName"] = self.virtual_name
        elif self.no_device:
            item["NoDevice"] = ""
        else:
            item["Ebs"] = dict(self.ebs)
        return item


@dataclass(frozen=True)
class RunConfig:
    """The build instance: source AMI, type, network, user data, tags (`run_config.go`)."""

    instance_type: str
    source_ami: str | None = None
    source_ami_filter: AmiFilter | None = None
    subnet_id: str | None = None
    associate_public_ip_address: bool | None = None
    security_group_ids: list[str] = field(default_factory=list)  # given ones; none: a temporary group
    vpc_id: str | None = None
    temporary_security_group_source_cidrs: list[str] = field(default_factory=lambda: ["0.0.0.0/0"])
    user_data: str | None = None
    user_data_file: str | None = None
    iam_instance_profile: str | None = None
    shutdown_behavior: str | None = None
    block_devices: list[BlockDevice] = field(default_factory=list)
    run_tags: dict = field(default_factory=dict)
    run_volume_tags: dict = field(default_factory=dict)
    disable_stop_instance: bool = False
    ssh_interface: str | None = None

    @classmethod
    def prepare(cls, cfg: Mapping[str, Any]) -> RunConfig:
        given = cfg.get("security_group_ids") or ([cfg["security_group_id"]] if cfg.get("security_group_id") else [])
        public_ip = cfg.get("associate_public_ip_address")
        return cls(
            instance_type=str(cfg.get("instance_type")), source_ami=_str(cfg.get("source_ami")),
            source_ami_filter=AmiFilter.prepare(cfg.get("source_ami_filter")), subnet_id=_str(cfg.get("subnet_id")),
            associate_public_ip_address=None if public_ip is None else bool(public_ip),
            security_group_ids=_strs(given), vpc_id=_str(cfg.get("vpc_id")),
            temporary_security_group_source_cidrs=_strs(cfg.get("temporary_security_group_source_cidrs"))
            or ["0.0.0.0/0"],
            user_data=_str(cfg.get("user_data")), user_data_file=_str(cfg.get("user_data_file")),
            iam_instance_profile=_str(cfg.get("iam_instance_profile")),
            shutdown_behavior=_str(cfg.get("shutdown_behavior")),
            block_devices=[BlockDevice.prepare(m) for m in cfg.get("launch_block_device_mappings") or []],
            run_tags=_tags(cfg.get("run_tags")), run_volume_tags=_tags(cfg.get("run_volume_tags")),
            disable_stop_instance=bool(cfg.get("disable_stop_instance") or _default("disable_stop_instance")),
            ssh_interface=_str(cfg.get("ssh_interface")))


@dataclass(frozen=True)
class CommConfig:
    """The communicator options the AWS steps act on (key pair, security group, address).
    `options` keeps every communicator option for the SSH connection itself."""

    type: str
    ssh_port: int
    ssh_host: str | None = None
    ssh_host_key: str | None = None
    ssh_keypair_name: str | None = None
    ssh_private_key_file: str | None = None
    ssh_password: str | None = None
    ssh_agent_auth: bool = False
    temporary_key_pair_type: str = "rsa"
    options: dict = field(default_factory=dict)

    @classmethod
    def prepare(cls, cfg: Mapping[str, Any]) -> CommConfig:
        return cls(
            type=str(cfg.get("communicator") or _default("communicator")),
            ssh_port=int(cfg.get("ssh_port") or _default("ssh_port")),
            ssh_host=_str(cfg.get("ssh_host")), ssh_host_key=_str(cfg.get("ssh_host_key")),
            ssh_keypair_name=_str(cfg.get("ssh_keypair_name")),
            ssh_private_key_file=_str(cfg.get("ssh_private_key_file")),
            ssh_password=_str(cfg.get("ssh_password")),
            ssh_agent_auth=bool(cfg.get("ssh_agent_auth") or _default("ssh_agent_auth")),
            temporary_key_pair_type=str(cfg.get("temporary_key_pair_type") or _default("temporary_key_pair_type")),
            options=dict(cfg))


@dataclass(frozen=True)
class AwsConfig:
    """Everything the amazon-ebs steps read, decoded once before the first step."""

    access: AccessConfig
    ami: AmiConfig
    run: RunConfig
    comm: CommConfig

    @classmethod
    def prepare(cls, cfg: Mapping[str, Any]) -> AwsConfig:
        return cls(AccessConfig.prepare(cfg), AmiConfig.prepare(cfg), RunConfig.prepare(cfg), CommConfig.prepare(cfg))
