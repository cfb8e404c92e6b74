"""The loader's shared state and helpers, and the names Packer's HCL2 language reserves."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Iterable, Mapping

from releasemgr.common.hcl_values import UNKNOWN, ConversionError, to_bool, to_string
from releasemgr.template.diagnostics import Diagnostic, EvalError, Severity, suggest
from releasemgr.template.expr import Evaluator, Scope
from releasemgr.template.model import (
    Local,
    Variable,
)
from releasemgr.template.syntax.ast import (
    Attribute,
    Block,
    Body,
    Call,
    Node,
    ObjectItem,
)
from releasemgr.template.syntax.source import Range

PACKER_VERSION = "1.9.0"  # the Packer language level releasemgr implements (for packer.version)

TOP_LEVEL = {"packer": 0, "variable": 1, "variables": 0, "locals": 0, "local": 1, "source": 2, "build": 0, "data": 2}
BUILD_ATTRS = ("name", "description", "sources")
BUILD_BLOCKS = ("source", "provisioner", "post-processor", "post-processors", "error-cleanup-provisioner",
                "hcp_packer_registry")
VARIABLE_ATTRS = ("type", "default", "description", "sensitive", "nullable")
BUILD_VALUES = ("name", "ID", "Host", "Port", "User", "Password", "ConnType", "PackerRunUUID", "PackerHTTPAddr",
                "PackerHTTPIP", "PackerHTTPPort", "SSHPublicKey", "SSHPrivateKey", "WinRMPassword", "SourceAMI",
                "SourceAMIName", "SourceAMIOwner", "SourceAMIOwnerName", "SourceAMICreationDate")


class LoaderState:
    """What every part of the loader shares: the options, the diagnostics found so far, the
    declared variables and locals, the evaluator, and the helpers that report problems."""

    def __init__(self, path: str, vars_: dict[str, str] | None, var_files: Iterable[str],
                 environ: Mapping[str, str], now: datetime | None):
        self.path = path
        self.cli_var_list = list((vars_ or {}).items())
        self.var_files = list(var_files)
        self.environ = environ
        self.now = now
        self.diags: list[Diagnostic] = []
        self.files: list[str] = []
        self.base_dir = "."
        self.variables: dict[str, Variable] = {}
        self.locals: dict[str, Local] = {}
        self._local_state: dict[str, str] = {}  # name -> "busy" | "done" | "failed"
        self._local_stack: list[str] = []
        self.evaluator: Evaluator | None = None

    def err(self, rng: Range | None, summary: str, detail: str = "", severity=Severity.ERROR):
        if rng is None:
            self.diags.append(Diagnostic(severity, summary, detail, file=self.path))
        else:
            self.diags.append(rng.diag(summary, detail, severity=severity))

    def eval(self, node, scope, default=UNKNOWN):
        try:
            return self.evaluator.eval(node, scope)
        except EvalError as exc:
            self.diags.append(exc.diag)
            return default

    def literal(self, attr: Attribute, kind: str, scope: Scope | None = None):
        """A string/bool/number attribute that must not depend on anything unknown."""
        v = self.eval(attr.expr, scope or Scope({}), None)
        if v is None or v is UNKNOWN:
            return None
        try:
            if kind == "string":
                return to_string(v)
            if kind == "bool":
                return to_bool(v)
        except ConversionError as exc:
            self.err(attr.expr.rng, f"Invalid value for \"{attr.name}\"", f"Unsuitable value: {exc}.")
        return v

    def check_names(self, body: Body, where: str, attrs: Iterable[str], blocks: Iterable[str]):
        attrs, blocks = tuple(attrs), tuple(blocks)
        for name, a in body.attributes.items():
            if name not in attrs:
                hint = suggest(name, attrs + blocks)
                extra = f' "{name}" is a block here: write {name} {{ ... }}.' if name in blocks else ""
                self.err(a.name_rng, "Unsupported argument",
                         f"An argument named \"{name}\" is not expected in {where}.{hint}{extra}")
        for b in body.blocks:
            if b.type not in blocks:
                hint = suggest(b.type, attrs + blocks)
                extra = f' "{b.type}" is an argument here: write {b.type} = ...' if b.type in attrs else ""
                self.err(b.type_rng, "Unsupported block type",
                         f"Blocks of type \"{b.type}\" are not expected in {where}.{hint}{extra}")

    def one_label(self, pb: Block, what: str) -> str | None:
        if len(pb.labels) != 1:
            self.err(pb.type_rng, f"Invalid {what} block",
                     f'A {what} block has one label, its type: {what} "TYPE" {{ ... }}.')
            return None
        return pb.labels[0]


def _has_call(node) -> bool:
    if isinstance(node, Call):
        return True
    for v in vars(node).values() if isinstance(node, Node) else ():
        if isinstance(v, Node) and _has_call(v):
            return True
        if isinstance(v, list):
            for x in v:
                if isinstance(x, Node) and _has_call(x):
                    return True
                if isinstance(x, ObjectItem) and (_has_call(x.key) or _has_call(x.value)):
                    return True
    return False


def _looks_like_sentence(text: str) -> bool:
    text = text.strip()
    if not text or text[-1] not in ".?":
        return False
    first = text[0]
    return not first.isalpha() or first.isupper() or first.lower() == first.upper()


def _valid_name(name: str) -> bool:
    return bool(re.fullmatch(r"[^\W\d][\w-]*", name))


def _same(a: Diagnostic, b: Diagnostic) -> bool:
    return a.summary == b.summary and a.file == b.file and a.start == b.start


def _short(value) -> str:
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _str_or_none(v):
    return v if isinstance(v, str) else None


def _str_list(v) -> list[str]:
    return [x for x in v if isinstance(x, str)] if isinstance(v, list) else []


def _config(attrs: dict, blks: dict) -> dict:
    out = dict(attrs)
    for t, items in blks.items():
        out[t] = [_config(a, b) for a, b, _lit, _blk in items]
    return out
