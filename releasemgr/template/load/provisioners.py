"""`provisioner` and `error-cleanup-provisioner` blocks in a build (Packer's types.build.provisioners.go)."""

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
    Provisioner,
)
from releasemgr.template.syntax.ast import (
    Block,
)


class ProvisionersLoader(SourcesLoader):
    """Reads a provisioner block: its config and the options every provisioner has."""

    def load_provisioner(self, pb: Block, scope: Scope) -> Provisioner | None:
        type_ = self.one_label(pb, pb.type)
        if type_ is None:
            return None
        attrs, blks, lit = self.eval_body(pb.body, scope)
        prov = Provisioner(type=type_, body=pb.body, pos=pb.rng, config=_config(attrs, blks))
        prov.evaluated = EvaluatedBody(attrs, blks, lit)
        prov.name = _str_or_none(attrs.get("name"))
        prov.only = _str_list(attrs.get("only"))
        prov.except_ = _str_list(attrs.get("except"))
        prov.pause_before = _str_or_none(attrs.get("pause_before"))
        mr = attrs.get("max_retries")
        prov.max_retries = mr if isinstance(mr, int) and not isinstance(mr, bool) else None
        prov.timeout = _str_or_none(attrs.get("timeout"))
        ov = attrs.get("override")
        prov.override = ov if isinstance(ov, dict) else {}
        return prov
