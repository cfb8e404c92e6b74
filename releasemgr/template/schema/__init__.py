"""The schema of every builder, provisioner and post-processor releasemgr runs natively.

The template loader evaluates each component block and calls ``check_component`` with the
body; it maps each ``Finding.path`` back to a file:line:column. Nothing here talks to a
cloud or reads files: ``release validate`` stays offline and fast.

    findings = check_component("source", "amazon-ebs", Body(attrs={...}, blocks={...}),
                               environ=os.environ)

Types outside ``known_types(kind)`` are delegated to an installed packer (``--engine
packer``): they get one warning and no option checks.

Public API:

- ``check_component(kind, type_name, body, *, environ=None) -> list[Finding]``
- ``check_local_paths(kind, type_name, body, base_dir=None) -> list[Finding]``: scripts,
  upload sources, keys... that do not exist (reads the file system, so it is separate)
- ``check_provisioner_sequence([(type_name, body), ...]) -> list[(index, Finding)]``
- ``known_types(kind)``, ``option_names(kind, type_name)``, ``schema_for(kind, type_name)``
  (``.option(name).default`` gives Packer's default of an option)
- ``is_sensitive_option(name)``: whether an option holds a secret (``common.secrets.is_secret_name``)
- ``is_duration(text)``, ``duration_seconds(text)``: Go durations ("1h30m")
- ``render_markdown()``: docs/template-options.md
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from releasemgr.common.hcl_values import UNKNOWN

from . import amazon, builders, postprocessors, provisioners
from ._check import check_body
from ._markdown import render as render_markdown_tables
from ._model import (
    ANY,
    BOOL,
    DURATION,
    LIST_NUMBER,
    LIST_STRING,
    MAP_STRING,
    NUMBER,
    STRING,
    BlockSpec,
    Body,
    Finding,
    Group,
    Option,
    Schema,
    warning,
)
from releasemgr.common.durations import is_duration
from releasemgr.common.secrets import is_secret_name

from ._paths import missing_paths
from ._types import duration_seconds, suggest, type_problems
from .provisioners import check_provisioner_sequence

__all__ = [
    "Body",
    "Finding",
    "Option",
    "BlockSpec",
    "Group",
    "Schema",
    "check_component",
    "check_provisioner_sequence",
    "check_local_paths",
    "known_types",
    "option_names",
    "is_sensitive_option",
    "schema_for",
    "render_markdown",
    "is_duration",
    "duration_seconds",
    "KINDS",
    "STRING",
    "NUMBER",
    "BOOL",
    "DURATION",
    "LIST_STRING",
    "LIST_NUMBER",
    "MAP_STRING",
    "ANY",
]

SOURCES: dict[str, Schema] = {"amazon-ebs": amazon.SCHEMA, "local": builders.LOCAL, "null": builders.NULL}

REGISTRY: dict[str, dict[str, Schema]] = {
    "source": SOURCES,
    "provisioner": provisioners.SCHEMAS,
    "post-processor": postprocessors.SCHEMAS,
}
KINDS = tuple(REGISTRY)
_ALIASES = {"builder": "source", "postprocessor": "post-processor", "post_processor": "post-processor"}


def _kind(kind: str) -> str:
    kind = _ALIASES.get(kind, kind)
    if kind not in REGISTRY:
        raise ValueError(f"unknown component kind {kind!r}; expected one of {', '.join(KINDS)}")
    return kind


def known_types(kind: str) -> list[str]:
    """The types of `kind` ("source", "provisioner", "post-processor") run natively."""
    return sorted(REGISTRY[_kind(kind)])


def schema_for(kind: str, type_name: str) -> Schema | None:
    return REGISTRY[_kind(kind)].get(type_name)


def option_names(kind: str, type_name: str) -> list[str]:
    """Top-level argument and block names of a component, sorted; [] for a non-native type."""
    schema = schema_for(kind, type_name)
    return sorted(schema.names()) if schema else []


def is_sensitive_option(name: str) -> bool:
    """Whether an option's value is a secret (warned about when written in a template).
    The one rule of the project: `releasemgr.common.secrets.is_secret_name`."""
    return is_secret_name(name)


def check_component(kind: str, type_name: str, body: Body, *,
                    environ: Mapping[str, str] | None = None) -> list[Finding]:
    """Every error and warning of one evaluated component block.

    `kind` is "source", "provisioner" or "post-processor". `environ` (default: os.environ)
    is consulted where Packer does (``region`` may come from AWS_REGION). Values may be
    UNKNOWN: they satisfy "required" and are never a type error.
    """
    kind = _kind(kind)
    env = os.environ if environ is None else environ
    where = f"{kind} {type_name}"
    schema = REGISTRY[kind].get(type_name)
    if schema is None:
        return [_not_native(kind, type_name)]
    findings = check_body(schema, body, where, env)
    if kind == "provisioner":
        findings.extend(_override_warnings(schema, body, where))
    findings.extend(_credential_warnings(body, where, ()))
    return findings


def _override_warnings(schema: Schema, body: Body, where: str) -> list[Finding]:
    """Packer merges `override = { "amazon-ebs.web" = { ... } }` into the provisioner for
    that source without checking it, so a misspelt name there is silently ignored: warn."""
    overrides = body.attrs.get("override")
    if not isinstance(overrides, dict):
        return []
    out = []
    names = [o.name for o in schema.options]
    for source, values in overrides.items():
        if values is UNKNOWN or values is None:
            continue
        if not isinstance(values, dict):
            out.append(warning(f'Override for "{source}" is not an object in '
                               f'{where}', "Write it as { option = value, ... }.", ("override", source)))
            continue
        for name, value in values.items():
            opt = schema.option(name)
            if opt is None:
                close = suggest(name, names)
                detail = "Packer ignores it." + (f' Did you mean "{close}"?' if close else "")
                out.append(warning(f'Unsupported argument "{name}" in override "{source}" of '
                                   f'{where}', detail, ("override", source, name)))
                continue
            for sub, detail in type_problems(opt.type, value, name):
                out.append(warning(f'Inappropriate value for "{name}" in override "{source}" of '
                                   f'{where}', detail, ("override", source, name) + sub))
    return out


def check_local_paths(kind: str, type_name: str, body: Body,
                      base_dir: str | os.PathLike | None = None) -> list[Finding]:
    """Errors for local files the component names that do not exist (scripts, upload
    sources, SSH keys, user_data_file, the local builder's base...).

    Relative paths are taken from `base_dir` (default: the current directory, as Packer
    does). Separate from ``check_component`` because it reads the file system.
    """
    kind = _kind(kind)
    schema = REGISTRY[kind].get(type_name)
    if schema is None:
        return []
    return missing_paths(schema, body, f"{kind} {type_name}", Path(base_dir) if base_dir is not None else Path.cwd())


def _not_native(kind: str, type_name: str) -> Finding:
    noun = {"source": "Source", "provisioner": "Provisioner", "post-processor": "Post-processor"}[kind]
    natives = known_types(kind)
    detail = (
        f'releasemgr runs {", ".join(natives)} itself; "{type_name}" is handed to an installed packer '
        f"(release build --engine packer), so its options are not checked here."
    )
    close = suggest(type_name, natives)
    if close:
        detail = f'Did you mean "{close}"? ' + detail
    return warning(f'{noun} type "{type_name}" can only be built with --engine packer', detail)


def _credential_warnings(body: Body, where: str, prefix: tuple) -> list[Finding]:
    out = []
    for name, value in body.attrs.items():
        if not is_sensitive_option(name) or not isinstance(value, str) or not value:
            continue
        if body.literal is not None and name not in body.literal:
            continue
        if name in ("access_key", "secret_key", "token"):
            advice = (
                "Remove it and let the standard AWS credential chain find credentials "
                "(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, an instance role)."
            )
        else:
            advice = ("Pass it in a variable marked sensitive = true (set with -var, a .pkrvars.hcl file kept out "
                      "of git, or PKR_VAR_...).")
        out.append(
            warning(
                f'Credential "{name}" written in the template ({where})',
                "Templates end up in version control and build logs. " + advice,
                prefix + (name,),
            )
        )
    for name, bodies in body.blocks.items():
        for i, nested in enumerate(bodies):
            out.extend(_credential_warnings(nested, where, prefix + (name, i)))
    return out


def render_markdown() -> str:
    return render_markdown_tables(REGISTRY)
