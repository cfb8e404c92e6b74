"""Schema checks of a loaded template: every source, provisioner and post-processor, and each
build's source overrides, reported at the lines where the options are written."""

from __future__ import annotations

import os
from typing import Mapping

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
    return dedupe(out)


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
