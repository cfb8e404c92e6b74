"""`source` blocks (Packer's types.source.go) and the evaluation of component bodies."""

from __future__ import annotations

from releasemgr.common.hcl_values import UNKNOWN
from releasemgr.template.diagnostics import suggest
from releasemgr.template.expr import OpenObject, Scope
from releasemgr.template.load.locals import LocalsLoader
from releasemgr.template.load.state import (
    BUILD_VALUES,
    _config,
    _has_call,
    _str_list,
    _str_or_none,
)
from releasemgr.template.model import (
    EvaluatedBody,
    Source,
)
from releasemgr.template.references import references
from releasemgr.template.syntax.ast import (
    Block,
    Body,
    GetAttr,
    TemplateExpr,
)
from releasemgr.template.syntax.ast import Variable as VariableExpr
from releasemgr.template.syntax.source import Range


class SourcesLoader(LocalsLoader):
    """Evaluates each source body once at load time, in a scope where `source` is known."""

    def component_scope(self, roots: dict, source: dict | None, build_name: str | None) -> Scope:
        r = dict(roots)
        r["source"] = source if source is not None else {"name": UNKNOWN, "type": UNKNOWN}
        build = OpenObject({k: UNKNOWN for k in BUILD_VALUES})
        build["name"] = build_name if build_name is not None else UNKNOWN
        r["build"] = build
        return Scope(r, local_lookup=self.local_value, local_names=lambda: list(self.locals))

    def load_component(self, cls, pb: Block, what: str, scope: Scope):
        """A provisioner or post-processor block -> (component of `cls`, its evaluated attributes):
        the type label, the config, and the options every component has (name, only, except)."""
        type_ = self.one_label(pb, what)
        if type_ is None:
            return None, {}
        attrs, blks, lit = self.eval_body(pb.body, scope)
        comp = cls(type=type_, body=pb.body, pos=pb.rng, config=_config(attrs, blks))
        comp.evaluated = EvaluatedBody(attrs, blks, lit)
        comp.name = _str_or_none(attrs.get("name"))
        comp.only = _str_list(attrs.get("only"))
        comp.except_ = _str_list(attrs.get("except"))
        return comp, attrs

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
            src.evaluated = EvaluatedBody(attrs, blks, lit)
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
