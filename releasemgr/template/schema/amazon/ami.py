"""The AMI: name, copies, permissions, encryption, tags (packer-plugin-amazon
``builder/common/ami_config.go``)."""

from __future__ import annotations

import re
from typing import Mapping

from releasemgr.common.hcl_values import UNKNOWN

from .._model import BOOL, LIST_STRING, MAP_STRING, NUMBER, STRING, Body, Option, Schema, error, warning
from .._types import is_true
from ._common import WHERE

DEREGISTRATION_PROTECTION = Schema(
    (
        Option("enabled", BOOL, doc="Turn on deregistration protection on the AMI."),
        Option("with_cooldown", BOOL, doc="Keep protection 24h after it is turned off."),
    )
)

AMI = (
    Option("ami_name", STRING, required=True, doc="Name of the AMI: 3-128 characters: letters, digits, ( ) [ ] space . "
                                                  "/ - ' @ _."),
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
    Option("force_delete_snapshot", BOOL, default=False,
           doc="With force_deregister: also delete that AMI's snapshots."),
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


def check_ami_name(body: Body, environ: Mapping[str, str]):
    """ami_name: 3 to 128 characters of the allowed set (after legacy {{...}} actions)."""
    a = body.attrs
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


def check_kms_keys(body: Body, environ: Mapping[str, str]):
    """`kms_key_id` and `region_kms_key_ids` values are key ids, aliases or ARNs."""
    a = body.attrs
    for key, index in _kms_keys(a):
        if not _valid_kms_key(key):
            yield error(
                f'Invalid KMS key in {WHERE}',
                f'"{key}" is not a valid KMS key id: use a key id, "alias/NAME" or a key or alias ARN.',
                ("kms_key_id",) if index is None else ("region_kms_key_ids", index),
            )


def check_encrypt_boot(body: Body, environ: Mapping[str, str]):
    """A KMS key needs `encrypt_boot = true`."""
    a = body.attrs
    encrypt = a.get("encrypt_boot")
    if encrypt is not UNKNOWN and not is_true(encrypt):
        # a region mapped to "" uses that region's default key: not a KMS key of its own
        for key in sorted({"kms_key_id" if index is None else "region_kms_key_ids" for _, index in _kms_keys(a)}):
            yield error(
                f'"{key}" needs "encrypt_boot = true" in {WHERE}',
                "If you have set either region_kms_key_ids or kms_key_id, encrypt_boot must also be true.",
                (key,),
            )


def check_kms_regions(body: Body, environ: Mapping[str, str]):
    """The regions of `region_kms_key_ids` must be in `ami_regions`."""
    a = body.attrs
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


def warn_force_deregister(body: Body, environ: Mapping[str, str]):
    """Warnings: `force_deregister` deletes an AMI; `force_delete_snapshot` alone does nothing."""
    a = body.attrs
    if is_true(a.get("force_deregister")):
        yield warning(
            f'"force_deregister" is set in {WHERE}',
            "An existing AMI with the same ami_name in the build region (and in ami_regions) will be deregistered"
            + (" and its snapshots deleted." if is_true(a.get("force_delete_snapshot"))
               else "; its snapshots are kept."),
            ("force_deregister",),
        )
    if is_true(a.get("force_delete_snapshot")) and not is_true(a.get("force_deregister")):
        yield warning(
            f'"force_delete_snapshot" without "force_deregister" in {WHERE}',
            "force_delete_snapshot only acts together with force_deregister = true; it has no effect here.",
            ("force_delete_snapshot",),
        )
