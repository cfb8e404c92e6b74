"""Local values (`locals` and `local` blocks), evaluated lazily on first use with cycle detection."""

from __future__ import annotations

import os

from releasemgr.common.hcl_values import UNKNOWN
from releasemgr.template.diagnostics import EvalError, suggest
from releasemgr.template.expr import Scope
from releasemgr.template.load.state import (
    PACKER_VERSION,
    LoaderState,
    _same,
)
from releasemgr.template.model import (
    Local,
)
from releasemgr.template.syntax.ast import (
    Block,
)
from releasemgr.template.syntax.source import Range


class LocalsLoader(LoaderState):
    """Declares the locals and evaluates each once, when an expression first needs it."""

    def load_locals(self, locals_blocks: list[Block], local_blocks: list[Block]):
        for b in locals_blocks:
            for blk in b.body.blocks:
                self.err(blk.type_rng, "Unsupported block type",
                         "A locals block holds only arguments: name = expression.")
            for name, a in b.body.attributes.items():
                self._add_local(Local(name, a.expr, pos=a.name_rng))
        for b in local_blocks:
            self.check_names(b.body, f'local "{b.labels[0]}"', ("expression", "sensitive"), ())
            a = b.body.attributes.get("expression")
            if a is None:
                self.err(b.type_rng, "Missing required argument",
                         'The argument "expression" is required in a local block.')
                continue
            sens = b.body.attributes.get("sensitive")
            loc = Local(b.labels[0], a.expr, pos=b.label_rngs[0])
            if sens is not None:
                loc.sensitive = bool(self.literal(sens, "bool"))
            self._add_local(loc)

    def _add_local(self, loc: Local):
        if loc.name in self.locals:
            self.err(loc.pos, "Duplicate local definition",
                     f'A local value named "{loc.name}" was already defined at {self.locals[loc.name].pos!r}. '
                     "Local value names must be unique within a template.")
            return
        self.locals[loc.name] = loc

    def base_roots(self) -> dict:
        return {
            "var": {n: v.value for n, v in self.variables.items()},
            "path": {"root": os.path.abspath(self.base_dir), "cwd": os.getcwd()},
            "packer": {"version": PACKER_VERSION},
        }

    def locals_scope(self) -> Scope:
        return Scope(self.base_roots(), local_lookup=self.local_value, local_names=lambda: list(self.locals))

    def local_value(self, name: str, rng: Range | None):
        loc = self.locals.get(name)
        if loc is None:
            raise EvalError(rng.diag("Reference to undeclared local value",
                                     f'A local value with the name "{name}" has not been declared.'
                                     + suggest(name, self.locals)))
        state = self._local_state.get(name)
        if state == "done":
            return loc.value
        if state == "failed":
            return UNKNOWN
        if state == "busy":
            i = self._local_stack.index(name)
            cycle = self._local_stack[i:] + [name]
            raise EvalError(rng.diag("Cycle in local values",
                                     "These local values refer to each other: "
                                     + " -> ".join(f"local.{n}" for n in cycle) + "."))
        self._local_state[name] = "busy"
        self._local_stack.append(name)
        try:
            loc.value = self.evaluator.eval(loc.expr, self.locals_scope())
            self._local_state[name] = "done"
        except EvalError as exc:
            self._local_state[name] = "failed"
            loc.value = UNKNOWN
            if not any(_same(exc.diag, d) for d in self.diags):
                self.diags.append(exc.diag)
        finally:
            self._local_stack.pop()
        return loc.value
