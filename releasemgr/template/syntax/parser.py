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

import re

from releasemgr.template.diagnostics import Diagnostic, Position, Severity
from releasemgr.template.syntax.ast import Attribute, Block, Body, Node
from releasemgr.template.syntax.expressions import ExpressionParser
from releasemgr.template.syntax.source import Range, SourceFile
from releasemgr.template.syntax.tokens import _HEREDOC, ParseError, describe


class Parser(ExpressionParser):
    """HCL native syntax: bodies of attributes and blocks, with recovery after an error."""

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
                             + (" A block definition must have its opening brace on the same line as its type and "
                                "labels."
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
            raise p.error(t, "Extra characters after expression",
                          f"Expected the end of the value, but found {describe(t)}.")
    except ParseError as exc:
        return None, p.diags + [exc.diag]
    except RecursionError:
        return None, [Range(src, 0, 1).diag("Nesting too deep", "The value is nested too deeply to read.")]
    if p.diags:
        return None, p.diags
    return expr, []
