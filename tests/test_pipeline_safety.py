"""Issue 15 (3, 4): temporary files are private and never outlive the run; every value the
tool puts into a shell command is quoted. Real `release build` processes, a real sshd."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from conftest import Cli
from releasemgr.pipeline.provisioners.base import render_argv, render_command, shell_quote_env

HOSTILE = "st ate $(touch PWNED); 'q\"`touch PWNED2`"


def pwned(*roots: Path) -> list[Path]:
    found = []
    for root in (*roots, Path.home()):
        found += [p for p in Path(root).rglob("PWNED*")] if root != Path.home() else \
            [p for p in root.glob("PWNED*")]
    return found


def cli_with_state(tmp_path: Path, state: Path) -> Cli:
    env = {"RELEASE_STATE": str(state), "RELEASE_LEDGER": f"sqlite:///{tmp_path / 'ledger.db'}",
           "RELEASE_ACTOR": "alice", "NO_COLOR": "1"}
    return Cli(tmp_path, env)


def local_template(folder: Path, provisioners: str, post: str = "", extra: str = "") -> Path:
    (folder / "app").mkdir(parents=True, exist_ok=True)
    (folder / "app" / "index.html").write_text("hi\n")
    t = folder / "web.pkr.hcl"
    t.write_text(f"""
variable "secret_token" {{
  type      = string
  default   = "MARKER-s3cr3t-{os.getpid()}"
  sensitive = true
}}
{extra}
source "local" "web" {{
  base    = "./app"
  command = ["python3", "-m", "http.server"]
}}

build {{
  name    = "web"
  sources = ["source.local.web"]
{provisioners}
{post}
}}
""")
    return t


# -- composing commands ------------------------------------------------------------------------

@pytest.mark.parametrize("execute", [
    "chmod +x {{.Path}}; {{.Vars}} {{.Path}}",
    "{{ .Vars }} sh '{{ .Path }}'",
    '{{.Vars}} sh "{{.Path}}"',
    "sh -c '{{.Vars}} {{.Path}}'",
    'sh -c "{{.Vars}} sh {{.Path}}"',
    "env {{.Vars}} sh -c 'sh \"$0\"' {{.Path}}",
])
def test_substituted_values_never_become_code(tmp_path, execute):
    folder = tmp_path / HOSTILE
    folder.mkdir()
    script = folder / "s.sh"
    script.write_text('#!/bin/sh\nprintf "ran [%s]\\n" "$FOO"\n')
    script.chmod(0o700)
    value = "x $(touch PWNED3) 'y\" `touch PWNED4` \\z"
    import shlex

    cmd = render_command(execute, Vars=shell_quote_env({"FOO": value}), Path=shlex.quote(str(script)))
    r = subprocess.run(["/bin/sh", "-c", cmd], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, (cmd, r.stderr)
    assert r.stdout == f"ran [{value}]\n", cmd
    assert not pwned(tmp_path)


def test_shell_local_argv_gets_raw_values_alone_and_quoted_ones_inside_text(tmp_path):
    path = str(tmp_path / HOSTILE / "x.sh")
    assert render_argv(["sh", "{{.Script}}"], Script=path, Vars="") == ["sh", path]
    argv = render_argv(["/bin/sh", "-c", "{{.Vars}} {{.Script}}"], Script=path, Vars="")
    import shlex

    assert shlex.split(argv[2]) == [path]


def test_hostile_state_path_builds_cleanly_and_nothing_runs(tmp_path):
    """Local builder with shell + shell-local provisioners and a shell-local post-processor,
    from a state folder and a template folder whose names hold spaces, quotes, `$(…)`, `;`."""
    t0 = time.time()
    state = tmp_path / HOSTILE
    tpl_dir = tmp_path / ("tpl " + HOSTILE)
    tpl_dir.mkdir()
    (tpl_dir / "step.sh").write_text('echo "script-ran in $(basename "$PWD")"\n')
    nonce = uuid.uuid4().hex
    t = local_template(tpl_dir, provisioners="""
  provisioner "shell" {
    environment_vars = ["GREETING=a b $(touch PWNED5) 'c'"]
    inline = ["echo \\"greeting=$GREETING\\" NONCE > /dev/null", "echo \\"greeting=$GREETING\\"",
              "echo \\"script-mode=$(stat -c %a \\"$0\\") folder-mode=$(stat -c %a \\"$(dirname \\"$0\\")\\")\\""]
  }
  provisioner "shell" {
    script = "step.sh"
  }
  provisioner "shell-local" {
    inline = ["echo \\"local-mode=$(stat -c %a \\"$0\\") root=$IMAGE_ROOT\\""]
  }
  provisioner "shell-local" {
    execute_command = ["/bin/sh", "-c", "{{.Vars}} {{.Script}}"]
    inline          = ["echo custom-execute-ran"]
  }
""", post="""
  post-processor "shell-local" {
    inline = ["echo \\"pp-ran $RELEASE_ARTIFACT_ID\\""]
  }
""")
    t.write_text(t.read_text().replace("NONCE", nonce))
    cli = cli_with_state(tmp_path, state)
    r = cli("build", str(t))
    assert r.code == 0, r
    assert "Traceback" not in r.err
    out = r.out
    assert "greeting=a b $(touch PWNED5) 'c'" in out
    assert "script-mode=700 folder-mode=700" in out
    assert "script-ran in root" in out
    assert "local-mode=700 root=" + str(state) in out
    assert "custom-execute-ran" in out and "pp-ran sha256:" in out
    assert not pwned(tmp_path)
    assert list((state / "tmp").iterdir()) == []  # the run folder is gone
    # no script outlived the run, anywhere under /tmp (they all hold the greeting)
    assert _files_holding(nonce.encode(), Path("/tmp"), t0) == []


@pytest.mark.parametrize("how", ["literal", "var"])
def test_hostile_environment_vars_key_is_refused_with_exit_2(tmp_path, how):
    if how == "literal":
        entry, extra, args = '"X$(touch PWNED)=1"', "", []
    else:
        entry = '"${var.k}=1"'
        extra = 'variable "k" {\n  type = string\n  default = "OK"\n}\n'
        args = ["--var", "k=X$(touch PWNED)"]
    t = local_template(tmp_path, provisioners=f"""
  provisioner "shell" {{
    environment_vars = [{entry}]
    inline           = ["true"]
  }}
""", extra=extra)
    cli = cli_with_state(tmp_path, tmp_path / "state")
    for cmd in ("validate", "build"):
        r = cli(cmd, str(t), *args)
        assert r.code == 2, (cmd, r)
        assert "environment variable name" in (r.out + r.err) and "Traceback" not in r.err
    assert not pwned(tmp_path)


# -- temporary files: cancel and kill ---------------------------------------------------------

def _wait_for(pattern: str, proc: subprocess.Popen, timeout: float = 40) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if subprocess.run(["pgrep", "-f", pattern], capture_output=True).returncode == 0:
            return
        if proc.poll() is not None:
            pytest.fail(f"the build ended early: {proc.communicate()}")
        time.sleep(0.1)
    proc.kill()
    pytest.fail("the provisioner never started")


def _files_holding(needle: bytes, root: Path, since: float) -> list[Path]:
    found = []
    for dirpath, _dirs, files in os.walk(root, onerror=lambda e: None):
        for name in files:
            p = Path(dirpath) / name
            try:
                st = p.lstat()
                if not stat.S_ISREG(st.st_mode) or st.st_size > 1 << 20 or st.st_mtime < since - 5:
                    continue
                if needle in p.read_bytes() and not name.endswith(".pkr.hcl"):  # not the test's template
                    found.append(p)
            except OSError:
                continue
    return found


def _sleeping_template(tmp_path: Path, sleeper: str) -> Path:
    return local_template(tmp_path, provisioners=f"""
  provisioner "shell" {{
    inline = ["echo \\"token ${{var.secret_token}}\\" > /dev/null",
              "echo \\"mode-while-running=$(stat -c %a \\"$0\\")\\"",
              "python3 -c 'import time; time.sleep(60)' {sleeper}"]
  }}
""")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cancelled_build_leaves_no_script_and_no_secret(sqlite_cli, tmp_path, sig):
    t0 = time.time()
    sleeper = f"pipesafe-sleep-{os.getpid()}-{sig.name}"
    t = _sleeping_template(tmp_path, sleeper)
    p = sqlite_cli.proc("build", str(t))
    _wait_for(sleeper, p)
    state_tmp = tmp_path / "state" / "tmp"
    # while it runs: the run folder and the script are private
    scripts = list(state_tmp.rglob("script_*.sh"))
    assert scripts, list(state_tmp.rglob("*"))
    for path in [state_tmp / q for q in os.listdir(state_tmp)] + scripts + [s.parent for s in scripts]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    p.send_signal(sig)
    out, err = p.communicate(timeout=40)
    assert p.returncode == 1, (out, err)
    assert "mode-while-running=700" in out
    assert "everything it created was cleaned up" in out and "Traceback" not in err
    assert list(state_tmp.iterdir()) == []
    assert subprocess.run(["pgrep", "-f", sleeper], capture_output=True).returncode == 1
    secret = f"MARKER-s3cr3t-{os.getpid()}".encode()
    assert _files_holding(secret, tmp_path / "state", t0) == []
    assert _files_holding(secret, Path("/tmp"), t0) == []


def test_sigkilled_build_folder_is_removed_by_the_next_build(sqlite_cli, tmp_path):
    sleeper = f"pipesafe-killed-{os.getpid()}"
    t = _sleeping_template(tmp_path, sleeper)
    p = sqlite_cli.proc("build", str(t))
    _wait_for(sleeper, p)
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=20)
    subprocess.run(["pkill", "-KILL", "-f", sleeper])  # the orphaned provisioner (its own session)
    state_tmp = tmp_path / "state" / "tmp"
    left = list(state_tmp.iterdir())
    assert len(left) == 1 and left[0].name.startswith("run-") and left[0].name.endswith(f"-{p.pid}")
    t2 = local_template(tmp_path, provisioners='  provisioner "shell" {\n    inline = ["true"]\n  }\n')
    r = sqlite_cli("build", str(t2))
    assert r.code == 0, r
    assert f"removed its run folder {left[0]}" in r.err  # the next write marked the build abandoned
    assert list(state_tmp.iterdir()) == []


def test_a_folder_that_cannot_be_removed_is_named_not_called_cleaned(tmp_path, monkeypatch):
    from releasemgr.pipeline import workdir

    monkeypatch.setattr(workdir, "_remove", lambda path: "Permission denied")  # (root removes anything)
    said: list[str] = []
    with workdir.run_folder(tmp_path / "state", "b1d", say=said.append) as run:
        pass
    assert run.leftovers and str(run.path) in said[-1] and "delete it by hand" in said[-1]
    line = workdir.final_line("cancelled", "cleanup", run.leftovers)
    assert "cleaned up" not in line and str(run.path) in line
    assert workdir.final_line("cancelled", "cleanup", []).endswith("everything it created was cleaned up.")


# -- SSH: a hostile remote_folder ----------------------------------------------------------------

def _null_template(tmp_path: Path, sshd, provisioners: str) -> Path:
    t = tmp_path / "null.pkr.hcl"
    t.write_text(f"""
source "null" "box" {{
  ssh_host             = "127.0.0.1"
  ssh_port             = {sshd.port}
  ssh_username         = "{sshd.username}"
  ssh_private_key_file = "{sshd.client_key}"
  ssh_known_hosts_file = "{sshd.known_hosts}"
}}

build {{
  name    = "box"
  sources = ["source.null.box"]
{provisioners}
}}
""")
    return t


def _hcl(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("${", "$${")


def test_ssh_build_with_hostile_remote_folder_and_state_path(tmp_path, sshd):
    remote = tmp_path / ("rf " + HOSTILE)
    remote.mkdir()
    state = tmp_path / HOSTILE
    t = _null_template(tmp_path, sshd, f"""
  provisioner "shell" {{
    remote_folder    = "{_hcl(str(remote))}"
    environment_vars = ["V=$(touch PWNED6) ';x'"]
    inline = ["echo \\"v=$V\\"",
              "echo \\"mode=$(stat -c %a \\"$0\\") dir=$(stat -c %a \\"$(dirname \\"$0\\")\\")\\"",
              "echo \\"parent-ok=$(test \\"$(dirname \\"$(dirname \\"$0\\")\\")\\" = \\"$RF\\" && echo yes)\\""]
    env = {{ RF = "{_hcl(str(remote))}" }}
  }}
  provisioner "shell" {{
    remote_path = "{_hcl(str(remote / 'named $(touch PWNED7).sh'))}"
    inline      = ["echo named-ran"]
  }}
  provisioner "shell-local" {{
    inline = ["echo local-ran"]
  }}
""")
    cli = cli_with_state(tmp_path, state)
    r = cli("build", str(t))
    assert r.code == 0, r
    assert "v=$(touch PWNED6) ';x'" in r.out
    assert "mode=700 dir=700" in r.out and "parent-ok=yes" in r.out
    assert "named-ran" in r.out and "local-ran" in r.out
    assert list(remote.iterdir()) == []  # the private folder and the named script are gone
    assert not pwned(tmp_path)


def test_ssh_remote_folder_that_does_not_exist_fails_cleanly(tmp_path, sshd):
    t = _null_template(tmp_path, sshd, f"""
  provisioner "shell" {{
    remote_folder = "{_hcl(str(tmp_path / 'missing $(touch PWNED)'))}"
    inline        = ["echo never"]
  }}
""")
    r = cli_with_state(tmp_path, tmp_path / "state")("build", str(t))
    assert r.code == 1 and "Traceback" not in r.err
    assert "private temporary folder" in r.out and "never" not in r.out.replace("echo never", "")
    assert not pwned(tmp_path)
