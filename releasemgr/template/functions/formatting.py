"""``format`` and ``formatlist`` with cty's printf verbs.

Verbs: ``%% %v %#v %t %b %d %o %x %X %e %E %f %g %G %s %q``; flags ``space + - 0 #``;
width and precision (``%9.2f``); explicit argument index ``%[2]s``. Numbers are formatted
from their shortest decimal form (``Decimal(repr(x))``), rounding half to even, the way
Go's ``big.Float`` formats cty numbers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # decimal is imported on first use: it is off the start-up path
    from decimal import Decimal

from releasemgr.common.hcl_values import UNKNOWN, is_number, is_unknown, number_to_string, type_name
from releasemgr.template.functions._core import FunctionError, register, to_bool, to_num, to_str
from releasemgr.template.functions.encoding import _json_string, json_encode
from releasemgr.template.functions.strings import graphemes


class _Verb:
    """One %-sequence: where it is, which argument, flags, width, precision, verb."""

    __slots__ = ("raw", "offset", "argnum", "mode", "zero", "sharp", "plus", "minus", "space",
                 "width", "prec")

    def __init__(self, raw: str, offset: int, argnum: int, mode: str):
        self.raw, self.offset, self.argnum, self.mode = raw, offset, argnum, mode
        self.zero = self.sharp = self.plus = self.minus = self.space = False
        self.width = self.prec = -1


def _err(msg: str, index: int = 0):
    """A format error; ``index`` is the argument at fault (0 = the format string, n = the
    value used by a verb with argnum n)."""
    raise FunctionError(msg, index)


def _pad(v: _Verb, text: str) -> str:
    if v.width < 0:
        return text
    n = len(graphemes(text))
    if n >= v.width:
        return text
    pad = ("0" if v.zero and not v.minus else " ") * (v.width - n)
    return text + pad if v.minus else pad + text


def _pad_number(v: _Verb, sign: str, body: str) -> str:
    """Go pads numbers with zeros between the sign and the digits."""
    if v.width >= 0 and v.zero and not v.minus and len(sign) + len(body) < v.width:
        body = "0" * (v.width - len(sign) - len(body)) + body
    text = sign + body
    if v.width >= 0 and len(text) < v.width:
        pad = " " * (v.width - len(text))
        text = text + pad if v.minus else pad + text
    return text


def _decimal(n, exact: bool = True) -> Decimal:
    """The number as a Decimal. ``exact``: the value cty holds for it, i.e. the shortest
    decimal form rounded to a 512-bit binary mantissa (how HCL parses a number literal);
    that is what %f/%e rounding must see (63.4405 is just below, 2.675 too). Otherwise the
    shortest decimal form itself, for shortest output (%v, %g)."""
    from decimal import Decimal  # noqa: PLC0415

    if isinstance(n, int):
        return Decimal(n)
    d = Decimal(repr(n))
    return _big512(d) if exact and d.is_finite() else d


def _big512(d: Decimal) -> Decimal:
    """``d`` rounded (half to even) to the nearest binary fraction with a 512-bit mantissa,
    as an exact Decimal (go's big.ParseFloat(s, 10, 512, ToNearestEven))."""
    from decimal import Decimal  # noqa: PLC0415

    if d == 0:
        return d
    sign, digits, exp = d.as_tuple()
    m = int("".join(map(str, digits)))
    num, den = (m * 10**exp, 1) if exp >= 0 else (m, 10**-exp)
    k = 512 - (num.bit_length() - den.bit_length())
    while True:  # find k with 2**511 <= num * 2**k / den < 2**512
        top, bottom = (num << k, den) if k >= 0 else (num, den << -k)
        q = top // bottom
        if q >= 1 << 512:
            k -= 1
        elif q < 1 << 511:
            k += 1
        else:
            break
    q, r = divmod(top, bottom)
    if 2 * r > bottom or (2 * r == bottom and q & 1):
        q += 1
    exact = Decimal(f"{q * 5**k}E-{k}") if k > 0 else Decimal(q << -k)  # exact, no context
    return exact.copy_negate() if sign else exact  # copy_*: no context rounding


def _digits(d: Decimal, sig: int | None):
    """(digit string without trailing zeros, decimal point position) of |d|, rounded to
    ``sig`` significant digits (None = shortest)."""
    from decimal import ROUND_HALF_EVEN, localcontext  # noqa: PLC0415

    d = d.copy_abs()  # abs() would round to the context's 28 digits
    if d == 0:
        return "0", 1
    if sig is not None:
        with localcontext() as c:
            c.prec = max(sig, 1)
            c.rounding = ROUND_HALF_EVEN
            d = +d
    t = d.normalize().as_tuple()
    digs = "".join(map(str, t.digits)).rstrip("0") or "0"
    dp = len(t.digits) + t.exponent
    return digs, dp


def _fmt_e(d: Decimal, prec: int, upper: bool) -> str:
    if d == 0:
        mant, exp = "0" + ("." + "0" * prec if prec > 0 else ""), 0
    else:
        digs, dp = _digits(d, prec + 1)
        digs = digs.ljust(prec + 1, "0")
        mant = digs[0] + ("." + digs[1:] if prec > 0 else "")
        exp = dp - 1
    e = "E" if upper else "e"
    return f"{mant}{e}{'-' if exp < 0 else '+'}{abs(exp):02d}"


def _fmt_f(d: Decimal, prec: int) -> str:
    from decimal import MAX_PREC, ROUND_HALF_EVEN, Decimal, localcontext  # noqa: PLC0415

    with localcontext() as c:
        c.prec = MAX_PREC  # quantize must not run out of digits for big numbers
        q = d.copy_abs().quantize(Decimal(f"1E-{prec}"), rounding=ROUND_HALF_EVEN)
        return format(q, "f")


def _fmt_g(d: Decimal, prec: int, upper: bool) -> str:
    shortest = prec < 0
    if prec == 0:
        prec = 1
    if d == 0:
        return "0"
    digs, dp = _digits(d, None if shortest else prec)
    nd = len(digs)
    eprec = 6 if shortest else prec
    if not shortest and eprec > nd and nd >= dp:
        eprec = nd
    exp = dp - 1
    if exp < -4 or exp >= eprec:
        return _fmt_e(d, nd - 1, upper)
    return _fmt_f(d, max(nd - dp, 0))


def format_number_shortest(n) -> str:
    """cty's %v for numbers: big.Float's Text('g', -1)."""
    d = _decimal(n, exact=False)
    return ("-" if d.is_signed() else "") + _fmt_g(d, -1, False)  # cty keeps -0


def _sign(v: _Verb, negative: bool) -> str:
    if negative:
        return "-"
    if v.plus:
        return "+"
    if v.space:
        return " "
    return ""


def _append_number(v: _Verb, arg) -> str:
    try:
        n = to_num(arg, 0)
    except FunctionError:
        _err(f"unsupported value for {v.raw!r} at {v.offset}: a number is required, "
             f"got {type_name(arg)}", v.argnum)
    if v.mode in "bdoxX":
        if isinstance(n, float):
            if not n.is_integer():
                _err(f"unsupported value for {v.raw!r} at {v.offset}: an integer is required",
                     v.argnum)
            n = int(n)
        base = {"b": "b", "d": "d", "o": "o", "x": "x", "X": "X"}[v.mode]
        body = number_to_string(abs(n)) if base == "d" else format(abs(n), base)
        if v.prec >= 0:
            body = body.rjust(v.prec, "0") if not (v.prec == 0 and n == 0) else ""
        if v.sharp:
            body = {"b": "0b", "o": "0", "x": "0x", "X": "0X", "d": ""}[v.mode] + body
        return _pad_number(v, _sign(v, n < 0), body)
    d = _decimal(n, exact=not (v.mode in "gG" and v.prec < 0))
    if v.mode in "eE":
        body = _fmt_e(d, 6 if v.prec < 0 else v.prec, v.mode == "E")
    elif v.mode == "f":
        body = _fmt_f(d, 6 if v.prec < 0 else v.prec)
    else:
        body = _fmt_g(d, v.prec, v.mode == "G")
    return _pad_number(v, _sign(v, d.is_signed()), body)


def _append(v: _Verb, args: list) -> str:
    if v.argnum > len(args):
        _err(f"not enough arguments for {v.raw!r} at {v.offset}: need index {v.argnum} "
             f"but have {len(args)} total")
    arg = args[v.argnum - 1]
    if v.mode != "v" and arg is None:
        _err(f"unsupported value for {v.raw!r} at {v.offset}: null value cannot be formatted",
             v.argnum)
    if v.mode == "v":
        if not v.sharp and isinstance(arg, str):
            return _pad(v, arg)
        if not v.sharp and is_number(arg):
            return _pad(v, format_number_shortest(arg))
        return _pad(v, json_encode(arg))
    if v.mode == "t":
        try:
            return "true" if to_bool(arg, 0) else "false"
        except FunctionError:
            _err(f"unsupported value for {v.raw!r} at {v.offset}: a bool is required, "
                 f"got {type_name(arg)}", v.argnum)
    if v.mode in "bdoxXeEfgG":
        return _append_number(v, arg)
    if v.mode in "sq":
        if isinstance(arg, (list, dict)):
            _err(f"unsupported value for {v.raw!r} at {v.offset}: a string is required, "
                 f"got {type_name(arg)}", v.argnum)
        s = to_str(arg, 0)
        if v.prec > 0:
            s = "".join(graphemes(s)[: v.prec])
        return _pad(v, s if v.mode == "s" else _json_string(s))
    _err(f"unsupported format verb {v.mode!r} in {v.raw!r} at offset {v.offset}")
    return ""  # unreachable


def format_values(spec: str, args: list) -> str:
    out: list[str] = []
    i, n = 0, len(spec)
    next_arg = 1
    used = 0
    while i < n:
        c = spec[i]
        if c != "%":
            out.append(c)
            i += 1
            continue
        if spec.startswith("%%", i):
            out.append("%")
            i += 2
            continue
        start = i
        i += 1
        v = _Verb(raw="", offset=start, argnum=next_arg, mode="")
        while i < n and spec[i] in "0#-+ ":
            setattr(v, {"0": "zero", "#": "sharp", "-": "minus", "+": "plus", " ": "space"}[spec[i]], True)
            i += 1
        if i < n and spec[i] == "[":
            j = i + 1
            while j < n and spec[j].isdigit():
                j += 1
            if j == i + 1 or j >= n or spec[j] != "]" or spec[i + 1] == "0":
                _err(f"invalid format string starting at offset {start}")
            v.argnum = int(spec[i + 1:j])
            i = j + 1
        j = i
        while j < n and spec[j].isdigit():
            j += 1
        if j > i:
            if spec[i] == "0":
                _err(f"invalid format string starting at offset {start}")
            v.width = int(spec[i:j])
            i = j
        if i < n and spec[i] == ".":
            j = i + 1
            while j < n and spec[j].isdigit():
                j += 1
            v.prec = int(spec[i + 1:j]) if j > i + 1 else 0
            i = j
        if i >= n:
            _err(f"invalid format string starting at offset {start}")
        if not (spec[i].isascii() and spec[i].isalpha()):
            _err(f"unrecognized format character {spec[i]!r} at offset {i}")
        v.mode = spec[i]
        i += 1
        v.raw = spec[start:i]
        out.append(_append(v, args))
        next_arg = v.argnum + 1
        used = max(used, v.argnum)
    if used < len(args) and next_arg <= len(args):
        _err(f"too many arguments; only {used} used by format string")
    return "".join(out)


@register("format", 1, None, "format(spec, values...)")
def format_(spec, *args):
    return format_values(to_str(spec, 0), list(args))


@register("formatlist", 1, None, "formatlist(spec, values...)", unknown_aware=True)
def formatlist(spec, *args):
    if is_unknown(spec) or any(a is UNKNOWN for a in args):
        return UNKNOWN
    spec = to_str(spec, 0)
    if not args:
        return [format_values(spec, [])]
    length = -1
    chooser = -1
    for k, a in enumerate(args):
        if isinstance(a, list):
            if length == -1:
                length, chooser = len(a), k
            elif len(a) != length:
                raise FunctionError(
                    f"argument {k + 2} has length {len(a)}, which is inconsistent with "
                    f"argument {chooser + 2} of length {length}", k + 1)
    if length == 0:
        return []
    if length == -1:
        length = 1
    out = []
    for it in range(length):
        row = [a[it] if isinstance(a, list) else a for a in args]
        if any(is_unknown(x) for x in row):
            out.append(UNKNOWN)
            continue
        try:
            out.append(format_values(spec, row))
        except FunctionError as e:
            raise FunctionError(f"error on format iteration {it}: {e.message}", e.arg_index) from None
    return out
