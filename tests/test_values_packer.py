"""Numbers as strings, and strings as numbers: one set of conversions, the one Packer 1.6.6 has.

The evaluator (``"x${1e20}"``) and the functions (``tostring(1e20)``) once printed numbers
differently (``1e+20`` vs ``100000000000000000000``, ``inf`` vs ``+Inf``, ``0`` vs ``-0``)
and normalised integral floats at different limits (2**53 vs 2**63). Both now use
``releasemgr.common.hcl_values``; these tests pin each case to what packer prints, by
building a template whose ``locals`` hold the interpolations (as tests/test_functions_packer.py
does) and comparing case by case.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import need_binary
from test_functions_packer import _template

from releasemgr.common.hcl_values import ConversionError, number_to_string, to_number
from releasemgr.template.syntax.parser import parse_expression_text
from releasemgr.template.diagnostics import EvalError
from releasemgr.template.expr import Evaluator, Scope
from releasemgr.template.functions import FunctionContext, FunctionError, call_function

# (expression, what Packer 1.6.6 prints for "x${expression}" without the "x")
PRINTED = [
    ("1e20", "100000000000000000000"),        # no exponent (was 1e+20 in templates)
    ("-1e20", "-100000000000000000000"),
    ("1e23", "100000000000000000000000"),
    ("1e21", "1000000000000000000000"),
    ("1/0", "+Inf"),                          # was inf in templates
    ("-1/0", "-Inf"),
    ("-0.0", "-0"),                           # was 0 in templates
    # above 2**53 a float is its shortest decimal, not int(float) (1152921504606846976)
    ("1.152921504606847e18 + 0", "1152921504606847000"),
    ("max(1.152921504606847e18, 1)", "1152921504606847000"),
    ("-0", "-0"),
    ("pow(2, 53) + 1", "9007199254740993"),
    ("pow(10, 20)", "100000000000000000000"),
    ("max(1e20)", "100000000000000000000"),
    ("9007199254740993", "9007199254740993"),
    ("123456789012345678901234567890", "123456789012345678901234567890"),
    ("1e-7", "0.0000001"),
    ("0.000001", "0.000001"),
    ("pow(2, 0.5)", "1.4142135623730951"),
    ("2.5", "2.5"),
    ('"5" + 1', "6"),
    ('"+5" + 1', "6"),
    ('"1e3" + 1', "1001"),
    ('".5" + 1', "1.5"),
    ('"5." + 1', "6"),
]

# Strings that are not numbers to Packer: converting them is an error.
NOT_NUMBERS = [" 5", "5 ", "0x10", "1_0", "--5"]


def _ours_template(expr: str) -> str:
    node, diags = parse_expression_text(f'"x${{{expr}}}"', "t.hcl")
    assert node is not None, [d.render() for d in diags]
    return Evaluator().eval(node, Scope({}))[1:]


def _ours_tostring(expr: str) -> str:
    node, diags = parse_expression_text(expr, "t.hcl")
    assert node is not None, [d.render() for d in diags]
    value = Evaluator().eval(node, Scope({}))
    return call_function("tostring", [value], FunctionContext(base_dir="."))


@pytest.mark.parametrize("expr,printed", PRINTED, ids=[c[0] for c in PRINTED])
def test_templates_and_tostring_print_numbers_alike(expr, printed):
    assert _ours_template(expr) == printed
    assert _ours_tostring(expr) == printed


@pytest.mark.parametrize("text", NOT_NUMBERS)
def test_strings_that_are_not_numbers_are_refused_everywhere(text):
    with pytest.raises(ConversionError):
        to_number(text)
    with pytest.raises(EvalError):
        _ours_template(f'"{text}" + 1')
    with pytest.raises(FunctionError):
        call_function("tonumber", [text], FunctionContext(base_dir="."))


def test_negative_zero_and_infinities_print_as_cty_does():
    assert [number_to_string(n) for n in (-0.0, 0.0, float("inf"), float("-inf"))] == ["-0", "0", "+Inf", "-Inf"]


# -- the same cases against the real packer ------------------------------------------------------

def _run_packer(root: Path, exprs: dict[str, str]) -> subprocess.CompletedProcess:
    """The template of tests/test_functions_packer.py, each expression interpolated as "x${...}"."""
    out = root / "out.json"
    (root / "t.pkr.hcl").write_text(_template({k: f'"x${{{v}}}"' for k, v in exprs.items()}, out))
    return subprocess.run([need_binary("packer", "packer"), "build", "-color=false", "t.pkr.hcl"], cwd=root,
                          capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(root),
                               "CHECKPOINT_DISABLE": "1", "PACKER_LOG": ""})


@pytest.fixture(scope="module")
def packer_printed(tmp_path_factory):
    root = tmp_path_factory.mktemp("pk")
    proc = _run_packer(root, {f"c{i}": expr for i, (expr, _) in enumerate(PRINTED)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads((root / "out.json").read_text())


@pytest.mark.packer
@pytest.mark.parametrize("index", range(len(PRINTED)), ids=[c[0] for c in PRINTED])
def test_packer_prints_the_same(packer_printed, index):
    expr, printed = PRINTED[index]
    assert packer_printed[f"c{index}"] == "x" + printed, expr
    assert _ours_template(expr) == printed


@pytest.mark.packer
@pytest.mark.parametrize("text", NOT_NUMBERS[:2])
def test_packer_refuses_the_same(tmp_path, text):
    proc = _run_packer(tmp_path, {"c": f'"{text}" + 1'})
    assert proc.returncode != 0 and "Invalid operand" in proc.stdout + proc.stderr
