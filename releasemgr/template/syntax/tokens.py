"""The tokens of HCL native syntax and the cursor the parser reads them with.

Tokens are produced on demand (`Cursor.peek`): whether a newline is a token depends on
where the parser is (inside brackets it is not), so there is no separate token list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from releasemgr.template.diagnostics import Diagnostic
from releasemgr.template.syntax.source import Range, SourceFile

MAX_DEPTH = 96  # nesting of blocks/expressions; far beyond any real template

_SKIP = re.compile(r"(?:[ \t\r\f\ufeff]+|#[^\n]*|//[^\n]*|/\*.*?\*/)+", re.S)
_SKIP_NL = re.compile(r"(?:[ \t\r\n\f\ufeff]+|#[^\n]*|//[^\n]*|/\*.*?\*/)+", re.S)
_IDENT = re.compile(r"[^\W\d][\w-]*")
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_HEREDOC = re.compile(r"<<(-?)([^\W\d][\w-]*)[ \t]*\r?\n")
_PUNCT = ["...", "[*]", "=>", "==", "!=", "<=", ">=", "&&", "||", "::", ".*",
          "{", "}", "[", "]", "(", ")", ",", ".", "=", "<", ">", "+", "-", "*", "/", "%", "!", "?", ":", "~"]
_PUNCT_BY_CHAR: dict[str, list[str]] = {}
for _p in _PUNCT:
    _PUNCT_BY_CHAR.setdefault(_p[0], []).append(_p)


@dataclass
class Token:
    """One lexical token of HCL native syntax, with its character offsets."""
    kind: str  # IDENT NUMBER STRING HEREDOC NEWLINE EOF or the punctuation itself; BAD for junk
    value: str
    start: int
    end: int


_WORDS = {
    "IDENT": "a name", "NUMBER": "a number", "STRING": "a quoted string", "HEREDOC": "a heredoc",
    "NEWLINE": "the end of the line", "EOF": "the end of the file", "BAD": "an invalid character",
}


def describe(tok: Token) -> str:
    """A token as an error message names it (\"the name 'x'\", \"the end of the line\")."""
    if tok.kind in ("IDENT",):
        return f"the name {tok.value!r}"
    if tok.kind == "NUMBER":
        return f"the number {tok.value}"
    if tok.kind == "BAD":
        ch = tok.value
        if ch == "\x00":
            return "a NUL byte"
        return f"the invalid character {ch!r}"
    if tok.kind in _WORDS:
        return _WORDS[tok.kind]
    return f'"{tok.kind}"'


class ParseError(Exception):
    """A syntax error that abandons the current item; `diag` says where and why."""

    def __init__(self, diag: Diagnostic):
        super().__init__(diag.summary)
        self.diag = diag


# token kinds that may begin an expression (for the missing-comma check)
_EXPR_START = {"IDENT", "NUMBER", "STRING", "HEREDOC", "[", "{", "(", "-", "!"}


class Cursor:
    """The parser's position in the text: token look-ahead, newline mode, nesting depth and errors."""

    def __init__(self, src: SourceFile):
        self.src = src
        self.text = src.text
        self.pos = 0
        self.nl_stack: list[bool] = [False]  # True: newlines are insignificant
        self.diags: list[Diagnostic] = []
        self.depth = 0
        self._cache_key: tuple | None = None
        self._cache_tok: Token | None = None

    # -- token access -------------------------------------------------------------------
    def _lex(self, pos: int, skip_nl: bool) -> Token:
        text = self.text
        m = (_SKIP_NL if skip_nl else _SKIP).match(text, pos)
        if m:
            pos = m.end()
        if pos >= len(text):
            return Token("EOF", "", len(text), len(text))
        ch = text[pos]
        if ch == "\n":
            return Token("NEWLINE", "\n", pos, pos + 1)
        if ch == "/" and text.startswith("/*", pos):  # _SKIP did not match it: never closed
            raise ParseError(Range(self.src, pos, pos + 2).diag(
                "Unterminated comment", "This multi-line comment has no closing \"*/\"."))
        if ch == '"':
            return Token("STRING", '"', pos, pos + 1)
        if ch == "<" and text.startswith("<<", pos):
            m = _HEREDOC.match(text, pos)
            if m:
                return Token("HEREDOC", m.group(0), pos, m.end())
        m = _IDENT.match(text, pos)
        if m:
            return Token("IDENT", m.group(0), pos, m.end())
        m = _NUMBER.match(text, pos)
        if m:
            return Token("NUMBER", m.group(0), pos, m.end())
        for p in _PUNCT_BY_CHAR.get(ch, ()):
            if text.startswith(p, pos):
                return Token(p, p, pos, pos + len(p))
        return Token("BAD", ch, pos, pos + 1)

    def peek(self) -> Token:
        key = (self.pos, self.nl_stack[-1])
        if self._cache_key == key:
            return self._cache_tok
        tok = self._lex(self.pos, self.nl_stack[-1])
        self._cache_key, self._cache_tok = key, tok
        return tok

    def peek2(self) -> Token:
        t = self.peek()
        return self._lex(t.end, self.nl_stack[-1])

    def advance(self) -> Token:
        t = self.peek()
        self.pos = t.end
        return t

    def rng(self, start: int, end: int | None = None) -> Range:
        return Range(self.src, start, self.pos if end is None else end)

    def error(self, tok: Token, summary: str, detail: str) -> ParseError:
        end = tok.end if tok.kind not in ("EOF", "NEWLINE") else tok.start
        return ParseError(Range(self.src, tok.start, end).diag(summary, detail))

    def expect(self, kind: str, what: str, context: str = "") -> Token:
        t = self.peek()
        if t.kind != kind:
            if t.kind == "BAD":
                raise self.bad_char(t)
            raise self.error(t, f"Missing {what}" if t.kind in ("EOF", "NEWLINE") else f"Unexpected {describe(t)}",
                             f"Expected {what}{context}, but found {describe(t)}.")
        return self.advance()

    def bad_char(self, t: Token) -> ParseError:
        if t.value == "\x00" or not t.value.isprintable():
            return self.error(t, "Invalid character", f"This file contains {describe(t)} (U+{ord(t.value):04X}); "
                              "is it a binary file rather than an HCL template?")
        detail = "This character is not used within the HCL language."
        if t.value == "'":
            detail = "Single quotes are not valid in HCL; use double quotes (\") for strings."
        elif t.value == ";":
            detail = "Semicolons are not used in HCL; put each argument on its own line."
        return self.error(t, "Invalid character", detail)

    def push_nl(self, skip: bool):
        self.nl_stack.append(skip)

    def pop_nl(self):
        self.nl_stack.pop()

    def enter(self, start: int):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError(Range(self.src, start, start + 1).diag(
                "Nesting too deep", f"Blocks and expressions may be nested at most {MAX_DEPTH} levels deep."))
