"""Schema checks of a loaded template: every source, provisioner and post-processor, and each
build's source overrides, reported at the lines where the options are written; and warnings
about secrets that cannot be kept secret: a sensitive value shorter than 8 characters (masked
only as written, not in its transforms), and a shell provisioner whose own `execute_command`
puts a secret on the remote machine's command line through `{{.Vars}}`."""

from __future__ import annotations

import os
import re
from typing import Mapping

from releasemgr.common.secrets import MIN_MASKED, MIN_TRANSFORMED, is_secret_name
from releasemgr.template import schema
from releasemgr.template.diagnostics import Diagnostic, Severity, dedupe
from releasemgr.template.model import Build, BuildSource, Component, EvaluatedBody, Template, body_position


def validate_template(template: Template, environ: Mapping[str, str] | None = None) -> list[Diagnostic]:
    """Schema checks of every source, provisioner and post-processor, at their own lines."""
    env = os.environ if environ is None else environ
    out: list[Diagnostic] = []
    for src in template.sources.values():
        out += _check_component("source", src, env)
    for b in template.builds:
        for bs in b.sources:
            out += _check_overridden_source(bs, env)
    for b in template.builds:
        for p in b.provisioners:
            out += _check_component("provisioner", p, env)
        if b.error_cleanup_provisioner is not None:
            out += _check_component("provisioner", b.error_cleanup_provisioner, env)
        for chain in b.post_processors:
            for pp in chain:
                out += _check_component("post-processor", pp, env)
        out += _check_provisioner_sequence(b)
    out += _check_secrets(template)
    return dedupe(out)


_VARS = re.compile(r"\{\{\s*\.Vars\s*\}\}")


def _secret_values(template: Template) -> dict[str, str]:
    """value -> the name of the sensitive variable or local holding it (strings and numbers)."""
    out: dict[str, str] = {}
    for kind, items in (("variable", template.variables), ("local", template.locals)):
        for name, v in items.items():
            secret = v.sensitive or (kind == "variable" and is_secret_name(name))
            value = v.value
            if secret and isinstance(value, (str, int, float)) and not isinstance(value, bool) and str(value):
                out.setdefault(str(value), name)
    return out


def _check_secrets(template: Template) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    secrets = _secret_values(template)
    for value, name in secrets.items():
        if len(value) >= MIN_TRANSFORMED:
            continue
        item = template.variables.get(name) or template.locals.get(name)
        pos = getattr(item, "pos", None)
        where = ("it is not masked at all" if len(value) < MIN_MASKED else
                 "it is masked only where it appears exactly as written, not in another case, base64 or escaped")
        detail = (f"The value of {name} is {len(value)} character(s) long: {where}. A secret of "
                  f"{MIN_TRANSFORMED} characters or more is masked reliably in output, logs and the ledger.")
        if pos is not None:
            out.append(pos.diag(f'Sensitive value "{name}" is too short to mask reliably', detail,
                                severity=Severity.WARNING))
    for b in template.builds:
        remote = any(not bs.ref.startswith("local.") for bs in b.sources)
        for p in b.provisioners:
            command = (p.config or {}).get("execute_command")
            if p.type != "shell" or not remote or not isinstance(command, str) or not _VARS.search(command):
                continue
            env = [str(x) for x in (p.config.get("environment_vars") or []) if isinstance(x, str)]
            env += [str(v) for v in (p.config.get("env") or {}).values() if isinstance(v, (str, int, float))]
            names = sorted({n for value, n in secrets.items() for e in env if len(value) >= MIN_MASKED and value in e})
            if names:
                rng = body_position(p.body, ("execute_command",)) or p.pos
                out.append(rng.diag(
                    "A secret on the remote command line",
                    f"{{{{.Vars}}}} in execute_command puts the environment variables, holding {', '.join(names)}, "
                    "on the command line of the machine being built, where any user of it can read them "
                    "(ps, /proc). Leave execute_command out (the default sources them from a private file), "
                    "or use {{.EnvVarFile}}: chmod u+x {{.Path}}; . {{.EnvVarFile}}; {{.Path}}",
                    severity=Severity.WARNING))
    return out


def _check_component(kind: str, comp: Component, env: Mapping[str, str]) -> list[Diagnostic]:
    if comp.evaluated is None:
        return []
    try:
        findings = schema.check_component(kind, comp.type, schema_body(comp.evaluated), environ=env)
    except Exception as exc:  # a schema bug must not become a traceback
        return [comp.pos.diag("Internal error in schema check", f"{type(exc).__name__}: {exc}",
                              severity=Severity.WARNING)]
    out = []
    for f in findings:
        rng = (body_position(comp.body, tuple(f.path)) or comp.pos) if f.path else comp.pos
        out.append(rng.diag(f.summary, f.detail, severity=Severity(f.severity)))
    return out


def _check_overridden_source(bs: BuildSource, env: Mapping[str, str]) -> list[Diagnostic]:
    """A build's `source "source.T.N" { ... }` with overrides: the merged config, each finding
    at the override if it set that option, else in the source block."""
    if bs.evaluated is None or bs.source is None:
        return []
    src = bs.source
    try:
        findings = schema.check_component("source", src.type, schema_body(bs.evaluated), environ=env)
    except Exception:  # noqa: BLE001 - the source block itself reports the schema's failure
        return []
    out = []
    for f in findings:
        path = tuple(f.path)
        overridden = bool(path) and (path[0] in bs.overrides.attributes
                                     or any(x.type == path[0] for x in bs.overrides.blocks))
        if overridden:
            rng = body_position(bs.overrides, path)
        elif path:
            rng = body_position(src.body, path)
        else:
            rng = bs.pos
        out.append((rng or bs.pos).diag(f.summary, f.detail, severity=Severity(f.severity)))
    return out


def _check_provisioner_sequence(b: Build) -> list[Diagnostic]:
    try:
        seq = schema.check_provisioner_sequence([(p.type, schema_body(p.evaluated)) for p in b.provisioners])
    except Exception:  # noqa: BLE001 - each provisioner's own check reports the schema's failure
        seq = []
    out = []
    for i, f in seq:
        comp = b.provisioners[i]
        rng = body_position(comp.body, tuple(f.path)) if f.path else comp.pos
        out.append(rng.diag(f.summary, f.detail, severity=Severity(f.severity)))
    return out


def schema_body(evaluated: EvaluatedBody) -> schema.Body:
    """An evaluated body in the schema's terms, nested blocks included."""
    attrs, blks, lit = evaluated
    return schema.Body(attrs=dict(attrs),
                       blocks={t: [schema_body(EvaluatedBody(a, b, lit_)) for a, b, lit_, _blk in items]
                               for t, items in blks.items()},
                       literal=lit)
