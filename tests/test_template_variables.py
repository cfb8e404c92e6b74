"""Input variables (Packer's types.variables.go): declarations, values in Packer's order of
precedence (default < PKR_VAR_* < *.auto.pkrvars.hcl < --var-file < --var), types, validation."""

from __future__ import annotations

from template_loading import VARS, load, run, write


def test_default_value(tmp_path):
    t, errs, _ = load(write(tmp_path, "t.pkr.hcl", VARS), environ={})
    assert not errs
    assert t.variables["region"].value == "default-region"
    assert t.variables["region"].value_source == "default"


def test_precedence_env_auto_varfile_var(tmp_path):
    tpl = write(tmp_path, "t.pkr.hcl", VARS)
    write(tmp_path, "a.auto.pkrvars.hcl", 'region = "auto-a"\nsize = 2\n')
    write(tmp_path, "b.auto.pkrvars.hcl", 'region = "auto-b"\n')
    vf1 = write(tmp_path, "one.pkrvars.hcl", 'region = "file-1"\nregions = ["x"]\n')
    vf2 = write(tmp_path, "two.pkrvars.hcl", 'region = "file-2"\n')
    env = {"PKR_VAR_region": "from-env", "PKR_VAR_size": "9", "PKR_VAR_undeclared": "ignored"}

    t, errs, _ = load(tpl, environ=env)
    assert not errs
    assert t.variables["region"].value == "auto-b"  # auto files (sorted) beat the environment
    assert t.variables["size"].value == 2

    t, errs, _ = load(tpl, environ=env, var_files=[str(vf1), str(vf2)])
    assert t.variables["region"].value == "file-2"  # -var-file in order beats auto files
    assert t.variables["regions"].value == ["x"]

    t, errs, _ = load(tpl, environ=env, var_files=[str(vf1)], vars={"region": "cli"})
    assert t.variables["region"].value == "cli"
    assert t.variables["region"].value_source == "var"


def test_env_beats_default_and_is_parsed_per_type(tmp_path):
    t, errs, _ = load(write(tmp_path, "t.pkr.hcl", VARS),
                      environ={"PKR_VAR_size": "42", "PKR_VAR_regions": '["eu-west-1", "eu-west-2"]'})
    assert not errs
    assert t.variables["size"].value == 42
    assert t.variables["regions"].value == ["eu-west-1", "eu-west-2"]
    assert t.variables["regions"].value_source == "env"


def test_cli_list_value_parsed_as_hcl(tmp_path):
    t, errs, _ = load(write(tmp_path, "t.pkr.hcl", VARS), environ={}, vars={"regions": '["a", "b"]'})
    assert not errs
    assert t.variables["regions"].value == ["a", "b"]


def test_cli_value_of_wrong_type_is_an_error(tmp_path):
    _, errs, _ = load(write(tmp_path, "t.pkr.hcl", VARS), environ={}, vars={"size": "big"})
    assert errs[0].summary == 'Invalid value for variable "size"'
    assert "number" in errs[0].detail


def test_undeclared_cli_var_is_an_error_var_file_a_warning(tmp_path):
    tpl = write(tmp_path, "t.pkr.hcl", VARS)
    vf = write(tmp_path, "v.pkrvars.hcl", 'regoin = "x"\n')
    _, errs, warns = load(tpl, environ={}, vars={"regon": "x"}, var_files=[str(vf)])
    assert [e.summary for e in errs] == ["Undefined -var variable"]
    assert 'Did you mean "region"?' in errs[0].detail
    assert [w.summary for w in warns] == ["Undefined variable"]
    assert warns[0].start.line == 1 and warns[0].file.endswith("v.pkrvars.hcl")


def test_unset_variable_is_an_error_at_its_block(tmp_path):
    _, errs, _ = load(write(tmp_path, "t.pkr.hcl", 'variable "x" {\n  type = string\n}\n'), environ={})
    assert errs[0].summary == 'Unset variable "x"'
    assert errs[0].start.line == 1


def test_var_file_value_of_wrong_type_is_reported_in_the_var_file(tmp_path):
    tpl = write(tmp_path, "t.pkr.hcl", VARS)
    vf = write(tmp_path, "v.pkrvars.hcl", '\nsize = "many"\n')
    _, errs, _ = load(tpl, environ={}, var_files=[str(vf)])
    assert errs[0].file.endswith("v.pkrvars.hcl") and errs[0].start.line == 2


def test_validation_failure_at_the_condition_line(tmp_path, capsys):
    tpl = write(tmp_path, "t.pkr.hcl", '''variable "size" {
  type    = string
  default = "small"
  validation {
    condition     = contains(["small", "large"], var.size)
    error_message = "The size must be small or large."
  }
}
''')
    code, _, err = run(["validate", str(tpl)], capsys)
    assert code == 0
    code, _, err = run(["validate", "--var", "size=medium", str(tpl)], capsys)
    assert code == 2
    assert "t.pkr.hcl:5:21" in err
    assert "The size must be small or large." in err


def test_validation_message_must_be_a_sentence(tmp_path):
    tpl = write(tmp_path, "t.pkr.hcl", 'variable "x" {\n  default = "a"\n  validation {\n'
                '    condition = var.x != ""\n    error_message = "bad"\n  }\n}\n')
    _, errs, _ = load(tpl, environ={})
    assert errs[0].summary == "Invalid validation error message" and errs[0].start.line == 5


def test_sensitive_and_nullable(tmp_path):
    tpl = write(tmp_path, "t.pkr.hcl", 'variable "pw" {\n  sensitive = true\n  default = "hunter22"\n}\n'
                'variable "n" {\n  type = string\n  nullable = false\n  default = null\n}\n')
    t, errs, _ = load(tpl, environ={})
    assert t.variables["pw"].sensitive
    assert errs[0].summary == 'Invalid value for variable "n"' and "nullable" in errs[0].detail


def test_variables_block_and_env_default(tmp_path):
    tpl = write(tmp_path, "t.pkr.hcl", 'variables {\n  a = 1\n  b = "x"\n}\n'
                'variable "home" {\n  default = env("MY_HOME")\n}\n')
    t, errs, _ = load(tpl, environ={"MY_HOME": "/h"})
    assert not errs
    assert t.variables["a"].value == 1 and t.variables["home"].value == "/h"


def test_default_not_matching_type(tmp_path):
    tpl = write(tmp_path, "t.pkr.hcl", 'variable "x" {\n  type = number\n  default = "abc"\n}\n')
    _, errs, _ = load(tpl, environ={})
    assert errs[0].summary == "Invalid default value for variable" and errs[0].start.line == 3


def test_variables_not_allowed_in_defaults_and_var_files(tmp_path):
    tpl = write(tmp_path, "t.pkr.hcl", 'variable "a" {\n  default = "x"\n}\nvariable "b" {\n  default = var.a\n}\n')
    vf = write(tmp_path, "v.pkrvars.hcl", "a = local.z\n")
    _, errs, _ = load(tpl, environ={}, var_files=[str(vf)])
    assert [(e.summary, e.start.line) for e in errs] == [("Variables not allowed", 5), ("Variables not allowed", 1)]
