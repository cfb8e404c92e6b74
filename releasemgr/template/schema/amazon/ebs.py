"""``source "amazon-ebs"`` itself: its own options, every block, and the schema that puts the
concerns together (packer-plugin-amazon ``builder/ebs/builder.go``, which squashes the
``builder/common`` configs into one)."""

from __future__ import annotations

from typing import Mapping

from .. import communicator
from .._model import (
    BOOL,
    MAP_STRING,
    NUMBER,
    STRING,
    BlockSpec,
    Body,
    Option,
    Schema,
    at_least_one,
    at_most_one,
    exactly_one,
    merge,
)
from . import access, ami, block_devices, run
from ._common import KEY_VALUE, NAME_VALUE, WHERE, filter_schema

FAST_LAUNCH_TEMPLATE = Schema(
    (
        Option("region", STRING, required=True, doc="Region of this launch template."),
        Option("template_id", STRING, doc="Launch template id."),
        Option("template_name", STRING, doc="Launch template name."),
        Option("template_version", NUMBER, doc="Launch template version."),
    )
)
FAST_LAUNCH = Schema(
    (
        Option("enable_fast_launch", BOOL, doc="Pre-provision snapshots of a Windows AMI."),
        Option("template_id", STRING, doc="Launch template id."),
        Option("template_name", STRING, doc="Launch template name."),
        Option("template_version", NUMBER, doc="Launch template version."),
        Option("max_parallel_launches", NUMBER, doc="Parallel instances used to prepare snapshots."),
        Option("target_resource_count", NUMBER, doc="Snapshots to keep ready."),
    ),
    blocks=(BlockSpec("region_launch_templates", FAST_LAUNCH_TEMPLATE, repeated=True),),
)

EBS = (
    Option("skip_create_ami", BOOL, default=False, doc="Build and provision, but create no AMI."),
    Option("skip_ami_run_tags", BOOL, default=False, doc="Do not copy run_tags to the AMI."),
    Option("run_volume_tags", MAP_STRING, doc="Tags of the build instance's volumes."),
    Option("no_ephemeral", BOOL, default=False, doc="Remove the instance store mappings of the source AMI."),
)

BLOCKS = (
    BlockSpec("source_ami_filter", run.AMI_FILTER, doc=run.AMI_FILTER.doc),
    BlockSpec("launch_block_device_mappings", block_devices.BLOCK_DEVICE, repeated=True, doc="Volumes of the build "
                                                                                             "instance."),
    BlockSpec("ami_block_device_mappings", block_devices.BLOCK_DEVICE, repeated=True,
              doc="Volumes recorded in the AMI."),
    BlockSpec("assume_role", access.ASSUME_ROLE, doc=access.ASSUME_ROLE.doc),
    BlockSpec("vault_aws_engine", access.VAULT, doc=access.VAULT.doc),
    BlockSpec("aws_polling", access.POLLING, doc=access.POLLING.doc),
    BlockSpec("tag", KEY_VALUE, repeated=True, doc="A tag of the AMI (like tags)."),
    BlockSpec("snapshot_tag", KEY_VALUE, repeated=True, doc="A tag of the snapshots (like snapshot_tags)."),
    BlockSpec("run_tag", KEY_VALUE, repeated=True, doc="A tag of the build instance (like run_tags)."),
    BlockSpec("spot_tag", KEY_VALUE, repeated=True, doc="A tag of the spot request (like spot_tags)."),
    BlockSpec("fleet_tag", KEY_VALUE, repeated=True, doc="A tag of the spot fleet (like fleet_tags)."),
    BlockSpec("run_volume_tag", NAME_VALUE, repeated=True, doc="A tag of the build volumes (like run_volume_tags)."),
    BlockSpec("deregistration_protection", ami.DEREGISTRATION_PROTECTION, doc="Deregistration protection of the AMI."),
    BlockSpec("temporary_iam_instance_profile_policy_document", run.POLICY_DOCUMENT, doc=run.POLICY_DOCUMENT.doc),
    BlockSpec("security_group_filter", filter_schema(), doc="Find security groups by filter."),
    BlockSpec("subnet_filter", filter_schema((
        Option("most_free", BOOL, default=False, doc="Take the subnet with the most free addresses."),
        Option("random", BOOL, default=False, doc="Take a random matching subnet."),
    )), doc="Find the subnet by filter."),
    BlockSpec("vpc_filter", filter_schema(), doc="Find the VPC by filter."),
    BlockSpec("license_specifications", run.LICENSE_SPEC, repeated=True, doc="License configurations of the build "
                                                                             "instance."),
    BlockSpec("placement", run.PLACEMENT, doc="Placement of the build instance."),
    BlockSpec("metadata_options", run.METADATA, doc=run.METADATA.doc),
    BlockSpec("fast_launch", FAST_LAUNCH, doc="Windows fast launch."),
)


def check_communicator(body: Body, environ: Mapping[str, str]):
    """The communicator's own rules (ssh_username with ssh ...), reported for this source."""
    return communicator.check_communicator(body, environ, where=WHERE)


SCHEMA = Schema(
    merge(access.ACCESS, ami.AMI, run.RUN, communicator.OPTIONS, run.AMAZON_COMMUNICATOR, EBS),
    blocks=BLOCKS,
    groups=(
        at_least_one("source_ami", "source_ami_filter"),
        exactly_one("instance_type", "spot_instance_types"),
        at_most_one("security_group_id", "security_group_ids"),
        at_most_one("user_data", "user_data_file"),
    )
    + communicator.GROUPS,
    # in the order Packer's Prepare reports them; warnings after errors
    checks=(
        access.check_region,
        ami.check_ami_name,
        run.check_source_ami_filter,
        run.check_ssh_keypair,
        run.check_session_manager,
        run.check_temporary_security_group_cidrs,
        access.check_access_keys,
        run.check_t2_unlimited,
        run.check_spot_tags,
        ami.check_kms_keys,
        run.check_block_duration,
        ami.check_encrypt_boot,
        ami.check_kms_regions,
        run.warn_source_ami_filter_owners,
        run.warn_public_ip_without_subnet,
        ami.warn_force_deregister,
        check_communicator,
    ),
    doc="Builds an AMI from an EBS-backed instance (Packer's amazon-ebs).",
    notes=(
        "`region` is required unless `AWS_REGION` or `AWS_DEFAULT_REGION` is set.",
        "`ami_name` is 3 to 128 characters: letters, digits, `( ) [ ] . / - ' @ _` and spaces "
        "(legacy `{{timestamp}}`-style actions are rendered first, as Packer does).",
        "`ssh_username` is required when `communicator` is `ssh` (the default); `winrm_username` when it is `winrm`.",
        "`ssh_keypair_name` needs `ssh_private_key_file` or `ssh_agent_auth = true`.",
        "`ssh_certificate_file` needs `ssh_private_key_file`; an `ssh_bastion_host` needs a bastion password, key or "
        "agent.",
        "`ssh_interface = \"session_manager\"` needs the ssh communicator and `iam_instance_profile` or a "
        "`temporary_iam_instance_profile_policy_document`.",
        "`kms_key_id` and `region_kms_key_ids` need `encrypt_boot = true`; the regions of `region_kms_key_ids` must be "
        "in `ami_regions`.",
        "`block_duration_minutes` is a multiple of 60.",
        "`access_key` and `secret_key` go together; `kms_key_id` and the keys of `region_kms_key_ids` are key ids, "
        "aliases or ARNs.",
        "`enable_t2_unlimited` needs a t2 instance type and no spot price; `spot_tags` need a `spot_price`.",
        "`temporary_security_group_source_cidrs` are CIDR blocks; `ssh_local_tunnels`/`ssh_remote_tunnels` are "
        "`port:host:hostport`.",
        "Warnings: credentials in the template, a `source_ami_filter` without `owners`, `associate_public_ip_address` "
        "without a subnet, `force_deregister`, `force_delete_snapshot` without `force_deregister`.",
    ),
)
