"""The references in an expression (`var.x`, `local.y`, `source.z`...), for the checks that
need to know what an expression reads before evaluating it."""

from __future__ import annotations

from dataclasses import fields

from releasemgr.template.syntax.ast import ForDirective, ForExpr, GetAttr, Node, ObjectExpr, Splat, Variable
from releasemgr.template.syntax.source import Range


def references(node) -> list[tuple[str, str | None, Range]]:
    """Every `root.attr` reference in an expression: (root, attr or None, range)."""
    out: list = []
    _refs(node, out, set())
    return out


def _refs(node, out: list, bound: set) -> None:
    if isinstance(node, GetAttr) and isinstance(node.obj, Variable):
        if node.obj.name not in bound:
            out.append((node.obj.name, node.name, node.rng))
        return
    if isinstance(node, Variable):
        if node.name not in bound:
            out.append((node.name, None, node.rng))
        return
    if isinstance(node, (ForExpr, ForDirective)):
        _refs(node.coll, out, bound)
        inner = bound | {node.value_var} | ({node.key_var} if node.key_var else set())
        body = node.body if isinstance(node, ForDirective) else (node.key_expr, node.value_expr, node.cond)
        for x in body:
            _refs(x, out, inner)
        return
    for child in _children(node):
        _refs(child, out, bound)


def _children(node):
    """The sub-expressions of a node, in source order (literal object keys are not references)."""
    if isinstance(node, ObjectExpr):
        for item in node.items:
            if item.bare_key is None:
                yield item.key
            yield item.value
    elif isinstance(node, Splat):
        yield node.obj
        yield from (arg for kind, arg in node.ops if kind == "index")
    elif isinstance(node, Node):
        for f in fields(node):
            value = getattr(node, f.name)
            if isinstance(value, Node):
                yield value
            elif isinstance(value, list):
                yield from (x for x in value if isinstance(x, Node))
