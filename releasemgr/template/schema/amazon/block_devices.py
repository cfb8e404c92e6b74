"""Block device mappings (packer-plugin-amazon ``builder/common/block_device.go``)."""

from __future__ import annotations

from .._model import BOOL, NUMBER, STRING, Body, Option, Schema, error
from .._types import is_set

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
                f"The maximum ratio of provisioned IOPS to volume size (GiB) is {_IOPS_RATIO[vtype]}:1 for {vtype} "
                "volumes; "
                f"{iops:g} IOPS on {size:g} GiB is more.",
                ("iops",),
            )
        if not 100 <= iops <= 64000:
            yield error('Invalid value for "iops" in block device mapping', "IOPS must be between 100 and 64000; got "
                                                                            f"{iops:g}.", ("iops",))
    if vtype == "gp3":
        if throughput is not None and not 125 <= throughput <= 1000:
            yield error(
                'Invalid value for "throughput" in block device mapping',
                f"Throughput must be between 125 and 1000; got {throughput:g}.",
                ("throughput",),
            )
        if iops is not None and not 3000 <= iops <= 16000:
            yield error('Invalid value for "iops" in block device mapping', "IOPS of gp3 must be between 3000 and "
                                                                            f"16000; got {iops:g}.", ("iops",))


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
        "`throughput` needs `volume_type = \"gp3\"` (125 to 1000); `iops` needs io1, io2 (100 to 64000, at most 50 or "
        "500 per GiB) or gp3 (3000 to 16000).",
        "`kms_key_id` needs `encrypted` not false.",
    ),
)
