"""The HCL2 parser: syntax trees with positions, and syntax errors as diagnostics."""

from __future__ import annotations

from pathlib import Path

import pytest

from releasemgr.cli import main
from releasemgr.template.syntax.ast import TupleExpr
from releasemgr.template.syntax.parser import parse_bytes, parse_expression_text, parse_text
from releasemgr.template.expr import Evaluator, Scope

TEMPLATES = Path(__file__).parent / "templates"


def parse(text: str):
    return parse_text(text, "t.pkr.hcl")


def errors(text: str):
    _, diags = parse(text)
    return [(d.summary, d.start.line, d.start.column) for d in diags]


def value_of(text: str):
    body, diags = parse(f"x = {text}\n")
    assert not diags, [d.render() for d in diags]
    return Evaluator().eval(body.attributes["x"].expr, Scope({}))


# -- the seed example: three missing commas, three diagnostics, one run -----------------------
def test_seed_three_missing_commas_each_at_its_line(capsys):
    code = main(["validate", str(TEMPLATES / "seed_missing_commas.pkr.hcl")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("error: Missing comma between list items") == 3
    for loc, line_text in [(":19:31", '["us-east-1" "us-west-2"]'), (":27:34", '["099720109477" "amazon"]'),
                           (":41:28", '"sudo apt-get update"')]:
        assert f"seed_missing_commas.pkr.hcl{loc}" in err
        assert line_text in err
    assert "Traceback" not in err


def test_seed_fixed_is_valid(capsys):
    assert main(["validate", str(TEMPLATES / "seed_fixed.pkr.hcl")]) == 0
    assert "The configuration is valid." in capsys.readouterr().out


def test_missing_comma_render_has_caret_under_the_gap():
    _, diags = parse('r = ["a" "b"]\n')
    text = diags[0].render()
    assert '     1 | r = ["a" "b"]' in text
    assert "       |         ^" in text  # column 9: right after "a"


def test_two_missing_commas_in_one_list_both_reported():
    assert errors('r = ["a" "b" "c"]\n') == [("Missing comma between list items", 1, 9),
                                              ("Missing comma between list items", 1, 13)]


def test_missing_comma_between_function_arguments():
    assert errors('x = join("-" local.a)\n')[0][0] == "Missing comma between function arguments"


# -- Packer is stricter than python-hcl2 ----------------------------------------------------------
def test_two_arguments_on_one_line_is_an_error():
    assert errors("a = 1 b = 2\n") == [("Missing newline after argument", 1, 7)]


def test_duplicate_argument_is_an_error_at_the_second():
    errs = errors("a = 1\nb = 2\na = 3\n")
    assert errs == [("Attribute redefined", 3, 1)]


def test_single_line_block_is_fine():
    body, diags = parse('provisioner "shell" { inline = ["a"] }\n')
    assert not diags
    assert body.blocks[0].body.attributes["inline"].name_rng.line == 1


# -- every syntax error in one run ------------------------------------------------------------
def test_errors_in_several_blocks_are_all_reported(capsys):
    code = main(["validate", str(TEMPLATES / "multi_errors.pkr.hcl")])
    err = capsys.readouterr().err
    assert code == 2
    assert "multi_errors.pkr.hcl:8:13" in err  # bogus = 1 extra = 2
    assert "multi_errors.pkr.hcl:15:5" in err  # inline set twice
    assert "multi_errors.pkr.hcl:20:7" in err  # unterminated string
    assert "the template has 3 errors" in err


@pytest.mark.parametrize("text,summary,line", [
    ('a = "abc\n', "Unterminated template string", 1),
    ("a = <<EOT\nhello\n", "Unterminated template string", 1),
    ('block "x" {\n  a = 1\n', "Unclosed configuration block", 1),
    ("a = 'single'\n", "Invalid character", 1),
    ("a = 1;\n", "Invalid character", 1),
    ("a = [1, 2\nb = 3\n", "Unterminated list", 2),
    ("a = {x = 1 y = 2}\n", "Missing item separator", 1),
    ("a = \n", "Missing expression", 1),
    ("}\n", "Unexpected closing brace", 1),
    ("a = \"${\"\n", "Unterminated template string", 1),
    ('a = "${x"\n', "Unexpected a quoted string", 1),
    ('a = "%{if true}x"\n', "Unterminated if directive", 1),
    ('a = "%{endif}"\n', "Unexpected endif directive", 1),
    ('a = "\\q"\n', "Invalid escape sequence", 1),
    ("block\n{\n}\n", "Argument or block definition required", 1),
    ("a = 1 +\n", "Missing expression", 1),
    ("/* never closed\n", "Unterminated comment", 1),
])
def test_error_paths(text, summary, line):
    errs = errors(text)
    assert errs, f"no error for {text!r}"
    assert errs[0][0] == summary
    assert errs[0][1] == line


def test_nul_byte_is_reported_at_its_position():
    body, diags = parse_bytes("bin.pkr.hcl", b'a = 1\nb = "x"\x00\n')
    assert diags[0].summary == "Invalid character"
    assert (diags[0].start.line, diags[0].start.column) == (2, 8)
    assert "NUL" in diags[0].detail


def test_invalid_utf8_is_reported_at_the_byte():
    _, diags = parse_bytes("bin.pkr.hcl", b'a = 1\nb = "\xff\xfe"\n')
    assert diags[0].summary == "Invalid character encoding"
    assert (diags[0].start.line, diags[0].start.column) == (2, 6)
    assert "0xff" in diags[0].detail


@pytest.mark.parametrize("text", ["x = " + "[" * 5000 + "]" * 5000 + "\n",
                                  "x = " + "(" * 5000 + "1" + ")" * 5000 + "\n",
                                  "a {\n" * 3000 + "}\n" * 3000,
                                  "x = " + "-" * 5000 + "1\n",
                                  'x = ' + '"${' * 3000 + "1" + '}"' * 3000 + "\n"])
def test_deep_nesting_is_a_diagnostic_not_a_crash(text):
    _, diags = parse(text)
    assert diags
    assert any(d.summary == "Nesting too deep" for d in diags), [d.summary for d in diags]


def test_binary_junk_through_the_cli(tmp_path, capsys):
    f = tmp_path / "junk.pkr.hcl"
    f.write_bytes(bytes(range(256)) * 4)
    assert main(["validate", str(f)]) == 2
    err = capsys.readouterr().err
    assert "junk.pkr.hcl:2:118" in err  # byte 0x80 at offset 128; a newline is byte 10
    assert "Traceback" not in err and "internal error" not in err


# -- trees and positions ------------------------------------------------------------------------
def test_positions_of_attributes_and_blocks():
    body, diags = parse('source "null" "x" {\n  communicator = "none"\n  nested {\n    k = 1\n  }\n}\n')
    assert not diags
    blk = body.blocks[0]
    assert (blk.type, blk.labels) == ("source", ["null", "x"])
    assert blk.body.attributes["communicator"].name_rng.line == 2
    assert blk.body.blocks[0].body.attributes["k"].name_rng.line == 4


def test_comments_everywhere():
    body, diags = parse("# c1\n// c2\n/* c3\n */ a = 1 # end\nb = [ # in list\n  1, // x\n  2 /* y */\n]\n")
    assert not diags
    assert set(body.attributes) == {"a", "b"}


# -- templates, heredocs, literals ---------------------------------------------------------------
@pytest.mark.parametrize("expr,expected", [
    ('"a\\nb\\t\\"q\\" \\u00e9 \\\\"', 'a\nb\t"q" é \\'),
    ('"$${x} %%{y}"', "${x} %{y}"),
    ('"web-{{timestamp}}"', "web-{{timestamp}}"),
    ('"${1 + 2}"', 3),  # a lone interpolation keeps its type
    ('"n=${1 + 2}"', "n=3"),
    ('"%{ if true }yes%{ else }no%{ endif }"', "yes"),
    ('"%{ for x in ["a", "b"] }${x},%{ endfor }"', "a,b,"),
    ('"a  %{~ if true ~}  b  %{~ endif ~}  c"', "abc"),
    ("<<EOT\nline1\n  line2\nEOT\n", "line1\n  line2\n"),
    ("<<-EOT\n    line1\n      line2\n    EOT\n", "line1\n  line2\n"),
    ("<<-EOT\n  %{ for x in [1, 2] ~}\n  ${x}\n  %{ endfor ~}\n  EOT\n", "1\n2\n"),
    ("1.5e3", 1500),
    ("0.25", 0.25),
    ("null", None),
    ("true", True),
])
def test_template_and_literal_values(expr, expected):
    assert value_of(expr) == expected


def test_heredoc_followed_by_more_arguments():
    body, diags = parse("a = <<EOT\nx ${1}\nEOT\nb = 2\n")
    assert not diags
    assert set(body.attributes) == {"a", "b"}


def test_crlf_line_endings():
    body, diags = parse('a = "x"\r\nb {\r\n  c = [1,\r\n  2]\r\n}\r\n')
    assert not diags
    assert body.blocks[0].body.attributes["c"].name_rng.line == 3


def test_expression_text_for_var_values():
    expr, diags = parse_expression_text('["a", "b"]')
    assert not diags and isinstance(expr, TupleExpr)
    expr, diags = parse_expression_text('["a" "b"]')
    assert expr is None and diags[0].summary == "Missing comma between list items"
    expr, diags = parse_expression_text("1 2")
    assert expr is None and diags[0].summary == "Extra characters after expression"
