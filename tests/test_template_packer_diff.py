"""Differential test: `release validate` accepts and rejects what packer 1.6.6 does.

Only templates within packer 1.6.6's HCL2 language (null builder, shell-local provisioner,
manifest post-processor, variables, locals, validation rules, functions). Only the
accept/reject decision is compared, not the messages.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess

import pytest

from releasemgr.cli import main

PACKER = shutil.which("packer") or "/usr/bin/packer"

SRC = 'source "null" "a" {\n  communicator = "none"\n}\n'
BUILD = 'build {\n  sources = ["source.null.a"]\n%s}\n'
PROV = '  provisioner "shell-local" {\n    inline = [%s]\n  }\n'


def tpl(head: str = "", inline: str = '"echo hi"', extra: str = "") -> str:
    return head + SRC + BUILD % (PROV % inline + extra)


CASES = {
    "minimal": tpl(),
    "variable_default": tpl('variable "x" {\n  type = string\n  default = "a"\n}\n', '"echo ${var.x}"'),
    "validation_ok": tpl('variable "x" {\n  type = string\n  default = "abcdef"\n  validation {\n'
                         '    condition = length(var.x) > 5\n    error_message = "The x must be long."\n  }\n}\n'),
    "validation_fails": tpl('variable "x" {\n  type = string\n  default = "abc"\n  validation {\n'
                            '    condition = length(var.x) > 5\n    error_message = "The x must be long."\n  }\n}\n'),
    "validation_message_not_sentence": tpl('variable "x" {\n  default = "abcdefg"\n  validation {\n'
                                           '    condition = length(var.x) > 5\n    error_message = "too short"\n  }\n}\n'),
    "undeclared_var": tpl(inline='"echo ${var.nope}"'),
    "undeclared_local": tpl(inline='"echo ${local.nope}"'),
    "unknown_source": SRC + 'build {\n  sources = ["source.null.b"]\n}\n',
    "missing_comma": tpl(inline='"echo a" "echo b"'),
    "missing_comma_multiline": tpl(inline='\n      "echo a"\n      "echo b",\n    '),
    "two_attributes_one_line": 'source "null" "a" {\n  communicator = "none" foo = 1\n}\n' + BUILD % "",
    "duplicate_attribute": 'source "null" "a" {\n  communicator = "none"\n  communicator = "none"\n}\n' + BUILD % "",
    "unset_variable": tpl('variable "x" {\n  type = string\n}\n'),
    "locals_any_order": tpl('locals {\n  b = "${local.a}-b"\n  a = "a"\n}\n', '"echo ${local.b}"'),
    "locals_cycle": tpl('locals {\n  a = local.b\n  b = local.a\n}\n'),
    "default_type_mismatch": tpl('variable "x" {\n  type = number\n  default = "abc"\n}\n'),
    "default_type_converts": tpl('variable "x" {\n  type = number\n  default = "12"\n}\n', '"echo ${var.x + 1}"'),
    "unknown_function": tpl(inline='uper("echo")'),
    "env_in_locals": tpl('locals {\n  h = env("HOME")\n}\n'),
    "env_in_variable_default": tpl('variable "h" {\n  default = env("HOME")\n}\n', '"echo ${var.h}"'),
    "template_directives": tpl('variable "l" {\n  default = ["a", "b"]\n}\n',
                               '"%{ for x in var.l }${x}%{ endfor }", "%{ if true }y%{ else }n%{ endif }"'),
    "for_and_splat": tpl('locals {\n  objs = [{ n = "a" }, { n = "b" }]\n  names = local.objs[*].n\n'
                         '  up = [for n in local.names : upper(n)]\n  m = { for n in local.names : n => n }\n}\n',
                         'join(" ", local.up)'),
    "unterminated_string": tpl(inline='"echo hi'),
    "unknown_top_level_block": "sorce {\n}\n" + tpl(),
    "unknown_builder_option": 'source "null" "a" {\n  communicator = "none"\n  foo = 1\n}\n' + BUILD % "",
    "unknown_provisioner_option": tpl(extra='  provisioner "shell-local" {\n    inline = ["a"]\n    bogus = 1\n  }\n'),
    "shell_local_without_command": tpl(extra='  provisioner "shell-local" {\n  }\n'),
    "try_and_can": tpl('locals {\n  l = ["a"]\n  t = try(local.l[3], "none")\n  c = can(local.l[3])\n}\n',
                       '"echo ${local.t} ${local.c}"'),
    "object_type": tpl('variable "o" {\n  type = object({ name = string, port = number })\n'
                       '  default = { name = "x", port = "22" }\n}\n', '"echo ${var.o.port}"'),
    "object_type_missing_attribute": tpl('variable "o" {\n  type = object({ name = string, port = number })\n'
                                         '  default = { name = "x" }\n}\n'),
    "list_type": tpl('variable "l" {\n  type = list(string)\n  default = ["a", 1]\n}\n', 'join(",", var.l)'),
    "sensitive_variable": tpl('variable "s" {\n  type = string\n  default = "secret"\n  sensitive = true\n}\n'),
    "manifest_post_processor": tpl(extra='  post-processor "manifest" {\n    output = "m.json"\n  }\n'),
    "manifest_unknown_option": tpl(extra='  post-processor "manifest" {\n    outptu = "m.json"\n  }\n'),
    "heredoc": tpl('locals {\n  h = <<EOT\nline ${1 + 1}\nEOT\n}\n', "local.h"),
    "conditional_arithmetic": tpl('locals {\n  n = 3 * 4 > 10 ? 1 : 2\n}\n', '"echo ${local.n}"'),
    "bad_operand": tpl('locals {\n  n = 1 + "a"\n}\n'),
    "index_out_of_range": tpl('locals {\n  n = ["a"][3]\n}\n'),
    "build_source_block": SRC + 'build {\n  source "source.null.a" {\n    name = "renamed"\n  }\n}\n',
    "unclosed_block": SRC + "build {\n  sources = [\"source.null.a\"]\n",
    "undeclared_var_file": tpl(),  # with the var file below
    "variables_block": tpl('variables {\n  x = "a"\n}\n', '"echo ${var.x}"'),
    "single_quotes": tpl(inline="'echo'"),
    "duplicate_source": SRC + SRC + BUILD % "",
    "conditional_inconsistent_types": tpl('locals {\n  x = true ? 1 : [1]\n}\n'),
    "conditional_string_number": tpl('locals {\n  x = true ? "a" : 1\n}\n'),
    "division_by_zero": tpl('locals {\n  x = 1 / 0\n}\n'),
    "duplicate_for_key": tpl('locals {\n  x = {for x in ["a", "a"] : x => 1}\n}\n'),
    "string_comparison": tpl('locals {\n  x = "a" < "b"\n}\n'),
    "attribute_of_null": tpl('locals {\n  x = null.a\n}\n'),
    "for_over_number_in_template": tpl('locals {\n  x = "%{ for x in 5 }x%{ endfor }"\n}\n'),
    "splat_attribute_of_numbers": tpl('locals {\n  x = [1, 2][*].x\n}\n'),
}

# Expressions and syntax edge cases, each as the only local of an otherwise valid template.
LOCAL_EXPRESSIONS = [
    "1.", "01", "1e", "[1,]", "{a = 1,}", '"${ "nested ${"x"}" }"', "{a = 1", '["a",', "1 +", "(1", '"a" "b"',
    "[for x in [1] : x if]", "1..2", "a.0.b", '{"a": 1}', "{ a = 1, b = 2 c = 3 }", "[1 2]", "-true",
    '"\\u00e9"', '"a" # c', "<<EOT", '{a = 1}.b', "upper(null)", '"x" + 1', "length(5)", "can(1/0)",
    '{"a" = 1, "a" = 2}', '[for i, v in ["a"] : i]', 'lookup({a = 1}, "b")', '["a"][1.5]', "!\"true\"",
    "[for x in {a = 1} : x]", "{a = 1}[*]", '1 == "1"',
]
for _i, _expr in enumerate(LOCAL_EXPRESSIONS):
    CASES[f"local_expression_{_i:02d}"] = tpl(f"locals {{\n  x = {_expr}\n}}\n")
CASES["empty_file"] = ""

# Documented differences (docs/templates.md): a component type releasemgr does not run itself is
# handed to an installed packer, so validate only warns where packer 1.6.6 (which knows its own
# built-in plugins) rejects.
DIFFERENCES = {
    "unknown_provisioner_type": (tpl(extra='  provisioner "shell-lcoal" {\n    inline = ["a"]\n  }\n'), 1, 0),
}

VAR_ARGS = {
    "undeclared_var_file": ("varfile", 'nope = "x"\n'),
}


def packer_validate(path: str, extra=()) -> int:
    env = dict(os.environ, PACKER_CHECKPOINT_DISABLE="1", CHECKPOINT_DISABLE="1")
    proc = subprocess.run([PACKER, "validate", *extra, path], capture_output=True, text=True, env=env, timeout=120)
    return proc.returncode


def release_validate(path: str, extra=()) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["validate", *extra, path])
    return code, err.getvalue()


@pytest.fixture(scope="module")
def packer():
    if not os.path.exists(PACKER):
        pytest.fail("packer is not installed: apt-get install packer (Debian's packer 1.6.6 is the peer "
                    "for the differential test)")
    return PACKER


@pytest.mark.packer
@pytest.mark.parametrize("name", sorted(CASES))
def test_same_decision_as_packer(packer, tmp_path, name):
    path = tmp_path / "t.pkr.hcl"
    path.write_text(CASES[name])
    extra = ()
    if name in VAR_ARGS:
        kind, text = VAR_ARGS[name]
        vf = tmp_path / "v.pkrvars.hcl"
        vf.write_text(text)
        extra = ("-var-file", str(vf))
    p = packer_validate(str(path), extra)
    r, err = release_validate(str(path), extra)
    assert r in (0, 2), err
    assert p in (0, 1)
    assert (r == 0) == (p == 0), f"packer {'accepts' if p == 0 else 'rejects'}, release exits {r}:\n{err}"


@pytest.mark.packer
@pytest.mark.parametrize("name", sorted(DIFFERENCES))
def test_documented_differences(packer, tmp_path, name):
    text, packer_code, release_code = DIFFERENCES[name]
    path = tmp_path / "t.pkr.hcl"
    path.write_text(text)
    assert packer_validate(str(path)) == packer_code
    code, err = release_validate(str(path))
    assert code == release_code, err
    assert 'Did you mean "shell-local"?' in err


VARS_TEMPLATE = ('variable "l" {\n  type = list(string)\n  default = []\n}\nvariable "n" {\n  type = number\n'
                 '  default = 1\n}\nvariable "s" {\n  type = string\n  default = "x"\n}\n' + SRC + BUILD % "")
VALUE_CASES = [
    (["-var", "nope=1"], {}), (["-var", 'l=["a"]'], {}), (["-var", "l=a"], {}), (["-var", "n=abc"], {}),
    (["-var", "n=12"], {}), (["-var", "s=[1]"], {}), (["-var", 'l=["a""b"]'], {}), (["-var", "noequals"], {}),
    ([], {"PKR_VAR_n": "abc"}), ([], {"PKR_VAR_l": "[1]"}), ([], {"PKR_VAR_l": "zz"}), ([], {"PKR_VAR_nope": "1"}),
]


@pytest.mark.packer
@pytest.mark.parametrize("args,env", VALUE_CASES, ids=[" ".join(a) or str(e) for a, e in VALUE_CASES])
def test_variable_values_same_decision_as_packer(packer, tmp_path, monkeypatch, args, env):
    path = tmp_path / "t.pkr.hcl"
    path.write_text(VARS_TEMPLATE)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    p = packer_validate(str(path), args)
    r, err = release_validate(str(path), args)
    assert (r == 0) == (p == 0), f"packer exits {p}, release exits {r}:\n{err}"
