"""HCL values as Python values, shared by the evaluator, the functions and the schema.

string -> str, number -> int | float, bool -> bool, null -> None,
tuple/list/set -> list, object/map -> dict. A value that is only known at build time
(``build.ID``, ``build.Host``...) is ``UNKNOWN``: operations on it give UNKNOWN, and
validation accepts it wherever a value of any type is allowed.
"""

from __future__ import annotations


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
