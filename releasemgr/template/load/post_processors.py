"""`post-processor` blocks, alone or in a `post-processors` chain (Packer's types.build.post-processor.go)."""

from __future__ import annotations

from releasemgr.template.expr import Scope
from releasemgr.template.load.sources import SourcesLoader
from releasemgr.template.load.state import (
    _config,
    _str_list,
    _str_or_none,
)
from releasemgr.template.model import (
    EvaluatedBody,
    PostProcessor,
)
from releasemgr.template.syntax.ast import (
    Block,
)


class PostProcessorsLoader(SourcesLoader):
    """Reads a post-processor block: its config and the options every post-processor has."""

    def load_post_processor(self, pb: Block, scope: Scope) -> PostProcessor | None:
        type_ = self.one_label(pb, "post-processor")
        if type_ is None:
            return None
        attrs, blks, lit = self.eval_body(pb.body, scope)
        pp = PostProcessor(type=type_, body=pb.body, pos=pb.rng, config=_config(attrs, blks))
        pp.evaluated = EvaluatedBody(attrs, blks, lit)
        pp.name = _str_or_none(attrs.get("name"))
        pp.only = _str_list(attrs.get("only"))
        pp.except_ = _str_list(attrs.get("except"))
        k = attrs.get("keep_input_artifact")
        pp.keep_input_artifact = k if isinstance(k, bool) else None
        return pp
