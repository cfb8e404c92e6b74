from __future__ import annotations

from releasemgr.pipeline.postprocessors.builtin import POST_PROCESSORS
from releasemgr.pipeline.provisioners.base import applies
from releasemgr.pipeline.runner import StepFailed


def run_chain(chain, artifact, ctx, run_info) -> list:
    """Run one chain; returns the artifacts it produced (not the builder's)."""
    produced = []
    current = artifact
    for pp in chain:
        if not applies(pp, ctx):
            continue
        impl = POST_PROCESSORS.get(pp.type)
        if impl is None:
            raise StepFailed(f"post-processor {pp.type!r} is not supported natively "
                             f"(supported: {', '.join(sorted(POST_PROCESSORS))}); try --engine packer")
        config = {k: v for k, v in (pp.config or {}).items() if k not in ("only", "except", "name")}
        ctx.say(f"Running post-processor: {pp.name or pp.type}")
        ctx.check_cancel()
        out = impl(config, current, ctx, run_info)
        if out is not None and out is not current:
            produced.append(out)
            current = out
    return produced
