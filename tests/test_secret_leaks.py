"""No secret leaves the process: a marker secret planted through each input route (--var,
--var-file, PKR_VAR_, a sensitive default) into builds that fail (a type error, a failing
provisioner echoing it, an error message holding it) and that succeed is found nowhere the
tool writes -- the state folder (build logs, ledger file, run folders), the ledger's rows
(SQLite bytes; PostgreSQL through `release audit --format json/csv` and a direct SELECT of
every table), the manifest, the audit export, stdout and stderr -- neither as written nor in
its common transforms (any case, JSON- and URL-escaped, base64 at each alignment); and no
process's command line shows it while a build runs (releasemgr.common.secrets)."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from conftest import need_binary
from releasemgr.common.secrets import MASK, Masker

# one marker per input route; each 8 characters or more, with characters that URL-escaping
# changes ("/", " ") and letters of both cases
SECRETS = {
    "from_var": "Vv/M4rker one-71",
    "from_file": "Ff/M4rker two-72",
    "from_env": "Ee/M4rker three-73",
    "from_default": "Dd/M4rker four-74",
}
NUMBER_SECRET = "Nn/M4rker five-75"  # given to a number-typed sensitive variable: a type error


def forms(secret: str) -> tuple[set[str], set[str]]:
    """(forms compared ignoring case, base64 forms compared exactly) of `secret`."""
    text = {secret, json.dumps(secret)[1:-1], quote(secret, safe=""), quote_plus(secret), quote(secret)}
    b64 = set()
    raw = secret.encode()
    for k in range(3):  # the characters that encode only the secret's bits, at each alignment
        enc = base64.b64encode(b"\0" * k + raw + b"\0\0").decode()
        part = enc[-(-8 * k // 6): 8 * (k + len(raw)) // 6]
        b64 |= {part, part.replace("+", "-").replace("/", "_")}
    return {t.lower() for t in text}, b64


ALL = [*SECRETS.values(), NUMBER_SECRET]
FORMS = [(s, *forms(s)) for s in ALL]


def leaks(text: str | bytes) -> list[str]:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    lowered = text.lower()
    found = []
    for secret, folded, b64 in FORMS:
        found += [f"{secret!r} as {f!r}" for f in folded if f in lowered]
        found += [f"{secret!r} in base64 {f!r}" for f in b64 if f in text]
    return found


def test_the_test_finds_every_transform():
    """The checks below would see each transform (else they would prove nothing)."""
    s = SECRETS["from_var"]
    for sample in (s, s.upper(), s.lower(), quote(s, safe=""), json.dumps({"v": s}),
                   base64.b64encode(s.encode()).decode(), base64.b64encode(b"x" + s.encode()).decode(),
                   base64.b64encode(b"xy" + s.encode() + b"\n").decode(),
                   base64.urlsafe_b64encode(b"?" + s.encode()).decode()):
        assert leaks(f"before {sample} after"), sample
        masked = Masker([s]).mask(f"before {sample} after")
        assert not leaks(masked) and MASK in masked, (sample, masked)


def test_short_values_are_masked_only_as_written():
    m = Masker(["abc12", "xy"])
    assert m.mask("abc12 ABC12 xy") == f"{MASK} ABC12 xy"
    assert m.short_values == ["abc12"]


TEMPLATE = """
variable "from_var" {
  type      = string
  sensitive = true
}
variable "from_file" {
  type      = string
  sensitive = true
}
variable "from_env" {
  type      = string
  sensitive = true
}
variable "from_default" {
  type      = string
  sensitive = true
  default   = "%(from_default)s"
}
variable "count_secret" {
  type      = number
  sensitive = true
  default   = 1
}
variable "broken" {
  type    = bool
  default = false
}
variable "code" {
  type    = number
  default = 0
}
variable "nap" {
  type    = number
  default = 0
}

locals {
  all = "${var.from_var}|${var.from_file}|${var.from_env}|${var.from_default}"
}

source "local" "web" {
  base    = var.broken ? "./missing-${local.all}" : "./app"
  command = ["python3", "-m", "http.server", "--bind", "127.0.0.1"]
}

build {
  name    = "web"
  sources = ["source.local.web"]

  provisioner "shell" {
    environment_vars = ["S1=${var.from_var}", "S2=${var.from_file}", "S3=${var.from_env}", "S4=${var.from_default}"]
    inline = [
      "for s in \\"$S1\\" \\"$S2\\" \\"$S3\\" \\"$S4\\"; do",
      "  echo \\"plain $s\\"",
      "  printf '%%s' \\"$s\\" | base64",
      "  printf 'x%%s' \\"$s\\" | base64",
      "  printf 'xy%%s' \\"$s\\" | base64",
      "  printf '%%s\\\\n' \\"$s\\" | tr a-z A-Z",
      "  V=\\"$s\\" python3 -c 'import os, urllib.parse as u; print(u.quote(os.environ[\\"V\\"], safe=\\"\\"))'",
      "  echo \\"to stderr $s\\" >&2",
      "done",
      "sleep ${var.nap}",
      "test ${var.code} = 0 || { echo \\"failing with $S1 $S2 $S3 $S4\\" >&2; exit ${var.code}; }",
    ]
  }

  provisioner "shell-local" {
    environment_vars = ["L1=${var.from_var}", "L2=${var.from_file}", "L3=${var.from_env}", "L4=${var.from_default}"]
    inline           = ["echo local $L1 $L2 $L3 $L4", "printf '%%s' \\"$L1$L2\\" | base64", "sleep ${var.nap}"]
  }

  post-processor "manifest" {
    output      = "out/manifest.json"
    custom_data = { token = var.from_var, all = local.all }
  }
}
"""


@pytest.fixture
def project(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "index.html").write_text("<p>hi</p>\n")
    t = tmp_path / "web.pkr.hcl"
    t.write_text(TEMPLATE % {"from_default": SECRETS["from_default"]})
    vf = tmp_path / "inputs.pkrvars.hcl"
    vf.write_text(f'from_file = "{SECRETS["from_file"]}"\n')
    return t, vf


def _proc_cmdlines() -> list[str]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError):
                out.append((d / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace"))
    return out


class Sampler:
    """Reads every process's command line, over and over, while a build runs."""

    def __init__(self):
        self.seen: set[str] = set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            self.seen.update(_proc_cmdlines())
            time.sleep(0.02)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)


def _ledger_rows(url: str) -> str:
    """Every row of every table, as text (PostgreSQL; SQLite is read as file bytes)."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")]
        assert "audit_event" in tables and "build" in tables
        return "\n".join(repr(row) for t in tables for row in conn.execute(f'SELECT * FROM "{t}"'))


def test_a_planted_secret_reaches_no_output_file_row_or_command_line(cli, tmp_path, project):
    t, vf = project
    env_secret = {"PKR_VAR_from_env": SECRETS["from_env"]}
    base = ["build", str(t), "--var", f"from_var={SECRETS['from_var']}", "--var-file", str(vf)]
    outputs: list[str] = []

    def run(*args, expect: int, env=None):
        cli.env.update(env_secret if env is None else env)
        r = cli(*args)
        for key in (env_secret if env is None else env):
            cli.env.pop(key, None)
        assert r.code == expect, r
        assert "Traceback" not in r.err and "internal error" not in r.err, r
        outputs.append(r.out + r.err)
        return r

    # a failing provisioner that echoes every secret, as written, in base64 and upper case
    r = run(*base, "--var", "code=3", expect=1)
    assert "plain <sensitive>" in r.out and "to stderr <sensitive>" in r.out, r
    assert "UPPER" not in r.out and MASK in r.out
    # an error message that holds every secret (the build row, build.failed, --json)
    r = run(*base, "--var", "broken=true", expect=1)
    assert f"missing-{MASK}|{MASK}|{MASK}|{MASK}" in r.err, r
    r = run(*base, "--var", "broken=true", "--json", expect=1)
    assert f"missing-{MASK}" in r.out
    # type errors: a sensitive number given text, by --var and by PKR_VAR_
    r = run(*base, "--var", f"count_secret={NUMBER_SECRET}", expect=2)
    assert "count_secret" in r.err and "sensitive and not shown" in r.err, r
    run(*base, "--json", expect=2, env={**env_secret, "PKR_VAR_count_secret": NUMBER_SECRET})
    # a build that succeeds, sampled by a `ps` of every process while its provisioners sleep
    with Sampler() as sampler:
        r = run(*base, "--var", "nap=1.5", expect=0)
    assert any("sleep 1.5" in c for c in sampler.seen), "the sampler never saw the provisioners run"
    assert not [c for c in sampler.seen if leaks(c)], [c for c in sampler.seen if leaks(c)]
    assert "local <sensitive> <sensitive> <sensitive> <sensitive>" in r.out

    # what a user reads back: the audit export (json, csv, table), the version, the builds
    outputs.append(cli.ok("audit", "--format", "json").out)
    outputs.append(cli.ok("audit", "--format", "csv").out)
    outputs.append(cli.ok("audit").out)
    outputs.append(cli.ok("show", "web@v1", "--json").out)
    outputs.append(cli.ok("audit", "verify").out)
    events = cli.json("audit")["events"]
    failed = [e for e in events if e["action"] == "build.failed"]
    assert len(failed) == 3 and any(f"missing-{MASK}" in json.dumps(e) for e in failed), failed
    for text in outputs:
        assert not leaks(text), (leaks(text), text[-3000:])

    # every file the tool wrote: the state folder (logs, ledger, run folders) and the manifest
    written = [p for p in (tmp_path / "state").rglob("*") if p.is_file()]
    written.append(tmp_path / "out" / "manifest.json")
    assert any(p.suffix == ".log" for p in written)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["builds"][-1]["custom_data"]["token"] == MASK
    for p in written:
        assert not leaks(p.read_bytes()), (p, leaks(p.read_bytes()))
    if cli.env["RELEASE_LEDGER"].startswith("postgresql"):
        rows = _ledger_rows(cli.env["RELEASE_LEDGER"])
        assert "build.failed" in rows and MASK in rows
        assert not leaks(rows), leaks(rows)


@pytest.mark.packer
def test_packer_engine_gets_var_values_from_a_private_file_not_its_command_line(sqlite_cli, tmp_path):
    need_binary("packer", "packer")
    secret = SECRETS["from_var"]
    t = tmp_path / "p.pkr.hcl"
    t.write_text("""
variable "from_var" {
  type      = string
  sensitive = true
}
source "null" "n" {
  communicator = "none"
}
build {
  sources = ["source.null.n"]
  provisioner "shell-local" {
    inline = ["test '${var.from_var}' = '%s'", "sleep 1.5"]
  }
}
""" % secret)
    with Sampler() as sampler:
        r = sqlite_cli("build", str(t), "--engine", "packer", "--var", f"from_var={secret}")
    assert r.code == 0, r  # packer read the value from the file (the test in the script passed)
    assert any("packer build" in c for c in sampler.seen), "the sampler never saw packer run"
    assert any("-var-file" in c for c in sampler.seen if "packer build" in c)
    assert not [c for c in sampler.seen if leaks(c)]
    assert not leaks(r.out + r.err)
    for p in (tmp_path / "state").rglob("*"):
        if p.is_file():
            assert not leaks(p.read_bytes()), p


def test_validate_warns_about_short_secrets_and_vars_on_a_remote_command_line(sqlite_cli, tmp_path):
    t = tmp_path / "r.pkr.hcl"
    t.write_text("""
variable "pin" {
  type      = string
  sensitive = true
  default   = "12345"
}
variable "db_password" {
  type    = string
  default = "long-enough-secret"
}
source "null" "n" {
  ssh_host     = "127.0.0.1"
  ssh_username = "u"
  ssh_password = "not-so-secret-either"
}
build {
  sources = ["source.null.n"]
  provisioner "shell" {
    environment_vars = ["DB=${var.db_password}"]
    execute_command  = "chmod +x {{.Path}}; {{.Vars}} {{.Path}}"
    inline           = ["true"]
  }
  provisioner "shell" {
    environment_vars = ["DB=${var.db_password}"]
    inline           = ["true"]
  }
}
""")
    r = sqlite_cli("validate", str(t), "--json")
    warnings = r.json["warnings"]
    short = [w for w in warnings if w["summary"] == 'Sensitive value "pin" is too short to mask reliably']
    assert len(short) == 1 and short[0]["line"] == 2, warnings
    remote = [w for w in warnings if w["summary"] == "A secret on the remote command line"]
    assert len(remote) == 1 and remote[0]["line"] == 20 and "db_password" in remote[0]["detail"], warnings
    assert "12345" not in r.out + r.err and "long-enough-secret" not in r.out + r.err


@pytest.mark.parametrize("remote_path", [None, "script.sh"])
def test_over_ssh_the_default_execute_command_sources_a_private_env_file(sqlite_cli, tmp_path, sshd, remote_path):
    """The sshd runs on this host, so its processes are in /proc too: the remote command line
    (`chmod u+x P; . ENVFILE && P`) holds no value, and the env file is gone afterwards."""
    from test_build_ssh import null_template

    secret = SECRETS["from_var"]
    remote = tmp_path / "remote"
    remote.mkdir()
    where = f'remote_path = "{remote / remote_path}"' if remote_path else f'remote_folder = "{remote}"'
    t = null_template(tmp_path, sshd, f"""
  provisioner "shell" {{
    environment_vars = ["S=${{var.from_var}}"]
    inline           = ["echo got $S", "printf x%s \\"$S\\" | base64", "sleep 1.5"]
    {where}
  }}
""")
    t.write_text('variable "from_var" {\n  type      = string\n  sensitive = true\n}\n' + t.read_text())
    vf = tmp_path / "v.pkrvars.hcl"
    vf.write_text(f'from_var = "{secret}"\n')
    with Sampler() as sampler:
        r = sqlite_cli("build", str(t), "--var-file", str(vf))
    assert r.code == 0, r
    assert f"got {MASK}" in r.out and not leaks(r.out + r.err), r
    assert any("sleep 1.5" in c for c in sampler.seen), "the sampler never saw the provisioner run"
    assert not [c for c in sampler.seen if leaks(c)], [c for c in sampler.seen if leaks(c)]
    assert list(remote.iterdir()) == []  # script and env file removed
