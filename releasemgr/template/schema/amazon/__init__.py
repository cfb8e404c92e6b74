"""``source "amazon-ebs"``: Packer's option set, one module per concern as in packer-plugin-amazon.

Names, types and defaults follow packer-plugin-amazon (``builder/ebs/builder.go`` and the
``builder/common`` configs it squashes in); the cross-option rules follow their ``Prepare``.

- ``access``: credentials, region, endpoints (``access_config.go``)
- ``ami``: the AMI's name, copies, permissions, encryption, tags (``ami_config.go``)
- ``run``: the build instance, its network and how SSH reaches it (``run_config.go``)
- ``block_devices``: launch and AMI block device mappings (``block_device.go``)
- ``ebs``: the builder's own options and the assembled ``SCHEMA``
"""

from __future__ import annotations

from ._common import WHERE
from .ebs import SCHEMA

__all__ = ["SCHEMA", "WHERE"]
