"""Kept only for `template/schema/amazon.py`, which another branch owns and is not to be
edited here: HCL values live in `releasemgr.common.hcl_values`. Delete this module once
amazon.py imports UNKNOWN from there."""

from releasemgr.common.hcl_values import UNKNOWN

__all__ = ["UNKNOWN"]
