"""Type conversions: tostring tonumber tobool tolist toset tomap.

``toset`` returns a plain list (the value model has no set type): elements converted to
one type, duplicates removed, sorted (numbers by value, strings lexically, false < true).
Conversions accept null and return null, as cty does.
"""

from __future__ import annotations

from releasemgr.common.hcl_values import type_name
from releasemgr.template.functions._core import FunctionError, register, to_bool, to_num, to_str, unify_primitives
from releasemgr.template.functions.collections import as_set


@register("tostring", 1, 1, "tostring(value)")
def tostring(v):
    if v is None:
        return None
    if isinstance(v, (list, dict)):
        raise FunctionError(f"cannot convert {type_name(v)} to string", 0)
    return to_str(v, 0)


@register("tonumber", 1, 1, "tonumber(value)")
def tonumber(v):
    if v is None:
        return None
    if isinstance(v, (bool, list, dict)):
        raise FunctionError(f"cannot convert {type_name(v)} to number", 0)
    return to_num(v, 0)


@register("tobool", 1, 1, "tobool(value)")
def tobool(v):
    if v is None:
        return None
    if not isinstance(v, (bool, str)):
        raise FunctionError(f"cannot convert {type_name(v)} to bool", 0)
    return to_bool(v, 0)


@register("tolist", 1, 1, "tolist(value)")
def tolist(v):
    if v is None:
        return None
    if not isinstance(v, list):
        raise FunctionError(f"cannot convert {type_name(v)} to list", 0)
    return unify_primitives(v, 0)


@register("toset", 1, 1, "toset(value)")
def toset(v):
    if v is None:
        return None
    if not isinstance(v, list):
        raise FunctionError(f"cannot convert {type_name(v)} to set", 0)
    return as_set(v, 0)


@register("tomap", 1, 1, "tomap(value)")
def tomap(v):
    if v is None:
        return None
    if not isinstance(v, dict):
        raise FunctionError(f"cannot convert {type_name(v)} to map", 0)
    ks = list(v)
    return dict(zip(ks, unify_primitives([v[k] for k in ks], 0)))
