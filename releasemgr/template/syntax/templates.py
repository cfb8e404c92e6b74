"""Templates: quoted strings and heredocs with `${...}` interpolations and `%{...}` directives."""

from __future__ import annotations

import re

from releasemgr.template.syntax.ast import ForDirective, IfDirective, Interp, Node, TemplateExpr
from releasemgr.template.syntax.source import Range
from releasemgr.template.syntax.tokens import _HEREDOC, Cursor, ParseError, Token, describe


class TemplateParser(Cursor):
    """Reads template text into parts (str, Interp, IfDirective, ForDirective); the
    expressions inside come from `parse_expression`, which the full parser provides."""

    def parse_expression(self) -> Node:  # pragma: no cover - provided by ExpressionParser
        raise NotImplementedError

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

    def parse_template_parts(self, qstart: int, quoted: bool, limit: int | None = None, flush: bool = False) -> list:  # noqa: C901
        """Parse template text from self.pos up to the closing quote (or `limit`).

        One scanning loop over literal text, escapes, `${`/`%{` openings and their `$${`/`%%{`
        escapes: they share the position bookkeeping, so the branches stay together."""
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
                    raise ParseError(rng.diag(f"Unexpected {kind} directive",
                                              f"This %{{{kind}}} has no matching %{{{want}}}."))
                cur = stack.pop()[3]
        if stack:
            kind, node, rng = stack[-1][:3]
            raise ParseError(rng.diag(f"Unterminated {kind} directive",
                                      f"This %{{{kind}}} has no matching %{{end{kind}}}."))
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
