"""`provisioner` and `error-cleanup-provisioner` blocks in a build (Packer's types.build.provisioners.go)."""

from __future__ import annotations

from releasemgr.template.expr import Scope
from releasemgr.template.load.sources import SourcesLoader
from releasemgr.template.load.state import (
    _str_or_none,
)
from releasemgr.template.model import (
    Provisioner,
)
from releasemgr.template.syntax.ast import (
    Block,
)


class ProvisionersLoader(SourcesLoader):
    """Reads a provisioner block: its config and the options every provisioner has."""

    def load_provisioner(self, pb: Block, scope: Scope) -> Provisioner | None:
        prov, attrs = self.load_component(Provisioner, pb, pb.type, scope)
        if prov is None:
            return None
        prov.pause_before = _str_or_none(attrs.get("pause_before"))
        mr = attrs.get("max_retries")
        prov.max_retries = mr if isinstance(mr, int) and not isinstance(mr, bool) else None
        prov.timeout = _str_or_none(attrs.get("timeout"))
        ov = attrs.get("override")
        prov.override = ov if isinstance(ov, dict) else {}
        return prov
