"""Load a Packer HCL2 template (a file or a folder of *.pkr.hcl) into a `Template`.

`load_template` never raises on user input: it returns ``(Template | None, diagnostics)``
with every problem it found. Variable values follow Packer's order (later wins):
defaults < PKR_VAR_* environment < *.auto.pkrvars.hcl (sorted) < -var-file (in order)
< -var (in order). `validate_template` adds the schema checks of every component and
the cross-references (a build naming a missing source).
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any, Iterable, Mapping

from releasemgr.template.syntax.ast import (
    Attribute,
    Block,
    Body,
    Call,
    GetAttr,
    Node,
    ObjectItem,
    TemplateExpr,
    TupleExpr,
    Variable as VariableExpr,
)
from releasemgr.template.syntax.parser import parse_expression_text, parse_file
from releasemgr.template.syntax.source import Range
from releasemgr.template.diagnostics import Diagnostic, EvalError, Severity, has_errors, suggest
from releasemgr.template.expr import Evaluator, OpenObject, Scope
from releasemgr.template.references import references
from releasemgr.template.types import convert, parse_type, type_to_str
from releasemgr.template.model import (
    Build,
    BuildSource,
    Local,
    PackerBlock,
    PostProcessor,
    Provisioner,
    RequiredPlugin,
    Source,
    Template,
    Validation,
    Variable,
    body_position,
)
from releasemgr.common.hcl_values import UNKNOWN, ConversionError, is_unknown, to_bool, to_string

PACKER_VERSION = "1.9.0"  # the Packer language level releasemgr implements (for packer.version)

TOP_LEVEL = {"packer": 0, "variable": 1, "variables": 0, "locals": 0, "local": 1, "source": 2, "build": 0, "data": 2}
BUILD_ATTRS = ("name", "description", "sources")
BUILD_BLOCKS = ("source", "provisioner", "post-processor", "post-processors", "error-cleanup-provisioner",
                "hcp_packer_registry")
VARIABLE_ATTRS = ("type", "default", "description", "sensitive", "nullable")
BUILD_VALUES = ("name", "ID", "Host", "Port", "User", "Password", "ConnType", "PackerRunUUID", "PackerHTTPAddr",
                "PackerHTTPIP", "PackerHTTPPort", "SSHPublicKey", "SSHPrivateKey", "WinRMPassword", "SourceAMI",
                "SourceAMIName", "SourceAMIOwner", "SourceAMIOwnerName", "SourceAMICreationDate")




class _Loader:
    def __init__(self, path: str, vars_: dict[str, str] | None, var_files: Iterable[str],
                 environ: Mapping[str, str], now: datetime | None):
        self.path = path
        self.cli_var_list = list((vars_ or {}).items())
        self.var_files = list(var_files)
        self.environ = environ
        self.now = now
        self.diags: list[Diagnostic] = []
        self.files: list[str] = []
        self.base_dir = "."
        self.variables: dict[str, Variable] = {}
        self.locals: dict[str, Local] = {}
        self._local_state: dict[str, str] = {}  # name -> "busy" | "done" | "failed"
        self._local_stack: list[str] = []
        self.evaluator: Evaluator | None = None

    # -- helpers ------------------------------------------------------------------------
    def err(self, rng: Range | None, summary: str, detail: str = "", severity=Severity.ERROR):
        if rng is None:
            self.diags.append(Diagnostic(severity, summary, detail, file=self.path))
        else:
            self.diags.append(rng.diag(summary, detail, severity=severity))

    def eval(self, node, scope, default=UNKNOWN):
        try:
            return self.evaluator.eval(node, scope)
        except EvalError as exc:
            self.diags.append(exc.diag)
            return default

    def literal(self, attr: Attribute, kind: str, scope: Scope | None = None):
        """A string/bool/number attribute that must not depend on anything unknown."""
        v = self.eval(attr.expr, scope or Scope({}), None)
        if v is None or v is UNKNOWN:
            return None
        try:
            if kind == "string":
                return to_string(v)
            if kind == "bool":
                return to_bool(v)
        except ConversionError as exc:
            self.err(attr.expr.rng, f"Invalid value for \"{attr.name}\"", f"Unsuitable value: {exc}.")
        return v

    def check_names(self, body: Body, where: str, attrs: Iterable[str], blocks: Iterable[str]):
        attrs, blocks = tuple(attrs), tuple(blocks)
        for name, a in body.attributes.items():
            if name not in attrs:
                hint = suggest(name, attrs + blocks)
                extra = f' "{name}" is a block here: write {name} {{ ... }}.' if name in blocks else ""
                self.err(a.name_rng, "Unsupported argument",
                         f"An argument named \"{name}\" is not expected in {where}.{hint}{extra}")
        for b in body.blocks:
            if b.type not in blocks:
                hint = suggest(b.type, attrs + blocks)
                extra = f' "{b.type}" is an argument here: write {b.type} = ...' if b.type in attrs else ""
                self.err(b.type_rng, "Unsupported block type",
                         f"Blocks of type \"{b.type}\" are not expected in {where}.{hint}{extra}")

    # -- files ----------------------------------------------------------------------------
    def find_files(self) -> tuple[list[str], list[str]]:
        path = self.path
        if os.path.isdir(path):
            self.base_dir = path
            names = sorted(os.listdir(path))
            files = [os.path.join(path, n) for n in names if n.endswith(".pkr.hcl") and os.path.isfile(os.path.join(path, n))]
            autos = [os.path.join(path, n) for n in names if n.endswith(".auto.pkrvars.hcl")]
            if not files:
                self.err(None, "No template files", f"The folder {path} contains no *.pkr.hcl files.")
            return files, autos
        if not os.path.exists(path):
            self.err(None, "Template not found", f"There is no file or folder named {path}.")
            return [], []
        self.base_dir = os.path.dirname(path) or "."
        if path.endswith(".json"):
            self.err(None, "JSON templates are not supported",
                     "releasemgr reads HCL2 templates (*.pkr.hcl); convert with `packer hcl2_upgrade`.")
            return [], []
        names = sorted(os.listdir(self.base_dir))
        autos = [os.path.join(self.base_dir, n) for n in names if n.endswith(".auto.pkrvars.hcl")]
        if path.endswith(".pkrvars.hcl"):
            self.err(None, "Not a template", f"{path} is a variables file; pass it with --var-file and give the template.")
            return [], []
        return [path], autos

    # -- main ---------------------------------------------------------------------------------
    def load(self) -> Template | None:
        files, autos = self.find_files()
        if has_errors(self.diags):
            return None
        self.files = files
        bodies: list[Body] = []
        for f in files:
            body, d = parse_file(f)
            self.diags.extend(d)
            if body is not None:
                bodies.append(body)
        var_bodies = []
        for f in autos + self.var_files:
            body, d = parse_file(f)
            self.diags.extend(d)
            if body is not None:
                var_bodies.append((f, body, "auto-file" if f in autos else "var-file"))
        if has_errors(self.diags):
            return None
        self.evaluator = Evaluator(base_dir=self.base_dir, now=self.now, environ=self.environ)

        blocks: dict[str, list[Block]] = {k: [] for k in TOP_LEVEL}
        for body in bodies:
            for name, a in body.attributes.items():
                self.err(a.name_rng, "Unsupported argument",
                         f"An argument named \"{name}\" is not expected at the top level of a template; "
                         "arguments belong inside blocks (variable, source, build, ...).")
            for b in body.blocks:
                if b.type not in TOP_LEVEL:
                    self.err(b.type_rng, "Unsupported block type",
                             f"Blocks of type \"{b.type}\" are not expected here.{suggest(b.type, TOP_LEVEL)} "
                             "A template has packer, variable, variables, locals, local, source, data and build blocks.")
                    continue
                want = TOP_LEVEL[b.type]
                if len(b.labels) != want:
                    rng = b.label_rngs[want] if len(b.labels) > want else b.type_rng
                    if want == 0:
                        detail = f"A {b.type} block has no labels: write {b.type} {{ ... }}."
                    elif want == 1:
                        detail = f'A {b.type} block needs one label, its name: {b.type} "name" {{ ... }}.'
                    else:
                        detail = f'A {b.type} block needs two labels, type and name: {b.type} "type" "name" {{ ... }}.'
                    self.err(rng, "Extraneous label" if len(b.labels) > want else "Missing name label", detail)
                    continue
                blocks[b.type].append(b)

        packer = self.load_packer(blocks["packer"])
        for b in blocks["data"]:
            self.err(b.type_rng, "Data sources are not supported",
                     f'The data source "{b.labels[0]}" "{b.labels[1]}" cannot be evaluated by releasemgr; '
                     "replace it with a variable or a local value, or build with --engine packer.")
        self.load_variables(blocks["variable"], blocks["variables"])
        self.assign_values(var_bodies)
        self.check_variables()
        self.load_locals(blocks["locals"], blocks["local"])
        base_roots = self.base_roots()
        sources = self.load_sources(blocks["source"], base_roots)
        builds = [self.load_build(b, base_roots, sources) for b in blocks["build"]]
        # evaluate every local, so errors in unused ones are reported too
        for name in self.locals:
            self.local_value(name, None)
        return Template(path=self.path, files=files, packer=packer, variables=self.variables, locals=self.locals,
                        sources=sources, builds=builds, diagnostics=self.diags, base_dir=self.base_dir,
                        var_files=self.var_files)

    # -- packer block ------------------------------------------------------------------------
    def load_packer(self, blocks: list[Block]) -> PackerBlock:
        pb = PackerBlock()
        for b in blocks:
            pb.pos = b.rng
            self.check_names(b.body, "a packer block", ("required_version",), ("required_plugins",))
            a = b.body.attributes.get("required_version")
            if a is not None:
                pb.required_version = self.literal(a, "string")
                if pb.required_version:
                    self.check_version_constraint(pb.required_version, a.expr.rng)
            for rp in b.body.blocks_of("required_plugins"):
                if rp.labels:
                    self.err(rp.label_rngs[0], "Extraneous label", "A required_plugins block has no labels.")
                if rp.body.blocks:
                    self.err(rp.body.blocks[0].type_rng, "Unsupported block type",
                             "required_plugins holds arguments: name = { version = \"...\", source = \"...\" }.")
                for name, attr in rp.body.attributes.items():
                    v = self.eval(attr.expr, Scope({}), None)
                    if isinstance(v, dict):
                        for k in v:
                            if k not in ("version", "source"):
                                self.err(attr.expr.rng, "Unsupported argument",
                                         f'The plugin requirement "{name}" has an argument "{k}"; only version and '
                                         "source are expected." + suggest(k, ("version", "source")))
                        src, ver = v.get("source"), v.get("version")
                        if src is not None and not isinstance(src, str) or ver is not None and not isinstance(ver, str):
                            self.err(attr.expr.rng, "Invalid plugin requirement", "version and source must be strings.")
                            continue
                        pb.required_plugins[name] = RequiredPlugin(name, src, ver, attr.name_rng)
                    elif isinstance(v, str):
                        pb.required_plugins[name] = RequiredPlugin(name, None, v, attr.name_rng)
                    elif v is not None:
                        self.err(attr.expr.rng, "Invalid plugin requirement",
                                 f'Write {name} = {{ version = ">= 1.0.0", source = "github.com/hashicorp/{name}" }}.')
        return pb

    def check_version_constraint(self, text: str, rng: Range):
        import re

        for part in text.split(","):
            if not re.fullmatch(r"\s*(=|!=|>|<|>=|<=|~>)?\s*v?\d+(\.\d+){0,2}(-[\w.]+)?\s*", part):
                self.err(rng, "Invalid version constraint",
                         f'"{text}" is not a version constraint; write e.g. ">= 1.7.0" or "~> 1.9".')
                return

    # -- variables ----------------------------------------------------------------------------
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
                env_scope = Scope({})
                env_scope.allow_env = True
                d = self.eval(a.expr, env_scope, UNKNOWN)
                if d is not UNKNOWN:
                    try:
                        v.default = convert(d, v.type)
                        v.has_default = True
                    except ConversionError as exc:
                        self.err(a.expr.rng, "Invalid default value for variable",
                                 f"This default value is not compatible with the variable's type constraint "
                                 f"({type_to_str(v.type)}): {exc}.")
                else:
                    v.has_default = True
                    v.default = UNKNOWN
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
                self.variables[name] = Variable(name=name, default=d, has_default=True, value=d, pos=a.name_rng)

    def _parse_cli_value(self, var: Variable, raw: str, origin: str, rng: Range | None):
        ty = var.type
        if isinstance(ty, str):  # primitives take the text as it is; convert() checks it
            return raw, True
        expr, d = parse_expression_text(raw, origin)
        if expr is None:
            self.err(rng, f'Invalid value for variable "{var.name}"',
                     f"The value {raw!r} given by {origin} is not a valid {type_to_str(ty)}: "
                     f"{d[0].summary}; {d[0].detail}")
            return None, False
        try:
            return self.evaluator.eval(expr, Scope({})), True
        except EvalError as exc:
            self.err(rng, f'Invalid value for variable "{var.name}"',
                     f"The value {raw!r} given by {origin} cannot be evaluated: {exc.diag.summary}; {exc.diag.detail}")
            return None, False

    def _set(self, var: Variable, value, source: str, rng: Range | None):
        try:
            var.value = convert(value, var.type)
        except ConversionError as exc:
            self.err(rng or var.pos, f'Invalid value for variable "{var.name}"',
                     f"The value given by {source} is not compatible with the variable's type constraint "
                     f"({type_to_str(var.type)}): {exc}.")
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
                    shown = "<sensitive>" if var.sensitive else _short(var.value)
                    where = "" if var.value_source in ("default",) else f" (set by {var.value_source})"
                    self.err(val.pos, f'Invalid value for variable "{var.name}"',
                             f"{val.error_message}\n\nThe value {shown}{where} failed this validation rule.")

    # -- locals ---------------------------------------------------------------------------------
    def load_locals(self, locals_blocks: list[Block], local_blocks: list[Block]):
        for b in locals_blocks:
            for blk in b.body.blocks:
                self.err(blk.type_rng, "Unsupported block type", "A locals block holds only arguments: name = expression.")
            for name, a in b.body.attributes.items():
                self._add_local(Local(name, a.expr, pos=a.name_rng))
        for b in local_blocks:
            self.check_names(b.body, f'local "{b.labels[0]}"', ("expression", "sensitive"), ())
            a = b.body.attributes.get("expression")
            if a is None:
                self.err(b.type_rng, "Missing required argument", 'The argument "expression" is required in a local block.')
                continue
            sens = b.body.attributes.get("sensitive")
            loc = Local(b.labels[0], a.expr, pos=b.label_rngs[0])
            if sens is not None:
                loc.sensitive = bool(self.literal(sens, "bool"))
            self._add_local(loc)

    def _add_local(self, loc: Local):
        if loc.name in self.locals:
            self.err(loc.pos, "Duplicate local definition",
                     f'A local value named "{loc.name}" was already defined at {self.locals[loc.name].pos!r}. '
                     "Local value names must be unique within a template.")
            return
        self.locals[loc.name] = loc

    def base_roots(self) -> dict:
        return {
            "var": {n: v.value for n, v in self.variables.items()},
            "path": {"root": os.path.abspath(self.base_dir), "cwd": os.getcwd()},
            "packer": {"version": PACKER_VERSION},
        }

    def locals_scope(self) -> Scope:
        return Scope(self.base_roots(), local_lookup=self.local_value, local_names=lambda: list(self.locals))

    def local_value(self, name: str, rng: Range | None):
        loc = self.locals.get(name)
        if loc is None:
            raise EvalError(rng.diag("Reference to undeclared local value",
                                     f'A local value with the name "{name}" has not been declared.'
                                     + suggest(name, self.locals)))
        state = self._local_state.get(name)
        if state == "done":
            return loc.value
        if state == "failed":
            return UNKNOWN
        if state == "busy":
            i = self._local_stack.index(name)
            cycle = self._local_stack[i:] + [name]
            raise EvalError(rng.diag("Cycle in local values",
                                     "These local values refer to each other: "
                                     + " -> ".join(f"local.{n}" for n in cycle) + "."))
        self._local_state[name] = "busy"
        self._local_stack.append(name)
        try:
            loc.value = self.evaluator.eval(loc.expr, self.locals_scope())
            self._local_state[name] = "done"
        except EvalError as exc:
            self._local_state[name] = "failed"
            loc.value = UNKNOWN
            if not any(_same(exc.diag, d) for d in self.diags):
                self.diags.append(exc.diag)
        finally:
            self._local_stack.pop()
        return loc.value

    # -- components ------------------------------------------------------------------------------
    def component_scope(self, roots: dict, source: dict | None, build_name: str | None) -> Scope:
        r = dict(roots)
        r["source"] = source if source is not None else {"name": UNKNOWN, "type": UNKNOWN}
        build = OpenObject({k: UNKNOWN for k in BUILD_VALUES})
        build["name"] = build_name if build_name is not None else UNKNOWN
        r["build"] = build
        return Scope(r, local_lookup=self.local_value, local_names=lambda: list(self.locals))

    def eval_body(self, body: Body, scope: Scope, skip_attrs=(), skip_blocks=()) -> tuple[dict, dict, frozenset]:
        """Evaluate a component body: (attrs, blocks as {type: [attrs-dict...]}, literal attr names)."""
        attrs, literal = {}, set()
        for name, a in body.attributes.items():
            if name in skip_attrs:
                continue
            attrs[name] = self.eval(a.expr, scope, UNKNOWN)
            if not references(a.expr) and not _has_call(a.expr):
                literal.add(name)
        blocks: dict[str, list] = {}
        for b in body.blocks:
            if b.type in skip_blocks:
                continue
            sub_attrs, sub_blocks, sub_lit = self.eval_body(b.body, scope)
            blocks.setdefault(b.type, []).append((sub_attrs, sub_blocks, sub_lit, b))
        return attrs, blocks, frozenset(literal)

    def load_sources(self, blocks: list[Block], roots: dict) -> dict[str, Source]:
        sources: dict[str, Source] = {}
        for b in blocks:
            type_, name = b.labels
            key = f"{type_}.{name}"
            if key in sources:
                self.err(b.label_rngs[1], "Duplicate source block",
                         f'A source "{type_}" "{name}" was already declared at {sources[key].pos!r}.')
                continue
            scope = self.component_scope(roots, {"name": name, "type": type_}, None)
            attrs, blks, lit = self.eval_body(b.body, scope)
            src = Source(type=type_, body=b.body, pos=b.rng, config=_config(attrs, blks), name=name)
            src._evaluated = (attrs, blks, lit)  # type: ignore[attr-defined]
            sources[key] = src
        return sources

    def _source_ref(self, node, sources) -> tuple[str | None, Range]:
        # source.TYPE.NAME written as a reference, or "source.TYPE.NAME" as a string
        if isinstance(node, GetAttr) and isinstance(node.obj, GetAttr) and isinstance(node.obj.obj, VariableExpr) \
                and node.obj.obj.name == "source":
            return f"{node.obj.name}.{node.name}", node.rng
        if isinstance(node, TemplateExpr) and all(isinstance(p, str) for p in node.parts):
            text = "".join(node.parts)
            return (text[len("source."):] if text.startswith("source.") else text), node.rng
        self.err(node.rng, "Invalid source reference",
                 'A build\'s sources are written "source.TYPE.NAME" (for example "source.amazon-ebs.ubuntu").')
        return None, node.rng

    def check_source_ref(self, ref: str, rng: Range, sources) -> bool:
        if ref in sources:
            return True
        self.err(rng, "Unknown source",
                 f'There is no source "{ref}" in this template (declare it with source "{ref.split(".")[0]}" '
                 f'"{ref.split(".", 1)[-1]}" {{ ... }}).' + suggest(ref, sources))
        return False

    def load_build(self, b: Block, roots: dict, sources: dict[str, Source]) -> Build:
        body = b.body
        self.check_names(body, "a build block", BUILD_ATTRS, BUILD_BLOCKS)
        build = Build(pos=b.rng)
        a = body.attributes.get("name")
        if a is not None:
            build.name = self.literal(a, "string", Scope(roots))
        a = body.attributes.get("description")
        if a is not None:
            build.description = self.literal(a, "string", Scope(roots))
        a = body.attributes.get("sources")
        if a is not None:
            if isinstance(a.expr, TupleExpr):
                for item in a.expr.items:
                    ref, rng = self._source_ref(item, sources)
                    if ref is not None:
                        self.check_source_ref(ref, rng, sources)
                        build.sources.append(BuildSource(ref=ref, pos=rng))
            else:
                self.err(a.expr.rng, "Invalid sources", 'sources is a list: sources = ["source.TYPE.NAME", ...].')
        for sb in body.blocks_of("source"):
            if len(sb.labels) != 1:
                self.err(sb.type_rng, "Invalid source block",
                         'A source block inside build has one label: source "source.TYPE.NAME" { ... }.')
                continue
            ref = sb.labels[0]
            ref = ref[len("source."):] if ref.startswith("source.") else ref
            if not self.check_source_ref(ref, sb.label_rngs[0], sources):
                continue
            override_name = None
            na = sb.body.attributes.get("name")
            if na is not None:
                override_name = self.literal(na, "string", Scope(roots))
            bs = BuildSource(ref=ref, name=override_name, overrides=sb.body, pos=sb.rng)
            if set(sb.body.attributes) - {"name"} or sb.body.blocks:
                src = sources[ref]
                scope = self.component_scope(roots, {"name": override_name or src.name, "type": src.type}, build.name)
                o_attrs, o_blks, o_lit = self.eval_body(sb.body, scope, skip_attrs=("name",))
                attrs, blks, lit = src._evaluated
                merged = ({**attrs, **o_attrs}, {**blks, **o_blks}, frozenset((lit - set(o_attrs)) | o_lit))
                bs.config = _config(merged[0], merged[1])
                bs._evaluated = merged  # type: ignore[attr-defined]
                bs._source = src  # type: ignore[attr-defined]
            build.sources.append(bs)
        if not build.sources:
            self.err(b.type_rng, "Missing sources", "A build needs at least one source: sources = [\"source.TYPE.NAME\"] "
                     "or a source \"source.TYPE.NAME\" { } block.", severity=Severity.ERROR)
        source_ctx = None
        if len(build.sources) == 1:
            bs = build.sources[0]
            t, n = bs.ref.split(".", 1)
            source_ctx = {"type": t, "name": bs.name or n}
        scope = self.component_scope(roots, source_ctx, build.name)
        build._scope = scope  # type: ignore[attr-defined]
        for pb in body.blocks:
            if pb.type in ("provisioner", "error-cleanup-provisioner"):
                prov = self.load_provisioner(pb, scope)
                if prov is None:
                    continue
                if pb.type == "provisioner":
                    build.provisioners.append(prov)
                elif build.error_cleanup_provisioner is not None:
                    self.err(pb.type_rng, "Duplicate error-cleanup-provisioner",
                             "A build may have only one error-cleanup-provisioner.")
                else:
                    build.error_cleanup_provisioner = prov
            elif pb.type == "post-processor":
                pp = self.load_post_processor(pb, scope)
                if pp is not None:
                    build.post_processors.append([pp])
            elif pb.type == "post-processors":
                if pb.labels:
                    self.err(pb.label_rngs[0], "Extraneous label", "A post-processors block has no labels.")
                self.check_names(pb.body, "a post-processors block", (), ("post-processor",))
                chain = [pp for pp in (self.load_post_processor(x, scope) for x in pb.body.blocks_of("post-processor"))
                         if pp is not None]
                if chain:
                    build.post_processors.append(chain)
            elif pb.type == "hcp_packer_registry":
                self.err(pb.type_rng, "hcp_packer_registry is ignored",
                         "releasemgr records versions in its own ledger; this block has no effect.",
                         severity=Severity.WARNING)
        return build

    def _one_label(self, pb: Block, what: str) -> str | None:
        if len(pb.labels) != 1:
            self.err(pb.type_rng, f"Invalid {what} block", f'A {what} block has one label, its type: {what} "TYPE" {{ ... }}.')
            return None
        return pb.labels[0]

    def load_provisioner(self, pb: Block, scope: Scope) -> Provisioner | None:
        type_ = self._one_label(pb, pb.type)
        if type_ is None:
            return None
        attrs, blks, lit = self.eval_body(pb.body, scope)
        prov = Provisioner(type=type_, body=pb.body, pos=pb.rng, config=_config(attrs, blks))
        prov._evaluated = (attrs, blks, lit)  # type: ignore[attr-defined]
        prov.name = _str_or_none(attrs.get("name"))
        prov.only = _str_list(attrs.get("only"))
        prov.except_ = _str_list(attrs.get("except"))
        prov.pause_before = _str_or_none(attrs.get("pause_before"))
        mr = attrs.get("max_retries")
        prov.max_retries = mr if isinstance(mr, int) and not isinstance(mr, bool) else None
        prov.timeout = _str_or_none(attrs.get("timeout"))
        ov = attrs.get("override")
        prov.override = ov if isinstance(ov, dict) else {}
        return prov

    def load_post_processor(self, pb: Block, scope: Scope) -> PostProcessor | None:
        type_ = self._one_label(pb, "post-processor")
        if type_ is None:
            return None
        attrs, blks, lit = self.eval_body(pb.body, scope)
        pp = PostProcessor(type=type_, body=pb.body, pos=pb.rng, config=_config(attrs, blks))
        pp._evaluated = (attrs, blks, lit)  # type: ignore[attr-defined]
        pp.name = _str_or_none(attrs.get("name"))
        pp.only = _str_list(attrs.get("only"))
        pp.except_ = _str_list(attrs.get("except"))
        k = attrs.get("keep_input_artifact")
        pp.keep_input_artifact = k if isinstance(k, bool) else None
        return pp


# -- small helpers ----------------------------------------------------------------------------
def _has_call(node) -> bool:
    if isinstance(node, Call):
        return True
    for v in vars(node).values() if isinstance(node, Node) else ():
        if isinstance(v, Node) and _has_call(v):
            return True
        if isinstance(v, list):
            for x in v:
                if isinstance(x, Node) and _has_call(x):
                    return True
                if isinstance(x, ObjectItem) and (_has_call(x.key) or _has_call(x.value)):
                    return True
    return False


def _looks_like_sentence(text: str) -> bool:
    text = text.strip()
    if not text or text[-1] not in ".?":
        return False
    first = text[0]
    return not first.isalpha() or first.isupper() or first.lower() == first.upper()


def _valid_name(name: str) -> bool:
    import re

    return bool(re.fullmatch(r"[^\W\d][\w-]*", name))


def _same(a: Diagnostic, b: Diagnostic) -> bool:
    return a.summary == b.summary and a.file == b.file and a.start == b.start


def _short(value) -> str:
    import json

    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _str_or_none(v):
    return v if isinstance(v, str) else None


def _str_list(v) -> list[str]:
    return [x for x in v if isinstance(x, str)] if isinstance(v, list) else []


def _config(attrs: dict, blks: dict) -> dict:
    out = dict(attrs)
    for t, items in blks.items():
        out[t] = [_config(a, b) for a, b, _lit, _blk in items]
    return out


def _schema_body(evaluated):
    from releasemgr.template.schema import Body as SBody

    attrs, blks, lit = evaluated
    return SBody(attrs=dict(attrs),
                 blocks={t: [_schema_body((a, b, l)) for a, b, l, _blk in items] for t, items in blks.items()},
                 literal=lit)


# -- public API -------------------------------------------------------------------------------
def load_template(path: str, *, vars: dict[str, str] | None = None, var_files: Iterable[str] = (),
                  environ: Mapping[str, str] | None = None,
                  now: datetime | None = None) -> tuple[Template | None, list[Diagnostic]]:
    """Parse and evaluate a template file or folder. Never raises on user input."""
    loader = _Loader(path, vars, var_files, os.environ if environ is None else environ, now)
    try:
        template = loader.load()
    except RecursionError:
        loader.diags.append(Diagnostic(Severity.ERROR, "Template too deeply nested",
                                       "The template nests expressions too deeply to evaluate.", file=path))
        template = None
    diags = _dedupe(loader.diags)
    if template is not None:
        template.diagnostics = diags
    return template, diags


def evaluate_body(template: Template, body: Body, *, source: Mapping[str, Any] | None = None,
                  build: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None,
                  now: datetime | None = None) -> tuple[dict, list[Diagnostic]]:
    """Evaluate a component body again in one build's context (for the pipeline).

    `source` gives ``{"name", "type"}`` of the build source being built; `build` the values
    known at that point (``{"ID": ..., "Host": ...}``); anything else of `build.*` stays
    UNKNOWN. Returns the config (attributes, and nested blocks as lists of dicts) and the
    diagnostics of failed expressions (their attributes are UNKNOWN in the config).
    """
    ev = Evaluator(base_dir=template.base_dir, now=now, environ=os.environ if environ is None else environ)
    build_obj = OpenObject({k: UNKNOWN for k in BUILD_VALUES})
    build_obj.update(build or {})
    roots = {
        "var": {n: v.value for n, v in template.variables.items()},
        "local": {n: loc.value for n, loc in template.locals.items()},
        "path": {"root": os.path.abspath(template.base_dir), "cwd": os.getcwd()},
        "packer": {"version": PACKER_VERSION},
        "source": dict(source) if source is not None else {"name": UNKNOWN, "type": UNKNOWN},
        "build": build_obj,
    }
    scope = Scope(roots)
    diags: list[Diagnostic] = []

    def walk(b: Body) -> dict:
        out: dict = {}
        for name, a in b.attributes.items():
            try:
                out[name] = ev.eval(a.expr, scope)
            except EvalError as exc:
                diags.append(exc.diag)
                out[name] = UNKNOWN
        for blk in b.blocks:
            out.setdefault(blk.type, []).append(walk(blk.body))
        return out

    return walk(body), diags


def select_builds(template: Template, only: Iterable[str] = (), except_: Iterable[str] = ()) -> Template:
    """Keep the build sources matching Packer's -only/-except globs ("type.name", "build.type.name").

    Builds left without sources are dropped, and so are sources no kept build uses."""
    import fnmatch

    only, except_ = [p for p in only if p], [p for p in except_ if p]
    if not only and not except_:
        return template

    def names(build, bs):
        out = [bs.display_name, bs.ref]
        if build.name:
            out += [f"{build.name}.{n}" for n in (bs.display_name, bs.ref)]
        return out

    def hit(patterns, build, bs):
        return any(fnmatch.fnmatchcase(n, p) for p in patterns for n in names(build, bs))

    for b in template.builds:
        b.sources = [bs for bs in b.sources
                     if (not only or hit(only, b, bs)) and not (except_ and hit(except_, b, bs))]
    template.builds = [b for b in template.builds if b.sources]
    used = {bs.ref for b in template.builds for bs in b.sources}
    template.sources = {k: v for k, v in template.sources.items() if k in used}
    return template


def check_syntax(path: str) -> list[Diagnostic]:
    """Only parse: the template files and the *.auto.pkrvars.hcl beside them."""
    loader = _Loader(path, None, (), {}, None)
    files, autos = loader.find_files()
    for f in files + autos:
        loader.diags.extend(parse_file(f)[1])
    return loader.diags


def load_var_assignments(pairs: Iterable[str]) -> tuple[dict[str, str], list[Diagnostic]]:
    """`name=value` strings (from --var) -> dict; malformed ones become diagnostics."""
    out: dict[str, str] = {}
    diags = []
    for p in pairs:
        name, eq, value = p.partition("=")
        if not eq or not name.strip():
            diags.append(Diagnostic(Severity.ERROR, "Invalid -var option",
                                    f'The given -var option "{p}" is not correctly specified. It must be a variable '
                                    'name and value separated by an equals sign, like --var "key=value".'))
            continue
        out[name.strip()] = value
    return out, diags


def validate_template(template: Template, environ: Mapping[str, str] | None = None) -> list[Diagnostic]:
    """Schema checks of every source, provisioner and post-processor, at their own lines."""
    try:
        from releasemgr.template import schema
    except ImportError:  # pragma: no cover - the schema module is another engineer's
        return []
    env = os.environ if environ is None else environ
    out: list[Diagnostic] = []

    def add(findings, comp, kind_path=()):
        for f in findings:
            rng = body_position(comp.body, tuple(f.path)) or comp.pos
            if not f.path:
                rng = comp.pos
            out.append(rng.diag(f.summary, f.detail, severity=Severity(f.severity)))

    def check(kind, comp):
        ev = getattr(comp, "_evaluated", None)
        if ev is None:
            return
        try:
            findings = schema.check_component(kind, comp.type, _schema_body(ev), environ=env)
        except Exception as exc:  # a schema bug must not become a traceback
            out.append(comp.pos.diag("Internal error in schema check", f"{type(exc).__name__}: {exc}",
                                     severity=Severity.WARNING))
            return
        add(findings, comp)

    for src in template.sources.values():
        check("source", src)
    for b in template.builds:
        for bs in b.sources:
            ev = getattr(bs, "_evaluated", None)
            if ev is None:
                continue
            src = bs._source
            try:
                findings = schema.check_component("source", src.type, _schema_body(ev), environ=env)
            except Exception:  # noqa: BLE001
                continue
            for f in findings:
                path = tuple(f.path)
                if path and path[0] in bs.overrides.attributes or path and any(x.type == path[0] for x in bs.overrides.blocks):
                    rng = body_position(bs.overrides, path)
                elif path:
                    rng = body_position(src.body, path)
                else:
                    rng = bs.pos
                out.append((rng or bs.pos).diag(f.summary, f.detail, severity=Severity(f.severity)))
    for b in template.builds:
        for p in b.provisioners:
            check("provisioner", p)
        if b.error_cleanup_provisioner is not None:
            check("provisioner", b.error_cleanup_provisioner)
        for chain in b.post_processors:
            for pp in chain:
                check("post-processor", pp)
        try:
            seq = schema.check_provisioner_sequence([(p.type, _schema_body(p._evaluated)) for p in b.provisioners])
        except Exception:  # noqa: BLE001
            seq = []
        for i, f in seq:
            comp = b.provisioners[i]
            out.append((body_position(comp.body, tuple(f.path)) if f.path else comp.pos).diag(
                f.summary, f.detail, severity=Severity(f.severity)))
    return _dedupe(out)


def _dedupe(diags: list[Diagnostic]) -> list[Diagnostic]:
    seen = set()
    out = []
    for d in diags:
        key = (d.severity, d.summary, d.detail, d.file, d.start)
        if key in seen:
            continue
        seen.add(key)
        out.append(d)
    return out
