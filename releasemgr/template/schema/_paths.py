"""Local files a component names (scripts, upload sources, keys): they must exist.

Kept apart from ``check_component`` because it reads the file system: the caller decides
what relative paths are relative to (Packer uses the current directory).
"""

from __future__ import annotations

import os
from pathlib import Path

from releasemgr.common.hcl_values import UNKNOWN

from ._model import Body, Finding, Schema, error
from ._types import is_set, is_true


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _skipped(opt, attrs) -> bool:
    for name, value in opt.unless:
        given = attrs.get(name)
        if given is UNKNOWN:
            return True  # cannot tell: do not report
        if value is None and not is_set(given):  # ("ssh_bastion_host", None): only checked when it is set
            return True
        if (value is True and is_true(given)) or given == value:
            return True
    return False


def missing_paths(schema: Schema, body: Body, where: str, base_dir: Path, prefix: tuple = ()) -> list[Finding]:
    out: list[Finding] = []
    for opt in schema.options:
        if not opt.local_path or opt.name not in body.attrs or _skipped(opt, body.attrs):
            continue
        value = body.attrs[opt.name]
        items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        for index, item in items:
            if not isinstance(item, str) or not item:
                continue  # UNKNOWN, null, or a type error reported elsewhere
            path = Path(os.path.expanduser(item))
            resolved = path if path.is_absolute() else base_dir / path
            try:
                if resolved.exists():
                    continue
            except (OSError, ValueError):  # a name too long for the file system, a NUL byte...
                pass
            sub = (opt.name,) if index is None else (opt.name, index)
            out.append(
                error(
                    f'File not found for "{opt.name}" in {where}',
                    f'"{_short(item)}" does not exist (looked for {_short(str(resolved))}).',
                    prefix + sub,
                )
            )
    for name, bodies in body.blocks.items():
        spec = schema.block(name)
        if spec is None:
            continue
        for i, nested in enumerate(bodies):
            out.extend(missing_paths(spec.schema, nested, f"{name} block in {where}", base_dir, prefix + (name, i)))
    return out
