"""Helpers shared by the template loading tests (test_template_variables.py, test_template_locals.py,
test_template_loader.py): write a file, load a template, run the CLI in-process."""

from __future__ import annotations

from pathlib import Path

from releasemgr.cli import main
from releasemgr.template.load import load_template

# Three typed variables with defaults, and the smallest build that uses them.
VARS = '''
variable "region" {
  type    = string
  default = "default-region"
}
variable "regions" {
  type    = list(string)
  default = []
}
variable "size" {
  type    = number
  default = 1
}
source "null" "a" {
  communicator = "none"
}
build {
  sources = ["source.null.a"]
}
'''


def write(dir_: Path, name: str, text: str) -> Path:
    p = dir_ / name
    p.write_text(text)
    return p


def load(path, **kw):
    """(template, errors, warnings)."""
    t, diags = load_template(str(path), **kw)
    return t, [d for d in diags if d.is_error], [d for d in diags if not d.is_error]


def run(args, capsys):
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err
