"""`release init`: which plugins and components a template needs."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_native_template_needs_nothing(sqlite_cli):
    d = sqlite_cli.json("init", str(ROOT / "templates" / "amazon-ebs.pkr.hcl"))
    assert d["plugins"] == [{"name": "amazon", "source": "github.com/hashicorp/amazon", "version": ">= 1.2.0",
                             "native": ["amazon-ebs"], "built_in": True}]
    assert d["needs_packer"] is False
    assert {(c["kind"], c["type"]) for c in d["components"]} == {
        ("source", "amazon-ebs"), ("provisioner", "shell"), ("post-processor", "manifest")}
    assert "nothing to install" in sqlite_cli.ok("init", str(ROOT / "templates" / "local.pkr.hcl")).out


def test_foreign_component_is_named(sqlite_cli, tmp_path):
    t = tmp_path / "d.pkr.hcl"
    t.write_text('source "docker" "x" {\n  image = "debian"\n}\n\nbuild {\n  sources = ["source.docker.x"]\n}\n')
    r = sqlite_cli.ok("init", str(t))
    assert "source docker: needs --engine packer" in r.out
    assert sqlite_cli.json("init", str(t))["needs_packer"] is True


def test_broken_template_is_exit_2(sqlite_cli, tmp_path):
    t = tmp_path / "b.pkr.hcl"
    t.write_text('source "local" "x" {\n  command = ["a" "b"]\n}\n')
    r = sqlite_cli("init", str(t))
    assert r.code == 2 and "b.pkr.hcl:2" in r.err
