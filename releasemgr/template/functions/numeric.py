"""Number functions: abs ceil floor log pow signum min max parseint."""

from __future__ import annotations

import math

from releasemgr.common.hcl_values import normalize_number
from releasemgr.template.functions._core import FunctionError, register, to_int, to_num, to_str


@register("abs", 1, 1, "abs(number)")
def abs_(n):
    return abs(to_num(n, 0))


@register("ceil", 1, 1, "ceil(number)")
def ceil(n):
    n = to_num(n, 0)
    return n if isinstance(n, int) or math.isinf(n) else math.ceil(n)


@register("floor", 1, 1, "floor(number)")
def floor(n):
    n = to_num(n, 0)
    return n if isinstance(n, int) or math.isinf(n) else math.floor(n)


@register("log", 2, 2, "log(number, base)")
def log(n, base):
    n, base = to_num(n, 0), to_num(base, 1)
    if n <= 0:
        raise FunctionError("argument 1 must be greater than zero", 0)
    if base <= 0 or base == 1:
        raise FunctionError("argument 2 (the base) must be greater than zero and not 1", 1)
    return normalize_number(math.log(n) / math.log(base))


@register("pow", 2, 2, "pow(number, power)")
def pow_(n, p):
    n, p = to_num(n, 0), to_num(p, 1)
    try:
        if isinstance(n, int) and isinstance(p, int) and p >= 0:
            if p > 10000:
                raise FunctionError("argument 2 is too large an exponent", 1)
            return n ** p
        result = float(n) ** float(p)
    except ZeroDivisionError:
        raise FunctionError("zero cannot be raised to a negative power", 1) from None
    except OverflowError:
        raise FunctionError("the result is too large", 1) from None
    if isinstance(result, complex):
        raise FunctionError("a negative number cannot be raised to a fractional power", 1)
    return normalize_number(result)


@register("signum", 1, 1, "signum(number)")
def signum(n):
    n = to_num(n, 0)
    return (n > 0) - (n < 0)


def _extreme(pick, *nums):
    values = [to_num(v, i) for i, v in enumerate(nums)]
    return pick(values)


@register("min", 1, None, "min(number, ...)")
def min_(*nums):
    return _extreme(min, *nums)


@register("max", 1, None, "max(number, ...)")
def max_(*nums):
    return _extreme(max, *nums)


def _digit_value(c: str, base: int) -> int:
    if "0" <= c <= "9":
        return ord(c) - 48
    if base <= 36:
        c = c.lower()
        return ord(c) - 87 if "a" <= c <= "z" else 99
    if "a" <= c <= "z":
        return ord(c) - 87
    if "A" <= c <= "Z":
        return ord(c) - 29
    return 99


@register("parseint", 2, 2, "parseint(string, base)")
def parseint(s, base):
    text = to_str(s, 0)
    b = to_int(base, 1)
    if not 2 <= b <= 62:
        raise FunctionError("base must be a whole number between 2 and 62 inclusive", 1)
    body = text[1:] if text[:1] in "+-" else text
    digits = [_digit_value(c, b) for c in body]
    if not body or any(d >= b for d in digits):
        raise FunctionError(f"cannot parse {text!r} as a base {b} integer", 0)
    value = 0
    for d in digits:
        value = value * b + d
    return -value if text.startswith("-") else value
