"""The `packer` block: required_version and required_plugins (Packer's types.packer_config.go)."""

from __future__ import annotations

import re
from releasemgr.template.diagnostics import suggest
from releasemgr.template.expr import Scope
from releasemgr.template.load.state import (
    LoaderState,
)
from releasemgr.template.model import (
    PackerBlock,
    RequiredPlugin,
)
from releasemgr.template.syntax.ast import (
    Block,
)
from releasemgr.template.syntax.source import Range


class PackerBlockLoader(LoaderState):
    """Reads the packer block."""

    def load_packer(self, blocks: list[Block]) -> PackerBlock:
        pb = PackerBlock()
        for b in blocks:
            pb.pos = b.rng
            self.check_names(b.body, "a packer block", ("required_version",), ("required_plugins",))
            a = b.body.attributes.get("required_version")
            if a is not None:
                pb.required_version = self.literal(a, "string")
                if pb.required_version:
                    self.check_version_constraint(pb.required_version, a.expr.rng)
            for rp in b.body.blocks_of("required_plugins"):
                if rp.labels:
                    self.err(rp.label_rngs[0], "Extraneous label", "A required_plugins block has no labels.")
                if rp.body.blocks:
                    self.err(rp.body.blocks[0].type_rng, "Unsupported block type",
                             "required_plugins holds arguments: name = { version = \"...\", source = \"...\" }.")
                for name, attr in rp.body.attributes.items():
                    v = self.eval(attr.expr, Scope({}), None)
                    if isinstance(v, dict):
                        for k in v:
                            if k not in ("version", "source"):
                                self.err(attr.expr.rng, "Unsupported argument",
                                         f'The plugin requirement "{name}" has an argument "{k}"; only version and '
                                         "source are expected." + suggest(k, ("version", "source")))
                        src, ver = v.get("source"), v.get("version")
                        if src is not None and not isinstance(src, str) or ver is not None and not isinstance(ver, str):
                            self.err(attr.expr.rng, "Invalid plugin requirement", "version and source must be strings.")
                            continue
                        pb.required_plugins[name] = RequiredPlugin(name, src, ver, attr.name_rng)
                    elif isinstance(v, str):
                        pb.required_plugins[name] = RequiredPlugin(name, None, v, attr.name_rng)
                    elif v is not None:
                        self.err(attr.expr.rng, "Invalid plugin requirement",
                                 f'Write {name} = {{ version = ">= 1.0.0", source = "github.com/hashicorp/{name}" }}.')
        return pb

    def check_version_constraint(self, text: str, rng: Range):
        for part in text.split(","):
            if not re.fullmatch(r"\s*(=|!=|>|<|>=|<=|~>)?\s*v?\d+(\.\d+){0,2}(-[\w.]+)?\s*", part):
                self.err(rng, "Invalid version constraint",
                         f'"{text}" is not a version constraint; write e.g. ">= 1.7.0" or "~> 1.9".')
                return
