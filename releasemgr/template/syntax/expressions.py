"""Expressions: operators by precedence, postfix access and splats, literals, calls,
tuples, objects and for expressions."""

from __future__ import annotations

import re
from typing import Any

from releasemgr.common.hcl_values import normalize_number
from releasemgr.template.syntax.ast import (
    Binary, Call, Conditional, ForExpr, GetAttr, Index, Literal, Node, ObjectExpr, ObjectItem,
    Parens, Splat, TemplateExpr, TupleExpr, Unary, Variable,
)
from releasemgr.template.syntax.source import Range
from releasemgr.template.syntax.templates import TemplateParser
from releasemgr.template.syntax.tokens import _EXPR_START, Token, describe


class ExpressionParser(TemplateParser):
    """The expression half of the recursive-descent parser."""

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
                    raise self.error(n, "Invalid attribute name",
                                     f"Expected an attribute name after \".\", but found {describe(n)}.")
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
                if (t.kind == "IDENT" and self.peek2().kind in ("=", "{")
                        and self._newline_between(items[-1].rng.end, t.start)):
                    raise self.error(t, "Unterminated list",
                                     f"Expected a comma \",\" or a closing bracket \"]\" to end the list that starts "
                                     f"at line {self.src.position(open_.start).line}, but found {describe(t)}, which "
                                     "looks like the next argument. Is the closing bracket missing?")
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
            raise self.error(t, "Invalid for expression",
                             f"Expected \"in\" after the for variables, but found {describe(t)}.")
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
                raise self.error(self.peek(), "Invalid for expression",
                                 "Grouping (\"...\") is only for object for expressions.")
            self.advance()
            group = True
        cond = None
        t = self.peek()
        if t.kind == "IDENT" and t.value == "if":
            self.advance()
            cond = self.parse_expression()
        self.expect(close, f"a closing \"{close}\"", " to end the for expression")
        return ForExpr(self.rng(open_.start), key_var, value_var, coll, key_expr, value_expr, cond, group)
