"""`release validate` and `release inspect`: read a template, report, never touch a cloud."""

from __future__ import annotations

import os

import click

from releasemgr.cli.context import app_ctx, command
from releasemgr.errors import NotFound, TemplateError
from releasemgr.template.load import load_template, load_var_assignments, select_builds
from releasemgr.template.validate import validate_template
from releasemgr.template.inspect import inspect_data, render_inspect
from releasemgr.template.load import check_syntax


class TemplateInvalid(TemplateError):
    """Exit 2 whose --json document is the validate report itself."""

    def __init__(self, doc: dict, errors):
        n = len(errors)
        super().__init__(f"the template has {n} error{'s' if n != 1 else ''}", errors)
        self.doc = doc

    def to_json(self) -> dict:
        return {**self.doc, "error": self.kind, "message": self.message, "exit_code": int(self.status)}


def _var_options(f):
    f = click.option("--except", "-except", "except_", metavar="NAMES",
                     help="Skip these build sources (comma-separated globs: amazon-ebs.web, web.*).")(f)
    f = click.option("--only", "-only", "only", metavar="NAMES",
                     help="Only these build sources (comma-separated globs: amazon-ebs.web, web.*).")(f)
    f = click.option("--var-file", "-var-file", "var_files", multiple=True, metavar="FILE",
                     help="A .pkrvars.hcl file of variable values (repeatable; later files win).")(f)
    f = click.option("--var", "-var", "var_pairs", multiple=True, metavar="NAME=VALUE",
                     help="Set a variable (repeatable). Lists and maps are written in HCL: "
                          "--var 'regions=[\"a\",\"b\"]'.")(f)
    return f


def template_exists(path) -> None:
    """A missing template is "not found" (exit 4), as a missing file is for every command."""
    if not os.path.exists(path):
        raise NotFound(f"template {path} not found", hint="give a .pkr.hcl file or a folder of them")


def _load(path, var_pairs, var_files, syntax_only=False, only=None, except_=None):
    template_exists(path)
    vars_, diags = load_var_assignments(var_pairs)
    if syntax_only:
        return None, diags + check_syntax(path)
    template, more = load_template(path, vars=vars_, var_files=list(var_files))
    diags = diags + more
    if template is not None:
        template = select_builds(template, (only or "").split(","), (except_ or "").split(","))
        diags = diags + validate_template(template)
    diags.sort(key=lambda d: (d.file or "", d.start.line if d.start else 0, d.start.column if d.start else 0))
    return template, diags


def _finish(ui, template, diags, ok_text: str | None):
    errors = [d for d in diags if d.is_error]
    warnings = [d for d in diags if not d.is_error]
    if template is not None:
        for s in template.sensitive_values:
            ui.add_secret(s)
    if errors:
        if not ui.json:
            for d in warnings:
                ui.err(d.render())
                ui.err("")
        n = len(errors)
        raise TemplateError(f"the template has {n} error{'s' if n != 1 else ''}"
                            + (f" and {len(warnings)} warning{'s' if len(warnings) != 1 else ''}" if warnings else ""),
                            errors if not ui.json else errors + warnings)
    if not ui.json:
        for d in warnings:
            ui.err(d.render())
            ui.err("")
        if ok_text:
            ui.out(ok_text)
    return errors, warnings


@command("validate")
@_var_options
@click.option("--syntax-only", is_flag=True, help="Only check the HCL syntax; do not evaluate.")
@click.argument("path", type=click.Path())
def validate(var_pairs, var_files, only, except_, syntax_only, path):
    """Check a Packer HCL2 template: syntax, references, variable values and validation
    rules, and the options of every builder, provisioner and post-processor.

    PATH is a .pkr.hcl file or a folder of them (*.auto.pkrvars.hcl files there are
    loaded too). Errors are printed with file:line:column and exit with 2; warnings
    (credentials in the template, an AMI filter without owners, ...) keep exit 0.
    Nothing here talks to a cloud.

    \b
    Example:
      release validate templates/web.pkr.hcl
      release validate --var region=eu-west-1 --var-file prod.pkrvars.hcl templates/
      release validate --json templates/ | jq .errors
      release validate -only 'amazon-ebs.*' templates/web.pkr.hcl
    """
    ui = app_ctx().ui
    template, diags = _load(path, var_pairs, var_files, syntax_only, only, except_)
    errors = [d for d in diags if d.is_error]
    warnings = [d for d in diags if not d.is_error]
    if ui.json:
        import json

        doc = {"valid": not errors, "errors": [d.to_json() for d in errors],
               "warnings": [d.to_json() for d in warnings]}
        if errors:
            raise TemplateInvalid(doc, errors)
        ui.out(json.dumps(doc, indent=2))
        return
    _finish(ui, template, diags, "Syntax-only check passed. Everything looks okay." if syntax_only
            else "The configuration is valid.")


@command("inspect")
@_var_options
@click.argument("path", type=click.Path())
def inspect(var_pairs, var_files, only, except_, path):
    """Show a template's variables (sensitive values masked), locals, sources, builds
    with their provisioners and post-processors, and required plugins.

    \b
    Example:
      release inspect templates/web.pkr.hcl
      release inspect --json templates/ | jq '.variables'
    """
    ui = app_ctx().ui
    template, diags = _load(path, var_pairs, var_files, only=only, except_=except_)
    diags = [d for d in diags if d.is_error or template is None]
    if template is None or any(d.is_error for d in diags):
        _finish(ui, template, diags, None)
        return
    for s in template.sensitive_values:
        ui.add_secret(s)
    ui.emit(inspect_data(template), render_inspect)
