"""`post-processor` blocks, alone or in a `post-processors` chain (Packer's types.build.post-processor.go)."""

from __future__ import annotations

from releasemgr.template.expr import Scope
from releasemgr.template.load.sources import SourcesLoader
from releasemgr.template.model import (
    PostProcessor,
)
from releasemgr.template.syntax.ast import (
    Block,
)


class PostProcessorsLoader(SourcesLoader):
    """Reads a post-processor block: its config and the options every post-processor has."""

    def load_post_processor(self, pb: Block, scope: Scope) -> PostProcessor | None:
        pp, attrs = self.load_component(PostProcessor, pb, "post-processor", scope)
        if pp is None:
            return None
        k = attrs.get("keep_input_artifact")
        pp.keep_input_artifact = k if isinstance(k, bool) else None
        return pp
