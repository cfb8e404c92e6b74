"""The build instance: source AMI, type, network, spot, user data, how SSH reaches it
(packer-plugin-amazon ``builder/common/run_config.go``)."""

from __future__ import annotations

from typing import Mapping

from .. import communicator
from .._model import (
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
    error,
    warning,
)
from .._types import is_set, is_true
from ._common import WHERE

AMI_FILTER = Schema(
    (
        Option("filters", MAP_STRING,
               doc='DescribeImages filters, e.g. { name = "ubuntu/images/*", virtualization-type = "hvm" }.'),
        Option("owners", LIST_STRING,
               doc='Account ids or aliases ("self", "amazon", "aws-marketplace") that may own the AMI.'),
        Option("most_recent", BOOL, default=False, doc="Take the newest image when several match (otherwise several "
                                                       "matches are an error)."),
    ),
    doc="Find the source AMI by filter instead of by id.",
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
        Option("http_endpoint", STRING, default="enabled", choices=("enabled", "disabled"), doc="Instance metadata "
                                                                                                "service on or off."),
        Option("http_tokens", STRING, default="optional", choices=("optional", "required"),
               doc='"required" enforces IMDSv2.'),
        Option("http_put_response_hop_limit", NUMBER, default=1, doc="Hop limit of metadata PUT responses."),
    ),
    doc="Instance metadata options of the build instance.",
)

RUN = (
    Option("associate_public_ip_address", BOOL, doc="Give the build instance a public IP (in subnet_id)."),
    Option("elastic_ip_allocation_id", STRING, doc="Elastic IP to associate with the build instance."),
    Option("availability_zone", STRING, doc="Availability zone of the build instance."),
    Option("block_duration_minutes", NUMBER, doc="Spot block duration (a multiple of 60)."),
    Option("capacity_reservation_preference", STRING, choices=("open", "none"), doc="Use open capacity reservations or "
                                                                                    "none."),
    Option("capacity_reservation_id", STRING, doc="Capacity reservation to launch into."),
    Option("capacity_reservation_group_arn", STRING, doc="Capacity reservation group to launch into."),
    Option("disable_stop_instance", BOOL, default=False, doc="Do not stop the instance before creating the AMI (a "
                                                             "provisioner stops it)."),
    Option("ebs_optimized", BOOL, default=False, doc="EBS-optimized build instance."),
    Option("enable_nitro_enclave", BOOL, default=False, doc="Enable Nitro Enclaves."),
    Option("enable_t2_unlimited", BOOL, default=False, doc="Old name of enable_unlimited_credits."),
    Option("enable_unlimited_credits", BOOL, default=False, doc="Unlimited CPU credits for burstable instances."),
    Option("iam_instance_profile", STRING, doc="Instance profile of the build instance."),
    Option("fleet_tags", MAP_STRING, doc="Tags of the spot fleet request."),
    Option("skip_profile_validation", BOOL, default=False, doc="Do not check that iam_instance_profile exists."),
    Option("shutdown_behavior", STRING, default="stop", choices=("stop", "terminate"), doc="What an OS shutdown does "
                                                                                           "to the instance."),
    Option("instance_type", STRING, doc="Instance type of the build instance, e.g. t3.micro (or spot_instance_types)."),
    Option("run_tags", MAP_STRING, doc="Tags of the build instance."),
    Option("security_group_id", STRING, doc="One security group for the build instance."),
    Option("security_group_ids", LIST_STRING, doc="Security groups for the build instance (default: a temporary one)."),
    Option("source_ami", STRING, doc="AMI to start from (or source_ami_filter)."),
    Option(
        "spot_allocation_strategy",
        STRING,
        choices=("lowest-price", "diversified", "capacity-optimized", "capacity-optimized-prioritized",
                 "price-capacity-optimized"),
        doc="Spot fleet allocation strategy.",
    ),
    Option("spot_instance_types", LIST_STRING, doc="Candidate instance types for a spot build (instead of "
                                                   "instance_type)."),
    Option("spot_price", STRING, doc='Maximum spot price, or "auto"; unset means on-demand.'),
    Option("spot_price_auto_product", STRING, doc="Deprecated: product description for automatic spot pricing."),
    Option("spot_tags", MAP_STRING, doc="Tags of the spot request."),
    Option("subnet_id", STRING, doc="Subnet to launch into."),
    Option("tenancy", STRING, choices=("default", "dedicated", "host"), doc="Tenancy of the build instance."),
    Option("temporary_security_group_source_cidrs", LIST_STRING, doc="CIDRs the temporary security group lets in "
                                                                     "(default 0.0.0.0/0)."),
    Option("temporary_security_group_source_public_ip", BOOL, default=False,
           doc="Let in only this machine's public IP."),
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


def _is_cidr(text: str) -> bool:
    import ipaddress

    if "/" not in text:  # Go's net.ParseCIDR wants the prefix length
        return False
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def check_source_ami_filter(body: Body, environ: Mapping[str, str]):
    """A source_ami_filter (without source_ami) must filter by something."""
    a = body.attrs
    filters = body.blocks.get("source_ami_filter") or []
    if not is_set(a.get("source_ami")) and filters:
        flt = filters[0].attrs
        if not is_set(flt.get("filters")) and not is_set(flt.get("owners")) and not filters[0].blocks:
            yield error(
                f"Empty source_ami_filter in {WHERE}",
                "A source_ami or source_ami_filter must be specified: give the filter `filters` or `owners`.",
                ("source_ami_filter", 0),
            )


def check_ssh_keypair(body: Body, environ: Mapping[str, str]):
    """`ssh_keypair_name` needs a private key file or the SSH agent."""
    a = body.attrs
    if is_set(a.get("ssh_keypair_name")) and communicator.communicator_type(body) == "ssh":
        if not is_set(a.get("ssh_private_key_file")) and not is_true(a.get("ssh_agent_auth")):
            yield error(
                f'"ssh_keypair_name" needs a private key in {WHERE}',
                "ssh_private_key_file must be provided or ssh_agent_auth enabled when ssh_keypair_name is specified.",
                ("ssh_keypair_name",),
            )


def check_session_manager(body: Body, environ: Mapping[str, str]):
    """`ssh_interface = "session_manager"`: the ssh communicator and an instance profile."""
    a = body.attrs
    if a.get("ssh_interface") == "session_manager":
        if communicator.communicator_type(body) not in ("ssh", None):
            yield error(
                f'"ssh_interface" session_manager needs the ssh communicator in {WHERE}',
                "session_manager connectivity is only supported with the ssh communicator.",
                ("ssh_interface",),
            )
        profile_document = body.blocks.get("temporary_iam_instance_profile_policy_document")
        if not is_set(a.get("iam_instance_profile")) and not profile_document:
            yield error(
                f'"ssh_interface" session_manager needs an instance profile in {WHERE}',
                "Set iam_instance_profile (with AmazonSSMManagedInstanceCore permissions) or a "
                "temporary_iam_instance_profile_policy_document block.",
                ("ssh_interface",),
            )


def check_temporary_security_group_cidrs(body: Body, environ: Mapping[str, str]):
    """`temporary_security_group_source_cidrs` are CIDR blocks."""
    a = body.attrs
    cidrs = a.get("temporary_security_group_source_cidrs")
    for i, cidr in enumerate(cidrs if isinstance(cidrs, list) else []):
        if isinstance(cidr, str) and not _is_cidr(cidr):
            yield error(
                f'Invalid value for "temporary_security_group_source_cidrs" in {WHERE}',
                f'"{cidr}" is not a CIDR block such as "203.0.113.0/24".',
                ("temporary_security_group_source_cidrs", i),
            )


def check_t2_unlimited(body: Body, environ: Mapping[str, str]):
    """`enable_t2_unlimited`: a t2 instance type and no spot price."""
    a = body.attrs
    if is_true(a.get("enable_t2_unlimited")):
        itype = a.get("instance_type")
        if isinstance(itype, str) and itype and not itype.startswith("t2."):
            yield error(
                f'"enable_t2_unlimited" needs a t2 instance type in {WHERE}',
                f"T2 Unlimited enabled with a non-T2 instance type: {itype}. Use enable_unlimited_credits for other "
                "burstable types.",
                ("enable_t2_unlimited",),
            )
        if is_set(a.get("spot_price")) and a.get("spot_price") != "0":
            yield error(
                f'"enable_t2_unlimited" with a spot instance in {WHERE}',
                "T2 Unlimited cannot be used in conjunction with spot instances.",
                ("enable_t2_unlimited",),
            )


def check_spot_tags(body: Body, environ: Mapping[str, str]):
    """`spot_tags` need a spot instance."""
    a = body.attrs
    spot = a.get("spot_price")
    if not is_set(spot) or spot == "0":
        if is_set(a.get("spot_tags")) or body.blocks.get("spot_tag"):
            yield error(
                f'"spot_tags" without a spot instance in {WHERE}',
                "spot_tags should not be set when not requesting a spot instance (set spot_price).",
                ("spot_tags",) if is_set(a.get("spot_tags")) else ("spot_tag", 0),
            )


def check_block_duration(body: Body, environ: Mapping[str, str]):
    """`block_duration_minutes` is a multiple of 60."""
    a = body.attrs
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


def warn_source_ami_filter_owners(body: Body, environ: Mapping[str, str]):
    """Warning: a source_ami_filter without owners matches anyone's AMI."""
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
                detail = ('Anyone can publish a matching AMI. Set owners (an account id, "self" or "amazon"). '
                          "Packer rejects this filter.")
            yield warning(summary, detail, ("source_ami_filter", i))


def warn_public_ip_without_subnet(body: Body, environ: Mapping[str, str]):
    """Warning: associate_public_ip_address without a subnet."""
    a = body.attrs
    in_subnet = is_set(a.get("subnet_id")) or body.blocks.get("subnet_filter")
    if is_true(a.get("associate_public_ip_address")) and not in_subnet:
        yield warning(
            f'"associate_public_ip_address" without a subnet in {WHERE}',
            "associate_public_ip_address applies to the instance's network interface in a subnet; "
            "set subnet_id or a subnet_filter block, or the default subnet's setting is used.",
            ("associate_public_ip_address",),
        )
