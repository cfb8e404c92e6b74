"""The declarative pieces of the component schema and the two types the validator exchanges.

A component (``source "amazon-ebs"``, ``provisioner "shell"`` ...) is described by a
``Schema``: its ``Option``s (attributes), its nested ``BlockSpec``s, groups of options
that exclude or require each other, and a few ``checks`` for rules that are not a
property of one option (``ssh_username`` is required *when* the communicator is ssh).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from releasemgr.template.diagnostics import Diagnostic, Severity

# Value types, written the way HCL writes them so the schema reads like the docs.
STRING = "string"
NUMBER = "number"
BOOL = "bool"
DURATION = "duration"  # a string Go's time.ParseDuration accepts: "30s", "5m", "1h30m"
LIST_STRING = "list(string)"
LIST_NUMBER = "list(number)"
MAP_STRING = "map(string)"
ANY = "any"  # an object/map of anything (e.g. a provisioner's `override`)

TYPES = (STRING, NUMBER, BOOL, DURATION, LIST_STRING, LIST_NUMBER, MAP_STRING, ANY)


@dataclass(frozen=True)
class Option:
    name: str
    type: str
    required: bool = False
    default: Any = None
    choices: tuple | None = None  # allowed values (for list types: of each element)
    doc: str = ""
    # The value names a file (or folder) on the machine running the build, which must exist
    # -- unless one of `unless` holds: (option, value) pairs such as ("generated", True).
    local_path: bool = False
    unless: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self):
        if self.type not in TYPES:
            raise ValueError(f"option {self.name}: unknown type {self.type!r}")


@dataclass(frozen=True)
class BlockSpec:
    name: str
    schema: "Schema"
    repeated: bool = False  # a list of blocks (`launch_block_device_mappings`) or at most one
    doc: str = ""


@dataclass(frozen=True)
class Group:
    """Options that belong together: ``exactly_one``, ``at_least_one`` or ``at_most_one``."""

    rule: str
    names: tuple[str, ...]

    def __post_init__(self):
        if self.rule not in ("exactly_one", "at_least_one", "at_most_one"):
            raise ValueError(f"unknown group rule {self.rule!r}")


def exactly_one(*names: str) -> Group:
    return Group("exactly_one", names)


def at_least_one(*names: str) -> Group:
    return Group("at_least_one", names)


def at_most_one(*names: str) -> Group:
    return Group("at_most_one", names)


@dataclass
class Body:
    """One evaluated block body, as the template loader hands it over.

    ``literal``: the names of the attributes whose expression is a literal (no variable,
    local or function reference), when the loader knows it. ``None`` means "not known":
    every attribute is then treated as possibly written in the template (used only for
    the credentials warning).
    """

    attrs: dict[str, Any] = field(default_factory=dict)
    blocks: dict[str, list["Body"]] = field(default_factory=dict)
    literal: frozenset[str] | None = None


@dataclass
class Finding:
    severity: str  # "error" | "warning"
    summary: str
    detail: str
    path: tuple = ()  # () the component block; ("ssh_port",); ("source_ami_filter", 0, "owners")

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def to_diagnostic(self, **kw):
        """A ``Diagnostic`` with this finding's text; the caller adds file and position."""
        return Diagnostic(Severity(self.severity), self.summary, self.detail, **kw)


# A check gets the body and the environment and yields findings whose paths are
# relative to that body.
Check = Callable[[Body, Mapping[str, str]], Iterable[Finding]]


@dataclass(frozen=True)
class Schema:
    options: tuple[Option, ...]
    blocks: tuple[BlockSpec, ...] = ()
    groups: tuple[Group, ...] = ()
    checks: tuple[Check, ...] = ()
    doc: str = ""
    notes: tuple[str, ...] = ()  # the rules of `checks`, in words, for the docs

    def option(self, name: str) -> Option | None:
        return self._options_by_name().get(name)

    def block(self, name: str) -> BlockSpec | None:
        for b in self.blocks:
            if b.name == name:
                return b
        return None

    def _options_by_name(self) -> dict[str, Option]:
        cache = self.__dict__.get("_by_name")
        if cache is None:
            cache = {o.name: o for o in self.options}
            object.__setattr__(self, "_by_name", cache)
        return cache

    def names(self) -> list[str]:
        return [o.name for o in self.options] + [b.name for b in self.blocks]


def merge(*parts: tuple[Option, ...]) -> tuple[Option, ...]:
    """Concatenate option lists; a later option with the same name replaces the earlier one."""
    out: dict[str, Option] = {}
    for part in parts:
        for opt in part:
            out[opt.name] = opt
    return tuple(out.values())


def error(summary: str, detail: str = "", path: tuple = ()) -> Finding:
    return Finding("error", summary, detail, tuple(path))


def warning(summary: str, detail: str = "", path: tuple = ()) -> Finding:
    return Finding("warning", summary, detail, tuple(path))
