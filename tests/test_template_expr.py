"""Expression evaluation: HCL's operators, type rules, references, for/splat, try/can, types."""

from __future__ import annotations

import pytest

from releasemgr.template.syntax.parser import parse_expression_text
from releasemgr.template.diagnostics import EvalError
from releasemgr.template.expr import Evaluator, Scope
from releasemgr.template.types import convert, parse_type, type_to_str
from releasemgr.common.hcl_values import UNKNOWN, ConversionError

ROOTS = {
    "var": {"region": "us-east-1", "regions": ["a", "b", "c"], "n": 4, "obj": {"k": "v", "list": [1, 2]},
            "servers": [{"name": "s1", "ip": "10.0.0.1"}, {"name": "s2", "ip": "10.0.0.2"}], "nothing": None},
    "source": {"name": "web", "type": "null"},
    "build": {"name": "b", "ID": UNKNOWN},
}


def ev(text: str, roots=None, allow_env=False, local=None):
    expr, diags = parse_expression_text(text, "e.hcl")
    assert expr is not None, [d.render() for d in diags]
    locals_ = local or {}

    def lookup(name, rng):
        if name not in locals_:
            raise EvalError(rng.diag("Reference to undeclared local value", name))
        return locals_[name]

    scope = Scope(ROOTS if roots is None else roots, local_lookup=lookup, local_names=lambda: list(locals_))
    scope.allow_env = allow_env
    return Evaluator(environ={"HOME": "/home/x"}).eval(expr, scope)


def ev_error(text: str, **kw):
    with pytest.raises(EvalError) as exc:
        ev(text, **kw)
    return exc.value.diag


@pytest.mark.parametrize("text,expected", [
    ("1 + 2 * 3", 7), ("(1 + 2) * 3", 9), ("7 / 2", 3.5), ("8 / 2", 4), ("7 % 3", 1), ("-var.n", -4),
    ('"3" + 4', 7), ("1 == 1.0", True), ('1 == "1"', False), ("[1, 2] == [1, 2]", True),
    ('{a = 1} != {a = 2}', True), ("3 > 2 && 2 >= 2", True), ("1 < 0 || !false", True),
    ('"true" && true', True), ("true ? 1 : 2", 1), ("var.n > 10 ? \"big\" : \"small\"", "small"),
    ("var.region", "us-east-1"), ("var.regions[1]", "b"), ('var.obj["k"]', "v"), ("var.obj.list.1", 2),
    ("var.servers[*].name", ["s1", "s2"]), ("var.servers.*.ip", ["10.0.0.1", "10.0.0.2"]),
    ("var.obj[*].k", ["v"]), ("var.nothing[*]", []),
    ("[for r in var.regions : upper(r)]", ["A", "B", "C"]),
    ("[for i, r in var.regions : i if r != \"b\"]", [0, 2]),
    ("{for r in var.regions : r => length(r)}", {"a": 1, "b": 1, "c": 1}),
    ("{for s in var.servers : s.name => s.ip}", {"s1": "10.0.0.1", "s2": "10.0.0.2"}),
    ('{for x in ["a", "b", "a"] : x => x...}', {"a": ["a", "a"], "b": ["b"]}),
    ("[for k, v in {b = 2, a = 1} : \"${k}=${v}\"]", ["a=1", "b=2"]),
    ('"${source.name}-${build.name}"', "web-b"),
    ("try(var.regions[10], \"none\")", "none"), ("try(var.regions[0], \"none\")", "a"),
    ("can(var.regions[10])", False), ("can(var.obj.k)", True),
    ('can(regex("^us-", var.region))', True),
    ("length(var.regions)", 3), ('join(",", var.regions)', "a,b,c"), ("concat([1], [2, 3])", [1, 2, 3]),
    ("max(var.regions...)" if False else "max([3, 9, 1]...)", 9),
    ("1 / 0", float("inf")), ("-1 / 0", float("-inf")), ('true ? "a" : 1', "a"), ("false ? null : [1]", [1]),
    ("build.ID", UNKNOWN), ('"id-${build.ID}"', UNKNOWN), ("build.ID == 1", UNKNOWN),
    ("local.a", 1),
    ('{"quoted key" = 1, (var.region) = 2}', {"quoted key": 1, "us-east-1": 2}),
    ("[\n  1,\n  2,\n]", [1, 2]),
])
def test_values(text, expected):
    assert ev(text, local={"a": 1}) == expected


@pytest.mark.parametrize("text,summary,detail_part", [
    ("var.regoin", "Reference to undeclared input variable", 'Did you mean "region"?'),
    ("vars.region", "Unknown variable", 'Did you mean "var"?'),
    ("local.b", "Reference to undeclared local value", "b"),
    ("var.regions[3]", "Invalid index", "out of range"),
    ('var.obj["nope"]', "Invalid index", 'no key "nope"'),
    ("var.obj.lst", "Unsupported attribute", 'Did you mean "list"?'),
    ("var.regions.name", "Unsupported attribute", "list"),
    ("var.nothing.x", "Attempt to get attribute from null value", ""),
    ('1 + "a"', "Invalid operand", "number"),
    ("0 / 0", "Invalid operation", "no value"),
    ("true ? 1 : [1]", "Inconsistent conditional result types", "list"),
    ('"x" ? 1 : 2', "Invalid condition", "bool"),
    ('"x${var.regions}"', "Invalid template interpolation value", "string required"),
    ('"x${var.nothing}"', "Invalid template interpolation value", "null"),
    ("uper(var.region)", "Call to unknown function", 'Did you mean "upper"?'),
    ('upper("a", "b")', "Too many function arguments", "exactly 1"),
    ('env("HOME")', "Call to unavailable function", "default value of a variable"),
    ("try(var.x, var.y)", "Error in function call", "no expression succeeded"),
    ('{for x in ["a", "a"] : x => 1}', "Duplicate object key", "grouping"),
    ("[for x in 5 : x]", "Iteration over non-iterable value", "number"),
])
def test_errors(text, summary, detail_part):
    d = ev_error(text)
    assert d.summary == summary
    assert detail_part in d.detail
    assert d.file == "e.hcl" and d.start.line == 1


def test_error_is_at_the_reference_not_the_expression():
    d = ev_error('"prefix ${var.regoin}"')
    assert d.start.column == 11  # the v of var.regoin


def test_env_allowed_in_defaults_only():
    assert ev('env("HOME")', allow_env=True) == "/home/x"


@pytest.mark.parametrize("type_text,value,expected", [
    ("string", 5, "5"), ("string", True, "true"), ("number", "12", 12), ("bool", "false", False),
    ("list(string)", [1, 2], ["1", "2"]), ("set(number)", [1, 1, 2], [1, 2]),
    ("map(number)", {"a": "1"}, {"a": 1}),
    ("object({name = string, port = number})", {"name": "x", "port": "22", "extra": 1}, {"name": "x", "port": 22}),
    ("tuple([string, bool])", ["a", "true"], ["a", True]),
    ("list(object({n = number}))", [{"n": 1}], [{"n": 1}]),
    ("any", {"x": [1]}, {"x": [1]}), ("string", None, None), ("list(string)", UNKNOWN, UNKNOWN),
])
def test_type_conversion(type_text, value, expected):
    expr, _ = parse_expression_text(type_text)
    ty = parse_type(expr)
    assert type_to_str(ty) == type_text
    assert convert(value, ty) == expected


@pytest.mark.parametrize("type_text,value,message", [
    ("number", "abc", "number is required"), ("bool", 1, "bool is required"), ("list(string)", "a", "required"),
    ("object({name = string})", {}, 'attribute "name" is required'), ("tuple([string])", [1, 2], "tuple of 1"),
    ("list(number)", [1, "x"], "[1]"), ("string", [1], "string required"),
])
def test_type_conversion_errors(type_text, value, message):
    expr, _ = parse_expression_text(type_text)
    with pytest.raises(ConversionError) as exc:
        convert(value, parse_type(expr))
    assert message in str(exc.value)


@pytest.mark.parametrize("type_text", ['"string"', "strng", "list(string, number)", "object(string)", "foo(bar)"])
def test_bad_type_specifications(type_text):
    expr, _ = parse_expression_text(type_text)
    with pytest.raises(EvalError) as exc:
        parse_type(expr)
    assert exc.value.diag.summary == "Invalid type specification"


@pytest.mark.parametrize("text", ["1" + "0" * 5000 + " / 3", '"x${' + "9" * 5000 + '}"', "9" * 400 + " * 10.5",
                                  "-" + "9" * 5000, '"' + "9" * 5000 + '" + 1'])
def test_huge_numbers_never_crash(text):
    try:
        ev(text)
    except EvalError as exc:
        assert exc.diag.start.line == 1
