"""Durations and ages, read one way everywhere.

A *duration* is what Go's ``time.ParseDuration`` reads, because Packer templates are read by
Go: an optional sign, then one or more decimal numbers each with a unit (``300ms``, ``1.5h``,
``1h30m``, ``.5s``, ``-1s``, ``+5s``); units ``ns``, ``us`` (``µs``), ``ms``, ``s``, ``m``,
``h``; ``0`` alone needs no unit. An *age* (how long ago: ``prune --older-than``, retention
``max_age``, ``audit --since``) is a duration that may also use ``d`` (24h), ``w`` (7d) and
``y`` (365d): ``30d``, ``1d12h``, ``2w``, ``1y``.

Where a person types a value (a CLI option, ``release.toml``), a bare number means seconds
(``--health-timeout 90``). A negative value is refused where it would mean nothing (a
timeout, a wait, an age); callers that give it a meaning (``ssh_keep_alive_interval = "-1s"``
disables keep-alives, as in Packer) ask for ``negative=True``.

Standard library only, and only ``re``: every command imports this.
"""

from __future__ import annotations

import re

__all__ = ["DurationError", "is_duration", "is_age", "parse_go_duration", "parse_age", "not_negative", "seconds",
           "age_seconds"]

_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_AGE_UNITS = {**_GO_UNITS, "d": 86400.0, "w": 7 * 86400.0, "y": 365 * 86400.0}
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_GO_PART = re.compile(rf"({_NUMBER})(ns|us|µs|μs|ms|s|m|h)")
_AGE_PART = re.compile(rf"({_NUMBER})(ns|us|µs|μs|ms|s|m|h|d|w|y)")
_GO_TEXT = re.compile(rf"[-+]?(?:0|(?:{_NUMBER}(?:ns|us|µs|μs|ms|s|m|h))+)\Z")
_AGE_TEXT = re.compile(rf"[-+]?(?:0|(?:{_NUMBER}(?:ns|us|µs|μs|ms|s|m|h|d|w|y))+)\Z")
_BARE_NUMBER = re.compile(rf"[-+]?{_NUMBER}\Z")
_MAX_SECONDS = 9223372036.854775807  # Go durations are int64 nanoseconds (about 292 years)

DURATION_EXAMPLES = '"30s", "5m" or "1h30m"'
AGE_EXAMPLES = '"36h", "14d", "2w" or "1y"'


class DurationError(ValueError):
    """A value that is not a duration or an age; the message is one sentence for the user."""


def _not_a(value, noun: str, examples: str) -> DurationError:
    return DurationError(f'"{value}" is not {noun}: use a number with a unit, such as {examples}')


def _sum(text: str, part: re.Pattern, units: dict) -> float:
    body = text.lstrip("+-")
    total = sum((float(num) * units[unit] for num, unit in part.findall(body)), 0.0)
    return -total if text.startswith("-") else total


def is_duration(text: str) -> bool:
    """Whether Go's time.ParseDuration reads `text` (range aside)."""
    return isinstance(text, str) and bool(_GO_TEXT.match(text))


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration string (signed), exactly Go's grammar: no bare numbers but "0"."""
    if not is_duration(text):
        raise _not_a(text, "a duration", DURATION_EXAMPLES)
    total = _sum(text, _GO_PART, _GO_UNITS)
    return _bounded(text, total, "a duration")


def is_age(text: str) -> bool:
    """Whether `text` is an age with units ("1d12h", "-2w", "90s"); a bare number but "0" is not."""
    return isinstance(text, str) and bool(_AGE_TEXT.match(text))


def parse_age(text: str) -> float:
    """Seconds in an age: a Go duration, or one using d, w, y as well ("1d12h", "2w", "1y")."""
    if not isinstance(text, str) or not _AGE_TEXT.match(text):
        raise _not_a(text, "an age", AGE_EXAMPLES)
    return _bounded(text, _sum(text, _AGE_PART, _AGE_UNITS), "an age")


def _bounded(value, secs: float, noun: str) -> float:
    """`secs`, or DurationError if it is not finite or longer than a Go duration can be: the
    same bound for durations and ages, so every caller can add it to a date or a clock."""
    if secs != secs:  # NaN
        raise DurationError(f'"{value}" is not a number of seconds')
    if abs(secs) > _MAX_SECONDS:
        raise DurationError(f'"{value}" is too long for {noun} (at most about 292 years)')
    return secs


def not_negative(value, secs: float) -> float:
    """`secs` (read from `value`), or DurationError if it is negative."""
    if secs < 0:
        raise DurationError(f'"{value}" is negative: it must be 0 or more')
    return secs


def _typed(value, default, parse, negative: bool, noun: str) -> float | None:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        parse(str(value).lower())  # raises: true/false is never a duration
    if isinstance(value, (int, float)):
        try:
            out = float(value)
        except OverflowError:  # an int beyond any float: too long, whatever its sign says
            out = float("inf") if value > 0 else float("-inf")
    else:
        text = str(value).strip()
        out = float(text) if _BARE_NUMBER.match(text) else parse(text)
    out = _bounded(value, out, noun)  # a bare number or a TOML float may be huge, inf or nan
    return out if negative else not_negative(value, out)


def seconds(value, default: float | None = None, *, negative: bool = False) -> float | None:
    """A duration given by a person or a template option, in seconds.

    None or "" gives `default`; a number or a bare number string is seconds; anything else
    must be a Go duration. Negative values raise DurationError unless `negative`."""
    return _typed(value, default, parse_go_duration, negative, "a duration")


def age_seconds(value, default: float | None = None) -> float | None:
    """An age in seconds: like `seconds`, with d, w, y units too; never negative."""
    return _typed(value, default, parse_age, False, "an age")
