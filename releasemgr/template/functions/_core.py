"""The function registry, the call entry point and the argument conversions.

Arguments arrive as plain HCL values (see ``releasemgr.common.hcl_values``). Every parameter
converts its argument the way cty does before the function runs: numbers and bools become
strings where a string is wanted, decimal strings become numbers, "true"/"false" become
bools. Anything else is a ``FunctionError`` naming the function and the argument.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Mapping

from releasemgr.common.hcl_values import (
    UNKNOWN,
    ConversionError,
    is_unknown,
    number_to_string,
    type_name,
)
from releasemgr.common import hcl_values


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


def _arg_error(v, i: int, required: str) -> FunctionError:
    """The function's message for argument ``i`` that the common conversion refused."""
    if v is None:
        return FunctionError(f"{_arg(i)} must not be null", i)
    if isinstance(v, str) and required == "number":
        return FunctionError(f"{_arg(i)} must be a number; cannot convert {v!r} to number "
                             "(a string must be a decimal representation of a number)", i)
    if isinstance(v, str) and required == "bool":
        return FunctionError(f"{_arg(i)} must be a bool; cannot convert {v!r} to bool "
                             "(only \"true\" or \"false\" are allowed)", i)
    return FunctionError(f"{_arg(i)} must be a {required}, got {type_name(v)}", i)


def to_str(v, i: int) -> str:
    """Argument ``i`` as a string, NFC-normalised (cty strings are NFC; normalising here keeps
    e.g. split(join(...)) consistent)."""
    try:
        s = hcl_values.to_string(v)
    except ConversionError:
        raise _arg_error(v, i, "string") from None
    return s if s.isascii() else unicodedata.normalize("NFC", s)


def to_raw_str(v, i: int) -> str:
    """Like to_str but without NFC: for JSON/YAML text, where normalising could merge an
    escape such as "\\t" with a following combining mark."""
    return v if isinstance(v, str) else to_str(v, i)


def to_num(v, i: int):
    """Argument ``i`` as a number (a string must be exactly a decimal number)."""
    try:
        return hcl_values.to_number(v)
    except ConversionError:
        raise _arg_error(v, i, "number") from None


def to_int(v, i: int, what: str = "a whole number") -> int:
    n = to_num(v, i)
    if isinstance(n, float):
        if not n.is_integer():
            raise FunctionError(f"{_arg(i)} must be {what}, got {number_to_string(n)}", i)
        n = int(n)
    return n


def to_bool(v, i: int) -> bool:
    """Argument ``i`` as a bool (or the string "true" or "false")."""
    try:
        return hcl_values.to_bool(v)
    except ConversionError:
        raise _arg_error(v, i, "bool") from None


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
