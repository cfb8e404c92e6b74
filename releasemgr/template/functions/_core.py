"""The function registry, the call entry point and the argument conversions.

Arguments arrive as plain HCL values (see ``releasemgr.template.values``). Every parameter
converts its argument the way cty does before the function runs: numbers and bools become
strings where a string is wanted, decimal strings become numbers, "true"/"false" become
bools. Anything else is a ``FunctionError`` naming the function and the argument.
"""

from __future__ import annotations

import math
import os
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Mapping

from releasemgr.template.values import UNKNOWN, is_unknown, type_name


class FunctionError(Exception):
    """A function call that cannot produce a value.

    ``message`` starts with the function's name (``"lower: argument 1 must be a string,
    got list"``); ``arg_index`` is the 0-based position of the argument at fault, or None
    when the call as a whole is wrong (unknown function, wrong number of arguments).
    """

    def __init__(self, message: str, arg_index: int | None = None):
        super().__init__(message)
        self.message = message
        self.arg_index = arg_index
        # The message without the leading "name: ", for callers that name the function
        # themselves ('Call to function "lower" failed: argument 1 must be ...').
        self.reason = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Function:
    name: str
    min_args: int
    max_args: int | None  # None = variadic
    impl: Callable[..., Any]
    needs_context: bool = False  # impl takes `ctx: FunctionContext` as first argument
    # The impl handles UNKNOWN arguments itself (e.g. `length` of a list with unknown
    # elements is known). Otherwise any argument containing UNKNOWN gives UNKNOWN.
    unknown_aware: bool = False
    signature: str = ""  # for docs and "did you mean" messages, e.g. "lower(string)"


@dataclass
class FunctionContext:
    base_dir: str  # template folder, for file/fileset/abspath
    now: datetime | None = None  # fixed time for timestamp(); set on first use if None
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)  # the live os.environ
    # For templatefile(): renders a template string with the given variables, e.g.
    # ``lambda text, variables, filename: evaluator.render(...)``. Provided by the
    # expression evaluator; without it templatefile() reports that it is unavailable.
    render_template: Callable[[str, dict, str], Any] | None = None


FUNCTIONS: dict[str, Function] = {}


def register(name: str, min_args: int, max_args: int | None, signature: str = "", *,
             needs_context: bool = False, unknown_aware: bool = False):
    """Decorator adding an implementation to FUNCTIONS."""

    def deco(impl):
        FUNCTIONS[name] = Function(name, min_args, max_args, impl, needs_context,
                                   unknown_aware, signature or f"{name}(...)")
        return impl

    return deco


def call_function(name: str, args: list, ctx: FunctionContext) -> Any:
    """Call the HCL function ``name`` with already evaluated ``args``.

    Raises FunctionError (with a "did you mean" hint for an unknown name).
    """
    fn = FUNCTIONS.get(name)
    if fn is None:
        import difflib  # noqa: PLC0415

        hint = difflib.get_close_matches(name, FUNCTIONS.keys(), n=1, cutoff=0.6)
        msg = f"call to unknown function {name!r}"
        if hint:
            msg += f"; did you mean {hint[0]!r}?"
        raise FunctionError(msg)
    n = len(args)
    if n < fn.min_args or (fn.max_args is not None and n > fn.max_args):
        if fn.max_args is None:
            want = f"at least {fn.min_args}"
        elif fn.min_args == fn.max_args:
            want = str(fn.min_args)
        else:
            want = f"{fn.min_args} to {fn.max_args}"
        plural = "" if want in ("1", "at least 1") else "s"
        err = FunctionError(
            f"{name}: expects {want} argument{plural}, got {n} (usage: {fn.signature})")
        err.reason = f"expects {want} argument{plural}, got {n} (usage: {fn.signature})"
        raise err
    if not fn.unknown_aware and any(is_unknown(a) for a in args):
        return UNKNOWN
    try:
        result = fn.impl(ctx, *args) if fn.needs_context else fn.impl(*args)
    except FunctionError as e:
        err = FunctionError(f"{name}: {e.message}", e.arg_index)
        err.reason = e.message
        raise err from None
    except RecursionError:
        raise FunctionError(f"{name}: value is nested too deeply") from None
    if isinstance(result, str) and not result.isascii() and name not in _ENCODERS:
        result = unicodedata.normalize("NFC", result)  # cty strings are always NFC
    return result


# Their results are not normalised as a whole: NFC could merge an escape such as "\t"
# with a following combining mark into invalid JSON/YAML (which Packer 1.6.6 does); the
# strings inside are normalised before encoding instead.
_ENCODERS = frozenset({"jsonencode", "yamlencode"})


# --- conversions -------------------------------------------------------------------

def _arg(i: int) -> str:
    return f"argument {i + 1}"


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def number_to_string(n) -> str:
    """A number as cty prints it: integral values without ``.0``, never an exponent."""
    if isinstance(n, int):
        try:
            return str(n)
        except ValueError:  # more than sys.get_int_max_str_digits() digits
            from decimal import Decimal  # noqa: PLC0415

            return format(Decimal(n), "f")
    if math.isnan(n):
        return "NaN"
    if math.isinf(n):
        return "+Inf" if n > 0 else "-Inf"
    if n.is_integer():
        return "-0" if n == 0 and math.copysign(1, n) < 0 else str(int(n))  # cty keeps -0
    from decimal import Decimal  # noqa: PLC0415

    return format(Decimal(repr(n)), "f")


_NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def parse_number(text: str):
    """A decimal string as a number (int when integral), or None if it is not one."""
    if not _NUMBER_RE.fullmatch(text):
        return None
    if re.fullmatch(r"[+-]?\d+", text):
        try:
            return int(text)
        except ValueError:  # longer than Python's int/str conversion limit
            from decimal import Decimal  # noqa: PLC0415

            return int(Decimal(text))
    f = float(text)
    if math.isinf(f):
        return None
    return int(f) if f.is_integer() and abs(f) < 2**63 else f


def normalize_number(n):
    """int for integral floats (so results print and compare like cty numbers)."""
    if isinstance(n, float) and n.is_integer() and abs(n) < 2**63:
        return int(n)
    return n


def to_str(v, i: int) -> str:
    if isinstance(v, str):
        # cty strings are NFC; normalising here keeps e.g. split(join(...)) consistent
        return v if v.isascii() else unicodedata.normalize("NFC", v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if is_number(v):
        return number_to_string(v)
    if v is None:
        raise FunctionError(f"{_arg(i)} must not be null", i)
    raise FunctionError(f"{_arg(i)} must be a string, got {type_name(v)}", i)


def to_raw_str(v, i: int) -> str:
    """Like to_str but without NFC: for JSON/YAML text, where normalising could merge an
    escape such as "\\t" with a following combining mark."""
    return v if isinstance(v, str) else to_str(v, i)


def to_num(v, i: int):
    if is_number(v):
        return v
    if isinstance(v, str):
        n = parse_number(v.strip()) if v.strip() == v else None
        if n is None:
            raise FunctionError(
                f"{_arg(i)} must be a number; cannot convert {v!r} to number "
                "(a string must be a decimal representation of a number)", i)
        return n
    if v is None:
        raise FunctionError(f"{_arg(i)} must not be null", i)
    raise FunctionError(f"{_arg(i)} must be a number, got {type_name(v)}", i)


def to_int(v, i: int, what: str = "a whole number") -> int:
    n = to_num(v, i)
    if isinstance(n, float):
        if not n.is_integer():
            raise FunctionError(f"{_arg(i)} must be {what}, got {number_to_string(n)}", i)
        n = int(n)
    return n


def to_bool(v, i: int) -> bool:
    if isinstance(v, bool):
        return v
    if v == "true":
        return True
    if v == "false":
        return False
    if v is None:
        raise FunctionError(f"{_arg(i)} must not be null", i)
    if isinstance(v, str):
        raise FunctionError(f"{_arg(i)} must be a bool; cannot convert {v!r} to bool "
                            "(only \"true\" or \"false\" are allowed)", i)
    raise FunctionError(f"{_arg(i)} must be a bool, got {type_name(v)}", i)


def to_list(v, i: int, what: str = "a list") -> list:
    if isinstance(v, list):
        return v
    if v is None:
        raise FunctionError(f"{_arg(i)} must not be null", i)
    raise FunctionError(f"{_arg(i)} must be {what}, got {type_name(v)}", i)


def to_map(v, i: int) -> dict:
    if isinstance(v, dict):
        return v
    if v is None:
        raise FunctionError(f"{_arg(i)} must not be null", i)
    raise FunctionError(f"{_arg(i)} must be a map or object, got {type_name(v)}", i)


def to_str_list(v, i: int) -> list[str]:
    """A list whose elements convert to strings (nulls are an error)."""
    items = to_list(v, i)
    out = []
    for k, item in enumerate(items):
        if item is None:
            raise FunctionError(f"{_arg(i)}: element {k} is null; nulls cannot be used here", i)
        if isinstance(item, (list, dict)):
            raise FunctionError(
                f"{_arg(i)} must be a list of strings, element {k} is {type_name(item)}", i)
        out.append(to_str(item, i))
    return out


def hcl_equal(a, b) -> bool:
    """cty equality: same type and same value (1 == 1.0, but 1 != "1" and 1 != true)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if is_number(a) or is_number(b):
        return is_number(a) and is_number(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(hcl_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(hcl_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def unify_primitives(items: list, i: int) -> list:
    """Convert a tuple's elements to one element type, as cty does for list/set results.

    Numbers and bools become strings when any element is a string; mixing a primitive
    with a list/object is an error. Nulls stay null.
    """
    kinds = {type_name(x) for x in items if x is not None}
    if len(kinds) <= 1:
        return list(items)
    if kinds <= {"string", "number", "bool"}:
        if "string" in kinds:
            return [None if x is None else to_str(x, i) for x in items]
        raise FunctionError(f"{_arg(i)}: all elements must have the same type; "
                            "cannot mix numbers and bools", i)
    if kinds <= {"list"} or kinds <= {"object"}:
        return list(items)
    raise FunctionError(
        f"{_arg(i)}: all elements must have the same type, got {', '.join(sorted(kinds))}", i)


def sort_key(v):
    """Order of cty set elements: numbers by value, strings lexically, false before true."""
    if isinstance(v, bool):
        return (0, int(v), "")
    if is_number(v):
        return (1, v, "")
    if isinstance(v, str):
        return (2, 0, v)
    from releasemgr.template.functions.encoding import json_encode  # noqa: PLC0415
    return (3, 0, json_encode(v))
