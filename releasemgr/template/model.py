"""The loaded template as typed dataclasses.

Component configurations (sources, provisioners, post-processors) are kept twice: the
syntax `body` (for re-evaluation in each build's context by the pipeline, and for
positions) and `config`, the body evaluated at load time as plain values
(`releasemgr.common.hcl_values`; what is only known during a build is UNKNOWN). `position_of(path)` maps an option path
such as ``("source_ami_filter", 0, "owners")`` to where it is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from releasemgr.template.diagnostics import Diagnostic
from releasemgr.template.syntax.ast import Body
from releasemgr.template.syntax.source import Range
from releasemgr.template.types import type_to_str


def body_position(body: Body | None, path: tuple) -> Range | None:
    """The range of the attribute or block at `path` inside `body`, or the closest enclosing one."""
    if body is None:
        return None
    best = body.rng
    i = 0
    cur = body
    while i < len(path) and cur is not None:
        name = path[i]
        if isinstance(name, str) and name in cur.attributes:
            return cur.attributes[name].name_rng
        blocks = cur.blocks_of(name) if isinstance(name, str) else []
        if not blocks:
            return best
        idx = 0
        if i + 1 < len(path) and isinstance(path[i + 1], int):
            idx = path[i + 1]
            i += 1
        if idx >= len(blocks):
            return blocks[-1].rng
        best = blocks[idx].rng
        cur = blocks[idx].body
        i += 1
    return best


class EvaluatedBody(NamedTuple):
    """A component body as evaluated at load time, for the schema checks: attribute values,
    nested blocks as ``{type: [(attrs, blocks, literal, Block), ...]}``, and the names of the
    attributes written as constants (no reference, no function call)."""

    attrs: dict
    blocks: dict
    literal: frozenset


@dataclass
class Component:
    """A builder source, provisioner or post-processor: its type, config and where it is."""

    type: str
    body: Body
    pos: Range
    config: dict[str, Any] = field(default_factory=dict)
    evaluated: EvaluatedBody | None = field(default=None, repr=False, compare=False)  # for validate

    def position_of(self, path: tuple) -> Range:
        return body_position(self.body, path) or self.pos


@dataclass
class RequiredPlugin:
    """A plugin named in `packer { required_plugins { ... } }`: its source and version constraint."""
    name: str
    source: str | None
    version: str | None
    pos: Range | None = None


@dataclass
class PackerBlock:
    """The `packer` block: the required Packer version and plugins."""
    required_version: str | None = None
    required_plugins: dict[str, RequiredPlugin] = field(default_factory=dict)
    pos: Range | None = None


@dataclass
class Validation:
    """A variable's `validation` block: the condition (unevaluated) and the message shown when it is false."""
    condition: Any  # syntax.ast.Node
    error_message: str
    pos: Range  # the condition's range


@dataclass
class Variable:
    """An input variable: its declaration (type, default, sensitivity, validations) and the value it got,
    with where that value came from."""
    name: str
    type: Any = "any"  # see types.parse_type
    default: Any = None
    has_default: bool = False
    description: str = ""
    sensitive: bool = False
    nullable: bool = True
    validations: list[Validation] = field(default_factory=list)
    value: Any = None
    value_source: str = "default"  # default | env | auto-file:<path> | var-file:<path> | var | unset
    pos: Range | None = None

    @property
    def type_name(self) -> str:
        return type_to_str(self.type)


@dataclass
class Local:
    """A local value: its expression, and its value once evaluated (UNKNOWN if that failed)."""
    name: str
    expr: Any  # syntax.ast.Node
    value: Any = None
    sensitive: bool = False
    pos: Range | None = None


@dataclass
class Source(Component):
    """A `source "TYPE" "NAME"` block: a builder configuration that builds refer to as `source.TYPE.NAME`."""
    name: str = ""

    @property
    def ref(self) -> str:
        return f"{self.type}.{self.name}"


@dataclass
class BuildSource:
    """One source a build uses, by reference, possibly with a new name and overriding options."""
    ref: str  # "type.name"
    name: str | None = None  # the `name` override inside a build's source block
    overrides: Body | None = None
    pos: Range | None = None
    config: dict[str, Any] | None = None  # the source's config with the overrides applied, when there are any
    # with overrides: the merged body as evaluated, and the source it overrides (for validate)
    evaluated: EvaluatedBody | None = field(default=None, repr=False, compare=False)
    source: Source | None = field(default=None, repr=False, compare=False)

    @property
    def display_name(self) -> str:
        return f"{self.ref.split('.', 1)[0]}.{self.name}" if self.name else self.ref


@dataclass
class Provisioner(Component):
    """A `provisioner` block of a build, with the options every provisioner has (only, except, retries...)."""
    name: str | None = None
    only: list[str] = field(default_factory=list)
    except_: list[str] = field(default_factory=list)
    pause_before: str | None = None
    max_retries: int | None = None
    timeout: str | None = None
    override: dict[str, Any] = field(default_factory=dict)


@dataclass
class PostProcessor(Component):
    """A `post-processor` block of a build, with the options every post-processor has."""
    name: str | None = None
    only: list[str] = field(default_factory=list)
    except_: list[str] = field(default_factory=list)
    keep_input_artifact: bool | None = None


@dataclass
class Build:
    """A `build` block: the sources it builds and, for each, the provisioners and post-processor chains to run."""
    name: str | None = None
    description: str | None = None
    sources: list[BuildSource] = field(default_factory=list)
    provisioners: list[Provisioner] = field(default_factory=list)
    post_processors: list[list[PostProcessor]] = field(default_factory=list)  # each inner list is a chain
    error_cleanup_provisioner: Provisioner | None = None
    pos: Range | None = None


@dataclass
class Template:
    """A loaded template: everything declared in its files, the values of its variables and locals,
    and the diagnostics found while loading."""
    path: str
    files: list[str]
    packer: PackerBlock
    variables: dict[str, Variable]
    locals: dict[str, Local]
    sources: dict[str, Source]  # keyed "type.name"
    builds: list[Build]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    base_dir: str = "."
    var_files: list[str] = field(default_factory=list)

    @property
    def sensitive_values(self) -> list[str]:
        """String forms of sensitive variable and local values, for masking output."""
        out = []
        for v in list(self.variables.values()) + list(self.locals.values()):
            if v.sensitive and isinstance(v.value, (str, int, float)) and not isinstance(v.value, bool):
                out.append(str(v.value))
        return out
