"""What `release init` reports: the template's required plugins and components, which of
them releasemgr runs itself, and which need an installed packer (`--engine packer`)."""

from __future__ import annotations

import re
import shutil
import subprocess

from releasemgr.template.schema import known_types

# plugin source -> the component types of that plugin releasemgr runs natively
NATIVE_PLUGINS = {
    "github.com/hashicorp/amazon": {"amazon-ebs"},
}


def packer_version(packer: str | None = None) -> tuple[int, int, int] | None:
    packer = packer or shutil.which("packer")
    if not packer:
        return None
    try:
        out = subprocess.run([packer, "version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(x) for x in m.groups()) if m else None


def report(template) -> dict:
    plugins = []
    for name, p in sorted(template.packer.required_plugins.items()):
        native = NATIVE_PLUGINS.get(p.source or "", set())
        plugins.append({"name": name, "source": p.source, "version": p.version,
                        "native": sorted(native), "built_in": bool(native)})
    components = []
    seen = set()
    for src in template.sources.values():
        seen.add(("source", src.type))
    for b in template.builds:
        for p in b.provisioners:
            seen.add(("provisioner", p.type))
        for chain in b.post_processors:
            for pp in chain:
                seen.add(("post-processor", pp.type))
    for kind, type_name in sorted(seen):
        components.append({"kind": kind, "type": type_name, "native": type_name in known_types(kind)})
    needs_packer = [c for c in components if not c["native"]]
    return {"plugins": plugins, "components": components, "needs_packer": bool(needs_packer)}
