"""Time functions: timestamp formatdate timeadd (cty semantics, RFC 3339 strings)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from releasemgr.template.functions._core import FunctionError, register, to_str

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:(Z)|([+-])(\d{2}):(\d{2}))")


def parse_rfc3339(text: str, i: int) -> datetime:
    m = _RFC3339.fullmatch(text)
    if not m:
        if not re.match(r"\d{4}-\d{2}-\d{2}", text):
            why = "cannot use it as year-month-day"
        elif not re.match(r"\d{4}-\d{2}-\d{2}T", text):
            why = "missing required time introducer 'T'"
        elif not re.match(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", text):
            why = "cannot use it as hour:minute:second"
        else:
            why = "missing or invalid UTC offset (use Z or +hh:mm)"
        raise FunctionError(f"argument {i + 1}: not a valid RFC3339 timestamp {text!r}: {why}", i)
    y, mo, d, h, mi, s, frac, z, sign, oh, om = m.groups()
    if z:
        tz = timezone.utc
    else:
        off = timedelta(hours=int(oh), minutes=int(om))
        if int(oh) > 23 or int(om) > 59:
            raise FunctionError(f"argument {i + 1}: not a valid RFC3339 timestamp {text!r}: "
                                "UTC offset out of range", i)
        tz = timezone(-off if sign == "-" else off)
    micro = int((frac[1:] + "000000")[:6]) if frac else 0
    try:
        return datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), micro, tzinfo=tz)
    except ValueError as e:
        raise FunctionError(f"argument {i + 1}: not a valid RFC3339 timestamp {text!r}: {e}",
                            i) from None


def format_rfc3339(t: datetime) -> str:
    """Go's time.RFC3339 layout: no fractional seconds, "Z" for UTC."""
    off = t.utcoffset() or timedelta(0)
    base = t.strftime("%Y-%m-%dT%H:%M:%S")
    if off == timedelta(0):
        return base + "Z"
    return base + _offset(t, colon=True)


def _offset(t: datetime, colon: bool) -> str:
    total = int((t.utcoffset() or timedelta(0)).total_seconds()) // 60
    sign = "-" if total < 0 else "+"
    hh, mm = divmod(abs(total), 60)
    return f"{sign}{hh:02d}:{mm:02d}" if colon else f"{sign}{hh:02d}{mm:02d}"


@register("timestamp", 0, 0, "timestamp()", needs_context=True)
def timestamp(ctx):
    if ctx.now is None:
        ctx.now = datetime.now(timezone.utc)  # one value for every call in this run
    now = ctx.now if ctx.now.tzinfo else ctx.now.replace(tzinfo=timezone.utc)
    return format_rfc3339(now.astimezone(timezone.utc))


_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _tokens(spec: str):
    i, n = 0, len(spec)
    while i < n:
        c = spec[i]
        if c == "'":
            if spec.startswith("''", i):
                yield "''"
                i += 2
                continue
            j = i + 1
            while j < n:
                if spec[j] == "'":
                    if j + 1 < n and spec[j + 1] == "'":
                        j += 2
                        continue
                    break
                j += 1
            if j >= n:
                raise FunctionError("argument 1: unterminated literal '", 0)
            yield spec[i:j + 1]
            i = j + 1
        elif c.isascii() and c.isalpha():
            j = i
            while j < n and spec[j] == c:
                j += 1
            yield spec[i:j]
            i = j
        else:
            j = i
            while j < n and spec[j] != "'" and not (spec[j].isascii() and spec[j].isalpha()):
                j += 1
            yield spec[i:j]
            i = j


def _verb_error(tok: str, rule: str = ""):
    msg = f"argument 1: invalid date format verb {tok!r}"
    raise FunctionError(msg + (f": {rule}" if rule else ""), 0)


def format_date(spec: str, t: datetime) -> str:
    out: list[str] = []
    for tok in _tokens(spec):
        c, n = tok[0], len(tok)
        if c == "'":
            out.append("'" if tok == "''" else tok[1:-1].replace("''", "'"))
        elif not (c.isascii() and c.isalpha()):
            out.append(tok)
        elif c == "Y":
            if n == 2:
                out.append(f"{t.year % 100:02d}")
            elif n == 4:
                out.append(f"{t.year:04d}")
            else:
                _verb_error(tok, 'year must either be "YY" or "YYYY"')
        elif c == "M":
            if n > 4:
                _verb_error(tok, 'month must be "M", "MM", "MMM", or "MMMM"')
            out.append([str(t.month), f"{t.month:02d}", _MONTHS[t.month - 1][:3],
                        _MONTHS[t.month - 1]][n - 1])
        elif c == "D":
            if n > 2:
                _verb_error(tok, 'day of month must either be "D" or "DD"')
            out.append(str(t.day) if n == 1 else f"{t.day:02d}")
        elif c == "E":
            if n not in (3, 4):
                _verb_error(tok, 'day of week must either be "EEE" or "EEEE"')
            day = _DAYS[t.weekday()]
            out.append(day[:3] if n == 3 else day)
        elif c in "hHms":
            value = {"h": t.hour, "H": (t.hour % 12) or 12, "m": t.minute, "s": t.second}[c]
            if n > 2:
                what = {"h": '24-hour must either be "h" or "hh"',
                        "H": '12-hour must either be "H" or "HH"',
                        "m": 'minute must either be "m" or "mm"',
                        "s": 'second must either be "s" or "ss"'}[c]
                _verb_error(tok, what)
            out.append(str(value) if n == 1 else f"{value:02d}")
        elif c in "Aa":
            if n != 2:
                _verb_error(tok, f'must be "{c}{c}"')
            ampm = "AM" if t.hour < 12 else "PM"
            out.append(ampm if c == "A" else ampm.lower())
        elif c == "Z":
            utc = not (t.utcoffset() or timedelta(0))
            if n == 1:
                out.append("Z" if utc else _offset(t, colon=True))
            elif n == 3:
                out.append("UTC" if utc else _offset(t, colon=False))
            elif n == 4:
                out.append(_offset(t, colon=False))
            elif n == 5:
                out.append(_offset(t, colon=True))
            else:
                _verb_error(tok, "timezone must be Z, ZZZZ, or ZZZZZ")
        else:
            _verb_error(tok)
    return "".join(out)


@register("formatdate", 2, 2, "formatdate(spec, timestamp)")
def formatdate(spec, ts):
    spec = to_str(spec, 0)
    t = parse_rfc3339(to_str(ts, 1), 1)
    return format_date(spec, t)


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1,
                 "m": 60, "h": 3600}


def parse_duration(text: str, i: int) -> timedelta:
    """Go's time.ParseDuration: "1h30m", "-1.5h", "300ms"; "0" alone is allowed."""
    s = text
    sign = 1
    if s[:1] in "+-":
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return timedelta(0)
    pos, total = 0, 0.0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if not m:
            break
        total += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        pos = m.end()
    if not s or pos != len(s):
        raise FunctionError(f"argument {i + 1}: time: invalid duration {text!r} "
                            "(use e.g. \"1h30m\", \"-10m\", \"45s\")", i)
    return timedelta(seconds=sign * total)


@register("timeadd", 2, 2, "timeadd(timestamp, duration)")
def timeadd(ts, duration):
    t = parse_rfc3339(to_str(ts, 0), 0)
    return format_rfc3339(t + parse_duration(to_str(duration, 1), 1))
