"""String functions: lower upper title trimspace trim* chomp indent substr strrev split
join replace startswith endswith strcontains."""

from __future__ import annotations

import unicodedata

from releasemgr.template.functions._core import (
    FunctionError, register, to_int, to_str, to_str_list,
)
from releasemgr.template.functions.regex import regex_replace_all

# Go's unicode.IsSpace: ASCII \t \n \v \f \r space, U+0085, U+00A0 and the Z categories.
_GO_SPACE_ASCII = "\t\n\v\f\r \x85\xa0"


def _is_go_space(c: str) -> bool:
    return c in _GO_SPACE_ASCII or (c > "\xff" and unicodedata.category(c) in ("Zs", "Zl", "Zp"))


def _is_control(c: str) -> bool:
    # Grapheme_Cluster_Break=Control: nothing attaches to it (UAX #29, GB4/GB5)
    cat = unicodedata.category(c)
    return cat in ("Cc", "Zl", "Zp") or (cat == "Cf" and c not in "\u200c\u200d")


def graphemes(s: str) -> list[str]:
    """Approximate user-perceived characters: a base code point plus its combining marks,
    zero-width joiner sequences and variation selectors (cty uses full grapheme clusters)."""
    out: list[str] = []
    joiner = False
    for c in s:
        if out and not _is_control(out[-1][-1]) and (
                (joiner and unicodedata.category(c) == "So"
                 and unicodedata.category(out[-1][0]) == "So")  # emoji ZWJ sequence (GB11)
                or unicodedata.combining(c) or c in "\u200d\ufe0e\ufe0f"
                or unicodedata.category(c) in ("Me", "Mn", "Mc")) \
                or (out and c == "\n" and out[-1] == "\r"):
            out[-1] += c
        else:
            out.append(c)
        joiner = c == "\u200d"
    return out


def _case(s: str, upper: bool) -> str:
    """Go's unicode.ToUpper/ToLower: the *simple* case mapping, one code point at a time.

    Python's str.upper/lower use the full mapping ("ß" -> "SS", "İ" -> "i" + dot). Where
    the full mapping has several code points, the simple one is the titlecase form for
    upper case ("ᾳ" -> "ᾼ") or the base letter for lower case ("İ" -> "i"); otherwise the
    character stays as it is ("ß", "ǰ", "ﬁ").
    """
    if s.isascii():
        return s.upper() if upper else s.lower()
    out = []
    for c in s:
        m = c.upper() if upper else c.lower()
        if len(m) > 1:
            if upper:
                t = c.title()
                m = t if len(t) == 1 else c
            else:
                m = m[0] if all(unicodedata.combining(x) for x in m[1:]) else c
        out.append(m)
    return "".join(out)


@register("lower", 1, 1, "lower(string)")
def lower(s):
    return _case(to_str(s, 0), upper=False)


@register("upper", 1, 1, "upper(string)")
def upper(s):
    return _case(to_str(s, 0), upper=True)


def _is_separator(c: str) -> bool:
    # strings.Title's rule: ASCII alphanumerics and underscore are not separators,
    # other ASCII characters are; letters/digits are not, spaces are, anything else not.
    if c < "\x80":
        return not (c.isalnum() or c == "_")
    if c.isalpha() or c.isdigit():
        return False
    return _is_go_space(c)


@register("title", 1, 1, "title(string)")
def title(s):
    s = to_str(s, 0)
    out = []
    prev = " "
    for c in s:
        if _is_separator(prev):
            t = c.title()
            out.append(t if len(t) == 1 else c)
        else:
            out.append(c)
        prev = c
    return "".join(out)


@register("trimspace", 1, 1, "trimspace(string)")
def trimspace(s):
    s = to_str(s, 0)
    start, end = 0, len(s)
    while start < end and _is_go_space(s[start]):
        start += 1
    while end > start and _is_go_space(s[end - 1]):
        end -= 1
    return s[start:end]


@register("trim", 2, 2, "trim(string, cutset)")
def trim(s, cutset):
    return to_str(s, 0).strip(to_str(cutset, 1))


@register("trimprefix", 2, 2, "trimprefix(string, prefix)")
def trimprefix(s, prefix):
    s, prefix = to_str(s, 0), to_str(prefix, 1)
    return s[len(prefix):] if prefix and s.startswith(prefix) else s


@register("trimsuffix", 2, 2, "trimsuffix(string, suffix)")
def trimsuffix(s, suffix):
    s, suffix = to_str(s, 0), to_str(suffix, 1)
    return s[: len(s) - len(suffix)] if suffix and s.endswith(suffix) else s


@register("chomp", 1, 1, "chomp(string)")
def chomp(s):
    s = to_str(s, 0)
    while s.endswith("\n") or s.endswith("\r"):
        s = s[:-2] if s.endswith("\r\n") else s[:-1]
    return s


@register("indent", 2, 2, "indent(spaces, string)")
def indent(spaces, s):
    n = to_int(spaces, 0)
    if n < 0:
        raise FunctionError("argument 1 must not be negative", 0)
    return to_str(s, 1).replace("\n", "\n" + " " * n)


@register("substr", 3, 3, "substr(string, offset, length)")
def substr(s, offset, length):
    chars = graphemes(to_str(s, 0))
    off = to_int(offset, 1)
    ln = to_int(length, 2)
    if off < 0:
        off = max(len(chars) + off, 0)
    if off >= len(chars):
        return ""
    if ln < 0:
        return "".join(chars[off:])
    return "".join(chars[off: off + ln])


@register("strrev", 1, 1, "strrev(string)")
def strrev(s):
    return "".join(reversed(graphemes(to_str(s, 0))))


@register("split", 2, 2, "split(separator, string)")
def split(sep, s):
    sep, s = to_str(sep, 0), to_str(s, 1)
    if sep == "":
        return list(s)  # Go splits after each UTF-8 sequence
    return s.split(sep)


@register("join", 2, None, "join(separator, list, ...)")
def join(sep, *lists):
    sep = to_str(sep, 0)
    items: list[str] = []
    for k, lst in enumerate(lists, start=1):
        items.extend(to_str_list(lst, k))
    return sep.join(items)


@register("replace", 3, 3, "replace(string, substring, replacement)")
def replace(s, sub, repl):
    s, sub, repl = to_str(s, 0), to_str(sub, 1), to_str(repl, 2)
    if len(sub) > 1 and sub.startswith("/") and sub.endswith("/"):
        return regex_replace_all(sub[1:-1], s, repl, pattern_index=1)
    if sub == "":
        # Go's strings.Replace with an empty old string inserts at every rune boundary.
        return repl + "".join(c + repl for c in s)
    return s.replace(sub, repl)


@register("startswith", 2, 2, "startswith(string, prefix)")
def startswith(s, prefix):
    return to_str(s, 0).startswith(to_str(prefix, 1))


@register("endswith", 2, 2, "endswith(string, suffix)")
def endswith(s, suffix):
    return to_str(s, 0).endswith(to_str(suffix, 1))


@register("strcontains", 2, 2, "strcontains(string, substring)")
def strcontains(s, sub):
    return to_str(sub, 1) in to_str(s, 0)

