"""Regular expressions with RE2 (Go) semantics on top of Python's ``re``.

The pattern is translated: ``\\d \\w \\s`` are ASCII-only as in RE2, ``\\z`` is the end
of text, ``$`` without the ``m`` flag matches only at the very end, ``(?<name>…)`` and
POSIX classes ``[[:alpha:]]`` are accepted, ``\\Q…\\E`` quotes. Unicode classes
(``\\pL``) and the ``U`` flag are not supported and give a clear error. Replacement
templates use Go's ``$1``/``${1}``/``$name``/``${name}``/``$$``.
"""

from __future__ import annotations

import re
from functools import lru_cache

from releasemgr.template.functions._core import FunctionError, register, to_str

_POSIX = {
    "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7f", "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f", "digit": "0-9", "graph": "!-~", "lower": "a-z",
    "print": " -~", "punct": "!-/:-@\\[-`{-~", "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z", "word": "0-9A-Za-z_", "xdigit": "0-9A-Fa-f",
}
_CLASS_IN = {"d": "0-9", "w": "0-9A-Za-z_", "s": "\\t\\n\\f\\r "}
_CLASS_OUT = {"d": "[0-9]", "w": "[0-9A-Za-z_]", "s": "[\\t\\n\\f\\r ]",
              "D": "[^0-9]", "W": "[^0-9A-Za-z_]", "S": "[^\\t\\n\\f\\r ]"}


class _PatternError(Exception):
    pass


def _translate(pat: str) -> str:  # noqa: C901
    # RE2 syntax to Python's, in one left-to-right scan: escapes, classes and groups change
    # meaning with the state of the scan (inside a class, after "(?"), so they stay together.
    out: list[str] = []
    i, n = 0, len(pat)
    multiline = bool(re.match(r"\(\?[a-zA-Z]*m[a-zA-Z]*\)", pat))
    in_class = False
    class_start = 0
    while i < n:
        c = pat[i]
        if c == "\\":
            if i + 1 >= n:
                raise _PatternError("trailing backslash at end of expression")
            e = pat[i + 1]
            if e == "Q":
                end = pat.find("\\E", i + 2)
                lit = pat[i + 2:] if end < 0 else pat[i + 2:end]
                out.append(re.escape(lit))
                i = n if end < 0 else end + 2
                continue
            if e in "pP":
                raise _PatternError("Unicode character classes (\\p) are not supported")
            if e in "123456789" and not in_class:
                raise _PatternError(f"invalid escape sequence: \\{e} (RE2 has no backreferences)")
            if in_class and e in _CLASS_IN:
                out.append(_CLASS_IN[e])
            elif not in_class and e in _CLASS_OUT:
                out.append(_CLASS_OUT[e])
            elif not in_class and e == "z":
                out.append("\\Z")
            elif e == "Z":
                raise _PatternError("invalid escape sequence: \\Z")
            else:
                out.append(c + e)
            i += 2
            continue
        if in_class:
            if c == "[" and pat.startswith("[:", i):
                end = pat.find(":]", i + 2)
                name = pat[i + 2:end] if end > 0 else ""
                neg = name.startswith("^")
                if neg:
                    name = name[1:]
                if name not in _POSIX:
                    raise _PatternError(f"invalid character class range: [:{name}:]")
                if neg:
                    raise _PatternError("negated POSIX classes are not supported")
                out.append(_POSIX[name])
                i = end + 2
                continue
            if c == "]" and i > class_start:
                in_class = False
            elif c == "[":
                out.append("\\[")
                i += 1
                continue
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append(c)
            i += 1
            if i < n and pat[i] == "^":
                out.append("^")
                i += 1
            class_start = i + 1 if i < n and pat[i] == "]" else i
            if i < n and pat[i] == "]":
                out.append("\\]")
                i += 1
            continue
        if c == "(" and pat.startswith("(?<", i) and not pat.startswith("(?<=", i) \
                and not pat.startswith("(?<!", i):
            out.append("(?P<")
            i += 3
            continue
        if c == "(" and pat.startswith(("(?=", "(?!", "(?<=", "(?<!", "(?>", "(?#", "(?P="), i):
            raise _PatternError("invalid or unsupported Perl syntax: lookaround, atomic groups "
                                "and comments are not part of RE2")
        if c == "(" and pat.startswith("(?", i):
            m = re.match(r"\(\?([a-zA-Z]*)(?:-([a-zA-Z]*))?[:)]", pat[i:])
            if m and "U" in (m.group(1) or "") + (m.group(2) or ""):
                raise _PatternError("the U (ungreedy) flag is not supported")
        if c == "$" and not multiline:
            out.append("\\Z")
            i += 1
            continue
        out.append(c)
        i += 1
    if in_class:
        raise _PatternError("missing closing ]")
    return "".join(out)


@lru_cache(maxsize=256)
def compile_re2(pattern: str, index: int = 0) -> re.Pattern:
    try:
        return re.compile(_translate(pattern))
    except (_PatternError, re.error) as e:
        raise FunctionError(f"argument {index + 1}: invalid regular expression {pattern!r}: {e}",
                            index) from None


def _iter_matches(rx: re.Pattern, s: str):
    """Go's non-overlapping matches: an empty match right after a match is skipped."""
    prev_end = -1
    for m in rx.finditer(s):
        if m.start() == m.end() == prev_end:
            continue
        prev_end = m.end()
        yield m


_TEMPLATE_RE = re.compile(r"\$(?:\$|\{([A-Za-z0-9_]*)\}|([A-Za-z0-9_]+))")


def _expand(template: str, m: re.Match) -> str:
    def one(t: re.Match) -> str:
        if t.group(0) == "$$":
            return "$"
        name = t.group(1) if t.group(1) is not None else t.group(2)
        try:
            g = m.group(int(name)) if name.isdigit() else m.group(name)
        except IndexError:  # Go expands a missing group to ""
            return ""
        return g or ""

    out = []
    pos = 0
    for t in _TEMPLATE_RE.finditer(template):
        out.append(template[pos:t.start()])
        out.append(one(t))
        pos = t.end()
    out.append(template[pos:])
    return "".join(out)


def regex_replace_all(pattern: str, s: str, repl: str, pattern_index: int = 0) -> str:
    rx = compile_re2(pattern, pattern_index)
    out = []
    pos = 0
    for m in _iter_matches(rx, s):
        out.append(s[pos:m.start()])
        out.append(_expand(repl, m))
        pos = m.end()
    out.append(s[pos:])
    return "".join(out)


def _match_value(rx: re.Pattern, m: re.Match):
    if rx.groups == 0:
        return m.group(0)
    if rx.groupindex:
        if len(rx.groupindex) != rx.groups:
            raise FunctionError("argument 1: regular expression must use either all named "
                                "or all unnamed capture groups", 0)
        return {name: m.group(name) for name in rx.groupindex}
    return [m.group(k) for k in range(1, rx.groups + 1)]


@register("regex", 2, 2, "regex(pattern, string)")
def regex(pattern, s):
    rx = compile_re2(to_str(pattern, 0))
    m = rx.search(to_str(s, 1))
    if m is None:
        raise FunctionError("pattern did not match any part of the given string", 1)
    return _match_value(rx, m)


@register("regexall", 2, 2, "regexall(pattern, string)")
def regexall(pattern, s):
    rx = compile_re2(to_str(pattern, 0))
    return [_match_value(rx, m) for m in _iter_matches(rx, to_str(s, 1))]


@register("regex_replace", 3, 3, "regex_replace(string, pattern, replacement)")
def regex_replace(s, pattern, repl):
    return regex_replace_all(to_str(pattern, 1), to_str(s, 0), to_str(repl, 2), pattern_index=1)
