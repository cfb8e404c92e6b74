"""Collection functions: length concat merge lookup element coalesce coalescelist contains
keys values distinct flatten reverse sort slice zipmap range index compact chunklist
setunion setintersection setsubtract.

Unknown values: ``length``, ``concat``, ``merge``, ``element``, ``lookup``, ``keys`` and
``flatten`` give a known result when only elements (not the collection itself) are unknown;
every other function returns UNKNOWN when any argument contains UNKNOWN.
"""

from __future__ import annotations

import math

from releasemgr.common.hcl_values import UNKNOWN, hcl_equal, is_number, is_unknown, normalize_number, type_name
from releasemgr.template.functions._core import (
    FunctionError,
    register,
    to_bool,
    to_int,
    to_list,
    to_map,
    to_num,
    to_str,
    to_str_list,
    unify_primitives,
)
from releasemgr.template.functions.encoding import json_encode
from releasemgr.template.functions.strings import graphemes


@register("length", 1, 1, "length(list | map | string)", unknown_aware=True)
def length(v):
    if v is UNKNOWN:
        return UNKNOWN
    if isinstance(v, (list, dict)):
        return len(v)
    if isinstance(v, str):
        return len(graphemes(v))
    if v is None:
        raise FunctionError("argument 1 must not be null", 0)
    raise FunctionError(f"argument 1 must be a list, map or string, got {type_name(v)}", 0)


@register("concat", 1, None, "concat(list, ...)", unknown_aware=True)
def concat(*lists):
    if any(v is UNKNOWN for v in lists):
        return UNKNOWN
    out: list = []
    for i, v in enumerate(lists):
        out.extend(to_list(v, i, "a list"))
    return out


@register("merge", 0, None, "merge(map, ...)", unknown_aware=True)
def merge(*maps):
    if any(v is UNKNOWN for v in maps):
        return UNKNOWN
    out: dict = {}
    for i, m in enumerate(maps):
        if m is None:
            continue
        out.update(to_map(m, i))
    return out


@register("lookup", 2, 3, "lookup(map, key, default)", unknown_aware=True)
def lookup(m, key, *default):
    if m is UNKNOWN or is_unknown(key):
        return UNKNOWN
    m = to_map(m, 0)
    key = to_str(key, 1)
    if key in m:
        return m[key]
    if default:
        return default[0]
    raise FunctionError(f"lookup failed to find key {key!r} (give a default as argument 3)", 1)


@register("element", 2, 2, "element(list, index)", unknown_aware=True)
def element(lst, index):
    if lst is UNKNOWN or is_unknown(index):
        return UNKNOWN
    lst = to_list(lst, 0)
    idx = to_int(index, 1, "a whole number")
    if idx < 0:
        raise FunctionError("cannot use element function with a negative index", 1)
    if not lst:
        raise FunctionError("cannot use element function with an empty list", 0)
    return lst[idx % len(lst)]


@register("coalesce", 1, None, "coalesce(value, ...)")
def coalesce(*vals):
    vals = unify_primitives(list(vals), 0)
    for v in vals:
        if v is None or v == "" and isinstance(v, str):
            continue
        return v
    raise FunctionError("no non-null, non-empty-string arguments")


@register("coalescelist", 1, None, "coalescelist(list, ...)")
def coalescelist(*lists):
    for i, v in enumerate(lists):
        if v is None:
            continue
        if to_list(v, i):
            return v
    raise FunctionError("no non-null, non-empty list arguments")


@register("contains", 2, 2, "contains(list, value)")
def contains(lst, value):
    return any(hcl_equal(x, value) for x in to_list(lst, 0))


@register("index", 2, 2, "index(list, value)")
def index(lst, value):
    for k, x in enumerate(to_list(lst, 0)):
        if hcl_equal(x, value):
            return k
    raise FunctionError("item not found", 1)


@register("keys", 1, 1, "keys(map)", unknown_aware=True)
def keys(m):
    if m is UNKNOWN:
        return UNKNOWN
    return sorted(to_map(m, 0))


@register("values", 1, 1, "values(map)")
def values(m):
    m = to_map(m, 0)
    return [m[k] for k in sorted(m)]


@register("distinct", 1, 1, "distinct(list)")
def distinct(lst):
    out: list = []
    for x in unify_primitives(to_list(lst, 0), 0):
        if not any(hcl_equal(x, y) for y in out):
            out.append(x)
    return out


def _flatten(items: list, out: list) -> None:
    for x in items:
        if isinstance(x, list):
            _flatten(x, out)
        else:
            out.append(x)


@register("flatten", 1, 1, "flatten(list)", unknown_aware=True)
def flatten(lst):
    if lst is UNKNOWN:
        return UNKNOWN
    out: list = []
    _flatten(to_list(lst, 0), out)
    if any(x is UNKNOWN for x in out):
        return UNKNOWN  # an unknown element might itself be a list
    return out


@register("reverse", 1, 1, "reverse(list)")
def reverse(lst):
    return list(reversed(to_list(lst, 0)))


@register("sort", 1, 1, "sort(list)")
def sort(lst):
    return sorted(to_str_list(lst, 0))


@register("slice", 3, 3, "slice(list, start_index, end_index)")
def slice_(lst, start, end):
    lst = to_list(lst, 0)
    a, b = to_int(start, 1), to_int(end, 2)
    if a < 0:
        raise FunctionError("from index must be greater than or equal to 0", 1)
    if b > len(lst):
        raise FunctionError("to index must be less than or equal to the length of the list", 2)
    if a > b:
        raise FunctionError("from index must be less than or equal to to index", 1)
    return lst[a:b]


@register("zipmap", 2, 2, "zipmap(keys, values)")
def zipmap(ks, vs):
    ks = to_str_list(ks, 0)
    vs = to_list(vs, 1)
    if len(ks) != len(vs):
        raise FunctionError(
            f"number of keys ({len(ks)}) does not match number of values ({len(vs)})", 1)
    return dict(zip(ks, vs))


_RANGE_LIMIT = 1024


@register("range", 1, 3, "range([start,] limit[, step])")
def range_(*args):
    nums = [to_num(a, i) for i, a in enumerate(args)]
    if len(nums) == 1:
        start, limit = 0, nums[0]
        step = 1 if limit >= 0 else -1
    elif len(nums) == 2:
        start, limit = nums
        step = 1 if start <= limit else -1
    else:
        start, limit, step = nums
    if step == 0:
        raise FunctionError("step must not be zero", 2)
    if any(isinstance(n, float) and not math.isfinite(n) for n in (start, limit, step)):
        raise FunctionError("arguments must be finite numbers")
    out = []
    k = 0
    v = start
    while (v < limit) if step > 0 else (v > limit):
        if len(out) >= _RANGE_LIMIT:
            raise FunctionError(f"more than {_RANGE_LIMIT} values were generated; "
                                "either decrease the difference between start and limit "
                                "or use a larger step", None)
        out.append(normalize_number(v))
        k += 1
        v = start + k * step
    return out


@register("compact", 1, 1, "compact(list)")
def compact(lst):
    items = to_list(lst, 0)
    return [to_str(x, 0) for x in items if x is not None and x != ""]


@register("chunklist", 2, 2, "chunklist(list, size)")
def chunklist(lst, size):
    lst = to_list(lst, 0)
    n = to_int(size, 1)
    if n < 0:
        raise FunctionError("the size argument must be positive", 1)
    if n == 0:
        return [lst]
    return [lst[i:i + n] for i in range(0, len(lst), n)]


def as_set(v, i: int) -> list:
    """A list as a cty set: one element type, no duplicates, sorted."""
    items = unify_primitives(to_list(v, i), i)
    out: list = []
    for x in items:
        if not any(hcl_equal(x, y) for y in out):
            out.append(x)
    return sorted(out, key=sort_key)


@register("setunion", 1, None, "setunion(set, ...)")
def setunion(*sets):
    items: list = []
    for i, s in enumerate(sets):
        items.extend(to_list(s, i))
    return as_set(items, 0)


@register("setintersection", 1, None, "setintersection(set, ...)")
def setintersection(first, *rest):
    out = as_set(first, 0)
    for i, s in enumerate(rest, start=1):
        other = as_set(s, i)
        out = [x for x in out if any(hcl_equal(x, y) for y in other)]
    return out


@register("setsubtract", 2, 2, "setsubtract(a, b)")
def setsubtract(a, b):
    other = as_set(b, 1)
    return [x for x in as_set(a, 0) if not any(hcl_equal(x, y) for y in other)]



@register("setproduct", 1, None, "setproduct(list, ...)")
def setproduct(*lists):
    """Every combination, one element from each argument, in order (cty's set product for
    lists; an empty argument gives an empty result)."""
    import itertools  # noqa: PLC0415

    seqs = [to_list(v, i) for i, v in enumerate(lists)]
    return [list(combo) for combo in itertools.product(*seqs)]


@register("alltrue", 1, 1, "alltrue(list)")
def alltrue(lst):
    """True when every element is true (an empty list is true; null counts as false)."""
    result = True
    for k, x in enumerate(to_list(lst, 0)):
        if x is None:
            return False
        result = _element_bool(x, k) and result
    return result


@register("anytrue", 1, 1, "anytrue(list)")
def anytrue(lst):
    """True when at least one element is true (nulls are skipped)."""
    result = False
    for k, x in enumerate(to_list(lst, 0)):
        if x is not None and _element_bool(x, k):
            result = True
    return result


def _element_bool(x, k: int) -> bool:
    try:
        return to_bool(x, 0)
    except FunctionError:
        raise FunctionError(f"argument 1: element {k} must be a bool, got "
                            f"{type_name(x)}", 0) from None


@register("sum", 1, 1, "sum(list)")
def sum_(lst):
    items = to_list(lst, 0)
    if not items:
        raise FunctionError("cannot sum an empty list", 0)
    from decimal import MAX_PREC, localcontext  # noqa: PLC0415

    # decimal sums: [0.1, 0.2] gives 0.3 as in cty; exact for big integers too
    with localcontext() as c:
        c.prec = MAX_PREC
        total = _decimal_sum(items)
    return int(total) if total == total.to_integral_value() else float(total)


def _decimal_sum(items: list):
    from decimal import Decimal  # noqa: PLC0415

    total = Decimal(0)
    for k, x in enumerate(items):
        if x is None:
            raise FunctionError(f"argument 1: element {k} is null; nulls cannot be summed", 0)
        try:
            n = to_num(x, 0)
        except FunctionError:
            raise FunctionError(f"argument 1: element {k} must be a number, got "
                                f"{type_name(x)}", 0) from None
        total += Decimal(n) if isinstance(n, int) else Decimal(repr(n))
    return total


@register("one", 1, 1, "one(list)")
def one(lst):
    """The only element of a list, null for an empty list, an error for more."""
    items = to_list(lst, 0)
    if len(items) > 1:
        raise FunctionError("must be a list, set, or tuple value with either zero or one "
                            f"elements, got {len(items)}", 0)
    return items[0] if items else None


@register("transpose", 1, 1, "transpose(map of lists)")
def transpose(m):
    """{"a": ["1", "2"], "b": ["2"]} -> {"1": ["a"], "2": ["a", "b"]}."""
    out: dict[str, list[str]] = {}
    for key in sorted(to_map(m, 0)):
        value = m[key]
        for item in to_str_list(value, 0) if value is not None else []:
            out.setdefault(item, []).append(key)
    return out


@register("matchkeys", 3, 3, "matchkeys(values, keys, searchset)")
def matchkeys(vals, ks, searchset):
    vals, ks, search = to_list(vals, 0), to_list(ks, 1), to_list(searchset, 2)
    if len(vals) != len(ks):
        raise FunctionError("length of keys and values should be equal", 1)
    return [v for v, k in zip(vals, ks) if any(hcl_equal(k, s) for s in search)]


def sort_key(v):
    """Order of cty set elements: numbers by value, strings lexically, false before true."""
    if isinstance(v, bool):
        return (0, int(v), "")
    if is_number(v):
        return (1, v, "")
    if isinstance(v, str):
        return (2, 0, v)
    return (3, 0, json_encode(v))
