"""Load a Packer HCL2 template (a file or a folder of *.pkr.hcl) into a `Template`.

`load_template` never raises on user input: it returns ``(Template | None, diagnostics)``
with every problem it found. Variable values follow Packer's order (later wins):
defaults < PKR_VAR_* environment < *.auto.pkrvars.hcl (sorted) < -var-file (in order)
< -var (in order). `validate_template` adds the schema checks of every component and
the cross-references (a build naming a missing source).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
from datetime import datetime
from typing import Any, Iterable, Mapping

from releasemgr.common.hcl_values import UNKNOWN
from releasemgr.template.diagnostics import Diagnostic, EvalError, Severity, dedupe, has_errors, suggest
from releasemgr.template.expr import Evaluator, OpenObject, Scope
from releasemgr.template.load.builds import BuildsLoader
from releasemgr.template.load.files import FilesLoader, load_var_assignments
from releasemgr.template.load.packer_block import PackerBlockLoader
from releasemgr.template.load.state import (
    BUILD_VALUES,
    PACKER_VERSION,
    TOP_LEVEL,
)
from releasemgr.template.load.variables import VariablesLoader
from releasemgr.template.model import (
    Template,
)
from releasemgr.template.syntax.ast import (
    Block,
    Body,
)
from releasemgr.template.syntax.parser import parse_file

__all__ = ["check_syntax", "evaluate_body", "load_template", "load_var_assignments", "select_builds"]


class Loader(FilesLoader, PackerBlockLoader, VariablesLoader, BuildsLoader):
    """One load of a template: each block type is read by its own part (files, packer_block,
    variables, locals, sources, builds, provisioners, post_processors), like Packer's
    hcl2template/types.*.go, which are methods of one parser spread over one file per block."""

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
            # a variables file may hold secrets that are not known to be secret until it parses:
            # its syntax errors point at the line and column without showing the line
            self.diags.extend(dataclasses.replace(x, source_line=None) for x in d)
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
                             "A template has packer, variable, variables, locals, local, source, data and build "
                             "blocks.")
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


def load_template(path: str, *, vars: dict[str, str] | None = None, var_files: Iterable[str] = (),
                  environ: Mapping[str, str] | None = None,
                  now: datetime | None = None) -> tuple[Template | None, list[Diagnostic]]:
    """Parse and evaluate a template file or folder. Never raises on user input."""
    loader = Loader(path, vars, var_files, os.environ if environ is None else environ, now)
    try:
        template = loader.load()
    except RecursionError:
        loader.diags.append(Diagnostic(Severity.ERROR, "Template too deeply nested",
                                       "The template nests expressions too deeply to evaluate.", file=path))
        template = None
    diags = dedupe(loader.diags)
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
    loader = Loader(path, None, (), {}, None)
    files, autos = loader.find_files()
    for f in files + autos:
        loader.diags.extend(parse_file(f)[1])
    return loader.diags
