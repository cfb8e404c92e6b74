"""Time functions: timestamp formatdate timeadd (cty semantics, RFC 3339 strings)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from releasemgr.common.durations import DurationError, parse_go_duration
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
    base = (f"{t.year:04d}-{t.month:02d}-{t.day:02d}T"  # strftime("%Y") does not pad 515
            f"{t.hour:02d}:{t.minute:02d}:{t.second:02d}")
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


def format_date(spec: str, t: datetime) -> str:  # noqa: C901
    # One branch per formatdate verb family (quotes, year, month, day, hour, ...), as in
    # cty's formatdate: a table would need a function per verb and read no better.
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


def parse_duration(text: str, i: int) -> timedelta:
    """Go's time.ParseDuration ("1h30m", "-1.5h", "300ms", "0"), for argument `i`."""
    try:
        return timedelta(seconds=parse_go_duration(text))
    except DurationError as exc:
        raise FunctionError(f"argument {i + 1}: {exc}", i) from None


@register("timeadd", 2, 2, "timeadd(timestamp, duration)")
def timeadd(ts, duration):
    t = parse_rfc3339(to_str(ts, 0), 0)
    try:
        return format_rfc3339(t + parse_duration(to_str(duration, 1), 1))
    except OverflowError:
        raise FunctionError("the result is outside the years 1 to 9999", 1) from None


# --- Packer's legacy_isotime / legacy_strftime (for templates migrated from JSON) --------

_GO_CHUNKS = [  # longest first where one is a prefix of another, as Go's nextStdChunk
    "January", "Jan", "Monday", "Mon", "MST",
    "Z07:00:00", "Z070000", "Z07:00", "Z0700", "Z07",
    "-07:00:00", "-070000", "-07:00", "-0700", "-07",
    "2006", "002", "__2", "_2", "01", "02", "03", "04", "05", "06", "15",
    "PM", "pm", "1", "2", "3", "4", "5",
]
_FRACTION = re.compile(r"[.,](0+|9+)(?!\d)")


def _go_zone(t: datetime, chunk: str) -> str:
    total = int((t.utcoffset() or timedelta(0)).total_seconds())
    if chunk.startswith("Z") and total == 0:
        return "Z"
    sign = "-" if total < 0 else "+"
    hh, rest = divmod(abs(total), 3600)
    mm, ss = divmod(rest, 60)
    body = chunk[1:]
    if body == "07":
        return f"{sign}{hh:02d}"
    if body == "0700":
        return f"{sign}{hh:02d}{mm:02d}"
    if body == "07:00":
        return f"{sign}{hh:02d}:{mm:02d}"
    if body == "070000":
        return f"{sign}{hh:02d}{mm:02d}{ss:02d}"
    return f"{sign}{hh:02d}:{mm:02d}:{ss:02d}"


def format_go_layout(layout: str, t: datetime) -> str:
    """Go's time.Format with a reference-time layout ("2006-01-02T15:04:05Z07:00")."""
    out: list[str] = []
    i, n = 0, len(layout)
    hour12 = (t.hour % 12) or 12
    while i < n:
        m = _FRACTION.match(layout, i)
        if m:
            digits = len(m.group(1))
            frac = f"{t.microsecond:06d}000"[:digits]
            if m.group(1)[0] == "9":
                frac = frac.rstrip("0")
                out.append(layout[i] + frac if frac else "")
            else:
                out.append(layout[i] + frac)
            i = m.end()
            continue
        if layout.startswith("_2006", i):  # Go: a literal "_" followed by the year
            out.append("_")
            i += 1
            continue
        for chunk in _GO_CHUNKS:
            if layout.startswith(chunk, i):
                break
        else:
            out.append(layout[i])
            i += 1
            continue
        value = {
            "January": _MONTHS[t.month - 1], "Jan": _MONTHS[t.month - 1][:3],
            "Monday": _DAYS[t.weekday()], "Mon": _DAYS[t.weekday()][:3],
            "MST": "UTC" if not (t.utcoffset() or timedelta(0)) else _go_zone(t, "-0700"),
            "2006": f"{t.year:04d}", "002": f"{t.timetuple().tm_yday:03d}",
            "__2": f"{t.timetuple().tm_yday:>3d}", "_2": f"{t.day:>2d}",
            "01": f"{t.month:02d}", "02": f"{t.day:02d}", "03": f"{hour12:02d}",
            "04": f"{t.minute:02d}", "05": f"{t.second:02d}", "06": f"{t.year % 100:02d}",
            "15": f"{t.hour:02d}", "PM": "PM" if t.hour >= 12 else "AM",
            "pm": "pm" if t.hour >= 12 else "am", "1": str(t.month), "2": str(t.day),
            "3": str(hour12), "4": str(t.minute), "5": str(t.second),
        }.get(chunk)
        out.append(value if value is not None else _go_zone(t, chunk))
        i += len(chunk)
    return "".join(out)


def _now(ctx) -> datetime:
    if ctx.now is None:
        ctx.now = datetime.now(timezone.utc)
    now = ctx.now if ctx.now.tzinfo else ctx.now.replace(tzinfo=timezone.utc)
    return now.astimezone(timezone.utc)


@register("legacy_isotime", 1, 1, "legacy_isotime(layout)", needs_context=True)
def legacy_isotime(ctx, layout):
    """The run's time in UTC, formatted with a Go layout (Packer's JSON-era `isotime`)."""
    return format_go_layout(to_str(layout, 0), _now(ctx))


_STRFTIME_OK = set("AaBbCcDdeFHIjklMmnpRrSTtUuVvWwXxYyZz%")


@register("legacy_strftime", 1, 1, "legacy_strftime(format)", needs_context=True)
def legacy_strftime(ctx, spec):
    """The run's time in UTC, formatted with C strftime directives (Packer's `strftime`)."""
    spec = to_str(spec, 0)
    t = _now(ctx)
    out: list[str] = []
    i = 0
    while i < len(spec):
        c = spec[i]
        if c != "%":
            out.append(c)
            i += 1
            continue
        d = spec[i + 1] if i + 1 < len(spec) else ""
        if d not in _STRFTIME_OK:
            raise FunctionError(f"argument 1: unknown time format directive %{d}", 0)
        if d == "C":
            out.append(f"{t.year // 100:02d}")
        elif d == "k":
            out.append(f"{t.hour:>2d}")
        elif d == "l":
            out.append(f"{(t.hour % 12) or 12:>2d}")
        elif d == "v":
            out.append(f"{t.day:>2d}-{_MONTHS[t.month - 1][:3]}-{t.year:04d}")
        elif d == "Z":
            out.append("UTC")
        elif d == "c":
            out.append(t.strftime("%a %b %e %H:%M:%S %Y"))
        elif d == "x":
            out.append(t.strftime("%m/%d/%y"))
        elif d == "X":
            out.append(t.strftime("%H:%M:%S"))
        else:
            out.append(t.strftime("%" + d))
        i += 2
    return "".join(out)
