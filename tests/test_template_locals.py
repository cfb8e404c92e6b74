"""Local values: `locals` and `local` blocks, evaluated in any order, cycles named."""

from __future__ import annotations

from template_loading import load, write


def test_locals_in_any_order_and_local_blocks(tmp_path):
    tpl = write(tmp_path, "t.pkr.hcl", 'locals {\n  c = "${local.b}-c"\n  b = "${local.a}-b"\n}\n'
                'local "a" {\n  expression = "a"\n  sensitive = true\n}\n')
    t, errs, _ = load(tpl, environ={})
    assert not errs
    assert t.locals["c"].value == "a-b-c"
    assert t.locals["a"].sensitive


def test_local_cycle_names_the_cycle(tmp_path):
    _, errs, _ = load(write(tmp_path, "t.pkr.hcl", 'locals {\n  a = local.b\n  b = local.c\n  c = local.a\n}\n'),
                      environ={})
    assert len(errs) == 1
    assert errs[0].summary == "Cycle in local values"
    assert "local.a -> local.b -> local.c -> local.a" in errs[0].detail


def test_duplicate_local_and_variable(tmp_path):
    tpl = write(tmp_path, "t.pkr.hcl", 'locals {\n  a = 1\n}\nlocals {\n  a = 2\n}\n'
                'variable "v" {\n  default = 1\n}\nvariable "v" {\n  default = 2\n}\n')
    _, errs, _ = load(tpl, environ={})
    assert sorted(e.summary for e in errs) == ["Duplicate local definition", "Duplicate variable"]
