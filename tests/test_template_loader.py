"""Loading templates: files, the packer block, sources, builds and their components, validate,
inspect. Variables and locals have their own files (test_template_variables.py, test_template_locals.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from template_loading import VARS, load, run, write

from releasemgr.common.hcl_values import UNKNOWN
from releasemgr.template.load import load_template
from releasemgr.template.validate import validate_template

TEMPLATES = Path(__file__).parent / "templates"


# -- blocks ------------------------------------------------------------------------------------------
def test_full_template_model(tmp_path):
    t, errs, _ = load(TEMPLATES / "null_full.pkr.hcl", environ={})
    assert not errs
    assert sorted(t.sources) == ["null.one", "null.two"]
    b = t.builds[0]
    assert (b.name, b.description) == ("demo", "A build with two null sources.")
    assert [s.display_name for s in b.sources] == ["null.one", "null.second"]
    assert [p.type for p in b.provisioners] == ["shell-local", "shell-local"]
    p = b.provisioners[1]
    assert (p.only, p.pause_before, p.max_retries, p.timeout) == (["null.one"], "1s", 2, "5m")
    assert [[pp.type for pp in chain] for chain in b.post_processors] == [["manifest", "checksum"]]
    assert b.provisioners[0].config["inline"] == ["echo hello-0 hello-1 hello-2", "echo web"]
    assert b.provisioners[0].position_of(("inline",)).line == 51


def test_source_name_and_build_values_in_components(tmp_path):
    tpl = write(tmp_path, "t.pkr.hcl", 'source "null" "a" {\n  communicator = "none"\n}\nbuild {\n  name = "bb"\n'
                '  sources = ["source.null.a"]\n  provisioner "shell-local" {\n'
                '    inline = ["${source.name} ${source.type} ${build.name}", build.ID]\n  }\n'
                '  error-cleanup-provisioner "shell-local" {\n    inline = ["cleanup"]\n  }\n}\n')
    t, errs, _ = load(tpl, environ={})
    assert not errs
    assert t.builds[0].provisioners[0].config["inline"] == ["a null bb", UNKNOWN]
    assert t.builds[0].error_cleanup_provisioner.type == "shell-local"


def test_data_block_is_reported_as_unsupported(tmp_path):
    _, errs, _ = load(write(tmp_path, "t.pkr.hcl", '\ndata "amazon-ami" "x" {\n}\n'), environ={})
    assert errs[0].summary == "Data sources are not supported" and errs[0].start.line == 2


def test_unknown_blocks_and_arguments_have_suggestions(tmp_path):
    tpl = write(tmp_path, "t.pkr.hcl", 'sorce "null" "a" {\n}\nfoo = 1\nbuild {\n  nmae = "x"\n'
                '  sources = ["source.null.a"]\n  provisoner "shell" {\n  }\n}\nsource "null" "a" {\n'
                '  communicator = "none"\n}\n')
    _, errs, _ = load(tpl, environ={})
    got = {(e.summary, e.start.line) for e in errs}
    assert ("Unsupported block type", 1) in got
    assert ("Unsupported argument", 3) in got
    assert ("Unsupported argument", 5) in got
    assert ("Unsupported block type", 7) in got
    assert any('Did you mean "source"?' in e.detail for e in errs)
    assert any('Did you mean "name"?' in e.detail for e in errs)
    assert any('Did you mean "provisioner"?' in e.detail for e in errs)


def test_unknown_source_reference_at_the_string(tmp_path):
    tpl = write(tmp_path, "t.pkr.hcl", 'source "null" "a" {\n  communicator = "none"\n}\nbuild {\n'
                '  sources = [\n    "source.null.a",\n    "source.null.b",\n  ]\n}\n')
    _, errs, _ = load(tpl, environ={})
    assert errs[0].summary == "Unknown source" and (errs[0].start.line, errs[0].start.column) == (7, 5)


def test_folder_template(tmp_path):
    write(tmp_path, "vars.pkr.hcl", 'variable "x" {\n  default = "folder"\n}\n')
    write(tmp_path, "main.pkr.hcl", 'source "null" "a" {\n  communicator = "none"\n}\n'
          'build {\n  sources = ["source.null.a"]\n  provisioner "shell-local" {\n    inline = [var.x]\n  }\n}\n')
    write(tmp_path, "x.auto.pkrvars.hcl", 'x = "auto"\n')
    t, errs, _ = load(tmp_path, environ={})
    assert not errs
    assert len(t.files) == 2
    assert t.builds[0].provisioners[0].config["inline"] == ["auto"]


def test_missing_path(tmp_path):
    t, errs, _ = load(tmp_path / "nope.pkr.hcl")
    assert t is None and errs[0].summary == "Template not found"


def test_packer_block(tmp_path):
    tpl = write(tmp_path, "t.pkr.hcl", 'packer {\n  required_version = ">= 1.7.0"\n  required_plugins {\n'
                '    amazon = {\n      version = ">= 1.2.0"\n      source = "github.com/hashicorp/amazon"\n    }\n  '
                '}\n}\n')
    t, errs, _ = load(tpl, environ={})
    assert not errs
    assert t.packer.required_version == ">= 1.7.0"
    assert t.packer.required_plugins["amazon"].source == "github.com/hashicorp/amazon"
    tpl = write(tmp_path, "t.pkr.hcl", 'packer {\n  required_version = "soon"\n}\n')
    _, errs, _ = load(tpl, environ={})
    assert errs[0].summary == "Invalid version constraint"


# -- validate: schema findings at their own lines ------------------------------------------------------
def test_schema_unknown_option_and_missing_required(capsys):
    code, _, err = run(["validate", str(TEMPLATES / "semantic_errors.pkr.hcl")], capsys)
    assert code == 2
    assert 'semantic_errors.pkr.hcl:18:3' in err and "instance_typo" in err and 'instance_type' in err
    assert "semantic_errors.pkr.hcl:16:1" in err  # missing instance_type: at the source block
    assert "semantic_errors.pkr.hcl:5:21" in err  # validation rule
    assert "semantic_errors.pkr.hcl:11:17" in err and 'Did you mean "size"?' in err
    assert "semantic_errors.pkr.hcl:24:1" in err  # data source
    assert "semantic_errors.pkr.hcl:29:39" in err  # missing source
    assert "semantic_errors.pkr.hcl:31:23" in err and 'Did you mean "name"?' in err
    assert "local.loop -> local.loop2 -> local.loop" in err


def test_warnings_keep_exit_zero(capsys):
    code, out, err = run(["validate", str(TEMPLATES / "warnings_only.pkr.hcl")], capsys)
    assert code == 0
    assert "The configuration is valid." in out
    assert "warnings_only.pkr.hcl:5:3" in err and "access_key" in err
    assert "warnings_only.pkr.hcl:8:3" in err and "owners" in err


def test_json_output(capsys):
    code, out, _ = run(["validate", "--json", str(TEMPLATES / "warnings_only.pkr.hcl")], capsys)
    doc = json.loads(out)
    assert code == 0 and doc["valid"] is True and doc["errors"] == []
    assert {w["line"] for w in doc["warnings"]} >= {5, 8}
    code, out, _ = run(["validate", "--json", str(TEMPLATES / "seed_missing_commas.pkr.hcl")], capsys)
    doc = json.loads(out)
    assert code == 2 and doc["valid"] is False
    assert [e["line"] for e in doc["errors"]] == [19, 27, 41]


def test_syntax_only_skips_evaluation(tmp_path, capsys):
    tpl = write(tmp_path, "t.pkr.hcl", 'locals {\n  a = var.nope\n}\n')
    assert run(["validate", "--syntax-only", str(tpl)], capsys)[0] == 0
    assert run(["validate", str(tpl)], capsys)[0] == 2
    assert run(["validate", "--syntax-only", str(TEMPLATES / "seed_missing_commas.pkr.hcl")], capsys)[0] == 2


def test_packer_spelling_of_options(tmp_path, capsys):
    tpl = write(tmp_path, "t.pkr.hcl", VARS)
    vf = write(tmp_path, "v.pkrvars.hcl", 'region = "x"\n')
    code, out, err = run(["validate", "-var", "size=3", "-var-file", str(vf), str(tpl)], capsys)
    assert code == 0, err
    code, out, err = run(["validate", "-var", "size", str(tpl)], capsys)
    assert code == 2 and "Invalid -var option" in err


def test_validate_via_a_real_process():
    proc = subprocess.run([sys.executable, "-m", "releasemgr", "validate",
                           str(TEMPLATES / "seed_missing_commas.pkr.hcl")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.count("Missing comma between list items") == 3
    assert "Traceback" not in proc.stderr


# -- inspect -----------------------------------------------------------------------------------------
def test_inspect_text_masks_sensitive(capsys):
    code, out, _ = run(["inspect", str(TEMPLATES / "null_full.pkr.hcl")], capsys)
    assert code == 0
    assert 'var.greeting: "hello"' in out
    assert "var.api_token: <sensitive>" in out
    assert "s3cr3t-value" not in out
    assert 'local.message: "hello-0 hello-1 hello-2"' in out
    assert "> demo:" in out and "null.second" in out and "manifest" in out and "checksum" in out


def test_inspect_json(capsys):
    code, out, _ = run(["inspect", "--json", str(TEMPLATES / "seed_fixed.pkr.hcl")], capsys)
    doc = json.loads(out)
    assert code == 0
    assert doc["variables"]["region"]["value"] == "us-east-1"
    assert doc["required_plugins"]["amazon"]["version"] == ">= 1.2.0"
    assert doc["builds"][0]["sources"] == ["amazon-ebs.ubuntu"]
    assert doc["builds"][0]["provisioners"][0]["type"] == "shell"


def test_inspect_of_broken_template_exits_2(capsys):
    code, _, err = run(["inspect", str(TEMPLATES / "seed_missing_commas.pkr.hcl")], capsys)
    assert code == 2 and "Missing comma" in err


def test_validate_template_api(tmp_path):
    t, _ = load_template(str(TEMPLATES / "semantic_errors.pkr.hcl"), environ={})
    diags = validate_template(t, environ={})
    assert any(d.summary.startswith('Unsupported argument "instance_typo"') and d.start.line == 18 for d in diags)


def test_build_source_overrides_are_merged_and_checked(tmp_path, capsys):
    tpl = write(tmp_path, "t.pkr.hcl", 'source "amazon-ebs" "web" {\n  ami_name = "web"\n  instance_type = "t3.micro"\n'
                '  region = "us-east-1"\n  source_ami = "ami-12345678"\n  ssh_username = "ubuntu"\n}\n'
                'build {\n  source "source.amazon-ebs.web" {\n    name = "eu"\n    region = "eu-west-1"\n'
                '    instance_tpye = "t3.large"\n  }\n}\n')
    t, errs, _ = load(tpl, environ={})
    bs = t.builds[0].sources[0]
    assert bs.display_name == "amazon-ebs.eu"
    assert bs.config["region"] == "eu-west-1" and bs.config["ami_name"] == "web"
    code, _, err = run(["validate", str(tpl)], capsys)
    assert code == 2
    assert "t.pkr.hcl:12:5" in err and "instance_tpye" in err


def test_evaluate_body_in_a_build_context(tmp_path):
    from releasemgr.template.load import evaluate_body

    tpl = write(tmp_path, "t.pkr.hcl", 'locals {\n  l = "L"\n}\nsource "null" "a" {\n  communicator = "none"\n}\n'
                'source "null" "b" {\n  communicator = "none"\n}\nbuild {\n  name = "bb"\n'
                '  sources = ["source.null.a", "source.null.b"]\n  provisioner "shell-local" {\n'
                '    inline = ["${source.name} ${build.ID} ${build.PluginSpecific} ${local.l}"]\n    nested {\n'
                '      x = upper(source.type)\n    }\n  }\n}\n')
    t, errs, _ = load(tpl, environ={})
    assert not errs
    prov = t.builds[0].provisioners[0]
    assert prov.config["inline"] == [UNKNOWN]  # two sources: source.name is unknown until built
    config, diags = evaluate_body(t, prov.body, source={"name": "b", "type": "null"},
                                  build={"ID": "i-1", "PluginSpecific": "p"})
    assert not diags
    assert config == {"inline": ["b i-1 p L"], "nested": [{"x": "NULL"}]}


@pytest.mark.parametrize("text,summary,line", [
    ('source "null" {\n}\n', "Missing name label", 1),
    ('variable "a" "b" {\n}\n', "Extraneous label", 1),
    ('build "x" {\n}\n', "Extraneous label", 1),
    ('local "x" {\n  sensitive = true\n}\n', "Missing required argument", 1),
    ('variables {\n  nested {\n  }\n}\n', "Unsupported block type", 2),
    ('locals {\n  nested {\n  }\n}\n', "Unsupported block type", 2),
    ('variable "x" {\n  default = 1\n  typo = 2\n}\n', "Unsupported argument", 3),
    ('variable "x" {\n  type = strng\n}\n', "Invalid type specification", 2),
    ('variable "x" {\n  default = 1\n  validation {\n    condition = true\n    error_message = "Always."\n  }\n}\n',
     "Invalid variable validation condition", 4),
    ('variable "x" {\n  default = 1\n  validation {\n    error_message = "No condition."\n  }\n}\n',
     "Missing required argument", 3),
    ('packer {\n  required_plugins {\n    amazon = { version = ">= 1", sorce = "x" }\n  }\n}\n',
     "Unsupported argument", 3),
    ('packer {\n  required_plugins {\n    amazon = 5\n  }\n}\n', "Invalid plugin requirement", 3),
    ('packer {\n  required_versoin = ">= 1"\n}\n', "Unsupported argument", 2),
    ('source "null" "a" {\n  communicator = "none"\n}\nsource "null" "a" {\n  communicator = "none"\n}\n',
     "Duplicate source block", 4),
    ('build {\n}\n', "Missing sources", 1),
    ('build {\n  sources = "source.null.a"\n}\n', "Invalid sources", 2),
    ('build {\n  sources = [var.x]\n}\n', "Invalid source reference", 2),
    ('build {\n  source "source.null.zz" {\n  }\n}\n', "Unknown source", 2),
    ('source "null" "a" {\n  communicator = "none"\n}\nbuild {\n  sources = [source.null.a]\n'
     '  provisioner {\n  }\n}\n', "Invalid provisioner block", 6),
    ('source "null" "a" {\n  communicator = "none"\n}\nbuild {\n  sources = [source.null.a]\n'
     '  error-cleanup-provisioner "shell-local" {\n    inline = ["a"]\n  }\n'
     '  error-cleanup-provisioner "shell-local" {\n    inline = ["b"]\n  '
     '}\n}\n', "Duplicate error-cleanup-provisioner", 9),
    ('source "null" "a" {\n  communicator = "none"\n}\nbuild {\n  sources = [source.null.a]\n'
     '  post-processors "x" {\n  }\n}\n', "Extraneous label", 6),
    ('variable "1x" {\n}\n', "Invalid variable name", 1),
    ('variable "x" {\n  default = 1\n  sensitive = "maybe"\n}\n', 'Invalid value for "sensitive"', 3),
])
def test_block_error_paths(tmp_path, text, summary, line):
    _, errs, _ = load(write(tmp_path, "t.pkr.hcl", text), environ={})
    assert (errs[0].summary, errs[0].start.line) == (summary, line), [(e.summary, e.start) for e in errs]


def test_component_options_and_chains(tmp_path):
    tpl = write(tmp_path, "t.pkr.hcl", 'source "null" "a" {\n  communicator = "none"\n}\nbuild {\n'
                '  sources = [source.null.a]\n  provisioner "shell-local" {\n    name = "p1"\n    inline = ["a"]\n'
                '    except = ["null.b"]\n    override = {\n      "null.a" = { inline = ["b"] }\n    }\n  }\n'
                '  post-processor "manifest" {\n    name = "m"\n    keep_input_artifact = true\n    only = '
                '["null.a"]\n  }\n'
                '  hcp_packer_registry {\n  }\n}\n')
    t, errs, warns = load(tpl, environ={})
    assert not errs
    p = t.builds[0].provisioners[0]
    assert (p.name, p.except_, p.override) == ("p1", ["null.b"], {"null.a": {"inline": ["b"]}})
    pp = t.builds[0].post_processors[0][0]
    assert (pp.name, pp.keep_input_artifact, pp.only) == ("m", True, ["null.a"])
    assert any(w.summary == "hcp_packer_registry is ignored" for w in warns)
    assert t.builds[0].sources[0].ref == "null.a"  # written as a reference, not a string


def test_only_and_except_select_build_sources(tmp_path, capsys):
    tpl = write(tmp_path, "t.pkr.hcl", 'source "null" "a" {\n  communicator = "none"\n}\n'
                'source "amazon-ebs" "b" {\n  bogus_option = 1\n}\n'
                'build {\n  name = "web"\n  sources = ["source.null.a", "source.amazon-ebs.b"]\n}\n')
    assert run(["validate", str(tpl)], capsys)[0] == 2
    assert run(["validate", "--only", "null.*", str(tpl)], capsys)[0] == 0
    assert run(["validate", "-except", "web.amazon-ebs.b", str(tpl)], capsys)[0] == 0
    code, out, _ = run(["inspect", "--json", "--only", "null.a", str(tpl)], capsys)
    assert json.loads(out)["builds"][0]["sources"] == ["null.a"]
