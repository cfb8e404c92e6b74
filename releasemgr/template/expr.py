"""Evaluate HCL expressions from the syntax tree, with HCL's type rules.

`Evaluator.eval(node, scope)` returns a plain value (see `releasemgr.common.hcl_values`) or
raises `EvalError` carrying one Diagnostic at the offending expression. `try()` and `can()`
are implemented here because they need the unevaluated arguments; every other function
comes from `releasemgr.template.functions`. Type constraints are in `types.py`, reference
walking in `references.py`.
"""

from __future__ import annotations

import math
import os
from typing import Any, Callable, Mapping

from releasemgr.common.hcl_values import (
    UNKNOWN,
    ConversionError,
    hcl_equal,
    is_unknown,
    normalize_number,
    to_bool,
    to_number,
    to_string,
    type_name,
)
from releasemgr.template.diagnostics import EvalError, suggest
from releasemgr.template.functions import FUNCTIONS, FunctionContext, FunctionError, call_function
from releasemgr.template.syntax.ast import (
    GetAttr,
    IfDirective,
    Interp,
    ForDirective,
    Node,
    Variable,
)
from releasemgr.template.syntax.source import Range


class OpenObject(dict):
    """An object whose attributes not (yet) known are UNKNOWN rather than errors (`build`)."""


# -- scopes -----------------------------------------------------------------------------
class Scope:
    """Names visible to an expression. `local` is resolved lazily through `local_lookup`."""

    def __init__(self, roots: Mapping[str, Any], local_lookup: Callable[[str, Range], Any] | None = None,
                 local_names: Callable[[], list] | None = None, allow_env: bool = False,
                 parent: "Scope | None" = None):
        self.roots = dict(roots)
        self.local_lookup = local_lookup
        self.local_names = local_names
        self.allow_env = allow_env
        self.parent = parent

    def child(self, names: dict) -> "Scope":
        s = Scope(names, parent=self)
        s.allow_env = self.allow_env
        return s

    def find(self, name: str):
        s = self
        while s is not None:
            if name in s.roots:
                return True, s.roots[name]
            s = s.parent
        return False, None

    def root_names(self) -> list[str]:
        names, s = set(), self
        while s is not None:
            names.update(s.roots)
            if s.local_lookup is not None:
                names.add("local")
            s = s.parent
        return sorted(names)

    def locals_(self):
        s = self
        while s is not None:
            if s.local_lookup is not None:
                return s
            s = s.parent
        return None


# -- the evaluator ----------------------------------------------------------------------
class Evaluator:
    def __init__(self, base_dir: str = ".", now=None, environ: Mapping[str, str] | None = None):
        self.base_dir = base_dir
        self.now = now
        self.environ = os.environ if environ is None else environ
        self._fctx = None

    @property
    def fctx(self):
        if self._fctx is None:
            self._fctx = FunctionContext(base_dir=self.base_dir, now=self.now, environ=self.environ)
        return self._fctx

    def eval(self, node: Node, scope: Scope):
        try:
            return self._eval(node, scope)
        except RecursionError:
            raise EvalError(node.rng.diag("Expression too complex",
                                          "The expression is nested too deeply to evaluate.")) from None

    def _eval(self, node, scope):
        m = getattr(self, "_e_" + type(node).__name__)
        return m(node, scope)

    def _conv(self, fn, value, node, what: str):
        try:
            return fn(value)
        except ConversionError as exc:
            raise EvalError(node.rng.diag(f"Invalid {what}", f"Unsuitable value: {exc}.")) from None

    # literals and collections
    def _e_Literal(self, node, scope):
        return node.value

    def _e_Parens(self, node, scope):
        return self._eval(node.expr, scope)

    def _e_TupleExpr(self, node, scope):
        return [self._eval(x, scope) for x in node.items]

    def _e_ObjectExpr(self, node, scope):
        out = {}
        unknown_key = False
        for item in node.items:
            if item.bare_key is not None:
                key = item.bare_key
            else:
                k = self._eval(item.key, scope)
                if k is UNKNOWN:
                    unknown_key = True
                    self._eval(item.value, scope)
                    continue
                key = self._conv(to_string, k, item.key, "object key")
            out[key] = self._eval(item.value, scope)
        return UNKNOWN if unknown_key else out

    # templates
    def _e_TemplateExpr(self, node, scope):
        parts = node.parts
        if not node.heredoc and len(parts) == 1 and isinstance(parts[0], Interp):
            return self._eval(parts[0].expr, scope)
        if all(isinstance(p, str) for p in parts):
            return "".join(parts)
        out: list[str] = []
        unknown = self._template(parts, scope, out)
        return UNKNOWN if unknown else "".join(out)

    def _template(self, parts, scope, out) -> bool:
        unknown = False
        for p in parts:
            if isinstance(p, str):
                out.append(p)
            elif isinstance(p, Interp):
                v = self._eval(p.expr, scope)
                if v is UNKNOWN:
                    unknown = True
                    continue
                if v is None:
                    raise EvalError(p.rng.diag("Invalid template interpolation value",
                                               "The expression result is null. Cannot include a null value in a "
                                               "string template."))
                if isinstance(v, (list, dict)):
                    raise EvalError(p.rng.diag("Invalid template interpolation value",
                                               f"Cannot include the given value in a string template: string required, "
                                               f"got {type_name(v)}."))
                out.append(to_string(v))
            elif isinstance(p, IfDirective):
                c = self._eval(p.cond, scope)
                if c is UNKNOWN:
                    unknown = True
                    continue
                c = self._conv(to_bool, c, p.cond, "%{if} condition")
                unknown |= self._template(p.then if c else p.else_, scope, out)
            elif isinstance(p, ForDirective):
                coll = self._eval(p.coll, scope)
                if is_unknown(coll):
                    unknown = True
                    continue
                for k, v in self._iterate(coll, p.coll):
                    names = {p.value_var: v}
                    if p.key_var:
                        names[p.key_var] = k
                    unknown |= self._template(p.body, scope.child(names), out)
        return unknown

    def _iterate(self, coll, node):
        if isinstance(coll, list):
            return list(enumerate(coll))
        if isinstance(coll, dict):
            return sorted(coll.items())
        raise EvalError(node.rng.diag("Iteration over non-iterable value",
                                      f"A value of type {type_name(coll)} cannot be used as the collection in a "
                                      "'for' expression; a list, set, map or object is required."))

    # references
    def _e_Variable(self, node, scope):
        found, value = scope.find(node.name)
        if found:
            return value
        if node.name == "local":
            ls = scope.locals_()
            if ls is not None:
                return {n: ls.local_lookup(n, node.rng) for n in (ls.local_names() if ls.local_names else [])}
        if node.name in ("var", "local", "source", "build", "path", "packer") and not scope.root_names():
            raise EvalError(node.rng.diag("Variables not allowed",
                                          f'Variables may not be used here ("{node.name}..."): the value must be '
                                          "a constant, such as a variable's default or a value in a variables file."))
        raise EvalError(node.rng.diag("Unknown variable", f'There is no variable named "{node.name}".'
                                      + suggest(node.name, scope.root_names())))

    def _e_GetAttr(self, node, scope):
        obj = node.obj
        if isinstance(obj, Variable) and obj.name in ("var", "local"):
            if obj.name == "local" and not scope.find("local")[0]:
                ls = scope.locals_()
                if ls is not None:
                    return ls.local_lookup(node.name, node.rng)
            if obj.name == "var":
                found, variables = scope.find("var")
                if found and isinstance(variables, dict):
                    if node.name in variables:
                        return variables[node.name]
                    raise EvalError(node.rng.diag("Reference to undeclared input variable",
                                                  f'An input variable with the name "{node.name}" has not been '
                                                  'declared.'
                                                  + suggest(node.name, variables)))
        value = self._eval(obj, scope)
        return self._get_attr(value, node.name, node)

    def _get_attr(self, value, name, node):
        if value is UNKNOWN:
            return UNKNOWN
        if isinstance(value, dict):
            if name in value:
                return value[name]
            if isinstance(value, OpenObject):
                return UNKNOWN
            what = ""
            if isinstance(node.obj if isinstance(node, GetAttr) else None, Variable):
                what = f' "{node.obj.name}"'
            raise EvalError(node.rng.diag("Unsupported attribute",
                                          f'This object{what} does not have an attribute named "{name}".'
                                          + suggest(name, value)))
        if value is None:
            raise EvalError(node.rng.diag("Attempt to get attribute from null value",
                                          f'This value is null, so it does not have any attribute named "{name}".'))
        if isinstance(value, list):
            raise EvalError(node.rng.diag("Unsupported attribute",
                                          f'Can\'t access attribute "{name}" on a list. Did you mean to access an '
                                          'attribute '
                                          f'of a specific element (x[0].{name}) or of all elements (x[*].{name})?'))
        raise EvalError(node.rng.diag("Unsupported attribute",
                                      f"Can't access attributes on a primitive-typed value ({type_name(value)})."))

    def _e_Index(self, node, scope):
        coll = self._eval(node.obj, scope)
        key = self._eval(node.key, scope)
        return self._index(coll, key, node)

    def _index(self, coll, key, node):
        if coll is UNKNOWN or key is UNKNOWN:
            return UNKNOWN
        if isinstance(coll, list):
            try:
                k = to_number(key)
            except ConversionError:
                raise EvalError(node.rng.diag("Invalid index", "A list index must be a whole number.")) from None
            if not float(k).is_integer():
                raise EvalError(node.rng.diag("Invalid index", "A list index must be a whole number."))
            k = int(k)
            if k < 0 or k >= len(coll):
                raise EvalError(node.rng.diag("Invalid index",
                                              f"The given key does not identify an element in this collection value: "
                                              f"index {k} is out of range for a list of {len(coll)} elements."))
            return coll[k]
        if isinstance(coll, dict):
            if isinstance(key, (list, dict)) or key is None:
                raise EvalError(node.rng.diag("Invalid index", "A map key must be a string."))
            k = to_string(key)
            if k not in coll:
                raise EvalError(node.rng.diag("Invalid index",
                                              f'The given key does not identify an element in this collection value: '
                                              f'there is no key "{k}".' + suggest(k, coll)))
            return coll[k]
        if coll is None:
            raise EvalError(node.rng.diag("Attempt to index null value",
                                          "This value is null, so it cannot be indexed."))
        raise EvalError(node.rng.diag("Invalid index", f"A value of type {type_name(coll)} cannot be indexed."))

    def _e_Splat(self, node, scope):
        src = self._eval(node.obj, scope)
        if src is UNKNOWN:
            return UNKNOWN
        if src is None:
            return []
        items = src if isinstance(src, list) else [src]
        out = []
        for it in items:
            v = it
            for kind, arg in node.ops:
                if kind == "attr":
                    v = self._get_attr(v, arg, node)
                else:
                    v = self._index(v, self._eval(arg, scope), node)
            out.append(v)
        return out

    # operators
    def _e_Unary(self, node, scope):
        v = self._eval(node.operand, scope)
        if v is UNKNOWN:
            return UNKNOWN
        if node.op == "-":
            n = self._conv(to_number, v, node.operand, "operand")
            return normalize_number(-float(n) if n == 0 else -n)  # cty negates 0 to -0
        return not self._conv(to_bool, v, node.operand, "operand")

    def _e_Binary(self, node, scope):
        try:
            return self._binary(node, scope)
        except (OverflowError, ValueError) as exc:
            raise EvalError(node.rng.diag("Number out of range",
                                          f"The result of this operation cannot be computed: {exc}.")) from None

    def _binary(self, node, scope):
        a = self._eval(node.left, scope)
        b = self._eval(node.right, scope)
        op = node.op
        if op in ("==", "!="):
            if is_unknown(a) or is_unknown(b):
                return UNKNOWN
            eq = hcl_equal(a, b)
            return eq if op == "==" else not eq
        if op in ("&&", "||"):
            x = a if a is UNKNOWN else self._conv(to_bool, a, node.left, "operand")
            y = b if b is UNKNOWN else self._conv(to_bool, b, node.right, "operand")
            if x is UNKNOWN or y is UNKNOWN:
                return UNKNOWN
            return (x and y) if op == "&&" else (x or y)
        x = a if a is UNKNOWN else self._conv(to_number, a, node.left, "operand")
        y = b if b is UNKNOWN else self._conv(to_number, b, node.right, "operand")
        if x is UNKNOWN or y is UNKNOWN:
            return UNKNOWN
        if op == "+":
            return normalize_number(x + y)
        if op == "-":
            return normalize_number(x - y)
        if op == "*":
            return normalize_number(x * y)
        if op in ("/", "%"):
            if y == 0:  # as cty (and so Packer): an infinity, not an error; 0/0 has no value
                if x == 0:
                    raise EvalError(node.rng.diag("Invalid operation", "Zero divided by zero has no value."))
                return math.inf if x > 0 else -math.inf
            if op == "/":
                return normalize_number(x / y)
            return normalize_number(math.fmod(x, y))
        if op == "<":
            return x < y
        if op == ">":
            return x > y
        if op == "<=":
            return x <= y
        return x >= y

    def _e_Conditional(self, node, scope):
        c = self._eval(node.cond, scope)
        t = self._eval(node.then, scope)
        f = self._eval(node.else_, scope)
        if t is not UNKNOWN and f is not UNKNOWN and t is not None and f is not None:
            kt = "list" if isinstance(t, list) else "object" if isinstance(t, dict) else "primitive"
            kf = "list" if isinstance(f, list) else "object" if isinstance(f, dict) else "primitive"
            if kt != kf:
                raise EvalError(node.rng.diag("Inconsistent conditional result types",
                                              f"The true and false result expressions must have consistent types: "
                                              f"the true result is a {type_name(t)}, the false result a "
                                              f"{type_name(f)}."))
        if c is UNKNOWN:
            return UNKNOWN
        c = self._conv(to_bool, c, node.cond, "condition")
        return t if c else f

    def _e_ForExpr(self, node, scope):
        coll = self._eval(node.coll, scope)
        if coll is UNKNOWN:
            return UNKNOWN
        pairs = self._iterate(coll, node.coll)
        is_obj = node.key_expr is not None
        out_list, out_obj = [], {}
        for k, v in pairs:
            names = {node.value_var: v}
            if node.key_var:
                names[node.key_var] = k
            s = scope.child(names)
            if node.cond is not None:
                c = self._eval(node.cond, s)
                if c is UNKNOWN:
                    return UNKNOWN
                if not self._conv(to_bool, c, node.cond, "for condition"):
                    continue
            if is_obj:
                key = self._eval(node.key_expr, s)
                if key is UNKNOWN:
                    return UNKNOWN
                key = self._conv(to_string, key, node.key_expr, "object key")
                val = self._eval(node.value_expr, s)
                if node.group:
                    out_obj.setdefault(key, []).append(val)
                elif key in out_obj:
                    raise EvalError(node.key_expr.rng.diag(
                        "Duplicate object key",
                        f'Two different items produced the key "{key}" in this for expression. If duplicates are '
                        'expected, use the ellipsis (...) after the value expression to enable grouping by key.'))
                else:
                    out_obj[key] = val
            else:
                out_list.append(self._eval(node.value_expr, s))
        return out_obj if is_obj else out_list

    # functions
    def _e_Call(self, node, scope):
        name = node.name
        if name in ("try", "can"):
            return self._try_can(node, scope)
        fn = FUNCTIONS.get(name)
        if name == "env" and not scope.allow_env:
            raise EvalError(node.name_rng.diag(
                "Call to unavailable function",
                'The function "env" can only be used in the default value of a variable (as in Packer). '
                "Declare a variable with default = env(\"NAME\") and use var.<name> here."))
        if fn is None:
            known = list(FUNCTIONS)
            raise EvalError(node.name_rng.diag("Call to unknown function",
                                               f'There is no function named '
                                               f'"{name}".' + suggest(name, known + ["try", "can"])))
        args = [self._eval(a, scope) for a in node.args]
        if node.expand_final:
            last = args.pop() if args else None
            if last is UNKNOWN:
                return UNKNOWN
            if not isinstance(last, list):
                raise EvalError(node.args[-1].rng.diag("Invalid expanding argument value",
                                                       "The expanding argument (indicated by ...) must be a list or "
                                                       "tuple."))
            args.extend(last)
        n = len(args)
        if n < fn.min_args or (fn.max_args is not None and n > fn.max_args):
            want = (f"exactly {fn.min_args}" if fn.max_args == fn.min_args else
                    f"at least {fn.min_args}" if fn.max_args is None else f"{fn.min_args} to {fn.max_args}")
            raise EvalError(node.rng.diag(f"{'Not enough' if n < fn.min_args else 'Too many'} function arguments",
                                          f"Function \"{name}\" expects {want} argument(s), got {n}."
                                          + (f" Signature: {fn.signature}." if getattr(fn, "signature", "") else "")))
        try:
            return call_function(name, args, self.fctx)
        except FunctionError as exc:
            i = exc.arg_index
            target = node.args[i] if i is not None and 0 <= i < len(node.args) and not node.expand_final else node
            raise EvalError(target.rng.diag("Error in function call",
                                            f'Call to function "{name}" failed: '
                                            f'{getattr(exc, "reason", exc.message)}.')) from None
        except RecursionError:
            raise
        except Exception as exc:  # a function bug must not become a traceback
            raise EvalError(node.rng.diag("Error in function call",
                                          f'Call to function "{name}" failed: {type(exc).__name__}: {exc}.')) from None

    def _try_can(self, node, scope):
        if node.name == "can":
            if len(node.args) != 1:
                raise EvalError(node.rng.diag("Wrong number of function arguments",
                                              'Function "can" expects exactly 1 argument.'))
            try:
                v = self._eval(node.args[0], scope)
            except EvalError:
                return False
            return UNKNOWN if v is UNKNOWN else True
        if not node.args:
            raise EvalError(node.rng.diag("Not enough function arguments",
                                          'Function "try" expects at least 1 argument.'))
        last = None
        for a in node.args:
            try:
                v = self._eval(a, scope)
                return v
            except EvalError as exc:
                last = exc
        raise EvalError(node.rng.diag("Error in function call",
                                      "Call to function \"try\" failed: no expression succeeded; the last error was: "
                                      f"{last.diag.summary}: {last.diag.detail}"))

    def _e_Interp(self, node, scope):  # pragma: no cover - handled by templates
        return self._eval(node.expr, scope)
