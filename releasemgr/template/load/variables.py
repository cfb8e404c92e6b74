"""Input variables (Packer's types.variables.go): `variable` and `variables` blocks, their
values from defaults, PKR_VAR_*, variable files and --var, and their validation rules.

A variable is secret when it is declared `sensitive = true` or its name says so
(`common.secrets.is_secret_name`). Every value such a variable is given -- its default, a
PKR_VAR_ value, a variable file's, a --var's, even one its type refuses -- is registered with
the process's masker (`common.secrets.register`) the moment it is read, and no message
shows it."""

from __future__ import annotations

import os

from releasemgr.common.hcl_values import UNKNOWN, ConversionError, is_unknown, to_bool
from releasemgr.common.secrets import MASK, is_secret_name, register
from releasemgr.template.diagnostics import EvalError, Severity, suggest
from releasemgr.template.expr import Scope
from releasemgr.template.load.state import (
    VARIABLE_ATTRS,
    LoaderState,
    _looks_like_sentence,
    _short,
    _valid_name,
)
from releasemgr.template.model import (
    Validation,
    Variable,
)
from releasemgr.template.references import references
from releasemgr.template.syntax.ast import (
    Block,
)
from releasemgr.template.syntax.parser import parse_expression_text
from releasemgr.template.syntax.source import Range
from releasemgr.template.types import convert, parse_type, type_to_str


def is_secret_variable(var: Variable) -> bool:
    return bool(var.sensitive) or is_secret_name(var.name)


def _plain(value):
    """A value's strings and numbers, for the masker (nested lists and maps included)."""
    if isinstance(value, dict):
        return [_plain(v) for v in value.values()]
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    return value if isinstance(value, (str, int, float)) and not isinstance(value, bool) else None


class VariablesLoader(LoaderState):
    """Declares the variables, assigns their values in Packer's order and validates them."""

    def load_variables(self, blocks: list[Block], variables_blocks: list[Block]):
        for b in blocks:
            name = b.labels[0]
            if not _valid_name(name):
                self.err(b.label_rngs[0], "Invalid variable name",
                         "A name must start with a letter or underscore and may contain only letters, digits, "
                         "underscores, and dashes.")
                continue
            if name in self.variables:
                prev = self.variables[name].pos
                self.err(b.label_rngs[0], "Duplicate variable",
                         f'The variable "{name}" was already declared at {prev!r}.')
                continue
            self.check_names(b.body, f'variable "{name}"', VARIABLE_ATTRS, ("validation",))
            v = Variable(name=name, pos=b.rng)
            a = b.body.attributes.get("type")
            if a is not None:
                try:
                    v.type = parse_type(a.expr)
                except EvalError as exc:
                    self.diags.append(exc.diag)
            a = b.body.attributes.get("description")
            if a is not None:
                v.description = self.literal(a, "string") or ""
            a = b.body.attributes.get("sensitive")
            if a is not None:
                v.sensitive = bool(self.literal(a, "bool"))
            a = b.body.attributes.get("nullable")
            if a is not None:
                nv = self.literal(a, "bool")
                v.nullable = True if nv is None else nv
            a = b.body.attributes.get("default")
            if a is not None:
                self._default(v, a)
            for vb in b.body.blocks_of("validation"):
                self.check_names(vb.body, "a validation block", ("condition", "error_message"), ())
                cond = vb.body.attributes.get("condition")
                msg = vb.body.attributes.get("error_message")
                if cond is None or msg is None:
                    missing = "condition" if cond is None else "error_message"
                    self.err(vb.type_rng, "Missing required argument",
                             f'The argument "{missing}" is required in a validation block.')
                    continue
                text = self.literal(msg, "string") or ""
                if not _looks_like_sentence(text):
                    self.err(msg.expr.rng, "Invalid validation error message",
                             "Validation error message must be at least one full sentence starting with an "
                             "uppercase letter and ending with a period or question mark.")
                refs = [r for r in references(cond.expr) if r[0] == "var"]
                if not any(r[1] == name for r in refs):
                    self.err(cond.expr.rng, "Invalid variable validation condition",
                             f'The condition for variable "{name}" must refer to var.{name} in order to test '
                             "incoming values.")
                    continue
                v.validations.append(Validation(cond.expr, text, cond.expr.rng))
            v.value = v.default
            v.value_source = "default" if v.has_default else "unset"
            self.variables[name] = v
        for b in variables_blocks:
            if b.body.blocks:
                self.err(b.body.blocks[0].type_rng, "Unsupported block type",
                         "A variables block holds only arguments: name = default value.")
            for name, a in b.body.attributes.items():
                if name in self.variables:
                    self.err(a.name_rng, "Duplicate variable",
                             f'The variable "{name}" was already declared at {self.variables[name].pos!r}.')
                    continue
                env_scope = Scope({})
                env_scope.allow_env = True
                d = self.eval(a.expr, env_scope, UNKNOWN)
                if is_secret_name(name) and d is not UNKNOWN:
                    register(_plain(d))
                self.variables[name] = Variable(name=name, default=d, has_default=True, value=d, pos=a.name_rng)

    def _default(self, v: Variable, a) -> None:
        env_scope = Scope({})
        env_scope.allow_env = True
        d = self.eval(a.expr, env_scope, UNKNOWN)
        if d is UNKNOWN:
            v.has_default = True
            v.default = UNKNOWN
            return
        if is_secret_variable(v):
            register(_plain(d))
        try:
            v.default = convert(d, v.type)
            v.has_default = True
        except ConversionError as exc:
            why = "the value is sensitive and not shown" if is_secret_variable(v) else exc
            self.err(a.expr.rng, "Invalid default value for variable",
                     f"This default value is not compatible with the variable's type constraint "
                     f"({type_to_str(v.type)}): {why}.")

    def _parse_cli_value(self, var: Variable, raw: str, origin: str, rng: Range | None):
        ty = var.type
        secret = is_secret_variable(var)
        if secret:
            register(raw)
        if isinstance(ty, str):  # primitives take the text as it is; convert() checks it
            return raw, True
        shown = MASK if secret else repr(raw)
        expr, d = parse_expression_text(raw, origin)
        if expr is None:
            why = "it is sensitive and not shown" if secret else f"{d[0].summary}; {d[0].detail}"
            self.err(rng, f'Invalid value for variable "{var.name}"',
                     f"The value {shown} given by {origin} is not a valid {type_to_str(ty)}: {why}")
            return None, False
        try:
            value = self.evaluator.eval(expr, Scope({}))
        except EvalError as exc:
            why = "it is sensitive and not shown" if secret else f"{exc.diag.summary}; {exc.diag.detail}"
            self.err(rng, f'Invalid value for variable "{var.name}"',
                     f"The value {shown} given by {origin} cannot be evaluated: {why}")
            return None, False
        if secret:
            register(_plain(value))
        return value, True

    def _set(self, var: Variable, value, source: str, rng: Range | None):
        if is_secret_variable(var):
            register(_plain(value))
        try:
            var.value = convert(value, var.type)
        except ConversionError as exc:
            why = "the value is sensitive and not shown" if is_secret_variable(var) else exc
            self.err(rng or var.pos, f'Invalid value for variable "{var.name}"',
                     f"The value given by {source} is not compatible with the variable's type constraint "
                     f"({type_to_str(var.type)}): {why}.")
            return
        var.value_source = source

    def assign_values(self, var_bodies):
        prefix = "PKR_VAR_"
        for key in sorted(self.environ):
            if key.startswith(prefix):
                name = key[len(prefix):]
                var = self.variables.get(name)
                if var is None:
                    continue  # Packer ignores undeclared PKR_VAR_ names
                value, ok = self._parse_cli_value(var, self.environ[key], f"the environment variable {key}", var.pos)
                if ok:
                    self._set(var, value, "env", var.pos)
        for path, body, kind in var_bodies:
            for b in body.blocks:
                self.err(b.type_rng, "Unexpected block in variables file",
                         f"{os.path.basename(path)} is a variable definitions file: only name = value arguments "
                         "are allowed, not blocks.")
            for name, a in body.attributes.items():
                var = self.variables.get(name)
                if var is None:
                    self.err(a.name_rng, "Undefined variable",
                             f'A "{name}" variable was set but was not declared in the template.'
                             + suggest(name, self.variables)
                             + f' To declare it, add variable "{name}" {{}} to a .pkr.hcl file.',
                             severity=Severity.WARNING)
                    continue
                v = self.eval(a.expr, Scope({}), UNKNOWN)
                if v is not UNKNOWN:
                    self._set(var, v, f"{kind}:{path}", a.expr.rng)
        for item in self.cli_var_list:
            name, raw = item
            var = self.variables.get(name)
            if var is None:
                self.err(None, "Undefined -var variable",
                         f'A "{name}" variable was passed with --var but was not declared in the template.'
                         + suggest(name, self.variables)
                         + f' To declare it, add variable "{name}" {{}} to a .pkr.hcl file.')
                continue
            value, ok = self._parse_cli_value(var, raw, f"--var {name}=...", None)
            if ok:
                self._set(var, value, "var", var.pos)

    def check_variables(self):
        values = {n: v.value for n, v in self.variables.items()}
        for var in self.variables.values():
            if var.value_source == "unset":
                self.err(var.pos, f'Unset variable "{var.name}"',
                         "A used variable must be set or have a default value. Set it with "
                         f"--var {var.name}=..., a --var-file, a *.auto.pkrvars.hcl file or PKR_VAR_{var.name}.")
                var.value = UNKNOWN
                continue
            if var.value is None and not var.nullable:
                self.err(var.pos, f'Invalid value for variable "{var.name}"',
                         "The variable is not nullable (nullable = false), but its value is null.")
                continue
            for val in var.validations:
                scope = Scope({"var": values})
                try:
                    ok = self.evaluator.eval(val.condition, scope)
                except EvalError as exc:
                    self.diags.append(exc.diag)
                    continue
                if ok is UNKNOWN or is_unknown(var.value):
                    continue
                try:
                    ok = to_bool(ok)
                except ConversionError as exc:
                    self.err(val.pos, "Invalid validation result",
                             f"The condition must give true or false: {exc}.")
                    continue
                if not ok:
                    shown = MASK if is_secret_variable(var) else _short(var.value)
                    where = "" if var.value_source in ("default",) else f" (set by {var.value_source})"
                    self.err(val.pos, f'Invalid value for variable "{var.name}"',
                             f"{val.error_message}\n\nThe value {shown}{where} failed this validation rule.")
