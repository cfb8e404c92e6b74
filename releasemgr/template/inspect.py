"""What `release inspect` shows: a dict for --json and text shaped like `packer inspect`."""

from __future__ import annotations

import json

from releasemgr.common.secrets import MASK
from releasemgr.template.model import Template
from releasemgr.common.hcl_values import UNKNOWN


def _value(v):
    if v is UNKNOWN:
        return "<unknown>"
    if isinstance(v, list):
        return [_value(x) for x in v]
    if isinstance(v, dict):
        return {k: _value(x) for k, x in v.items()}
    return v


def inspect_data(t: Template) -> dict:
    """The template as plain data; sensitive variables and locals are masked."""
    variables = {}
    for name, v in t.variables.items():
        variables[name] = {
            "type": v.type_name,
            "value": MASK if v.sensitive else _value(v.value),
            "default": MASK if v.sensitive and v.has_default else (_value(v.default) if v.has_default else None),
            "source": v.value_source,
            "description": v.description,
            "sensitive": v.sensitive,
        }
    locals_ = {name: (MASK if loc.sensitive else _value(loc.value)) for name, loc in t.locals.items()}
    builds = []
    for i, b in enumerate(t.builds):
        builds.append({
            "name": b.name or f"build{i}" if b.name is None else b.name,
            "description": b.description,
            "sources": [bs.display_name for bs in b.sources],
            "provisioners": [{"type": p.type, "name": p.name, "only": p.only, "except": p.except_}
                             for p in b.provisioners],
            "post_processors": [[{"type": pp.type, "name": pp.name} for pp in chain] for chain in b.post_processors],
            "error_cleanup_provisioner": b.error_cleanup_provisioner.type if b.error_cleanup_provisioner else None,
        })
    return {
        "path": t.path,
        "files": t.files,
        "required_version": t.packer.required_version,
        "required_plugins": {n: {"source": p.source, "version": p.version}
                             for n, p in t.packer.required_plugins.items()},
        "variables": variables,
        "locals": locals_,
        "sources": {k: {"type": s.type, "name": s.name} for k, s in t.sources.items()},
        "builds": builds,
    }


def _show(v) -> str:
    if v == MASK:
        return MASK
    return json.dumps(v, default=str)


def render_inspect(doc: dict) -> str:
    lines = ["Packer Inspect: HCL2 mode", ""]
    if doc["required_plugins"] or doc["required_version"]:
        lines.append("> required plugins:")
        lines.append("")
        if doc["required_version"]:
            lines.append(f"packer: {doc['required_version']}")
        for n, p in doc["required_plugins"].items():
            lines.append(f"{n}: {p['source'] or ''} {p['version'] or ''}".rstrip())
        lines.append("")
    lines.append("> input-variables:")
    lines.append("")
    for n, v in doc["variables"].items():
        lines.append(f"var.{n}: {_show(v['value'])}")
    lines.append("")
    lines.append("> local-variables:")
    lines.append("")
    for n, v in doc["locals"].items():
        lines.append(f"local.{n}: {_show(v)}")
    lines.append("")
    lines.append("> sources:")
    lines.append("")
    for k in doc["sources"]:
        lines.append(f"  {k}")
    lines.append("")
    lines.append("> builds:")
    lines.append("")
    for b in doc["builds"]:
        lines.append(f"  > {b['name']}:")
        lines.append("")
        if b["description"]:
            lines.append(f"    {b['description']}")
            lines.append("")
        lines.append("    sources:")
        lines.append("")
        for s in b["sources"]:
            lines.append(f"      {s}")
        lines.append("")
        lines.append("    provisioners:")
        lines.append("")
        for p in b["provisioners"]:
            extra = ""
            if p["only"]:
                extra += f" (only: {', '.join(p['only'])})"
            if p["except"]:
                extra += f" (except: {', '.join(p['except'])})"
            lines.append(f"      {p['type']}{extra}")
        if not b["provisioners"]:
            lines.append("      <none>")
        lines.append("")
        lines.append("    post-processors:")
        lines.append("")
        for i, chain in enumerate(b["post_processors"]):
            lines.append(f"      {i}:")
            for pp in chain:
                lines.append(f"        {pp['type']}")
        if not b["post_processors"]:
            lines.append("      <none>")
        lines.append("")
        if b["error_cleanup_provisioner"]:
            lines.append(f"    error-cleanup-provisioner: {b['error_cleanup_provisioner']}")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
