"""``env``: Packer allows it only in variable defaults; the evaluator decides where."""

from __future__ import annotations

from releasemgr.template.functions._core import register, to_str


@register("env", 1, 1, "env(name)", needs_context=True)
def env(ctx, name):
    """The environment variable's value, or "" when it is not set (as Packer does)."""
    return ctx.environ.get(to_str(name, 0), "")
