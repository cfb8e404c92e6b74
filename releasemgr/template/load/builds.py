"""`build` blocks (Packer's types.build.go): their sources, with overrides, and their
provisioners and post-processors."""

from __future__ import annotations

from releasemgr.template.diagnostics import Severity
from releasemgr.template.expr import Scope
from releasemgr.template.load.post_processors import PostProcessorsLoader
from releasemgr.template.load.provisioners import ProvisionersLoader
from releasemgr.template.load.state import BUILD_ATTRS, BUILD_BLOCKS, _config
from releasemgr.template.model import Build, BuildSource, EvaluatedBody, Source
from releasemgr.template.syntax.ast import Block, Body, TupleExpr


class BuildsLoader(ProvisionersLoader, PostProcessorsLoader):
    """Reads a build block: its name, its sources (with overrides), then its provisioners and
    post-processors in a scope where `source` is known if the build has one source."""

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
        self._load_build_sources(build, body, roots, sources)
        if not build.sources:
            self.err(b.type_rng, "Missing sources", "A build needs at least one source: sources = "
                     "[\"source.TYPE.NAME\"] or a source \"source.TYPE.NAME\" { } block.", severity=Severity.ERROR)
        source_ctx = None
        if len(build.sources) == 1:
            bs = build.sources[0]
            t, n = bs.ref.split(".", 1)
            source_ctx = {"type": t, "name": bs.name or n}
        scope = self.component_scope(roots, source_ctx, build.name)
        for pb in body.blocks:
            self._load_build_block(build, pb, scope)
        return build

    def _load_build_sources(self, build: Build, body: Body, roots: dict, sources: dict[str, Source]):
        """`sources = [...]` first, then the `source "source.T.N" { ... }` blocks, in order."""
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
            bs = self._build_source_block(sb, build, roots, sources)
            if bs is not None:
                build.sources.append(bs)

    def _build_source_block(self, sb: Block, build: Build, roots: dict,
                            sources: dict[str, Source]) -> BuildSource | None:
        if len(sb.labels) != 1:
            self.err(sb.type_rng, "Invalid source block",
                     'A source block inside build has one label: source "source.TYPE.NAME" { ... }.')
            return None
        ref = sb.labels[0]
        ref = ref[len("source."):] if ref.startswith("source.") else ref
        if not self.check_source_ref(ref, sb.label_rngs[0], sources):
            return None
        override_name = None
        na = sb.body.attributes.get("name")
        if na is not None:
            override_name = self.literal(na, "string", Scope(roots))
        bs = BuildSource(ref=ref, name=override_name, overrides=sb.body, pos=sb.rng)
        if set(sb.body.attributes) - {"name"} or sb.body.blocks:
            src = sources[ref]
            scope = self.component_scope(roots, {"name": override_name or src.name, "type": src.type}, build.name)
            o_attrs, o_blks, o_lit = self.eval_body(sb.body, scope, skip_attrs=("name",))
            attrs, blks, lit = src.evaluated
            merged = EvaluatedBody({**attrs, **o_attrs}, {**blks, **o_blks}, frozenset((lit - set(o_attrs)) | o_lit))
            bs.config = _config(merged.attrs, merged.blocks)
            bs.evaluated = merged
            bs.source = src
        return bs

    def _load_build_block(self, build: Build, pb: Block, scope: Scope):
        """One provisioner, error-cleanup-provisioner, post-processor(s) or hcp_packer_registry block."""
        if pb.type in ("provisioner", "error-cleanup-provisioner"):
            prov = self.load_provisioner(pb, scope)
            if prov is None:
                return
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
