"""`release init`: check what a template needs before the first build."""

from __future__ import annotations

import os

import click

from releasemgr.cli.context import app_ctx, command
from releasemgr.errors import NotFound, OperationFailed, TemplateError
from releasemgr.template.load import load_template
from releasemgr.template.plugins import packer_version, report


@command("init")
@click.argument("path", type=click.Path())
@click.option("--upgrade", is_flag=True, help="With packer >= 1.7: pass -upgrade to `packer init`.")
def init(path, upgrade):
    """Check the plugins and components a template needs (Packer's `init`).

    releasemgr runs the local, null and amazon-ebs builders and the common provisioners
    and post-processors itself: their plugins need no install. For any other component,
    the build is delegated to packer (`release build --engine packer`): when the template
    needs one, this runs `packer init` (Packer >= 1.7) to install its plugins, or says
    what is missing.

    \b
    Example:
      release init templates/amazon-ebs.pkr.hcl
      release init templates/ --json
    """
    import shutil
    import subprocess

    app = app_ctx()
    if not os.path.exists(path):  # exit 4, as for every missing file
        raise NotFound(f"template {path} not found", hint="give a .pkr.hcl file or a folder of them")
    template, diags = load_template(path)
    errors = [d for d in diags if d.is_error]
    if template is None or errors:
        raise TemplateError(f"{len(errors)} error(s) in {path}", diagnostics=errors)
    doc = report(template)
    doc["packer"] = None
    if doc["needs_packer"]:
        version = packer_version()
        doc["packer"] = ".".join(map(str, version)) if version else None
        if version is None:
            app.ui.emit(doc, _text)
            raise OperationFailed("this template needs packer for: " + _missing(doc),
                                  hint="install packer (apt-get install packer, or HashiCorp's releases)")
        if version >= (1, 7, 0) and template.packer.required_plugins:
            argv = [shutil.which("packer"), "init"] + (["-upgrade"] if upgrade else []) + [path]
            res = subprocess.run(argv, capture_output=True, text=True)
            doc["packer_init"] = {"exit_code": res.returncode, "output": (res.stdout + res.stderr).strip()}
            if res.returncode != 0:
                app.ui.emit(doc, _text)
                raise OperationFailed("packer init failed", hint=doc["packer_init"]["output"][-500:])
    app.ui.emit(doc, _text)


def _missing(doc) -> str:
    return ", ".join(f"{c['kind']} {c['type']}" for c in doc["components"] if not c["native"])


def _text(doc) -> str:
    lines = []
    for p in doc["plugins"]:
        where = f"{p['source'] or '?'} {p['version'] or ''}".strip()
        if p["built_in"]:
            lines.append(f"plugin {p['name']} ({where}): built in ({', '.join(p['native'])} run natively)")
        else:
            lines.append(f"plugin {p['name']} ({where}): not built in; used with --engine packer")
    for c in doc["components"]:
        lines.append(f"{c['kind']} {c['type']}: " + ("native" if c["native"] else "needs --engine packer"))
    if doc["needs_packer"]:
        lines.append(f"packer: {doc['packer'] or 'not installed'}"
                     + ("; plugins installed by `packer init`" if doc.get("packer_init") else ""))
        if doc["packer"] and tuple(map(int, doc["packer"].split("."))) < (1, 7, 0) and doc["plugins"] and \
                not all(p["built_in"] for p in doc["plugins"]):
            lines.append("  (packer < 1.7 has no `init`: install the plugins above by hand)")
    else:
        lines.append("Everything this template uses runs natively: nothing to install.")
    return "\n".join(lines)
