"""``source "amazon-ebs"``: Packer's option set (access, AMI, run, block devices, communicator).

Names, types and defaults follow packer-plugin-amazon (``builder/ebs/builder.go`` and the
``builder/common`` configs it squashes in); the cross-option rules follow their ``Prepare``.
"""

from __future__ import annotations

import re
from typing import Mapping

from . import communicator
from ._model import (
    BOOL,
    DURATION,
    LIST_STRING,
    MAP_STRING,
    NUMBER,
    STRING,
    BlockSpec,
    Body,
    Option,
    Schema,
    at_least_one,
    at_most_one,
    error,
    exactly_one,
    merge,
    warning,
)
from ._types import is_set, is_true
from releasemgr.template.values import UNKNOWN

WHERE = "source amazon-ebs"

# --- small nested blocks -------------------------------------------------------------------

KEY_VALUE = Schema(
    (
        Option("key", STRING, doc="Tag key."),
        Option("value", STRING, doc="Tag value."),
    ),
    doc="One tag, for keys a map cannot hold.",
)
NAME_VALUE = Schema(
    (
        Option("name", STRING, doc="Filter or tag name."),
        Option("value", STRING, doc="Its value."),
    )
)


def _filter_schema(extra: tuple[Option, ...] = ()) -> Schema:
    return Schema(
        (Option("filters", MAP_STRING, doc="EC2 Describe* filters, name -> value."),) + extra,
        blocks=(BlockSpec("filter", NAME_VALUE, repeated=True, doc="One filter, as a block."),),
    )


AMI_FILTER = Schema(
    (
        Option("filters", MAP_STRING, doc='DescribeImages filters, e.g. { name = "ubuntu/images/*", virtualization-type = "hvm" }.'),
        Option("owners", LIST_STRING, doc='Account ids or aliases ("self", "amazon", "aws-marketplace") that may own the AMI.'),
        Option("most_recent", BOOL, default=False, doc="Take the newest image when several match (otherwise several matches are an error)."),
    ),
    doc="Find the source AMI by filter instead of by id.",
)

VOLUME_TYPES = ("standard", "io1", "io2", "gp2", "gp3", "sc1", "st1")


def _check_block_device(body: Body, environ):
    a = body.attrs
    if not is_set(a.get("device_name")):
        yield error(
            "Missing required argument \"device_name\" in block device mapping",
            "The `device_name` must be specified for every device in the block device mapping.",
        )
    vtype = a.get("volume_type")
    if is_set(a.get("throughput")) and isinstance(vtype, str) and vtype != "gp3":
        yield error(
            'Argument "throughput" needs volume_type "gp3"',
            "throughput can only be set for gp3 volumes.",
            ("throughput",),
        )
    if is_set(a.get("iops")) and isinstance(vtype, str) and vtype not in ("io1", "io2", "gp3"):
        yield error(
            'Argument "iops" needs an io1, io2 or gp3 volume',
            f'iops cannot be set for volume_type "{vtype}".',
            ("iops",),
        )
    if is_set(a.get("kms_key_id")) and a.get("encrypted") in (False, "false"):
        yield error(
            '"kms_key_id" needs "encrypted = true" in block device mapping',
            "A device must also have encrypted = true when setting a kms_key_id.",
            ("kms_key_id",),
        )
    iops, size, throughput = _number(a.get("iops")), _number(a.get("volume_size")), _number(a.get("throughput"))
    if vtype in _IOPS_RATIO and size and iops is not None:
        if iops / size > _IOPS_RATIO[vtype]:
            yield error(
                'Invalid value for "iops" in block device mapping',
                f"The maximum ratio of provisioned IOPS to volume size (GiB) is {_IOPS_RATIO[vtype]}:1 for {vtype} volumes; "
                f"{iops:g} IOPS on {size:g} GiB is more.",
                ("iops",),
            )
        if not 100 <= iops <= 64000:
            yield error('Invalid value for "iops" in block device mapping', f"IOPS must be between 100 and 64000; got {iops:g}.", ("iops",))
    if vtype == "gp3":
        if throughput is not None and not 125 <= throughput <= 1000:
            yield error(
                'Invalid value for "throughput" in block device mapping',
                f"Throughput must be between 125 and 1000; got {throughput:g}.",
                ("throughput",),
            )
        if iops is not None and not 3000 <= iops <= 16000:
            yield error('Invalid value for "iops" in block device mapping', f"IOPS of gp3 must be between 3000 and 16000; got {iops:g}.", ("iops",))


_IOPS_RATIO = {"io1": 50, "io2": 500}  # IOPS per GiB at most


def _number(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


BLOCK_DEVICE = Schema(
    (
        Option("device_name", STRING, doc="Device name, e.g. /dev/sda1 (required)."),
        Option("delete_on_termination", BOOL, default=False, doc="Delete the volume when the instance terminates."),
        Option("encrypted", BOOL, doc="Encrypt the volume."),
        Option("iops", NUMBER, doc="Provisioned IOPS (io1, io2, gp3)."),
        Option("no_device", BOOL, default=False, doc="Suppress the device of the source AMI's mapping."),
        Option("snapshot_id", STRING, doc="Create the volume from this snapshot."),
        Option("throughput", NUMBER, doc="Throughput in MiB/s (gp3)."),
        Option("virtual_name", STRING, doc="Instance store name (ephemeral0...)."),
        Option("volume_type", STRING, choices=VOLUME_TYPES, doc="EBS volume type."),
        Option("volume_size", NUMBER, doc="Size in GiB."),
        Option("kms_key_id", STRING, doc="KMS key to encrypt the volume with."),
    ),
    checks=(_check_block_device,),
    doc="One EBS or instance-store device.",
    notes=(
        "`device_name` is required.",
        "`throughput` needs `volume_type = \"gp3\"` (125 to 1000); `iops` needs io1, io2 (100 to 64000, at most 50 or 500 per GiB) or gp3 (3000 to 16000).",
        "`kms_key_id` needs `encrypted` not false.",
    ),
)

ASSUME_ROLE = Schema(
    (
        Option("role_arn", STRING, doc="Role to assume."),
        Option("duration_seconds", NUMBER, doc="Session length."),
        Option("external_id", STRING, doc="External id the role requires."),
        Option("policy", STRING, doc="Inline session policy (JSON)."),
        Option("policy_arns", LIST_STRING, doc="Managed session policies."),
        Option("session_name", STRING, doc="Session name."),
        Option("tags", MAP_STRING, doc="Session tags."),
        Option("transitive_tag_keys", LIST_STRING, doc="Session tags passed on to chained roles."),
    ),
    doc="Assume an IAM role for the build.",
)
VAULT = Schema(
    (
        Option("name", STRING, doc="Vault role name."),
        Option("role_arn", STRING, doc="Role ARN for the Vault role."),
        Option("ttl", STRING, doc="Lease length."),
        Option("engine_name", STRING, doc="Mount path of the AWS secrets engine."),
    ),
    doc="Get credentials from Vault's AWS secrets engine.",
)
POLLING = Schema(
    (
        Option("delay_seconds", NUMBER, doc="Seconds between polls of the AWS waiters."),
        Option("max_attempts", NUMBER, doc="Polls before giving up."),
    ),
    doc="How long to wait for AWS operations.",
)
DEREGISTRATION_PROTECTION = Schema(
    (
        Option("enabled", BOOL, doc="Turn on deregistration protection on the AMI."),
        Option("with_cooldown", BOOL, doc="Keep protection 24h after it is turned off."),
    )
)
STATEMENT = Schema(
    (
        Option("Effect", STRING, choices=("Allow", "Deny"), doc="Allow or Deny."),
        Option("Action", LIST_STRING, doc="Actions."),
        Option("Resource", LIST_STRING, doc="Resources."),
    )
)
POLICY_DOCUMENT = Schema(
    (Option("Version", STRING, doc='Policy language version, e.g. "2012-10-17".'),),
    blocks=(BlockSpec("Statement", STATEMENT, repeated=True),),
    doc="Policy of a temporary instance profile.",
)
LICENSE_SPEC = Schema(
    (),
    blocks=(
        BlockSpec(
            "license_configuration_request",
            Schema((Option("license_configuration_arn", STRING, doc="License configuration ARN."),)),
        ),
    ),
)
PLACEMENT = Schema(
    (
        Option("host_resource_group_arn", STRING, doc="Host resource group to launch into."),
        Option("tenancy", STRING, choices=("default", "dedicated", "host"), doc="Tenancy."),
    )
)
METADATA = Schema(
    (
        Option("http_endpoint", STRING, default="enabled", choices=("enabled", "disabled"), doc="Instance metadata service on or off."),
        Option("http_tokens", STRING, default="optional", choices=("optional", "required"), doc='"required" enforces IMDSv2.'),
        Option("http_put_response_hop_limit", NUMBER, default=1, doc="Hop limit of metadata PUT responses."),
    ),
    doc="Instance metadata options of the build instance.",
)
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

# --- the top-level options -----------------------------------------------------------------

ACCESS = (
    Option("access_key", STRING, doc="AWS access key. Prefer the standard credential chain; never write it in the template."),
    Option("secret_key", STRING, doc="AWS secret key. Prefer the standard credential chain; never write it in the template."),
    Option("token", STRING, doc="AWS session token."),
    Option("profile", STRING, doc="Profile of the shared credentials file."),
    Option("shared_credentials_file", STRING, doc="Path of the shared credentials file."),  # may be created later: not checked
    Option("region", STRING, doc="Region to build in (required unless AWS_REGION or AWS_DEFAULT_REGION is set)."),
    Option("custom_endpoint_ec2", STRING, doc="EC2 endpoint URL (for moto, LocalStack or private endpoints)."),
    Option("decode_authorization_messages", BOOL, default=False, doc="Decode 'encoded authorization' error messages (needs sts:DecodeAuthorizationMessage)."),
    Option("insecure_skip_tls_verify", BOOL, default=False, doc="Do not verify TLS certificates of the endpoints."),
    Option("max_retries", NUMBER, doc="Retries of throttled API calls."),
    Option("mfa_code", STRING, doc="MFA token code."),
    Option("skip_metadata_api_check", BOOL, default=False, doc="Do not look for credentials in the instance metadata service."),
    Option("skip_credential_validation", BOOL, default=False, doc="Do not validate the credentials with STS."),
)

AMI = (
    Option("ami_name", STRING, required=True, doc="Name of the AMI: 3-128 characters: letters, digits, ( ) [ ] space . / - ' @ _."),
    Option("ami_description", STRING, doc="Description of the AMI."),
    Option("ami_virtualization_type", STRING, choices=("paravirtual", "hvm"), doc="Virtualization type of the AMI."),
    Option("ami_users", LIST_STRING, doc="Account ids allowed to launch the AMI."),
    Option("ami_groups", LIST_STRING, doc='Groups allowed to launch the AMI ("all" makes it public).'),
    Option("ami_org_arns", LIST_STRING, doc="Organizations allowed to launch the AMI."),
    Option("ami_ou_arns", LIST_STRING, doc="Organizational units allowed to launch the AMI."),
    Option("ami_product_codes", LIST_STRING, doc="Product codes to attach."),
    Option("ami_regions", LIST_STRING, doc="Other regions to copy the AMI to."),
    Option("skip_region_validation", BOOL, default=False, doc="Do not check that the regions exist."),
    Option("snapshot_copy_duration_minutes", NUMBER, doc="Time-based copy: minutes allowed for copying snapshots."),
    Option("tags", MAP_STRING, doc="Tags of the AMI."),
    Option("ena_support", BOOL, doc="Enable enhanced networking (ENA)."),
    Option("sriov_support", BOOL, default=False, doc="Enable SR-IOV networking."),
    Option("force_deregister", BOOL, default=False, doc="Deregister an existing AMI of the same name first."),
    Option("force_delete_snapshot", BOOL, default=False, doc="With force_deregister: also delete that AMI's snapshots."),
    Option("encrypt_boot", BOOL, doc="Encrypt the boot volume of the AMI."),
    Option("kms_key_id", STRING, doc="KMS key for encrypt_boot (needs encrypt_boot = true)."),
    Option("region_kms_key_ids", MAP_STRING, doc="KMS key per region of ami_regions."),
    Option("skip_save_build_region", BOOL, default=False, doc="Do not keep the AMI in the build region."),
    Option("imds_support", STRING, choices=("v2.0",), doc='"v2.0": instances from the AMI require IMDSv2.'),
    Option("deprecate_at", STRING, doc="RFC 3339 time at which the AMI is deprecated."),
    Option("snapshot_tags", MAP_STRING, doc="Tags of the AMI's snapshots."),
    Option("snapshot_users", LIST_STRING, doc="Account ids allowed to create volumes from the snapshots."),
    Option("snapshot_groups", LIST_STRING, doc="Groups allowed to create volumes from the snapshots."),
)

RUN = (
    Option("associate_public_ip_address", BOOL, doc="Give the build instance a public IP (in subnet_id)."),
    Option("elastic_ip_allocation_id", STRING, doc="Elastic IP to associate with the build instance."),
    Option("availability_zone", STRING, doc="Availability zone of the build instance."),
    Option("block_duration_minutes", NUMBER, doc="Spot block duration (a multiple of 60)."),
    Option("capacity_reservation_preference", STRING, choices=("open", "none"), doc="Use open capacity reservations or none."),
    Option("capacity_reservation_id", STRING, doc="Capacity reservation to launch into."),
    Option("capacity_reservation_group_arn", STRING, doc="Capacity reservation group to launch into."),
    Option("disable_stop_instance", BOOL, default=False, doc="Do not stop the instance before creating the AMI (a provisioner stops it)."),
    Option("ebs_optimized", BOOL, default=False, doc="EBS-optimized build instance."),
    Option("enable_nitro_enclave", BOOL, default=False, doc="Enable Nitro Enclaves."),
    Option("enable_t2_unlimited", BOOL, default=False, doc="Old name of enable_unlimited_credits."),
    Option("enable_unlimited_credits", BOOL, default=False, doc="Unlimited CPU credits for burstable instances."),
    Option("iam_instance_profile", STRING, doc="Instance profile of the build instance."),
    Option("fleet_tags", MAP_STRING, doc="Tags of the spot fleet request."),
    Option("skip_profile_validation", BOOL, default=False, doc="Do not check that iam_instance_profile exists."),
    Option("shutdown_behavior", STRING, default="stop", choices=("stop", "terminate"), doc="What an OS shutdown does to the instance."),
    Option("instance_type", STRING, doc="Instance type of the build instance, e.g. t3.micro (or spot_instance_types)."),
    Option("run_tags", MAP_STRING, doc="Tags of the build instance."),
    Option("security_group_id", STRING, doc="One security group for the build instance."),
    Option("security_group_ids", LIST_STRING, doc="Security groups for the build instance (default: a temporary one)."),
    Option("source_ami", STRING, doc="AMI to start from (or source_ami_filter)."),
    Option(
        "spot_allocation_strategy",
        STRING,
        choices=("lowest-price", "diversified", "capacity-optimized", "capacity-optimized-prioritized", "price-capacity-optimized"),
        doc="Spot fleet allocation strategy.",
    ),
    Option("spot_instance_types", LIST_STRING, doc="Candidate instance types for a spot build (instead of instance_type)."),
    Option("spot_price", STRING, doc='Maximum spot price, or "auto"; unset means on-demand.'),
    Option("spot_price_auto_product", STRING, doc="Deprecated: product description for automatic spot pricing."),
    Option("spot_tags", MAP_STRING, doc="Tags of the spot request."),
    Option("subnet_id", STRING, doc="Subnet to launch into."),
    Option("tenancy", STRING, choices=("default", "dedicated", "host"), doc="Tenancy of the build instance."),
    Option("temporary_security_group_source_cidrs", LIST_STRING, doc="CIDRs the temporary security group lets in (default 0.0.0.0/0)."),
    Option("temporary_security_group_source_public_ip", BOOL, default=False, doc="Let in only this machine's public IP."),
    Option("user_data", STRING, doc="User data of the build instance."),
    Option("user_data_file", STRING, doc="File holding the user data.", local_path=True),
    Option("vpc_id", STRING, doc="VPC to launch into."),
    Option("windows_password_timeout", DURATION, default="20m", doc="How long to wait for the Windows password."),
)

AMAZON_COMMUNICATOR = (
    Option(
        "ssh_interface",
        STRING,
        choices=("public_ip", "private_ip", "public_dns", "private_dns", "session_manager"),
        doc="Which address of the instance to connect to.",
    ),
    Option("pause_before_ssm", DURATION, default="10s", doc="Wait before opening a Session Manager session."),
    Option("session_manager_port", NUMBER, doc="Local port of the Session Manager tunnel."),
)

EBS = (
    Option("skip_create_ami", BOOL, default=False, doc="Build and provision, but create no AMI."),
    Option("skip_ami_run_tags", BOOL, default=False, doc="Do not copy run_tags to the AMI."),
    Option("run_volume_tags", MAP_STRING, doc="Tags of the build instance's volumes."),
    Option("no_ephemeral", BOOL, default=False, doc="Remove the instance store mappings of the source AMI."),
)

BLOCKS = (
    BlockSpec("source_ami_filter", AMI_FILTER, doc=AMI_FILTER.doc),
    BlockSpec("launch_block_device_mappings", BLOCK_DEVICE, repeated=True, doc="Volumes of the build instance."),
    BlockSpec("ami_block_device_mappings", BLOCK_DEVICE, repeated=True, doc="Volumes recorded in the AMI."),
    BlockSpec("assume_role", ASSUME_ROLE, doc=ASSUME_ROLE.doc),
    BlockSpec("vault_aws_engine", VAULT, doc=VAULT.doc),
    BlockSpec("aws_polling", POLLING, doc=POLLING.doc),
    BlockSpec("tag", KEY_VALUE, repeated=True, doc="A tag of the AMI (like tags)."),
    BlockSpec("snapshot_tag", KEY_VALUE, repeated=True, doc="A tag of the snapshots (like snapshot_tags)."),
    BlockSpec("run_tag", KEY_VALUE, repeated=True, doc="A tag of the build instance (like run_tags)."),
    BlockSpec("spot_tag", KEY_VALUE, repeated=True, doc="A tag of the spot request (like spot_tags)."),
    BlockSpec("fleet_tag", KEY_VALUE, repeated=True, doc="A tag of the spot fleet (like fleet_tags)."),
    BlockSpec("run_volume_tag", NAME_VALUE, repeated=True, doc="A tag of the build volumes (like run_volume_tags)."),
    BlockSpec("deregistration_protection", DEREGISTRATION_PROTECTION, doc="Deregistration protection of the AMI."),
    BlockSpec("temporary_iam_instance_profile_policy_document", POLICY_DOCUMENT, doc=POLICY_DOCUMENT.doc),
    BlockSpec("security_group_filter", _filter_schema(), doc="Find security groups by filter."),
    BlockSpec("subnet_filter", _filter_schema((
        Option("most_free", BOOL, default=False, doc="Take the subnet with the most free addresses."),
        Option("random", BOOL, default=False, doc="Take a random matching subnet."),
    )), doc="Find the subnet by filter."),
    BlockSpec("vpc_filter", _filter_schema(), doc="Find the VPC by filter."),
    BlockSpec("license_specifications", LICENSE_SPEC, repeated=True, doc="License configurations of the build instance."),
    BlockSpec("placement", PLACEMENT, doc="Placement of the build instance."),
    BlockSpec("metadata_options", METADATA, doc=METADATA.doc),
    BlockSpec("fast_launch", FAST_LAUNCH, doc="Windows fast launch."),
)

# --- cross-option rules --------------------------------------------------------------------

_AMI_NAME_BAD = re.compile(r"[^a-zA-Z0-9()\[\] ./\-'@_]")
_GO_TEMPLATE_ACTION = re.compile(r"\{\{.*?\}\}", re.S)


_KMS_ID = r"[a-f0-9]+[a-f0-9-]+$"
_KMS_MRK = r"mrk-[a-f0-9]+[a-f0-9-]+$"
_KMS_ALIAS = r"alias/[a-zA-Z0-9:/_-]+$"
_KMS_ARN = r"^arn:aws(-us-gov)?:kms:([a-z]{2}-(gov-)?[a-z]+-\d{1})?:(\d{12}):"
_KMS_PATTERNS = [
    re.compile("^" + _KMS_ID),
    re.compile("^" + _KMS_MRK),
    re.compile("^" + _KMS_ALIAS),
    re.compile(_KMS_ARN + "key/" + _KMS_ID),
    re.compile(_KMS_ARN + "key/" + _KMS_MRK),
    re.compile(_KMS_ARN + _KMS_ALIAS),
]


def _valid_kms_key(key: str) -> bool:
    """Packer's ValidateKmsKey: a key id, an alias, or the ARN of either."""
    return any(p.search(key) for p in _KMS_PATTERNS)


def _kms_keys(a: dict):
    key = a.get("kms_key_id")
    if isinstance(key, str) and key:
        yield key, None
    per_region = a.get("region_kms_key_ids")
    if isinstance(per_region, dict):
        for region, k in per_region.items():
            if isinstance(k, str) and k:  # "" means the region's default key
                yield k, region


def _is_cidr(text: str) -> bool:
    import ipaddress

    if "/" not in text:  # Go's net.ParseCIDR wants the prefix length
        return False
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def check_amazon_ebs(body: Body, environ: Mapping[str, str]):
    a = body.attrs
    region = a.get("region")
    if not is_set(region) and not (environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")):
        yield error(
            f'Missing required argument "region" in {WHERE}',
            "Set region, or the AWS_REGION or AWS_DEFAULT_REGION environment variable.",
        )

    name = a.get("ami_name")
    if isinstance(name, str) and name:
        # Packer still renders legacy Go-template actions ({{timestamp}}) before it checks
        # the name: judge only the text around them.
        literal = _GO_TEMPLATE_ACTION.sub("", name)
        templated = literal != name
        if (not templated and not 3 <= len(name) <= 128) or len(literal) > 128:
            yield error(
                f'Invalid value for "ami_name" in {WHERE}',
                f"ami_name must be between 3 and 128 characters long; it has {len(name)}.",
                ("ami_name",),
            )
        bad = sorted(set(_AMI_NAME_BAD.findall(literal)))
        if bad:
            shown = " ".join(repr(c) for c in bad)
            yield error(
                f'Invalid value for "ami_name" in {WHERE}',
                f"ami_name may only contain letters, digits, parentheses (()), square brackets ([]), spaces, "
                f"periods (.), slashes (/), dashes (-), single quotes ('), at-signs (@) and underscores (_); "
                f"found {shown}. The clean_resource_name function removes them.",
                ("ami_name",),
            )

    filters = body.blocks.get("source_ami_filter") or []
    if not is_set(a.get("source_ami")) and filters:
        flt = filters[0].attrs
        if not is_set(flt.get("filters")) and not is_set(flt.get("owners")) and not filters[0].blocks:
            yield error(
                f"Empty source_ami_filter in {WHERE}",
                "A source_ami or source_ami_filter must be specified: give the filter `filters` or `owners`.",
                ("source_ami_filter", 0),
            )

    if is_set(a.get("ssh_keypair_name")) and communicator.communicator_type(body) == "ssh":
        if not is_set(a.get("ssh_private_key_file")) and not is_true(a.get("ssh_agent_auth")):
            yield error(
                f'"ssh_keypair_name" needs a private key in {WHERE}',
                "ssh_private_key_file must be provided or ssh_agent_auth enabled when ssh_keypair_name is specified.",
                ("ssh_keypair_name",),
            )

    if a.get("ssh_interface") == "session_manager":
        if communicator.communicator_type(body) not in ("ssh", None):
            yield error(
                f'"ssh_interface" session_manager needs the ssh communicator in {WHERE}',
                "session_manager connectivity is only supported with the ssh communicator.",
                ("ssh_interface",),
            )
        if not is_set(a.get("iam_instance_profile")) and not body.blocks.get("temporary_iam_instance_profile_policy_document"):
            yield error(
                f'"ssh_interface" session_manager needs an instance profile in {WHERE}',
                "Set iam_instance_profile (with AmazonSSMManagedInstanceCore permissions) or a "
                "temporary_iam_instance_profile_policy_document block.",
                ("ssh_interface",),
            )

    cidrs = a.get("temporary_security_group_source_cidrs")
    for i, cidr in enumerate(cidrs if isinstance(cidrs, list) else []):
        if isinstance(cidr, str) and not _is_cidr(cidr):
            yield error(
                f'Invalid value for "temporary_security_group_source_cidrs" in {WHERE}',
                f'"{cidr}" is not a CIDR block such as "203.0.113.0/24".',
                ("temporary_security_group_source_cidrs", i),
            )

    if is_set(a.get("access_key")) != is_set(a.get("secret_key")):
        missing = "secret_key" if is_set(a.get("access_key")) else "access_key"
        yield error(
            f'"access_key" and "secret_key" go together in {WHERE}',
            f"`access_key` and `secret_key` must both be either set or not set; {missing} is missing.",
            ("secret_key" if missing == "access_key" else "access_key",),
        )

    if is_true(a.get("enable_t2_unlimited")):
        itype = a.get("instance_type")
        if isinstance(itype, str) and itype and not itype.startswith("t2."):
            yield error(
                f'"enable_t2_unlimited" needs a t2 instance type in {WHERE}',
                f"T2 Unlimited enabled with a non-T2 instance type: {itype}. Use enable_unlimited_credits for other burstable types.",
                ("enable_t2_unlimited",),
            )
        if is_set(a.get("spot_price")) and a.get("spot_price") != "0":
            yield error(
                f'"enable_t2_unlimited" with a spot instance in {WHERE}',
                "T2 Unlimited cannot be used in conjunction with spot instances.",
                ("enable_t2_unlimited",),
            )

    spot = a.get("spot_price")
    if not is_set(spot) or spot == "0":
        if is_set(a.get("spot_tags")) or body.blocks.get("spot_tag"):
            yield error(
                f'"spot_tags" without a spot instance in {WHERE}',
                "spot_tags should not be set when not requesting a spot instance (set spot_price).",
                ("spot_tags",) if is_set(a.get("spot_tags")) else ("spot_tag", 0),
            )

    for key, index in _kms_keys(a):
        if not _valid_kms_key(key):
            yield error(
                f'Invalid KMS key in {WHERE}',
                f'"{key}" is not a valid KMS key id: use a key id, "alias/NAME" or a key or alias ARN.',
                ("kms_key_id",) if index is None else ("region_kms_key_ids", index),
            )

    minutes = a.get("block_duration_minutes")
    if isinstance(minutes, str):
        try:
            minutes = float(minutes)
        except ValueError:
            minutes = None
    if isinstance(minutes, (int, float)) and not isinstance(minutes, bool) and minutes % 60 != 0:
        yield error(
            f'Invalid value for "block_duration_minutes" in {WHERE}',
            f"block_duration_minutes must be a multiple of 60; got {minutes}.",
            ("block_duration_minutes",),
        )

    encrypt = a.get("encrypt_boot")
    if encrypt is not UNKNOWN and not is_true(encrypt):
        # a region mapped to "" uses that region's default key: not a KMS key of its own
        for key in sorted({"kms_key_id" if index is None else "region_kms_key_ids" for _, index in _kms_keys(a)}):
            yield error(
                f'"{key}" needs "encrypt_boot = true" in {WHERE}',
                "If you have set either region_kms_key_ids or kms_key_id, encrypt_boot must also be true.",
                (key,),
            )

    kms_regions = a.get("region_kms_key_ids")
    ami_regions = a.get("ami_regions")
    if isinstance(kms_regions, dict) and isinstance(ami_regions, list):
        for reg in kms_regions:
            if reg not in ami_regions:
                yield error(
                    f'Region "{reg}" of "region_kms_key_ids" is not in "ami_regions" in {WHERE}',
                    f"Region {reg} is in region_kms_key_ids but not in ami_regions.",
                    ("region_kms_key_ids", reg),
                )

    yield from _warnings(body)


def _warnings(body: Body):
    a = body.attrs
    for i, flt in enumerate(body.blocks.get("source_ami_filter", [])):
        if not is_set(flt.attrs.get("owners")):
            if is_true(flt.attrs.get("most_recent")):
                summary = f"source_ami_filter with most_recent but no owners in {WHERE}"
                detail = (
                    "Anyone can publish an AMI that matches these filters, and most_recent takes the newest "
                    'one. Set owners (an account id, "self" or "amazon"). Packer rejects this filter.'
                )
            else:
                summary = f"source_ami_filter without owners in {WHERE}"
                detail = 'Anyone can publish a matching AMI. Set owners (an account id, "self" or "amazon"). Packer rejects this filter.'
            yield warning(summary, detail, ("source_ami_filter", i))

    if is_true(a.get("associate_public_ip_address")) and not is_set(a.get("subnet_id")) and not body.blocks.get("subnet_filter"):
        yield warning(
            f'"associate_public_ip_address" without a subnet in {WHERE}',
            "associate_public_ip_address applies to the instance's network interface in a subnet; "
            "set subnet_id or a subnet_filter block, or the default subnet's setting is used.",
            ("associate_public_ip_address",),
        )

    if is_true(a.get("force_deregister")):
        yield warning(
            f'"force_deregister" is set in {WHERE}',
            "An existing AMI with the same ami_name in the build region (and in ami_regions) will be deregistered"
            + (" and its snapshots deleted." if is_true(a.get("force_delete_snapshot")) else "; its snapshots are kept."),
            ("force_deregister",),
        )
    if is_true(a.get("force_delete_snapshot")) and not is_true(a.get("force_deregister")):
        yield warning(
            f'"force_delete_snapshot" without "force_deregister" in {WHERE}',
            "force_delete_snapshot only acts together with force_deregister = true; it has no effect here.",
            ("force_delete_snapshot",),
        )


def _check_communicator(body: Body, environ):
    return communicator.check_communicator(body, environ, where=WHERE)


SCHEMA = Schema(
    merge(ACCESS, AMI, RUN, communicator.OPTIONS, AMAZON_COMMUNICATOR, EBS),
    blocks=BLOCKS,
    groups=(
        at_least_one("source_ami", "source_ami_filter"),
        exactly_one("instance_type", "spot_instance_types"),
        at_most_one("security_group_id", "security_group_ids"),
        at_most_one("user_data", "user_data_file"),
    )
    + communicator.GROUPS,
    checks=(check_amazon_ebs, _check_communicator),
    doc="Builds an AMI from an EBS-backed instance (Packer's amazon-ebs).",
    notes=(
        "`region` is required unless `AWS_REGION` or `AWS_DEFAULT_REGION` is set.",
        "`ami_name` is 3 to 128 characters: letters, digits, `( ) [ ] . / - ' @ _` and spaces "
        "(legacy `{{timestamp}}`-style actions are rendered first, as Packer does).",
        "`ssh_username` is required when `communicator` is `ssh` (the default); `winrm_username` when it is `winrm`.",
        "`ssh_keypair_name` needs `ssh_private_key_file` or `ssh_agent_auth = true`.",
        "`ssh_certificate_file` needs `ssh_private_key_file`; an `ssh_bastion_host` needs a bastion password, key or agent.",
        "`ssh_interface = \"session_manager\"` needs the ssh communicator and `iam_instance_profile` or a `temporary_iam_instance_profile_policy_document`.",
        "`kms_key_id` and `region_kms_key_ids` need `encrypt_boot = true`; the regions of `region_kms_key_ids` must be in `ami_regions`.",
        "`block_duration_minutes` is a multiple of 60.",
        "`access_key` and `secret_key` go together; `kms_key_id` and the keys of `region_kms_key_ids` are key ids, aliases or ARNs.",
        "`enable_t2_unlimited` needs a t2 instance type and no spot price; `spot_tags` need a `spot_price`.",
        "`temporary_security_group_source_cidrs` are CIDR blocks; `ssh_local_tunnels`/`ssh_remote_tunnels` are `port:host:hostport`.",
        "Warnings: credentials in the template, a `source_ami_filter` without `owners`, `associate_public_ip_address` without a subnet, `force_deregister`, `force_delete_snapshot` without `force_deregister`.",
    ),
)
