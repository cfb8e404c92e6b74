"""HCL2 native syntax -> syntax tree with positions, and every syntax error in one run.

A hand-written recursive-descent parser (no lark at run time): every node knows the
file and the character offsets it came from, so later stages report an unknown option or
a bad reference at its own line. Syntax errors never raise: `parse_file` returns
``(Body | None, diagnostics)``. After an error the parser skips to the end of the
offending argument or block and carries on, so one run reports all of them; a missing
comma between list items is reported and parsing continues as if it were there.

Packer is stricter than python-hcl2 and so is this parser: two arguments on one line and
an argument set twice in one body are errors.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import Any

from releasemgr.common.hcl_values import normalize_number
from releasemgr.template.diagnostics import Diagnostic, Position, Severity

MAX_DEPTH = 96  # nesting of blocks/expressions; far beyond any real template


# -- source files and ranges ------------------------------------------------------------
class SourceFile:
    __slots__ = ("name", "text", "_starts")

    def __init__(self, name: str, text: str):
        self.name = name
        self.text = text
        self._starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def position(self, offset: int) -> Position:
        offset = max(0, min(offset, len(self.text)))
        i = bisect.bisect_right(self._starts, offset) - 1
        return Position(i + 1, offset - self._starts[i] + 1)

    def line_text(self, line: int) -> str:
        if line < 1 or line > len(self._starts):
            return ""
        start = self._starts[line - 1]
        end = self._starts[line] - 1 if line < len(self._starts) else len(self.text)
        return self.text[start:end].rstrip("\r")


@dataclass(frozen=True)
class Range:
    """Range (syntax/model node)."""
    src: SourceFile
    start: int
    end: int

    @property
    def filename(self) -> str:
        return self.src.name

    @property
    def line(self) -> int:
        return self.src.position(self.start).line

    def diag(self, summary: str, detail: str = "", severity: Severity = Severity.ERROR, **extra) -> Diagnostic:
        start = self.src.position(self.start)
        end = self.src.position(max(self.end, self.start + 1)) if self.end > self.start else None
        if end is not None and end.line != start.line:
            end = None
        return Diagnostic(severity, summary, detail, file=self.src.name, start=start, end=end,
                          source_line=self.src.line_text(start.line), extra=dict(extra))

    def __repr__(self):
        p = self.src.position(self.start)
        return f"{self.src.name}:{p.line}:{p.column}"


# -- syntax tree ------------------------------------------------------------------------
@dataclass(eq=False)
class Node:
    """Node (syntax/model node)."""
    rng: Range


@dataclass(eq=False)
class Literal(Node):
    """Literal (syntax/model node)."""
    value: Any


@dataclass(eq=False)
class TemplateExpr(Node):
    """TemplateExpr (syntax/model node)."""
    parts: list  # str | Interp | IfDirective | ForDirective
    heredoc: bool = False


@dataclass(eq=False)
class Interp(Node):
    """Interp (syntax/model node)."""
    expr: Node


@dataclass(eq=False)
class IfDirective(Node):
    """IfDirective (syntax/model node)."""
    cond: Node
    then: list
    else_: list


@dataclass(eq=False)
class ForDirective(Node):
    """ForDirective (syntax/model node)."""
    key_var: str | None
    value_var: str
    coll: Node
    body: list


@dataclass(eq=False)
class Variable(Node):
    """Variable (syntax/model node)."""
    name: str


@dataclass(eq=False)
class GetAttr(Node):
    """GetAttr (syntax/model node)."""
    obj: Node
    name: str
    name_rng: Range | None = None


@dataclass(eq=False)
class Index(Node):
    """Index (syntax/model node)."""
    obj: Node
    key: Node


@dataclass(eq=False)
class Splat(Node):
    """Splat (syntax/model node)."""
    obj: Node
    ops: list  # ("attr", name) | ("index", Node)
    full: bool


@dataclass(eq=False)
class Call(Node):
    """Call (syntax/model node)."""
    name: str
    args: list
    expand_final: bool = False
    name_rng: Range | None = None


@dataclass(eq=False)
class TupleExpr(Node):
    """TupleExpr (syntax/model node)."""
    items: list


@dataclass(eq=False)
class ObjectItem:
    """ObjectItem (syntax/model node)."""
    key: Node
    value: Node
    bare_key: str | None  # the key written as a bare identifier (a literal name)


@dataclass(eq=False)
class ObjectExpr(Node):
    """ObjectExpr (syntax/model node)."""
    items: list  # ObjectItem


@dataclass(eq=False)
class Unary(Node):
    """Unary (syntax/model node)."""
    op: str
    operand: Node


@dataclass(eq=False)
class Binary(Node):
    """Binary (syntax/model node)."""
    op: str
    left: Node
    right: Node


@dataclass(eq=False)
class Conditional(Node):
    """Conditional (syntax/model node)."""
    cond: Node
    then: Node
    else_: Node


@dataclass(eq=False)
class Parens(Node):
    """Parens (syntax/model node)."""
    expr: Node


@dataclass(eq=False)
class ForExpr(Node):
    """ForExpr (syntax/model node)."""
    key_var: str | None
    value_var: str
    coll: Node
    key_expr: Node | None  # object form when not None
    value_expr: Node
    cond: Node | None
    group: bool


@dataclass(eq=False)
class Attribute:
    """Attribute (syntax/model node)."""
    name: str
    expr: Node
    rng: Range  # the whole `name = expr`
    name_rng: Range


@dataclass(eq=False)
class Block:
    """Block (syntax/model node)."""
    type: str
    labels: list[str]
    label_rngs: list[Range]
    body: "Body"
    rng: Range  # the block header: type and labels
    type_rng: Range


@dataclass(eq=False)
class Body:
    """Body (syntax/model node)."""
    attributes: dict[str, Attribute] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)
    rng: Range | None = None  # from `{` to `}` (whole file for the top level)

    def blocks_of(self, type_: str) -> list[Block]:
        return [b for b in self.blocks if b.type == type_]


# -- lexer ------------------------------------------------------------------------------
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
    """Token (syntax/model node)."""
    kind: str  # IDENT NUMBER STRING HEREDOC NEWLINE EOF or the punctuation itself; BAD for junk
    value: str
    start: int
    end: int


_WORDS = {
    "IDENT": "a name", "NUMBER": "a number", "STRING": "a quoted string", "HEREDOC": "a heredoc",
    "NEWLINE": "the end of the line", "EOF": "the end of the file", "BAD": "an invalid character",
}


def describe(tok: Token) -> str:
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
    def __init__(self, diag: Diagnostic):
        super().__init__(diag.summary)
        self.diag = diag


# token kinds that may begin an expression (for the missing-comma check)
_EXPR_START = {"IDENT", "NUMBER", "STRING", "HEREDOC", "[", "{", "(", "-", "!"}


class Parser:
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

    # -- bodies ---------------------------------------------------------------------------
    def parse_file(self) -> Body:
        body = self.parse_body(closing=False, open_pos=0)
        body.rng = Range(self.src, 0, len(self.text))
        return body

    def parse_body(self, closing: bool, open_pos: int) -> Body:
        body = Body()
        self.push_nl(False)
        try:
            while True:
                t = self.peek()
                if t.kind == "NEWLINE":
                    self.advance()
                    continue
                if t.kind == "EOF":
                    if closing:
                        self.diags.append(Range(self.src, open_pos, open_pos + 1).diag(
                            "Unclosed configuration block",
                            "There is no closing brace for this block before the end of the file. "
                            "This may be caused by a missing closing brace or an unterminated string earlier."))
                    break
                if t.kind == "}":
                    if closing:
                        break
                    self.advance()
                    self.diags.append(Range(self.src, t.start, t.end).diag(
                        "Unexpected closing brace", "This \"}\" closes no block; is there one too many?"))
                    continue
                item_start = self.pos
                try:
                    self.parse_item(body, closing)
                except ParseError as exc:
                    self.diags.append(exc.diag)
                    self.recover(item_start)
        finally:
            self.pop_nl()
        return body

    def parse_item(self, body: Body, closing: bool):
        t = self.peek()
        if t.kind != "IDENT":
            if t.kind == "BAD":
                raise self.bad_char(t)
            raise self.error(t, "Argument or block definition required",
                             f"An argument or block definition is required here, but found {describe(t)}.")
        name = self.advance()
        nxt = self.peek()
        if nxt.kind == "=":
            self.advance()
            expr = self.parse_expression()
            attr = Attribute(name.value, expr, self.rng(name.start), Range(self.src, name.start, name.end))
            self.end_of_item(closing, "An argument definition must end with a newline.")
            prev = body.attributes.get(name.value)
            if prev is not None:
                self.diags.append(attr.name_rng.diag(
                    "Attribute redefined",
                    f"The argument \"{name.value}\" was already set at {prev.name_rng!r}. "
                    "Each argument may be set only once."))
            else:
                body.attributes[name.value] = attr
            return
        labels, label_rngs = [], []
        while nxt.kind in ("IDENT", "STRING"):
            if nxt.kind == "IDENT":
                self.advance()
                labels.append(nxt.value)
                label_rngs.append(Range(self.src, nxt.start, nxt.end))
            else:
                self.advance()
                s, e = self.parse_label_string(nxt.start)
                labels.append(s)
                label_rngs.append(Range(self.src, nxt.start, e))
            nxt = self.peek()
        if nxt.kind != "{":
            if nxt.kind == "BAD":
                raise self.bad_char(nxt)
            if nxt.kind in ("NEWLINE", "EOF") and not labels:
                raise self.error(nxt, "Argument or block definition required",
                                 f"An argument or block definition is required here. To set an argument, "
                                 f"use the equals sign \"=\" to introduce the argument value: {name.value} = ...")
            if nxt.kind == ":":
                raise self.error(nxt, "Invalid argument definition",
                                 "Arguments are set with \"=\", not \":\" (that is only for object items).")
            what = "an equals sign \"=\" to set an argument, or an opening brace \"{\" to start a block"
            raise self.error(nxt, f"Unexpected {describe(nxt)}" if nxt.kind not in ("NEWLINE", "EOF")
                             else "Invalid block definition",
                             f"Expected {what} after \"{name.value}\", but found {describe(nxt)}."
                             + (" A block definition must have its opening brace on the same line as its type and labels."
                                if nxt.kind == "NEWLINE" else ""))
        self.advance()
        self.enter(nxt.start)
        try:
            inner = self.parse_body(closing=True, open_pos=nxt.start)
        finally:
            self.depth -= 1
        close = self.peek()
        if close.kind == "}":
            self.advance()
            inner.rng = Range(self.src, nxt.start, close.end)
        else:
            inner.rng = Range(self.src, nxt.start, self.pos)
        body.blocks.append(Block(name.value, labels, label_rngs, inner, Range(self.src, name.start, nxt.end),
                                 Range(self.src, name.start, name.end)))
        if close.kind == "}":
            self.end_of_item(closing, "A block definition must end with a newline after its closing brace.")

    def end_of_item(self, closing: bool, detail: str):
        t = self.peek()
        if t.kind in ("NEWLINE", "EOF"):
            if t.kind == "NEWLINE":
                self.advance()
            return
        if t.kind == "}" and closing:
            return
        if t.kind == "BAD":
            raise self.bad_char(t)
        if t.kind == "IDENT" and self.peek2().kind in ("=", "{", "STRING", "IDENT"):
            raise self.error(t, "Missing newline after argument",
                             f"{detail} Found {describe(t)} on the same line; put each argument on its own line.")
        if t.kind == "STRING" or t.kind == "NUMBER" or t.kind == "[":
            raise self.error(t, "Missing newline after argument",
                             f"{detail} Found {describe(t)} after the value; is an operator or comma missing?")
        raise self.error(t, "Missing newline after argument", f"{detail} Found {describe(t)} instead.")

    def parse_label_string(self, qstart: int) -> tuple[str, int]:
        parts = self.parse_template_parts(qstart, quoted=True)
        if any(not isinstance(p, str) for p in parts):
            raise ParseError(Range(self.src, qstart, self.pos).diag(
                "Invalid block label", "Block labels are plain strings; templates (\"${...}\") are not allowed here."))
        return "".join(parts), self.pos

    def recover(self, item_start: int):
        """Skip to the end of the broken argument or block: the next newline outside brackets."""
        self.pos = item_start
        depth = 0
        text = self.text
        n = len(text)
        pos = item_start
        while pos < n:
            ch = text[pos]
            if ch == '"':
                pos += 1
                while pos < n and text[pos] not in '"\n':
                    pos += 2 if text[pos] == "\\" else 1
                pos += 1 if pos < n and text[pos] == '"' else 0
                continue
            if ch == "#" or text.startswith("//", pos):
                nl = text.find("\n", pos)
                pos = n if nl < 0 else nl
                continue
            if text.startswith("/*", pos):
                e = text.find("*/", pos + 2)
                pos = n if e < 0 else e + 2
                continue
            if ch == "<" and text.startswith("<<", pos):
                m = _HEREDOC.match(text, pos)
                if m:
                    marker = m.group(2)
                    mm = re.compile(r"^[ \t]*" + re.escape(marker) + r"[ \t]*\r?$", re.M).search(text, m.end())
                    pos = mm.end() if mm else n
                    continue
            if ch in "{[(":
                depth += 1
            elif ch in "}])":
                depth -= 1
                if depth < 0 and ch == "}":
                    self.pos = pos
                    return
            elif ch == "\n" and depth <= 0:
                self.pos = pos
                return
            pos += 1
        self.pos = n

    # -- expressions ----------------------------------------------------------------------
    def parse_expression(self) -> Node:
        start = self.peek().start
        self.enter(start)
        try:
            cond = self.parse_binary(0)
            if self.peek().kind == "?":
                self.advance()
                self.push_nl(True)
                try:
                    then = self.parse_expression()
                    self.expect(":", "a colon \":\"", " between the two results of the conditional")
                    else_ = self.parse_expression()
                finally:
                    self.pop_nl()
                return Conditional(self.rng(cond.rng.start), cond, then, else_)
            return cond
        finally:
            self.depth -= 1

    _PREC = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 4, ">": 4, "<=": 4, ">=": 4,
             "+": 5, "-": 5, "*": 6, "/": 6, "%": 6}

    def parse_binary(self, min_prec: int) -> Node:
        left = self.parse_unary()
        while True:
            t = self.peek()
            prec = self._PREC.get(t.kind)
            if prec is None or prec <= min_prec:
                return left
            self.advance()
            right = self.parse_binary(prec)
            left = Binary(self.rng(left.rng.start), t.kind, left, right)

    def parse_unary(self) -> Node:
        t = self.peek()
        if t.kind in ("-", "!"):
            self.advance()
            self.enter(t.start)
            try:
                operand = self.parse_unary()
            finally:
                self.depth -= 1
            return Unary(self.rng(t.start), t.kind, operand)
        return self.parse_postfix()

    def parse_postfix(self) -> Node:
        expr = self.parse_primary()
        while True:
            t = self.peek()
            if t.kind == ".":
                self.advance()
                n = self.peek()
                if n.kind == "IDENT":
                    self.advance()
                    expr = GetAttr(self.rng(expr.rng.start), expr, n.value, Range(self.src, n.start, n.end))
                elif n.kind == "NUMBER" and re.fullmatch(r"\d+", n.value):
                    self.advance()
                    expr = Index(self.rng(expr.rng.start), expr, Literal(Range(self.src, n.start, n.end), int(n.value)))
                elif n.kind == "*":
                    self.advance()
                    expr = self.parse_splat(expr, full=False)
                else:
                    raise self.error(n, "Invalid attribute name", f"Expected an attribute name after \".\", but found {describe(n)}.")
            elif t.kind == ".*":
                self.advance()
                expr = self.parse_splat(expr, full=False)
            elif t.kind == "[*]":
                self.advance()
                expr = self.parse_splat(expr, full=True)
            elif t.kind == "[" and not self._newline_between(expr.rng.end, t.start):
                self.advance()
                self.push_nl(True)
                try:
                    key = self.parse_expression()
                    self.expect("]", "a closing bracket \"]\"", " to end the index")
                finally:
                    self.pop_nl()
                expr = Index(self.rng(expr.rng.start), expr, key)
            else:
                return expr

    def _newline_between(self, a: int, b: int) -> bool:
        return "\n" in self.text[a:b]

    def parse_splat(self, source: Node, full: bool) -> Node:
        ops = []
        while True:
            t = self.peek()
            if t.kind == "." and self.peek2().kind == "IDENT":
                self.advance()
                n = self.advance()
                ops.append(("attr", n.value))
            elif full and t.kind == "[":
                self.advance()
                self.push_nl(True)
                try:
                    key = self.parse_expression()
                    self.expect("]", "a closing bracket \"]\"")
                finally:
                    self.pop_nl()
                ops.append(("index", key))
            else:
                break
        return Splat(self.rng(source.rng.start), source, ops, full)

    def parse_primary(self) -> Node:
        t = self.peek()
        k = t.kind
        if k == "NUMBER":
            self.advance()
            v = t.value
            try:
                num: Any = float(v) if any(c in v for c in ".eE") else int(v)
            except ValueError:  # more digits than Python converts
                num = float(v)
            return Literal(self.rng(t.start), normalize_number(num))
        if k == "IDENT":
            self.advance()
            if t.value in ("true", "false"):
                return Literal(self.rng(t.start), t.value == "true")
            if t.value == "null":
                return Literal(self.rng(t.start), None)
            n = self.peek()
            if n.kind == "(" and n.start == t.end or n.kind == "::":
                return self.parse_call(t)
            return Variable(self.rng(t.start), t.value)
        if k == "STRING":
            self.advance()
            parts = self.parse_template_parts(t.start, quoted=True)
            return TemplateExpr(self.rng(t.start), parts)
        if k == "HEREDOC":
            return self.parse_heredoc(t)
        if k == "(":
            self.advance()
            self.push_nl(True)
            try:
                inner = self.parse_expression()
                self.expect(")", "a closing parenthesis \")\"")
            finally:
                self.pop_nl()
            return Parens(self.rng(t.start), inner)
        if k == "[":
            return self.parse_tuple()
        if k == "{":
            return self.parse_object()
        if k == "BAD":
            raise self.bad_char(t)
        if k in ("NEWLINE", "EOF"):
            raise self.error(t, "Missing expression",
                             f"Expected the start of an expression, but found {describe(t)}.")
        raise self.error(t, "Invalid expression", f"Expected the start of an expression, but found {describe(t)}.")

    def parse_call(self, name: Token) -> Node:
        fname = name.value
        if self.peek().kind == "::":
            while self.peek().kind == "::":
                self.advance()
                n = self.expect("IDENT", "a function name")
                fname += "::" + n.value
        self.expect("(", "an opening parenthesis \"(\"")
        args: list[Node] = []
        expand = False
        self.push_nl(True)
        try:
            while True:
                t = self.peek()
                if t.kind == ")":
                    self.advance()
                    break
                args.append(self.parse_expression())
                t = self.peek()
                if t.kind == "...":
                    self.advance()
                    expand = True
                    self.expect(")", "a closing parenthesis \")\"", " after the expanded final argument")
                    break
                if t.kind == ",":
                    self.advance()
                    continue
                if t.kind == ")":
                    self.advance()
                    break
                if t.kind in _EXPR_START:
                    raise self.error(t, "Missing comma between function arguments",
                                     f"Expected a comma \",\" between the arguments of {fname}(), "
                                     f"but found {describe(t)}.")
                raise self.error(t, "Unterminated function call" if t.kind == "EOF" else f"Unexpected {describe(t)}",
                                 f"Expected a comma \",\" or a closing parenthesis \")\" in the call to {fname}(), "
                                 f"but found {describe(t)}.")
        finally:
            self.pop_nl()
        return Call(self.rng(name.start), fname, args, expand, Range(self.src, name.start, name.end))

    def parse_tuple(self) -> Node:
        open_ = self.advance()
        self.push_nl(True)
        try:
            t = self.peek()
            if t.kind == "IDENT" and t.value == "for" and self.peek2().kind == "IDENT":
                return self.parse_for(open_, "]")
            items: list[Node] = []
            while True:
                t = self.peek()
                if t.kind == "]":
                    self.advance()
                    break
                items.append(self.parse_expression())
                t = self.peek()
                if t.kind == ",":
                    self.advance()
                    continue
                if t.kind == "]":
                    self.advance()
                    break
                if t.kind == "IDENT" and self.peek2().kind in ("=", "{") and self._newline_between(items[-1].rng.end, t.start):
                    raise self.error(t, "Unterminated list",
                                     f"Expected a comma \",\" or a closing bracket \"]\" to end the list that starts at "
                                     f"line {self.src.position(open_.start).line}, but found {describe(t)}, which looks "
                                     "like the next argument. Is the closing bracket missing?")
                if t.kind in _EXPR_START:
                    # the classic: ["us-east-1" "us-west-2"]; report, then read on as if the comma were there
                    prev = items[-1].rng
                    nxt = self.src.position(t.start)
                    self.diags.append(Range(self.src, prev.end, prev.end).diag(
                        "Missing comma between list items",
                        f"Expected a comma \",\" here, after this list item and before the next one "
                        f"({describe(t)} at line {nxt.line}, column {nxt.column}). "
                        "Items in a list are separated by commas."))
                    continue
                if t.kind == "BAD":
                    raise self.bad_char(t)
                raise self.error(t, "Unterminated list" if t.kind == "EOF" else f"Unexpected {describe(t)}",
                                 f"Expected a comma \",\" or a closing bracket \"]\" to end the list that starts at "
                                 f"line {self.src.position(open_.start).line}, but found {describe(t)}.")
        finally:
            self.pop_nl()
        return TupleExpr(self.rng(open_.start), items)

    def parse_object(self) -> Node:
        open_ = self.advance()
        self.push_nl(True)
        try:
            t = self.peek()
            if t.kind == "IDENT" and t.value == "for" and self.peek2().kind == "IDENT":
                return self.parse_for(open_, "}")
        finally:
            self.pop_nl()
        items: list[ObjectItem] = []
        self.push_nl(False)
        try:
            while True:
                t = self.peek()
                while t.kind == "NEWLINE":
                    self.advance()
                    t = self.peek()
                if t.kind == "}":
                    self.advance()
                    break
                if t.kind == "EOF":
                    raise self.error(t, "Unterminated object",
                                     f"Expected a closing brace \"}}\" for the object that starts at line "
                                     f"{self.src.position(open_.start).line}, but found the end of the file.")
                bare = None
                if t.kind == "IDENT" and self.peek2().kind in ("=", ":"):
                    self.advance()
                    key: Node = Literal(Range(self.src, t.start, t.end), t.value)
                    bare = t.value
                else:
                    self.push_nl(True)
                    try:
                        key = self.parse_unary()
                    finally:
                        self.pop_nl()
                sep = self.peek()
                if sep.kind not in ("=", ":"):
                    raise self.error(sep, "Missing key/value separator",
                                     f"Expected an equals sign \"=\" to mark the start of the object item's value, "
                                     f"but found {describe(sep)}.")
                self.advance()
                self.push_nl(True)
                try:
                    value = self.parse_expression()
                finally:
                    self.pop_nl()
                items.append(ObjectItem(key, value, bare))
                t = self.peek()
                if t.kind in (",", "NEWLINE"):
                    self.advance()
                    continue
                if t.kind == "}":
                    self.advance()
                    break
                if t.kind == "BAD":
                    raise self.bad_char(t)
                raise self.error(t, "Missing item separator",
                                 f"Expected a newline or comma to mark the beginning of the next item, "
                                 f"but found {describe(t)}.")
        finally:
            self.pop_nl()
        return ObjectExpr(self.rng(open_.start), items)

    def parse_for(self, open_: Token, close: str) -> Node:
        self.advance()  # for
        v1 = self.expect("IDENT", "a variable name", " after \"for\"")
        key_var, value_var = None, v1.value
        if self.peek().kind == ",":
            self.advance()
            v2 = self.expect("IDENT", "a second variable name")
            key_var, value_var = v1.value, v2.value
        t = self.peek()
        if not (t.kind == "IDENT" and t.value == "in"):
            raise self.error(t, "Invalid for expression", f"Expected \"in\" after the for variables, but found {describe(t)}.")
        self.advance()
        coll = self.parse_expression()
        self.expect(":", "a colon \":\"", " after the collection of the for expression")
        key_expr = None
        value_expr = self.parse_expression()
        if close == "}":
            self.expect("=>", "an arrow \"=>\"", " between the key and the value of an object for expression")
            key_expr = value_expr
            value_expr = self.parse_expression()
        group = False
        if self.peek().kind == "...":
            if close != "}":
                raise self.error(self.peek(), "Invalid for expression", "Grouping (\"...\") is only for object for expressions.")
            self.advance()
            group = True
        cond = None
        t = self.peek()
        if t.kind == "IDENT" and t.value == "if":
            self.advance()
            cond = self.parse_expression()
        self.expect(close, f"a closing \"{close}\"", " to end the for expression")
        return ForExpr(self.rng(open_.start), key_var, value_var, coll, key_expr, value_expr, cond, group)

    # -- templates ------------------------------------------------------------------------
    def parse_heredoc(self, t: Token) -> Node:
        m = _HEREDOC.match(self.text, t.start)
        flush, marker = m.group(1) == "-", m.group(2)
        end_re = re.compile(r"^[ \t]*" + re.escape(marker) + r"[ \t]*\r?$", re.M)
        em = end_re.search(self.text, t.end)
        if em is None:
            raise ParseError(Range(self.src, t.start, t.start + 2 + len(marker) + int(flush)).diag(
                "Unterminated template string",
                f"The heredoc that starts here has no closing marker: a line containing only \"{marker}\"."))
        body_start, body_end = t.end, em.start()
        self.pos = body_start
        parts = self.parse_template_parts(body_start, quoted=False, limit=body_end, flush=flush)
        self.pos = em.start() + len(em.group(0).rstrip("\r"))
        return TemplateExpr(Range(self.src, t.start, m.end() - 1), parts, heredoc=True)

    def parse_template_parts(self, qstart: int, quoted: bool, limit: int | None = None, flush: bool = False) -> list:
        """Parse template text from self.pos up to the closing quote (or `limit`)."""
        text = self.text
        end = len(text) if limit is None else limit
        flat: list = []  # str | ("interp", Interp, strip_l, strip_r) | ("if"/"else"/"endif"/"for"/"endfor", ...)
        buf: list[str] = []
        pos = self.pos
        stop_chars = '"\\$%\n' if quoted else "$%"
        while True:
            if pos >= end:
                if quoted:
                    raise ParseError(Range(self.src, qstart, qstart + 1).diag(
                        "Unterminated template string",
                        "This string has no closing quote (\") before the end of the file."))
                break
            ch = text[pos]
            if ch not in stop_chars:
                j = pos + 1
                while j < end and text[j] not in stop_chars:
                    j += 1
                buf.append(text[pos:j])
                pos = j
                continue
            if ch == '"':
                pos += 1
                break
            if ch == "\n":
                raise ParseError(Range(self.src, qstart, qstart + 1).diag(
                    "Unterminated template string",
                    "This string has no closing quote (\") on its line; quoted strings cannot span lines "
                    "(use a heredoc, <<EOT, for multi-line text)."))
            if ch == "\\":
                esc = text[pos + 1: pos + 2]
                simple = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
                if esc in simple:
                    buf.append(simple[esc])
                    pos += 2
                    continue
                if esc in ("u", "U"):
                    width = 4 if esc == "u" else 8
                    hexs = text[pos + 2: pos + 2 + width]
                    if len(hexs) == width and re.fullmatch(r"[0-9A-Fa-f]+", hexs) and int(hexs, 16) <= 0x10FFFF:
                        buf.append(chr(int(hexs, 16)))
                        pos += 2 + width
                        continue
                raise ParseError(Range(self.src, pos, pos + 2).diag(
                    "Invalid escape sequence",
                    f"The symbol {esc!r} is not a valid escape sequence selector; "
                    "use \\n, \\t, \\r, \\\", \\\\, \\uNNNN or \\UNNNNNNNN."))
            # $ or %
            if text.startswith(ch * 2 + "{", pos):
                buf.append(ch + "{")
                pos += 3
                continue
            if not text.startswith(ch + "{", pos):
                buf.append(ch)
                pos += 1
                continue
            if buf:
                flat.append("".join(buf))
                buf = []
            seq_start = pos
            self.pos = pos + 2
            self.push_nl(True)
            try:
                strip_l = False
                if self.peek().kind == "~":
                    self.advance()
                    strip_l = True
                if ch == "$":
                    expr = self.parse_expression()
                    item = ("interp", Interp(self.rng(seq_start), expr))
                else:
                    item = self.parse_directive(seq_start)
                strip_r = False
                if self.peek().kind == "~":
                    self.advance()
                    strip_r = True
                self.expect("}", "a closing brace \"}\"",
                            " to end the template sequence" if ch == "$" else " to end the template directive")
            finally:
                self.pop_nl()
            if self.pos > end:
                raise ParseError(Range(self.src, seq_start, seq_start + 2).diag(
                    "Unterminated template sequence", "This \"${\" has no closing brace before the end of the string."))
            flat.append((item, strip_l, strip_r))
            pos = self.pos
        if buf:
            flat.append("".join(buf))
        self.pos = pos
        if flush:
            flat = _flush_heredoc(flat)
        return self._nest(flat, qstart)

    def parse_directive(self, start: int):
        t = self.peek()
        if t.kind != "IDENT" or t.value not in ("if", "else", "endif", "for", "endfor"):
            raise self.error(t, "Invalid template directive",
                             f"Expected if, else, endif, for or endfor after \"%{{\", but found {describe(t)}.")
        self.advance()
        if t.value == "if":
            return ("if", self.parse_expression(), Range(self.src, start, t.end))
        if t.value == "for":
            v1 = self.expect("IDENT", "a variable name")
            k, v = None, v1.value
            if self.peek().kind == ",":
                self.advance()
                v2 = self.expect("IDENT", "a variable name")
                k, v = v1.value, v2.value
            n = self.peek()
            if not (n.kind == "IDENT" and n.value == "in"):
                raise self.error(n, "Invalid template directive", f"Expected \"in\", but found {describe(n)}.")
            self.advance()
            return ("for", (k, v, self.parse_expression()), Range(self.src, start, t.end))
        return (t.value, None, Range(self.src, start, t.end))

    def _nest(self, flat: list, qstart: int) -> list:
        # apply strip markers to neighbouring literals
        items = list(flat)
        for i, it in enumerate(items):
            if isinstance(it, tuple):
                _, sl, sr = it
                if sl and i > 0 and isinstance(items[i - 1], str):
                    items[i - 1] = items[i - 1].rstrip()
                if sr and i + 1 < len(items) and isinstance(items[i + 1], str):
                    items[i + 1] = items[i + 1].lstrip()
        # build nested if/for structures
        root: list = []
        stack: list[list] = []  # [kind, node, range, outer_list, in_else]
        cur = root
        for it in items:
            if isinstance(it, str):
                if it:
                    cur.append(it)
                continue
            item = it[0]
            if item[0] == "interp":
                cur.append(item[1])
                continue
            kind, payload, rng = item
            if kind == "if":
                node = IfDirective(rng, payload, [], [])
                cur.append(node)
                stack.append(["if", node, rng, cur, False])
                cur = node.then
            elif kind == "for":
                k, v, coll = payload
                node = ForDirective(rng, k, v, coll, [])
                cur.append(node)
                stack.append(["for", node, rng, cur, False])
                cur = node.body
            elif kind == "else":
                if not stack or stack[-1][0] != "if" or stack[-1][4]:
                    raise ParseError(rng.diag("Unexpected else directive", "This %{else} has no matching %{if}."))
                stack[-1][4] = True
                cur = stack[-1][1].else_
            else:  # endif / endfor
                want = kind[3:]
                if not stack or stack[-1][0] != want:
                    raise ParseError(rng.diag(f"Unexpected {kind} directive", f"This %{{{kind}}} has no matching %{{{want}}}."))
                cur = stack.pop()[3]
        if stack:
            kind, node, rng = stack[-1][:3]
            raise ParseError(rng.diag(f"Unterminated {kind} directive", f"This %{{{kind}}} has no matching %{{end{kind}}}."))
        return root


def _flush_heredoc(parts: list) -> list:
    """`<<-`: remove the smallest common indentation of the heredoc's lines."""
    lines_indent = []
    cur_ws, in_lead, has_content = 0, True, False
    for p in parts:
        if isinstance(p, str):
            for ch in p:
                if ch == "\n":
                    if has_content:
                        lines_indent.append(cur_ws)
                    cur_ws, in_lead, has_content = 0, True, False
                elif in_lead and ch in " \t":
                    cur_ws += 1
                else:
                    in_lead, has_content = False, True
        elif in_lead:
            in_lead, has_content = False, True
    if has_content:
        lines_indent.append(cur_ws)
    n = min(lines_indent) if lines_indent else 0
    if n == 0:
        return parts
    out = []
    at_line_start = True
    for p in parts:
        if isinstance(p, str):
            segs = p.split("\n")
            new = []
            for i, seg in enumerate(segs):
                if i > 0 or at_line_start:
                    k = 0
                    while k < n and k < len(seg) and seg[k] in " \t":
                        k += 1
                    seg = seg[k:]
                new.append(seg)
            out.append("\n".join(new))
            at_line_start = p.endswith("\n")
        else:
            out.append(p)
            at_line_start = False
    return out


# -- entry points -------------------------------------------------------------------------
def decode_source(name: str, data: bytes) -> tuple[SourceFile | None, list[Diagnostic]]:
    """Bytes -> SourceFile; invalid UTF-8 is reported at the offending byte."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        prefix = data[: exc.start].decode("utf-8", "replace")
        line = prefix.count("\n") + 1
        col = len(prefix) - (prefix.rfind("\n") + 1) + 1
        line_bytes = data.split(b"\n")[line - 1] if line - 1 < len(data.split(b"\n")) else b""
        d = Diagnostic(Severity.ERROR, "Invalid character encoding",
                       f"The file is not valid UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start} "
                       "cannot start or continue a character. Is it a binary file? Templates must be UTF-8.",
                       file=name, start=Position(line, col), source_line=line_bytes.decode("utf-8", "replace"))
        return None, [d]
    return SourceFile(name, text), []


def parse_source(src: SourceFile) -> tuple[Body, list[Diagnostic]]:
    p = Parser(src)
    try:
        body = p.parse_file()
    except ParseError as exc:  # pragma: no cover - parse_body catches per item
        p.diags.append(exc.diag)
        body = Body(rng=Range(src, 0, len(src.text)))
    except RecursionError:
        p.diags.append(Range(src, 0, 1).diag("Nesting too deep", "The template is nested too deeply to read."))
        body = Body(rng=Range(src, 0, len(src.text)))
    p.diags.sort(key=lambda d: (d.start.line, d.start.column) if d.start else (0, 0))
    return body, p.diags


def parse_bytes(name: str, data: bytes) -> tuple[Body | None, list[Diagnostic]]:
    src, diags = decode_source(name, data)
    if src is None:
        return None, diags
    return parse_source(src)


def parse_text(text: str, name: str = "<input>") -> tuple[Body, list[Diagnostic]]:
    return parse_source(SourceFile(name, text))


def parse_file(path: str) -> tuple[Body | None, list[Diagnostic]]:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        return None, [Diagnostic(Severity.ERROR, "Failed to read file", f"{exc.strerror or exc}", file=path)]
    return parse_bytes(path, data)


def parse_expression_text(text: str, name: str = "<value>") -> tuple[Node | None, list[Diagnostic]]:
    """Parse one expression (a `-var` value, say); the whole text must be the expression."""
    src = SourceFile(name, text)
    p = Parser(src)
    p.push_nl(True)
    try:
        expr = p.parse_expression()
        t = p.peek()
        if t.kind != "EOF":
            raise p.error(t, "Extra characters after expression", f"Expected the end of the value, but found {describe(t)}.")
    except ParseError as exc:
        return None, p.diags + [exc.diag]
    except RecursionError:
        return None, [Range(src, 0, 1).diag("Nesting too deep", "The value is nested too deeply to read.")]
    if p.diags:
        return None, p.diags
    return expr, []
