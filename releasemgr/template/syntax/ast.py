"""The syntax tree of HCL native syntax: expressions, attributes, blocks and bodies.

The evaluator (template/expr.py), the template model and the loader read these; only the
parser (syntax/parser.py) builds them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from releasemgr.template.syntax.source import Range


@dataclass(eq=False)
class Node:
    """An expression in the syntax tree; `rng` is where it was written."""
    rng: Range


@dataclass(eq=False)
class Literal(Node):
    """A number, bool, null or quote-free constant: `value` is its Python value."""
    value: Any


@dataclass(eq=False)
class TemplateExpr(Node):
    """A quoted string or heredoc: literal text and `${...}`/`%{...}` parts, in order."""
    parts: list  # str | Interp | IfDirective | ForDirective
    heredoc: bool = False


@dataclass(eq=False)
class Interp(Node):
    """A `${expr}` interpolation inside a template."""
    expr: Node


@dataclass(eq=False)
class IfDirective(Node):
    """A `%{if cond}...%{else}...%{endif}` directive: template parts for each branch."""
    cond: Node
    then: list
    else_: list


@dataclass(eq=False)
class ForDirective(Node):
    """A `%{for k, v in coll}...%{endfor}` directive; `body` is the repeated template parts."""
    key_var: str | None
    value_var: str
    coll: Node
    body: list


@dataclass(eq=False)
class Variable(Node):
    """A bare name such as `var`, `local` or a for-expression's iteration variable."""
    name: str


@dataclass(eq=False)
class GetAttr(Node):
    """`obj.name`: an attribute access."""
    obj: Node
    name: str
    name_rng: Range | None = None


@dataclass(eq=False)
class Index(Node):
    """`obj[key]` (also the legacy `obj.0`)."""
    obj: Node
    key: Node


@dataclass(eq=False)
class Splat(Node):
    """`obj[*].a.b` or `obj.*.a` (`full` False): `ops` are applied to each element."""
    obj: Node
    ops: list  # ("attr", name) | ("index", Node)
    full: bool


@dataclass(eq=False)
class Call(Node):
    """A function call; `expand_final` is set for `f(args...)`."""
    name: str
    args: list
    expand_final: bool = False
    name_rng: Range | None = None


@dataclass(eq=False)
class TupleExpr(Node):
    """A `[a, b, ...]` tuple constructor."""
    items: list


@dataclass(eq=False)
class ObjectItem:
    """One `key = value` (or `key: value`) of an object constructor."""
    key: Node
    value: Node
    bare_key: str | None  # the key written as a bare identifier (a literal name)


@dataclass(eq=False)
class ObjectExpr(Node):
    """A `{k = v, ...}` object constructor."""
    items: list  # ObjectItem


@dataclass(eq=False)
class Unary(Node):
    """`-x` or `!x`."""
    op: str
    operand: Node


@dataclass(eq=False)
class Binary(Node):
    """An arithmetic, comparison or logical operator applied to two operands."""
    op: str
    left: Node
    right: Node


@dataclass(eq=False)
class Conditional(Node):
    """`cond ? then : else_`."""
    cond: Node
    then: Node
    else_: Node


@dataclass(eq=False)
class Parens(Node):
    """A parenthesised expression (kept so that fmt and type parsing can see it)."""
    expr: Node


@dataclass(eq=False)
class ForExpr(Node):
    """A `[for ...]` (list) or `{for ...}` (object, `key_expr` set) expression; `group` is the `...`."""
    key_var: str | None
    value_var: str
    coll: Node
    key_expr: Node | None  # object form when not None
    value_expr: Node
    cond: Node | None
    group: bool


@dataclass(eq=False)
class Attribute:
    """`name = expr` in a body; `rng` covers the whole line, `name_rng` the name."""
    name: str
    expr: Node
    rng: Range  # the whole `name = expr`
    name_rng: Range


@dataclass(eq=False)
class Block:
    """A block such as `source "amazon-ebs" "web" { ... }`: type, labels and body."""
    type: str
    labels: list[str]
    label_rngs: list[Range]
    body: "Body"
    rng: Range  # the block header: type and labels
    type_rng: Range


@dataclass(eq=False)
class Body:
    """The contents of a file or of a block: its attributes by name and its blocks in order."""
    attributes: dict[str, Attribute] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)
    rng: Range | None = None  # from `{` to `}` (whole file for the top level)

    def blocks_of(self, type_: str) -> list[Block]:
        return [b for b in self.blocks if b.type == type_]
