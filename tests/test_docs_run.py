"""The shell examples of README.md and docs/*.md run: every ```sh/```console block is executed
here (or by a session of tests/test_docs.py, which compares its output) in a scratch folder with
the shipped templates, against moto and a real sshd where a line needs AWS; a block that cannot
run here says so on its first line (`# not run: <why>`). Also: the shipped templates build
with both engines, and commands that need AWS ask for it only when AWS is used."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import Cli, need_binary, session_env

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SHELL_LANGS = ("sh", "console", "shell", "bash")
NOT_RUN = re.compile(r"^\s*# not run: \S.+$")
# docs whose ```console blocks tests/test_docs.py replays and compares (test_*_examples_are_real_output)
COMPARED_IN_TEST_DOCS = {"concepts.md", "policies.md", "json.md", "config.md"}


@dataclass(frozen=True)
class ShellBlock:
    doc: str
    line: int
    lang: str
    text: str

    @property
    def not_run(self) -> bool:
        first = self.text.strip().splitlines()[0] if self.text.strip() else ""
        return bool(NOT_RUN.match(first))

    def commands(self) -> list[str]:
        """The command lines: `$ ` lines of a console block, every non-comment line of a sh block."""
        if self.lang == "console":
            return [x[2:].strip() for x in self.text.splitlines() if x.startswith("$ ")]
        return [x.strip() for x in self.text.splitlines() if x.strip() and not x.strip().startswith("#")]

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}"


def doc_paths() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def shell_blocks(path: Path) -> list[ShellBlock]:
    text = path.read_text(encoding="utf-8")
    name = path.name if path.parent == DOCS else str(path.relative_to(ROOT))
    out = []
    fence = re.compile(r"^( *)```(\w+)\n(.*?)^ *```", re.S | re.M)
    for m in fence.finditer(text):
        indent, lang, body = m.groups()
        if lang in SHELL_LANGS:
            body = "\n".join(x[len(indent):] if x.startswith(indent) else x for x in body.splitlines())
            out.append(ShellBlock(name, text.count("\n", 0, m.start()) + 1, lang, body))
    return out


# -- running a block -----------------------------------------------------------------------------

@dataclass
class Ran:
    line: str
    code: int
    out: str
    err: str


def _release(argv: list[str]) -> tuple[int, str, str]:
    from releasemgr.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def _tokens(line: str) -> list[str]:
    lex = shlex.shlex(line, posix=True, punctuation_chars="|&><")
    lex.whitespace_split = True
    return list(lex)


class Shell:
    """Runs a doc's command lines as a user types them, in one scratch folder: `release ...` in
    this process (fast), `&&`, `> file` and `| other command` (the rest through bash), `export`."""

    def __init__(self, cwd: Path, env: dict[str, str | None]):
        self.cwd = cwd
        self.env = dict(env)
        self.ran: list[Ran] = []

    def run(self, line: str, *, expect: int = 0) -> list[Ran]:
        tokens = _tokens(line)
        done = []
        while tokens:
            cut = tokens.index("&&") if "&&" in tokens else len(tokens)
            part, tokens = tokens[:cut], tokens[cut + 1:]
            r = self._one(part, line)
            done.append(r)
            if r.code != 0:
                break
        self.ran += done
        last = done[-1]
        assert last.code == expect and "Traceback" not in last.err, \
            f"`{line}` exited {last.code} (expected {expect}):\n{last.out[-3000:]}\n{last.err[-3000:]}"
        return done

    def _one(self, tokens: list[str], line: str) -> Ran:
        if tokens[0] == "export":
            for assignment in tokens[1:]:
                key, _, value = assignment.partition("=")
                self.env[key] = os.path.expandvars(value)
            return Ran(line, 0, "", "")
        redirect = None
        if ">" in tokens:
            i = tokens.index(">")
            redirect, tokens = tokens[i + 1], tokens[:i]
        pipe = None
        if "|" in tokens:
            i = tokens.index("|")
            pipe, tokens = tokens[i + 1:], tokens[:i]
        with session_env(self.cwd, self.env):
            if tokens[0] == "release":
                code, out, err = _release(tokens[1:])
            else:
                p = subprocess.run(tokens, capture_output=True, text=True, timeout=600, env=dict(os.environ))
                code, out, err = p.returncode, p.stdout, p.stderr
            if pipe and code == 0:
                p = subprocess.run(["bash", "-c", shlex.join(pipe)], input=out, capture_output=True, text=True,
                                   timeout=60, env=dict(os.environ))
                code, out, err = p.returncode, p.stdout, err + p.stderr
        if redirect:
            (self.cwd / redirect).write_text(out, encoding="utf-8")
            out = ""
        return Ran(shlex.join(tokens), code, out, err)

    def run_block(self, block: ShellBlock, *, expect: dict[str, int] | None = None) -> None:
        """Every command of the block; for a console block, what each prints is compared with
        the lines the doc shows under it."""
        expect = expect or {}
        if block.lang != "console":
            for cmd in block.commands():
                self.run(cmd, expect=expect.get(cmd, 0))
            return
        shown: list[tuple[str, list[str]]] = []
        for x in block.text.splitlines():
            if x.startswith("$ "):
                shown.append((x[2:].strip(), []))
            elif shown:
                shown[-1][1].append(x)
        for cmd, lines in shown:
            done = self.run(cmd, expect=expect.get(cmd, 0))
            got = "".join(r.out + r.err for r in done)
            want = "\n".join(lines).strip()
            assert _plain(got) == _plain(want), f"{block}: `{cmd}` shows\n{want}\n\nbut prints\n{got}"


def _plain(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def _scratch(tmp_path: Path, **extra: str | None) -> Shell:
    """A scratch folder with the shipped templates, no release.toml, no AWS credentials."""
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    env: dict[str, str | None] = {
        "RELEASE_ACTOR": "alice@laptop", "RELEASE_STATE": None, "RELEASE_LEDGER": None, "RELEASE_CONFIG": None,
        "NO_COLOR": "1", "AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None, "AWS_SESSION_TOKEN": None,
        "AWS_PROFILE": None, "AWS_ENDPOINT_URL": None, "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"), **extra}
    return Shell(tmp_path, env)


def blocks_of(doc: str) -> list[ShellBlock]:
    path = ROOT / doc if doc == "README.md" else DOCS / doc
    return [b for b in shell_blocks(path) if not b.not_run]


# Which test runs each doc's runnable blocks (beside the docs test_docs.py compares).
RUN_HERE = {
    "README.md": "test_readme_runs",
    "audit.md": "test_audit_doc_runs",
    "aws.md": "test_gc_without_aws_says_so_and_needs_no_credentials",
    "builds.md": "test_builds_doc_runs",
    "deploy.md": "test_deploy_doc_runs",
    "fmt.md": "test_fmt_doc_runs",
    "completion.md": "test_completion_doc_runs",
    "security.md": "test_security_doc_runs",
}


def test_every_shell_block_runs_or_says_why_not():
    """Each ```sh/```console block of README.md and docs/*.md is run by a test of this file
    or of tests/test_docs.py, or its first line says `# not run: <reason>`."""
    unclaimed, blocks = [], 0
    for path in doc_paths():
        for b in shell_blocks(path):
            blocks += 1
            if b.not_run:
                continue
            if b.doc in RUN_HERE or (b.doc in COMPARED_IN_TEST_DOCS and b.lang == "console"):
                continue
            unclaimed.append(str(b))
    assert blocks >= 40
    assert not unclaimed, f"shell blocks no test runs (run them, or mark `# not run: why`): {unclaimed}"
    for name, test in RUN_HERE.items():
        assert test in globals(), f"RUN_HERE names {test}, which does not exist"
        assert blocks_of(name), f"{name} has no runnable shell block any more: drop it from RUN_HERE"


def test_blocks_not_run_are_few_and_say_why():
    skipped = [b for p in doc_paths() for b in shell_blocks(p) if b.not_run]
    assert len(skipped) <= 5, f"too many blocks are not run: {[str(b) for b in skipped]}"
    for b in skipped:
        reason = b.text.strip().splitlines()[0].split("# not run:", 1)[1].strip()
        assert len(reason) >= 15, f"{b}: say why it is not run"


# -- docs/fmt.md ---------------------------------------------------------------------------------

def test_fmt_doc_runs(tmp_path):
    sh = _scratch(tmp_path)
    # the doc's folder: one file that fmt rewrites (its name is what `release fmt` prints)
    shutil.rmtree(tmp_path / "templates")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "web.pkr.hcl").write_text('variable "x" {\n  type = string\n  default="a"\n}\n')
    for block in blocks_of("fmt.md"):
        sh.run_block(block)
    assert 'default = "a"' in (tmp_path / "templates" / "web.pkr.hcl").read_text()


# -- docs/security.md ---------------------------------------------------------------------------

def test_security_doc_runs(tmp_path):
    sh = _scratch(tmp_path)
    for block in blocks_of("security.md"):  # the one example shows a refused ledger url: exit 2
        sh.run_block(block, expect={"release --ledger sqlite+pysqlite:///x.db status": 2})


# -- docs/completion.md -------------------------------------------------------------------------

def test_completion_doc_runs(tmp_path):
    """Each line turns completion on in a real shell (a scratch HOME); the scripts define it."""
    home, bindir = tmp_path / "home", tmp_path / "bin"
    (home / ".config" / "fish" / "completions").mkdir(parents=True)
    bindir.mkdir()
    (bindir / "release").write_text(f"#!/bin/sh\nexec {sys.executable} -m releasemgr \"$@\"\n")
    (bindir / "release").chmod(0o755)
    env = {**os.environ, "HOME": str(home), "PATH": f"{bindir}:{os.environ['PATH']}", "PYTHONPATH": str(ROOT)}
    for block in blocks_of("completion.md"):
        line = block.text.strip()
        # eval's argument, printed: bash cannot evaluate zsh's script, and the shell ends here anyway
        shell_line = line.replace('eval "$(', 'script="$(', 1) + '; echo "$script"' if line.startswith("eval") else line
        r = subprocess.run(["bash", "-c", shell_line], env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, (line, r.stderr)
        if line.startswith("eval"):
            assert "_RELEASE_COMPLETE" in r.stdout and "complete" in r.stdout, (line, r.stdout[:300])
    fish = (home / ".config" / "fish" / "completions" / "release.fish").read_text()
    assert "complete" in fish and "release" in fish


# -- docs/audit.md -------------------------------------------------------------------------------

def test_audit_doc_runs(tmp_path):
    sh = _scratch(tmp_path)
    for line in ["release build templates/local.pkr.hcl", "release promote web@v1 --to dev",
                 "release promote web@v1 --to staging --ticket CHG-1234"]:
        sh.run(line)
    for block in blocks_of("audit.md"):
        sh.run_block(block)
    csv = (tmp_path / "promotions.csv").read_text()
    assert csv.splitlines()[0].startswith("seq,") and len(csv.splitlines()) == 3, csv  # two promotions
    by_ticket = [r for r in sh.ran if "--ticket" in r.line and "--json" in r.line][0]
    assert '"CHG-1234"' in by_ticket.out
    head = [r for r in sh.ran if r.line.startswith("release audit verify --json")][-1]
    assert re.fullmatch(r"\d+:[0-9a-f]{64}\n", head.out), head.out  # what jq -r .head printed
    assert any("re-anchored" in r.out for r in sh.ran)


# -- docs/deploy.md ------------------------------------------------------------------------------

@pytest.fixture
def cleanup_servers(tmp_path):
    from local_images import cleanup

    yield
    cleanup(tmp_path)


def test_deploy_doc_runs(tmp_path, cleanup_servers):
    sh = _scratch(tmp_path)
    for line in ["release build templates/local.pkr.hcl", "release promote web@v1 --to dev",
                 "release promote web@v1 --to staging", "release promote web@v1 --to prod",
                 "release deploy web --env prod --count 2",
                 "release build templates/local.pkr.hcl --var greeting=hola",
                 "release promote web@v2 --to dev", "release promote web@v2 --to staging"]:
        sh.run(line)
    blocks = blocks_of("deploy.md")
    first = blocks[0]
    hook = next(b for b in blocks if b.text.startswith("#!/bin/sh"))
    sh.run_block(first)
    servers = sh.run("release servers web --env prod --json")[-1].out
    assert '"version": "v1"' in servers and '"v2"' not in servers.split('"retired"')[0]
    _run_nginx_hook(tmp_path, hook)


def _run_nginx_hook(tmp_path: Path, hook: ShellBlock) -> None:
    """The route hook script of deploy.md renders an upstream and reloads nginx (a stand-in
    `nginx` on PATH records how it was called)."""
    script = tmp_path / "nginx-upstream.sh"
    script.write_text(hook.text)
    bin_dir, conf = tmp_path / "bin", tmp_path / "conf.d"
    bin_dir.mkdir()
    conf.mkdir()
    fake = bin_dir / "nginx"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path}/nginx-calls\n')
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "NGINX_CONF_DIR": str(conf),
           "RELEASE_IMAGE": "web", "RELEASE_ENV": "prod", "RELEASE_ADDRESSES": "127.0.0.1:8001 127.0.0.1:8002"}
    subprocess.run(["sh", str(script)], env=env, check=True, timeout=30)
    assert (conf / "upstream-web_prod.conf").read_text() == (
        "upstream web_prod {\n    server 127.0.0.1:8001 max_fails=2 fail_timeout=5s;\n"
        "    server 127.0.0.1:8002 max_fails=2 fail_timeout=5s;\n}\n")
    assert (tmp_path / "nginx-calls").read_text().split("\n")[:2] == ["-t -q", "-s reload"]


# -- docs/builds.md ------------------------------------------------------------------------------

def test_builds_doc_runs(tmp_path):
    sh = _scratch(tmp_path)
    for block in blocks_of("builds.md"):
        sh.run_block(block)
    assert "Build finished: web@v1" in sh.ran[-1].out
    r = sh.run("release build templates/", expect=2)[-1]
    assert "choose one with --build NAME" in r.err and "web-ami, web" in r.err


# -- gc without AWS (docs/aws.md) ----------------------------------------------------------------

def test_gc_without_aws_says_so_and_needs_no_credentials(tmp_path):
    """A ledger of local builds only: gc does not ask AWS (no credentials here), says there is
    nothing, exit 0; once the ledger records an AMI it does ask (and without credentials says so)."""
    sh = _scratch(tmp_path)
    sh.run("release build templates/local.pkr.hcl")
    for block in blocks_of("aws.md"):
        sh.run_block(block)
    r = sh.run("release gc --dry-run --json")[-1]
    assert '"aws": false' in r.out and '"leftovers": []' in r.out
    sh.run("release register web-ami --artifact aws:us-east-1:ami-0abc123")
    r = sh.run("release gc --dry-run", expect=1)[-1]
    assert "credentials" in r.err.lower(), r


# -- README.md: the local workflow, the amazon-ebs template against moto and sshd ---------------

FAKE_SUDO = '#!/bin/sh\nexec "$@"\n'
FAKE_APT = '#!/bin/sh\necho "apt-get (stand-in) $*"\n'


def _aws_box(tmp_path: Path, aws):
    """An sshd that plays the EC2 instance (moto's instances have no reachable address) with
    `sudo` and `apt-get` stand-ins on its PATH, its RSA key imported as a key pair."""
    from sshd_fixture import Sshd
    from test_aws_build import import_key

    fake_bin = tmp_path / "instance-bin"
    fake_bin.mkdir()
    for name, text in (("sudo", FAKE_SUDO), ("apt-get", FAKE_APT)):
        (fake_bin / name).write_text(text)
        (fake_bin / name).chmod(0o755)
    class Instance(Sshd):
        def write_config(self) -> None:  # sshd takes the first SetEnv line only: PATH joins it
            super().write_config()
            text = self.config.read_text().replace("SetEnv SHLVL=1", f"SetEnv SHLVL=1 PATH={fake_bin}:/usr/bin:/bin")
            self.config.write_text(text)

    sshd = Instance(tmp_path / "instance").start()
    import_key(aws, sshd)
    return sshd


def point_amazon_template_at(template: Path, sshd) -> None:
    """The shipped amazon-ebs template, its SSH connection pointed at `sshd` (the only change)."""
    text = template.read_text()
    old = '  ssh_username = "ubuntu"\n'
    assert old in text
    template.write_text(text.replace(old, (
        f'  ssh_username         = "{sshd.username}"\n  ssh_host             = "127.0.0.1"\n'
        f'  ssh_port             = {sshd.port}\n  ssh_timeout          = "20s"\n'
        f'  ssh_keypair_name     = "release-test"\n'
        f'  ssh_private_key_file = "{sshd.folder / "id_rsa"}"\n')))


def test_readme_runs(tmp_path, aws, cleanup_servers):
    """README.md's blocks: the whole local workflow of "Using it" (real builds, servers,
    rollback, retire), then templates/amazon-ebs.pkr.hcl built natively against moto with a
    real sshd as the instance, and `gc --dry-run` looking at AWS because the ledger now has AMIs."""
    sshd = _aws_box(tmp_path, aws)
    try:
        sh = _scratch(tmp_path, **aws.env())
        point_amazon_template_at(tmp_path / "templates" / "amazon-ebs.pkr.hcl", sshd)
        blocks = blocks_of("README.md")
        assert [b.commands()[0].split("#")[0].strip() for b in blocks] == ["bash .ci/main-job", "pip install -e ."], \
            "README.md: a new runnable block needs a test here (the main job's is test_main_job_runs)"
        for cmd in blocks[1].commands():
            if cmd.startswith("pip install"):
                # the package is installed in this environment: what `pip install -e .` would give
                from importlib.metadata import distribution

                assert distribution("releasemgr").metadata["Name"] == "releasemgr"
                continue
            sh.run(cmd)
        out = {r.line: r for r in sh.ran}
        assert "web@v1 (0.1.0)" in out["release build templates/local.pkr.hcl --bump minor"].out
        assert "web@v2" in out["release build templates/local.pkr.hcl --var greeting=hola"].out
        ami = out["release build templates/amazon-ebs.pkr.hcl"]
        assert "apt-get (stand-in) install -y nginx" in ami.out and "Build finished: web-ami@v1" in ami.out
        v = sh.run("release show web-ami@v1 --json")[-1].out
        assert '"us-east-1"' in v and '"us-west-2"' in v and "ami-" in v
        assert "nothing left behind" in out["release gc --dry-run"].out
        assert "Looking for leftovers in us-east-1" in out["release gc --dry-run"].err
    finally:
        sshd.stop()


# -- the shipped templates with --engine packer (packer 1.6.6) -----------------------------------

PLUGINS_TEMPLATE = """packer {
  required_version = ">= 1.7.0"
  required_plugins {
    amazon = {
      version = ">= 1.2.0"
      source  = "github.com/hashicorp/amazon"
    }
  }
}

source "file" "out" {
  content = "hello"
  target  = "TARGET"
}

build {
  name    = "filey"
  sources = ["source.file.out"]
}
"""


@pytest.mark.packer
def test_old_packer_gets_the_template_without_required_plugins(sqlite_cli, tmp_path):
    """Debian's packer 1.6.6 stops at `required_plugins`; release hands it a copy without
    them, says so in one line, and the user's file keeps them."""
    packer = need_binary("packer", "packer")
    version = subprocess.run([packer, "version"], capture_output=True, text=True).stdout
    t = tmp_path / "f.pkr.hcl"
    t.write_text(PLUGINS_TEMPLATE.replace("TARGET", str(tmp_path / "out.txt")))
    direct = subprocess.run([packer, "build", str(t)], capture_output=True, text=True, timeout=120)
    r = sqlite_cli("build", str(t), "--engine", "packer")
    if not version.startswith("Packer v1.6"):
        pytest.fail(f"this test is about packer < 1.7; installed: {version}")
    assert direct.returncode != 0 and "required_plugins" in direct.stdout + direct.stderr
    assert r.code == 0, r
    notes = [x for x in r.out.splitlines() if "predates" in x]
    assert notes == ["==> packer 1.6.6 predates required_plugins and required_version (Packer 1.7): "
                     "handing it the template without them"], r.out
    assert notes[0] in (DOCS / "builds.md").read_text(encoding="utf-8"), "builds.md shows another line"
    assert (tmp_path / "out.txt").read_text() == "hello"
    assert sqlite_cli.json("show", "filey@v1")["artifacts"][0]["builder_type"] == "file"
    assert "required_plugins" in t.read_text() and "required_version" in t.read_text()


@pytest.mark.packer
def test_shipped_templates_with_packer(sqlite_cli, tmp_path):
    """Without AWS credentials, `--engine packer` on templates/amazon-ebs.pkr.hcl is refused
    before anything is recorded or packer runs (the build itself, against moto, is
    test_shipped_amazon_template_builds_with_packer); local.pkr.hcl is release's own builder,
    which packer has not: refused (exit 2) before anything is recorded."""
    need_binary("packer", "packer")
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    env = {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None, "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_CONFIG_FILE": str(tmp_path / "none")}
    with session_env(tmp_path, env):
        r = sqlite_cli("build", "templates/amazon-ebs.pkr.hcl", "--engine", "packer")
    # without credentials the build is refused before it starts (and before packer, which would
    # otherwise reach for AWS), and not by packer's parser: no "not expected here" about
    # required_plugins
    assert r.code == 2 and "AWS_ACCESS_KEY_ID" in r.err and "not expected here" not in r.out + r.err, r
    r = sqlite_cli("build", "templates/local.pkr.hcl", "--engine", "packer")
    assert r.code == 2 and "packer has no `local` builder" in r.err, r
    assert [e for e in sqlite_cli.json("audit")["events"] if e["action"] == "build.started"] == []


def point_amazon_template_at_moto(template: Path, url: str) -> None:
    """The amazon-ebs source's EC2 calls sent to moto at `url`, for packer 1.6.6, whose AWS SDK
    does not read AWS_ENDPOINT_URL: `custom_endpoint_ec2`, and the `skip_*` options that turn
    off its credential, metadata-service and region checks (docs/template-options.md; the
    native builder accepts them too). Four lines added after `region`; nothing else changes."""
    text = template.read_text()
    old = "  region        = var.region\n"
    assert text.count(old) == 1
    template.write_text(text.replace(old, old + (
        f'  custom_endpoint_ec2        = "{url}"\n  skip_credential_validation = true\n'
        '  skip_metadata_api_check    = true\n  skip_region_validation     = true\n')))


@pytest.mark.packer
def test_shipped_amazon_template_builds_with_packer(sqlite_cli, tmp_path, aws):
    """templates/amazon-ebs.pkr.hcl, pointed at moto and at a loopback sshd playing the
    instance, built by Debian's packer 1.6.6 to the end: release hands it the template without
    `required_plugins` (and says so), packer runs the shell provisioner over SSH and copies the
    AMI to both `ami_regions`, and release records web-ami@v1 with those AMIs. A second
    identical build makes no version (docs/builds.md, "Identical builds")."""
    packer = need_binary("packer", "packer")
    sshd = _aws_box(tmp_path, aws)
    try:
        shutil.copytree(ROOT / "templates", tmp_path / "templates")
        template = tmp_path / "templates" / "amazon-ebs.pkr.hcl"
        point_amazon_template_at(template, sshd)
        point_amazon_template_at_moto(template, aws.url)
        assert "required_plugins" in template.read_text()  # the copy keeps them, as shipped
        cli = Cli(tmp_path, {**sqlite_cli.env, **aws.env()})
        r = cli("build", "templates/amazon-ebs.pkr.hcl", "--engine", "packer")
        assert r.code == 0 and "Traceback" not in r.err, r
    finally:
        sshd.stop()
    # the line names what the copy leaves out: the shipped template has required_plugins only
    # (PLUGINS_TEMPLATE above, with required_version too, gets "required_plugins and required_version")
    notes = [x for x in r.out.splitlines() if "predates" in x]
    assert notes == ["==> packer 1.6.6 predates required_plugins (Packer 1.7): "
                     "handing it the template without them"], r.out
    assert "apt-get (stand-in) install -y nginx" in r.out, r.out  # the provisioner ran over the sshd
    assert f"Running {packer} build" in r.out and "Build finished: web-ami@v1" in r.out, r.out
    v = cli.json("show", "web-ami@v1")
    amis = {a["region"]: a["id"] for a in v["artifacts"]}
    assert sorted(amis) == ["us-east-1", "us-west-2"] and v["origin"] == "build", v
    for region, ami in amis.items():  # in moto, tagged with the version release numbered
        images = aws.ec2(region).describe_images(ImageIds=[ami])["Images"]
        assert [i["ImageId"] for i in images] == [ami], (region, ami)
        assert {"Key": "release:version", "Value": "v1"} in images[0]["Tags"], images[0]["Tags"]
    assert aws.running_instances("us-east-1") == []  # packer terminated its instance
    events = cli.json("audit")["events"]
    assert [e["action"] for e in events if e["action"].startswith(("build.", "version."))] == \
        ["build.started", "version.created", "build.succeeded"], events
    started = next(e["details"] for e in events if e["action"] == "build.started")
    assert started["engine"] == "packer"
    # packer searched source_ami_filter again (docs/builds.md) and found what release resolved
    base = started["resolved_inputs"]["amazon-ebs.ubuntu"]["source_ami"]
    assert f"Found Image ID: {base}" in r.out, r.out
    # the parent is what packer said it started from, as a native build records the AMI it resolved
    assert v["parent"] == base, [x for x in r.out.splitlines() if "Found" in x]
    # the same template on the same base AMI again: identical, packer not run, no new version
    again = cli("build", "templates/amazon-ebs.pkr.hcl", "--engine", "packer")
    assert again.code == 0 and "web-ami: identical to web-ami@v1" in again.out, again
    assert f"Running {packer} build" not in again.out, again
    assert [x["version"] for x in cli.json("versions", "web-ami")["versions"]] == ["v1"]
    assert len(aws.ec2().describe_images(Owners=["self"])["Images"]) == 1


def test_main_job_runs():
    """README's first block: the main job (without its pip install: the package is installed)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    env.pop("RELEASE_STATE", None)
    r = subprocess.run(["bash", str(ROOT / ".ci" / "main-job"), "--no-install"], capture_output=True, text=True,
                       env=env, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "main job OK" in r.stdout and "audit chain OK" in r.stdout
