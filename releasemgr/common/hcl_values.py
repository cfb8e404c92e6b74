"""HCL values as Python values, and the one set of conversions between them.

string -> str, number -> int | float, bool -> bool, null -> None,
tuple/list/set -> list, object/map -> dict. A value that is only known at build time
(``build.ID``, ``build.Host``...) is ``UNKNOWN``: operations on it give UNKNOWN, and
validation accepts it wherever a value of any type is allowed.

The conversions follow go-cty as Packer 1.6.6 uses it, checked against the real packer
(tests/test_values_packer.py): a number becomes a string without an exponent
(``"${1e20}"`` is ``100000000000000000000``), infinities are ``+Inf``/``-Inf``, negative zero
keeps its sign (``-0``), and a string becomes a number only if it is exactly a decimal
number (``" 5"`` is not one). The evaluator, the function library and the schema all use
these; each wraps ``ConversionError`` in its own diagnostic.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal


class _Unknown:
    __slots__ = ()
    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self):
        return "UNKNOWN"

    def __bool__(self):  # never silently truthy
        raise TypeError("an unknown HCL value has no truth value; check `is UNKNOWN` first")

    def __reduce__(self):
        return (_Unknown, ())


UNKNOWN = _Unknown()


class ConversionError(Exception):
    """A value that cannot be converted to the type required; the message says why."""


def is_unknown(value) -> bool:
    """True if the value is UNKNOWN or contains UNKNOWN anywhere."""
    if value is UNKNOWN:
        return True
    if isinstance(value, list):
        return any(is_unknown(v) for v in value)
    if isinstance(value, dict):
        return any(is_unknown(v) for v in value.values())
    return False


def type_name(value) -> str:
    """The HCL name of a value's type, for messages."""
    if value is UNKNOWN:
        return "unknown"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def is_number(v) -> bool:
    """An HCL number (a bool is not one, although Python's bool is an int)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# Integral floats below 2**53 are exact, so as ints they print and compare the same. Above,
# a float stands for its shortest decimal (as cty's 53-bit big.Float prints it: pow(2, 60) is
# 1152921504606847000 in Packer), which int() would not give.
_EXACT_INT_LIMIT = 2 ** 53


def _is_negative_zero(n: float) -> bool:
    return n == 0 and math.copysign(1, n) < 0


def normalize_number(n):
    """An integral float as an int when that is exact, so it prints and hashes like one.
    Negative zero stays a float: cty keeps its sign (``-0.0`` prints as ``-0``)."""
    if isinstance(n, float) and n.is_integer() and abs(n) < _EXACT_INT_LIMIT and not _is_negative_zero(n):
        return int(n)
    return n


def number_to_string(n) -> str:
    """A number as cty prints it: integral values without ``.0``, never an exponent."""
    if isinstance(n, int):
        try:
            return str(n)
        except ValueError:  # more than sys.get_int_max_str_digits() digits
            return format(Decimal(n), "f")
    if math.isnan(n):
        return "NaN"
    if math.isinf(n):
        return "+Inf" if n > 0 else "-Inf"
    if _is_negative_zero(n):
        return "-0"  # cty keeps the sign of zero
    if n.is_integer() and abs(n) < _EXACT_INT_LIMIT:
        return str(int(n))
    return format(Decimal(repr(n)), "f")


_NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER_RE = re.compile(r"[+-]?\d+")


def parse_number(text: str):
    """A decimal string as a number (int when integral), or None if it is not exactly one."""
    if not _NUMBER_RE.fullmatch(text):
        return None
    if _INTEGER_RE.fullmatch(text):
        try:
            return int(text)
        except ValueError:  # longer than Python's int/str conversion limit
            return int(Decimal(text))
    f = float(text)
    if math.isinf(f):
        return None
    return normalize_number(f)


def to_string(v) -> str:
    """A primitive value as a string; raises ConversionError for null and collections."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if is_number(v):
        return number_to_string(v)
    if v is None:
        raise ConversionError("a string is required, but the value is null")
    raise ConversionError(f"a string is required, but the value is a {type_name(v)}")


def to_number(v):
    """A number, or a string that is exactly a decimal number; raises ConversionError."""
    if is_number(v):
        return v
    if isinstance(v, str):
        n = parse_number(v)
        if n is None:
            raise ConversionError(f'a number is required, but "{v}" is not a number')
        return n
    if isinstance(v, bool):
        raise ConversionError("a number is required, but the value is a bool")
    if v is None:
        raise ConversionError("a number is required, but the value is null")
    raise ConversionError(f"a number is required, but the value is a {type_name(v)}")


def to_bool(v) -> bool:
    """A bool, or the string "true" or "false"; raises ConversionError."""
    if isinstance(v, bool):
        return v
    if v == "true":
        return True
    if v == "false":
        return False
    if v is None:
        raise ConversionError("a bool is required, but the value is null")
    raise ConversionError(f"a bool is required, but the value is a {type_name(v)}")


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
