"""Type checks of evaluated values against an option's type, with HCL's conversions.

Packer decodes attributes with cty's conversions, so a number is fine where a string is
expected, ``"22"`` is fine where a number is, and ``"true"`` where a bool is. What cty
cannot convert (a string where a list is expected, a list where a string is) is an error.
UNKNOWN (known only at build time) and null (unset) are accepted everywhere.
"""

from __future__ import annotations

import re

from releasemgr.common.durations import DURATION_EXAMPLES, DurationError, not_negative, parse_go_duration
from releasemgr.common.hcl_values import UNKNOWN, type_name

from ._model import ANY, BOOL, DURATION, LIST_NUMBER, LIST_STRING, MAP_STRING, NUMBER, STRING
from releasemgr.common.suggest import closest as suggest

# Durations that Packer gives a meaning when negative; every other duration must be 0 or more
# (a negative timeout or wait means nothing), as `release build` reads them too.
SIGNED_DURATIONS = frozenset({"ssh_keep_alive_interval"})
_NUMBER = re.compile(r"\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*\Z")

TYPE_PHRASE = {
    STRING: "a string",
    NUMBER: "a number",
    BOOL: "a bool",
    DURATION: f"a duration string such as {DURATION_EXAMPLES}",
    LIST_STRING: "a list of strings",
    LIST_NUMBER: "a list of numbers",
    MAP_STRING: "a map of strings",
    ANY: "any value",
}


def duration_seconds(text: str) -> float | None:
    """Seconds in a Go duration string, or None if it is not one."""
    try:
        return parse_go_duration(text)
    except DurationError:
        return None


def _duration_problem(value, name: str) -> str | None:
    try:
        secs = parse_go_duration(value)
        if name not in SIGNED_DURATIONS:
            not_negative(value, secs)
    except DurationError as exc:
        return f"{exc}."
    return None


def _describe(value) -> str:
    name = type_name(value)
    article = "an" if name[0] in "aeiou" else "a"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f'{article} {name} ("{shown}")'
    if isinstance(value, (bool, int, float)):
        return f"{article} {name} ({str(value).lower() if isinstance(value, bool) else value})"
    return f"{article} {name}"


def _scalar_problem(kind: str, value, name: str = "") -> str | None:
    """None if `value` converts to the scalar type `kind`, else a sentence saying why not."""
    if value is UNKNOWN or value is None:
        return None
    want = TYPE_PHRASE[kind]
    if kind == STRING:
        if isinstance(value, (str, int, float, bool)):
            return None
    elif kind == NUMBER:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return None
        if isinstance(value, str) and _NUMBER.match(value):
            return None
    elif kind == BOOL:
        if isinstance(value, bool) or value in ("true", "false"):
            return None
    elif kind == DURATION:
        if isinstance(value, str):
            return _duration_problem(value, name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0:
            return None
    return f"{want[0].upper()}{want[1:]} is required; got {_describe(value)}."


def type_problems(kind: str, value, name: str = "") -> list[tuple[tuple, str]]:
    """Problems of `value` against type `kind`, as (sub-path, detail) pairs; `name` is the
    option's (a few durations may be negative)."""
    if value is UNKNOWN or value is None or kind == ANY:
        return []
    if kind in (LIST_STRING, LIST_NUMBER):
        if not isinstance(value, list):
            return [((), f"{TYPE_PHRASE[kind][0].upper()}{TYPE_PHRASE[kind][1:]} is required; got {_describe(value)}.")]
        elem = STRING if kind == LIST_STRING else NUMBER
        out = []
        for i, item in enumerate(value):
            problem = _scalar_problem(elem, item)
            if problem:
                out.append(((i,), f"Element {i}: {problem[0].lower()}{problem[1:]}"))
        return out
    if kind == MAP_STRING:
        if not isinstance(value, dict):
            return [((), f"A map of strings is required; got {_describe(value)}.")]
        out = []
        for key, item in value.items():
            problem = _scalar_problem(STRING, item)
            if problem:
                out.append(((key,), f'Element "{key}": {problem[0].lower()}{problem[1:]}'))
        return out
    problem = _scalar_problem(kind, value, name)
    return [((), problem)] if problem else []


def choice_problems(choices: tuple, value) -> list[tuple[tuple, str]]:
    """Problems of `value` (a scalar, or a list of scalars) against the allowed `choices`."""
    if value is UNKNOWN or value is None:
        return []
    items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
    out = []
    allowed = ", ".join(f'"{c}"' for c in choices)
    for index, item in items:
        if item is UNKNOWN or item is None or isinstance(item, (list, dict)):
            continue
        text = str(item).lower() if isinstance(item, bool) else str(item)
        if text in [str(c) for c in choices]:
            continue
        shown = text if len(text) <= 60 else text[:57] + "..."
        detail = f'"{shown}" is not one of {allowed}.'
        close = suggest(text, [str(c) for c in choices])
        if close:
            detail += f' Did you mean "{close}"?'
        out.append(((() if index is None else (index,)), detail))
    return out


def is_set(value) -> bool:
    """Whether a value counts as given, the way Packer's Go zero values do.

    null, "", false, [] and {} are "not set" (Packer cannot tell them from absent);
    UNKNOWN is set: it will have a value at build time.
    """
    if value is UNKNOWN:
        return True
    if value is None or value is False or value == "" or value == [] or value == {}:
        return False
    return True


def is_true(value) -> bool:
    return value is True or value == "true"
