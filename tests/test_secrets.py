"""One rule for what is secret and how it is hidden (releasemgr.common.secrets), in every place it shows."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from releasemgr.common.secrets import MASK, Masker, is_secret_name
from releasemgr.template.schema import is_sensitive_option
from releasemgr.ui import Ui

PASSPHRASE = "correct-horse-battery"


@pytest.mark.parametrize("name", [
    "access_key", "secret_key", "token", "ssh_password", "winrm_password", "client_secret", "vault_token",
    "db_password", "db_password_hash", "ssh_private_key", "api_key", "apiKey", "dbPassword", "githubtoken",
    "AWS_SECRET_ACCESS_KEY", "credentials", "encryption_key",
    # settled: the schema called these sensitive, build recorded them as they were
    "api_passphrase", "mfa_code", "otp", "totp_seed",
])
def test_secret_names(name):
    assert is_secret_name(name) and is_sensitive_option(name)


@pytest.mark.parametrize("name", [
    # settled: an AWS metadata option ("required" / "optional"), which build used to mask
    "http_tokens",
    "ssh_username", "region", "greeting", "keyboard", "monkey", "footprint", "key",
    # they point at or describe a secret, or are public
    "ssh_private_key_file", "kms_key_id", "skip_credential_validation", "temporary_key_pair_name",
    "ssh_public_key", "ssh_host_key", "windows_password_timeout", "shared_credentials_file",
])
def test_names_that_are_not_secret(name):
    assert not is_secret_name(name) and not is_sensitive_option(name)


def test_masker_masks_the_longest_value_first_and_inside_json_strings():
    m = Masker(["abc", "abcdef", "ab", None, 'q"uote'])
    assert m.mask("x abcdef abc ab") == f"x {MASK} {MASK} ab"
    assert m.mask('{"v": "q\\"uote"}') == f'{{"v": "{MASK}"}}'
    assert not Masker() and Masker(["xyz"])


def test_the_ui_masks_everything_it_writes():
    out, err = io.StringIO(), io.StringIO()
    ui = Ui(stdout=out, stderr=err)
    ui.add_secret(PASSPHRASE)
    ui.add_secret(12345)
    ui.out(f"a {PASSPHRASE} 12345")
    ui.err(f"b {PASSPHRASE}")
    assert out.getvalue() == f"a {MASK} {MASK}\n" and err.getvalue() == f"b {MASK}\n"


# -- end to end: build, ledger, show, errors ---------------------------------------------------

def _template(tmp_path: Path, base: str = "./app") -> Path:
    (tmp_path / "app").mkdir(exist_ok=True)
    (tmp_path / "app" / "index.html").write_text("<p>hi</p>\n")
    t = tmp_path / "web.pkr.hcl"
    t.write_text(f"""
variable "api_passphrase" {{
  type    = string
  default = ""
}}

variable "http_tokens" {{
  type    = string
  default = "required"
}}

source "local" "web" {{
  base    = "{base}"
  command = ["python3", "-m", "http.server", "--bind", "127.0.0.1"]
}}

build {{
  name    = "web"
  sources = ["source.local.web"]
  provisioner "shell" {{
    inline = ["echo passphrase ${{var.api_passphrase}}"]
  }}
}}
""")
    return t


def test_a_secret_variable_by_name_is_redacted_and_reaches_no_file(sqlite_cli, tmp_path):
    """Settled: api_passphrase was recorded unredacted by build; http_tokens was masked."""
    t = _template(tmp_path)
    r = sqlite_cli.ok("build", str(t), "--var", f"api_passphrase={PASSPHRASE}")
    assert PASSPHRASE not in r.out + r.err and f"passphrase {MASK}" in r.out
    variables = sqlite_cli.json("show", "web@v1")["variables"]
    assert variables == {"api_passphrase": MASK, "http_tokens": "required"}
    for p in (tmp_path / "state").rglob("*"):
        if p.is_file():
            assert PASSPHRASE.encode() not in p.read_bytes(), p


def test_an_error_with_a_secret_in_it_is_masked_in_text_and_json(sqlite_cli, tmp_path):
    t = _template(tmp_path, base="./missing-${var.api_passphrase}")
    r = sqlite_cli("build", str(t), "--var", f"api_passphrase={PASSPHRASE}")
    assert r.code == 1 and PASSPHRASE not in r.out + r.err, r
    assert f"missing-{MASK} does not exist" in r.err
    r = sqlite_cli("build", str(t), "--var", f"api_passphrase={PASSPHRASE}", "--json")
    assert r.code == 1 and PASSPHRASE not in r.out + r.err, r
    error = r.out.strip().splitlines()
    doc = json.loads(error[-1])  # a build streams: its result line carries the error
    assert doc["error"] == "failed" and f"missing-{MASK}" in doc["message"]


def test_click_usage_errors_go_through_the_ui(sqlite_cli):
    r = sqlite_cli("status", "--no-such-option")
    assert r.code == 2 and "Error: No such option '--no-such-option'" in r.err and r.out == ""


def test_a_variables_file_that_does_not_parse_shows_no_line_of_it(sqlite_cli, tmp_path):
    """Its values are not known to be secret before it parses: the error points at the line
    and column but never prints the line (a password typed with a stray word after it)."""
    (tmp_path / "bad.pkrvars.hcl").write_text('db_password = "hunter2-correct-horse" oops\n')
    template = Path(__file__).resolve().parent.parent / "templates" / "local.pkr.hcl"
    r = sqlite_cli("validate", "--var-file", "bad.pkrvars.hcl", str(template))
    assert r.code == 2 and "bad.pkrvars.hcl:1:" in r.out + r.err and "hunter2" not in r.out + r.err, r
    r = sqlite_cli("validate", "--json", "--var-file", "bad.pkrvars.hcl", str(template))
    assert r.code == 2 and r.json["errors"][0]["file"] == "bad.pkrvars.hcl" and "hunter2" not in r.out + r.err, r
