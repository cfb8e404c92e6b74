"""The output contract of docs/json.md, for every command in each outcome (ok, failed,
refused, not found, usage, interrupted): with --json, `build`, `deploy`, `promote`,
`rollback` and `revoke` stream JSON Lines ending with one `result` line; every other
command prints exactly one JSON document; stderr carries JSON Lines or nothing; the exit code
is the table's. Every line is validated against the JSON Schemas published in docs/schemas/.

Also the checks a build makes before it starts (versions, --bump, variable types, AWS
credentials): a build never runs to be refused at the end."""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path

import jsonschema
import pytest
from referencing import Registry, Resource

from conftest import Result, audit_events
from local_images import add_version

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "docs" / "schemas"
STREAMS = {"build", "deploy", "promote", "rollback", "revoke"}
SCHEMA_OF = {"build": "build.json", "deploy": "deployment.json", "promote": "move.json", "rollback": "move.json",
             "revoke": "version.json", "show": "version.json", "register": "version.json",
             "unrevoke": "version.json", "images": "list.json", "versions": "list.json", "servers": "list.json",
             "status": "list.json", "history": "list.json", "audit": "list.json", "retire": "retire.json",
             "prune": "prune.json"}  # any other command: document.json

TOML = """
[[environments]]
name = "dev"

[[environments]]
name = "prod"
requires = "dev"
approvals = 1

[deploy.dev]
count = 2
strategy = "rolling"
batch_size = 1
"""


def _schemas() -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in SCHEMAS.glob("*.json")}


def _validator(name: str) -> jsonschema.protocols.Validator:
    schemas = _schemas()
    registry = Registry().with_resources([(s["$id"], Resource.from_contents(s)) for s in schemas.values()])
    return jsonschema.Draft202012Validator(schemas[name], registry=registry)


@pytest.fixture(scope="module")
def validators():
    return {name: _validator(name) for name in _schemas()}


@pytest.fixture
def fleet_toml():
    return TOML


def command_of(argv: list[str]) -> str:
    words = [a for a in argv if not a.startswith("-")]
    return words[0] if words else ""


def check(validators, argv: list[str], r, want: int) -> None:
    """`release ARGV --json` kept the contract and exited `want`."""
    assert r.code == want, (argv, r)
    for line in r.err.splitlines():  # stderr: JSON Lines or nothing
        assert line.strip() and isinstance(json.loads(line), dict), (argv, r.err)
    cmd = command_of(argv)
    if cmd in STREAMS:
        lines = r.out.splitlines()
        assert lines, (argv, r)
        events = [json.loads(line) for line in lines]
        for e in events:
            validators["event.json"].validate(e)
        assert [e["type"] for e in events].count("result") == 1 and events[-1]["type"] == "result", (argv, r)
        result = events[-1]
        assert result["exit_code"] == r.code and result["ok"] is (r.code == 0), (argv, r)
        if r.code == 0:
            validators[SCHEMA_OF[cmd]].validate({k: v for k, v in result.items() if k not in ("type", "ok",
                                                                                           "exit_code")})
        return
    doc = json.loads(r.out)  # exactly one document: anything after it fails here
    assert isinstance(doc, dict), (argv, r)
    if r.code == 0:
        key = "audit verify" if argv[:2] == ["audit", "verify"] else cmd
        validators[SCHEMA_OF.get(key, "document.json")].validate(doc)
    else:
        validators["error.json"].validate(doc)
        assert doc["exit_code"] == r.code


BAD = 'source "local" "web" {\n  command = ["a" "b"]\n}\n'
FAILING = """
source "local" "web" {
  command = ["true"]
}
build {
  name    = "broken"
  sources = ["source.local.web"]
  provisioner "shell" {
    inline = ["echo about to fail", "exit 3"]
  }
}
"""


def test_every_command_in_every_outcome_keeps_the_contract(fleet, validators):
    shutil.copytree(ROOT / "templates", fleet.cwd / "templates")
    (fleet.cwd / "bad.pkr.hcl").write_text(BAD)
    (fleet.cwd / "failing.pkr.hcl").write_text(FAILING)
    seen: dict[str, set[int]] = {}

    def run(want: int, *argv: str, actor: str | None = None):
        r = fleet(*argv, "--json", actor=actor)
        check(validators, list(argv), r, want)
        cmd = command_of(list(argv))
        seen.setdefault(cmd, set()).add(want)
        return r

    tpl = "templates/local.pkr.hcl"
    # build: built, nothing to do, failed, bad template, not found, bad usage
    r = run(0, "build", tpl)
    assert [e["type"] for e in r.events][:-1] and {e["type"] for e in r.events[:-1]} == {"log"}
    skipped = run(0, "build", tpl)
    assert len(skipped.out.splitlines()) == 1 and skipped.json["skipped"] is True  # one line, not a pretty doc
    assert run(1, "build", "failing.pkr.hcl").json["status"] == "failed"
    assert run(2, "build", "bad.pkr.hcl").json["error"] == "template"
    assert run(4, "build", "missing.pkr.hcl").json["error"] == "not_found"
    run(2, "build", tpl, "--no-such-option")
    run(2, "build", tpl, "--version", "banana")

    # templates
    run(0, "validate", tpl)
    run(2, "validate", "bad.pkr.hcl")
    run(4, "validate", "missing.pkr.hcl")
    run(0, "inspect", tpl)
    run(4, "inspect", "missing.pkr.hcl")
    run(0, "fmt", "--check", tpl)
    run(4, "fmt", "missing.pkr.hcl")
    run(0, "init", tpl)
    run(4, "init", "missing.pkr.hcl")

    # versions
    add_version(fleet, fleet.state, "web", "contract v2")
    add_version(fleet, fleet.state, "web", "contract v3", mode="500")  # never healthy
    run(0, "register", "other", "--artifact", "aws:us-east-1:ami-0abc123", "--version", "1.0.0")
    run(2, "register", "other", "--artifact", "aws:us-east-1:ami-0abc124", "--version", "1.0.0")  # conflict
    run(4, "register", "other", "--from-manifest", "missing.json")
    run(2, "register", "other")
    run(0, "images")
    run(0, "versions", "web")
    run(4, "versions", "nosuch")
    run(0, "show", "web@v1")
    run(4, "show", "web@v99")
    run(2, "show", "web@@")

    # promote, approve, deploy, rollback
    r = run(0, "promote", "web@v1", "--to", "dev", "--deploy")  # streams the deploy's progress
    assert "progress" in {e["type"] for e in r.events} and r.json["deployment"]["status"] == "succeeded"
    run(0, "promote", "web@v2", "--to", "dev")
    run(3, "promote", "web@v3", "--to", "prod")  # never in dev
    run(4, "promote", "web@v99", "--to", "dev")
    run(2, "promote", "web@v1")  # no --to
    run(3, "promote", "web@v2", "--to", "prod")  # no approval yet
    run(0, "approve", "web@v2", "--env", "prod", actor="bob")
    run(4, "approve", "web@v2", "--env", "nope", actor="bob")
    run(0, "promote", "web@v2", "--to", "prod")
    run(0, "deploy", "web", "--env", "dev", "--dry-run")
    r = run(0, "deploy", "web", "--env", "dev")
    assert "progress" in {e["type"] for e in r.events}
    run(4, "deploy", "web", "--env", "nope")
    run(2, "deploy", "web", "--env", "dev", "--health-timeout", "soon")
    run(0, "promote", "web@v3", "--to", "dev")
    r = run(1, "deploy", "web", "--env", "dev", "--health-timeout", "1")  # v3 never becomes healthy
    assert r.json["error"] == "deploy_failed"
    run(0, "rollback", "web", "--env", "dev", "--deploy")
    run(4, "rollback", "nosuch", "--env", "dev")
    run(2, "rollback", "web")

    # servers, retire, prune
    run(0, "servers", "web", "--env", "dev")
    run(0, "status")
    run(4, "status", "--env", "nope")
    run(0, "history", "web")
    run(0, "retire", "web", "--env", "dev", "--dry-run")
    run(4, "retire", "nosuch", "--env", "dev")
    run(4, "retire", "web", "--env", "nope")
    run(0, "prune", "web", "--keep", "5", "--dry-run")
    run(2, "prune", "web")

    # revoke, unrevoke
    run(0, "revoke", "web@v3", "--reason", "broken")
    run(2, "revoke", "web@v3", "--reason", "again")
    run(4, "revoke", "web@v99", "--reason", "no such")
    run(0, "unrevoke", "web@v3", "--reason", "fixed")

    # policy, audit, ledger, gc
    run(0, "policy", "show")
    run(0, "policy", "apply", "--dry-run")
    run(0, "audit")
    run(0, "audit", "verify")
    run(0, "ledger", "info")
    run(2, "audit", "--since", "not-a-time")

    from releasemgr.cli import LAZY_COMMANDS

    missing = set(LAZY_COMMANDS) - set(seen) - {"gc"}  # gc: test_gc_keeps_the_contract
    assert not missing, f"commands the contract test does not run: {missing}"
    for cmd in ("build", "deploy", "promote", "show", "retire", "validate", "register"):
        assert {0, 2, 4} <= seen[cmd] or cmd == "retire" and {0, 4} <= seen[cmd], (cmd, seen[cmd])
    assert 1 in seen["build"] and 1 in seen["deploy"] and 3 in seen["promote"]


def test_gc_keeps_the_contract(fleet, validators, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(fleet.cwd / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(fleet.cwd / "none"))
    r = fleet("gc", "--dry-run", "--json")
    check(validators, ["gc", "--dry-run"], r, r.code)  # ok, or an error document: the shape holds


def test_interrupted_deploy_ends_its_stream_with_a_result_line(fleet, validators):
    add_version(fleet, fleet.state, "web", "slow v1", mode="hang")  # never answers
    fleet.ok("promote", "web@v1", "--to", "dev")
    p = fleet.proc("deploy", "web", "--env", "dev", "--health-timeout", "60", "--json")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not list((fleet.state).glob("servers/*")):
        time.sleep(0.1)
    time.sleep(1.0)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    r = Result(p.returncode, out, err)
    check(validators, ["deploy"], r, 143)
    assert r.json["error"] == "interrupted" and r.json["signal"] == "SIGTERM"


def test_a_promote_streams_whatever_release_toml_says(fleet, validators):
    """auto_deploy in release.toml or not, `promote --json` is a stream ending with a result."""
    add_version(fleet, fleet.state, "web", "auto v1")
    plain = fleet("promote", "web@v1", "--to", "dev", "--json")
    check(validators, ["promote"], plain, 0)
    assert plain.events[-1]["type"] == "result" and "deployment" not in plain.events[-1]
    (fleet.cwd / "release.toml").write_text(TOML.replace('name = "prod"', 'name = "prod"\nauto_deploy = true')
                                            .replace("approvals = 1", ""))
    fleet.ok("policy", "apply")
    auto = fleet("promote", "web@v1", "--to", "prod", "--json")
    check(validators, ["promote"], auto, 0)
    assert auto.events[-1]["deployment"]["status"] == "succeeded"
    assert "progress" in {e["type"] for e in auto.events}


def test_the_schemas_are_valid_and_published_in_json_md():
    text = (ROOT / "docs" / "json.md").read_text()
    for name, schema in _schemas().items():
        jsonschema.Draft202012Validator.check_schema(schema)
        assert f"(schemas/{name})" in text, f"docs/json.md does not publish {name}"


# -- checked before a build starts -------------------------------------------------------------

def _build_starts(cli) -> int:
    return sum(1 for a, _ in audit_events(cli) if a == "build.started")


@pytest.fixture
def local_tpl(sqlite_cli):
    shutil.copytree(ROOT / "templates", sqlite_cli.cwd / "templates")
    path = sqlite_cli.cwd / "templates" / "local.pkr.hcl"
    path.write_text(path.read_text() + '\nvariable "replicas" {\n  type    = number\n  default = 1\n}\n')
    return "templates/local.pkr.hcl"


@pytest.mark.parametrize("args, words", [
    (["--version", "banana"], "not a semantic version"),
    (["--version", "1.0.0", "--bump", "minor"], "either --version or --bump"),
    (["--var", "replicas=three"], 'Invalid value for variable "replicas"'),
    (["--var", "nosuch=1"], "Undefined -var variable"),
])
def test_bad_build_arguments_exit_2_before_anything_runs(sqlite_cli, local_tpl, args, words):
    r = sqlite_cli("build", local_tpl, *args)
    assert r.code == 2 and words in r.err, r
    assert not (sqlite_cli.cwd / "state" / "builds").exists()  # no build log: nothing ran


def test_a_used_version_is_refused_before_the_build_runs(sqlite_cli, local_tpl):
    sqlite_cli.ok("build", local_tpl, "--version", "1.0.0")
    assert _build_starts(sqlite_cli) == 1
    r = sqlite_cli("build", local_tpl, "--version", "1.0.0", "--var", "greeting=changed", "--json")
    assert r.code == 2 and r.json["error"] == "conflict" and "already has a version 1.0.0" in r.json["message"]
    assert [e["type"] for e in r.events] == ["result"]  # no log line: nothing was built
    assert _build_starts(sqlite_cli) == 1
    r = sqlite_cli("build", local_tpl, "--version", "v1.0.0", "--var", "greeting=changed")
    assert r.code == 2 and _build_starts(sqlite_cli) == 1  # "v1.0.0" is 1.0.0
    sqlite_cli.ok("build", local_tpl, "--version", "1.1.0", "--var", "greeting=changed")


MIXED = """
source "amazon-ebs" "cloud" {
  region        = "us-east-1"
  instance_type = "t3.micro"
  source_ami    = "ami-0123456789abcdef0"
  ssh_username  = "ubuntu"
  ami_name      = "web-{{timestamp}}"
}
source "local" "web" {
  command = ["true"]
}
build {
  name    = "mixed"
  sources = ["source.amazon-ebs.cloud", "source.local.web"]
}
"""


def test_aws_credentials_are_checked_only_for_an_amazon_source_and_before_it_runs(sqlite_cli, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(sqlite_cli.cwd / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(sqlite_cli.cwd / "no-config"))
    (sqlite_cli.cwd / "mixed.pkr.hcl").write_text(MIXED)
    r = sqlite_cli("build", "mixed.pkr.hcl", "--json")
    assert r.code == 2 and "amazon-ebs.cloud: no AWS credentials" in r.json["message"], r
    assert "AWS_ACCESS_KEY_ID" in r.json["hint"]
    assert not (sqlite_cli.cwd / "state" / "builds").exists()
    r = sqlite_cli.ok("build", "mixed.pkr.hcl", "--only", "local.web")  # no AWS source: no AWS needed
    assert "Build finished" in r.out
