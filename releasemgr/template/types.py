"""Type constraints: `parse_type` reads `list(string)`-style expressions, `convert`
converts a value to a type the way cty does.

Types are written as: "string" | "number" | "bool" | "any" | ("list", T) | ("set", T) |
("map", T) | ("object", {name: T}) | ("tuple", [T, ...]).
"""

from __future__ import annotations

from releasemgr.common.hcl_values import (
    UNKNOWN,
    ConversionError,
    hcl_equal,
    to_bool,
    to_number,
    to_string,
    type_name,
)
from releasemgr.template.diagnostics import EvalError, suggest
from releasemgr.template.syntax.ast import Call, Node, ObjectExpr, Parens, TemplateExpr, TupleExpr, Variable

PRIMITIVES = ("string", "number", "bool", "any")


def type_to_str(ty) -> str:
    if isinstance(ty, str):
        return ty
    kind = ty[0]
    if kind in ("list", "set", "map"):
        return f"{kind}({type_to_str(ty[1])})"
    if kind == "object":
        return "object({" + ", ".join(f"{k} = {type_to_str(v)}" for k, v in ty[1].items()) + "})"
    return "tuple([" + ", ".join(type_to_str(t) for t in ty[1]) + "])"


def parse_type(node: Node):
    """A type constraint expression -> type; raises EvalError at the bad part."""
    if isinstance(node, Variable):
        if node.name in PRIMITIVES:
            return node.name
        if node.name in ("list", "set", "map"):
            return (node.name, "any")
        raise EvalError(node.rng.diag("Invalid type specification",
                                      f'The keyword "{node.name}" is not a valid type specification.'
                                      + suggest(node.name, PRIMITIVES + ("list", "set", "map", "object", "tuple"))))
    if isinstance(node, Call):
        name = node.name
        if name in ("list", "set", "map"):
            if len(node.args) != 1:
                raise EvalError(node.rng.diag("Invalid type specification",
                                              f"The {name} type constructor requires one argument specifying the "
                                              "element type."))
            return (name, parse_type(node.args[0]))
        if name == "object":
            if len(node.args) != 1 or not isinstance(node.args[0], ObjectExpr):
                raise EvalError(node.rng.diag("Invalid type specification",
                                              "The object type constructor requires one argument specifying the "
                                              "attribute types as a map, e.g. object({name = string})."))
            attrs = {}
            for item in node.args[0].items:
                key = item.bare_key
                literal = isinstance(item.key, TemplateExpr) and all(isinstance(p, str) for p in item.key.parts)
                if key is None and literal:
                    key = "".join(item.key.parts)
                if key is None:
                    raise EvalError(item.key.rng.diag("Invalid type specification",
                                                      "Object attribute names must be literal names."))
                attrs[key] = parse_type(item.value)
            return ("object", attrs)
        if name == "tuple":
            if len(node.args) != 1 or not isinstance(node.args[0], TupleExpr):
                raise EvalError(node.rng.diag("Invalid type specification",
                                              "The tuple type constructor requires one argument specifying the "
                                              "element types as a list, e.g. tuple([string, number])."))
            return ("tuple", [parse_type(x) for x in node.args[0].items])
        raise EvalError(node.rng.diag("Invalid type specification",
                                      f'The keyword "{name}" is not a valid type constructor.'
                                      + suggest(name, ("list", "set", "map", "object", "tuple"))))
    if isinstance(node, Parens):
        return parse_type(node.expr)
    raise EvalError(node.rng.diag("Invalid type specification",
                                  "A type specification is a keyword such as string, number, bool, any, or a "
                                  "constructor such as list(string); it is not a quoted string or expression."))


def convert(value, ty, where: str = ""):
    """Convert `value` to type `ty` like cty does; raises ConversionError."""
    if value is UNKNOWN or ty == "any" or value is None:
        return value
    at = f" at {where}" if where else ""
    try:
        if ty == "string":
            if isinstance(value, (list, dict)):
                raise ConversionError(f"string required, got {type_name(value)}")
            return to_string(value)
        if ty == "number":
            return to_number(value)
        if ty == "bool":
            return to_bool(value)
    except ConversionError as exc:
        raise ConversionError(f"{exc}{at}") from None
    kind, arg = ty
    if kind in ("list", "set", "tuple"):
        if not isinstance(value, list):
            raise ConversionError(f"{type_to_str(ty)} required, got {type_name(value)}{at}")
        if kind == "tuple":
            if len(value) != len(arg):
                raise ConversionError(f"tuple of {len(arg)} elements required, got {len(value)}{at}")
            return [convert(v, t, f"{where}[{i}]") for i, (v, t) in enumerate(zip(value, arg))]
        out = [convert(v, arg, f"{where}[{i}]") for i, v in enumerate(value)]
        if kind == "set":
            uniq = []
            for v in out:
                if not any(hcl_equal(v, u) for u in uniq):
                    uniq.append(v)
            out = uniq
        return out
    if not isinstance(value, dict):
        raise ConversionError(f"{type_to_str(ty)} required, got {type_name(value)}{at}")
    if kind == "map":
        return {k: convert(v, arg, f"{where}[{k!r}]") for k, v in value.items()}
    out = {}
    for name, t in arg.items():
        if name not in value:
            raise ConversionError(f'attribute "{name}" is required{at}')
        out[name] = convert(value[name], t, f"{where}.{name}" if where else name)
    return out
