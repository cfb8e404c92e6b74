"""Template files: a file or a folder of *.pkr.hcl, the *.auto.pkrvars.hcl beside them, and
`--var name=value` options."""

from __future__ import annotations

import os
from typing import Iterable

from releasemgr.template.diagnostics import Diagnostic, Severity
from releasemgr.template.load.state import (
    LoaderState,
)


class FilesLoader(LoaderState):
    """Finds the template files and the variable files that apply to them."""

    def find_files(self) -> tuple[list[str], list[str]]:
        path = self.path
        if os.path.isdir(path):
            self.base_dir = path
            names = sorted(os.listdir(path))
            files = [os.path.join(path, n) for n in names
                     if n.endswith(".pkr.hcl") and os.path.isfile(os.path.join(path, n))]
            autos = [os.path.join(path, n) for n in names if n.endswith(".auto.pkrvars.hcl")]
            if not files:
                self.err(None, "No template files", f"The folder {path} contains no *.pkr.hcl files.")
            return files, autos
        if not os.path.exists(path):
            self.err(None, "Template not found", f"There is no file or folder named {path}.")
            return [], []
        self.base_dir = os.path.dirname(path) or "."
        if path.endswith(".json"):
            self.err(None, "JSON templates are not supported",
                     "releasemgr reads HCL2 templates (*.pkr.hcl); convert with `packer hcl2_upgrade`.")
            return [], []
        names = sorted(os.listdir(self.base_dir))
        autos = [os.path.join(self.base_dir, n) for n in names if n.endswith(".auto.pkrvars.hcl")]
        if path.endswith(".pkrvars.hcl"):
            self.err(None, "Not a template",
                     f"{path} is a variables file; pass it with --var-file and give the template.")
            return [], []
        return [path], autos


def load_var_assignments(pairs: Iterable[str]) -> tuple[dict[str, str], list[Diagnostic]]:
    """`name=value` strings (from --var) -> dict; malformed ones become diagnostics."""
    out: dict[str, str] = {}
    diags = []
    for p in pairs:
        name, eq, value = p.partition("=")
        if not eq or not name.strip():
            diags.append(Diagnostic(Severity.ERROR, "Invalid -var option",
                                    f'The given -var option "{p}" is not correctly specified. It must be a variable '
                                    'name and value separated by an equals sign, like --var "key=value".'))
            continue
        out[name.strip()] = value
    return out, diags
