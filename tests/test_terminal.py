"""For people at a terminal: colour and live progress on a TTY, none of it anywhere else.

`release build` and `release deploy` run on a pseudo-terminal (tests/terminal_session.py)
and as plain pipes; the escape codes of colour and of rich's live display must appear on the
terminal and never in a pipe, under --json, with NO_COLOR or with --no-color. Did-you-mean
for commands, environments and images is checked as the user reads it."""

from __future__ import annotations

import os
import pty
import re
import shutil
import subprocess
import sys

import pytest

from terminal_session import ROOT, plain, run_on_tty, screens, tty_env

ESC = "\x1b["
GREEN_SOURCE = "\x1b[1;32m==> local.web:"  # a build's first source: Packer's bold green prefix
RED_ERROR = "\x1b[1;31merror:"
HIDE_CURSOR = "\x1b[?25l"  # rich's live display starts


@pytest.fixture
def fleet_toml() -> str:
    return """
[[environments]]
name = "dev"

[[environments]]
name = "prod"

[deploy.prod]
count = 3
strategy = "rolling"
batch_size = 1
"""


@pytest.fixture
def web(fleet):
    """web@v1 running on three servers in prod, web@v2 built and current in prod."""
    shutil.copytree(ROOT / "templates", fleet.cwd / "templates")
    fleet.ok("build", "templates/local.pkr.hcl")
    fleet.ok("promote", "web@v1", "--to", "prod")
    fleet.ok("deploy", "web", "--env", "prod")
    fleet.ok("build", "templates/local.pkr.hcl", "--var", "greeting=hi")
    fleet.ok("promote", "web@v2", "--to", "prod")
    fleet.tty_env = tty_env(fleet.env)
    return fleet


def test_build_on_a_terminal_has_coloured_prefixes_and_a_progress_row(web):
    code, raw = run_on_tty(["build", "templates/local.pkr.hcl", "--var", "greeting=hola"], cwd=web.cwd,
                           env=web.tty_env)
    assert code == 0, raw
    assert GREEN_SOURCE in raw and "\x1b[1m==> Build finished." in raw
    assert HIDE_CURSOR in raw
    rows = [plain(x) for shot in screens(raw) for x in shot]
    assert any(re.search(r"local\.web\s+step \d+ +\d+:\d\d Provisioning with shell script", r) for r in rows), rows
    final = [plain(x) for x in screens(raw)[-1]]
    assert any(x.startswith("Build finished: web@v3") for x in final)
    assert not any("step " in x for x in final), "the live display leaves the screen when the build is done"


def test_an_upload_shows_its_bytes_and_a_bar_on_the_source_row(web):
    """A file provisioner's upload moves the source's row: a bar and the bytes moved of the
    total, beside the upload it is; the next step's row has no bar left."""
    big = web.cwd / "big.bin"
    big.write_bytes(os.urandom(24 << 20))  # 25.2 MB
    template = web.cwd / "templates" / "upload.pkr.hcl"
    text = (web.cwd / "templates" / "local.pkr.hcl").read_text()
    template.write_text(text.replace('  provisioner "shell" {', f"""  provisioner "file" {{
    source      = "{big}"
    destination = "big.bin"
  }}

  provisioner "shell" {{""", 1))
    code, raw = run_on_tty(["build", "templates/upload.pkr.hcl"], cwd=web.cwd, env=web.tty_env)
    assert code == 0, raw
    rows = [plain(x) for shot in screens(raw) for x in shot]
    upload = re.compile(r"local\.web ([╸━ ]+) (\d+\.\d) MB/25\.2 MB +\d+:\d\d (Uploading /.*)")
    moving = [m for m in map(upload.search, rows) if m]
    assert moving, [r for r in rows if "MB/" in r]
    assert float(moving[0].group(2)) < 25.2 and moving[-1].group(2) == "25.2", [m.group(0) for m in moving]
    shown = moving[0].group(3).removesuffix("...")  # a long path is cut: the row stays one line
    assert f"Uploading {big} => big.bin".startswith(shown) and len(moving[0].group(0)) <= 100
    after = [r for r in rows if "Provisioning with shell script" in r and "==>" not in r]
    assert after and not any("━" in r for r in after), after
    assert re.match(r"\S+ local\.web +step 3 ", after[0]), "the next step's row runs again (its spinner)"
    assert "MB/" not in "".join(plain(x) for x in screens(raw)[-1])


def test_rolling_deploy_on_a_terminal_shows_batches_started_healthy_retired(web):
    code, raw = run_on_tty(["deploy", "web", "--env", "prod"], cwd=web.cwd, env=web.tty_env)
    assert code == 0, raw
    assert HIDE_CURSOR in raw
    rows = [plain(x) for shot in screens(raw) for x in shot]
    counts = [r for r in rows if "web@v2 -> prod" in r]
    assert any("healthy 1/3" in r for r in counts) and any("started 3/3 · healthy 3/3 · retired 3/3" in r
                                                              for r in counts), counts
    final = [plain(x) for x in screens(raw)[-1] if plain(x).strip()]
    assert final[:3] == ["batch 1: starting 1 v2 server(s) (1/3)", "batch 2: starting 1 v2 server(s) (2/3)",
                         "batch 3: starting 1 v2 server(s) (3/3)"]
    assert final[3].startswith("deployed web@v2 to prod: 3 server(s)")


def test_errors_are_red_and_say_what_was_meant_on_a_terminal(web):
    code, raw = run_on_tty(["show", "web@prdo"], cwd=web.cwd, env=web.tty_env)
    assert code == 4 and RED_ERROR in raw
    assert [plain(x) for x in screens(raw)[-1] if x] == ["error: unknown environment 'prdo' in web@prdo",
                                                          "  did you mean 'prod'? (web@prod)"]


@pytest.mark.parametrize("how", ["pipe", "json", "NO_COLOR", "--no-color"])
def test_no_escape_codes_off_a_terminal_or_when_colour_is_off(web, how):
    deploy = ["deploy", "web", "--env", "prod"]
    build = ["build", "templates/local.pkr.hcl", "--var", f"greeting={how}"]
    for args in (build, deploy, ["show", "web@prdo"]):
        if how == "pipe":
            r = subprocess.run([sys.executable, "-m", "releasemgr", *args], cwd=web.cwd, env=web.tty_env,
                               capture_output=True, text=True, timeout=120)
            raw, code = r.stdout + r.stderr, r.returncode
        else:
            extra = {"json": ["--json"], "--no-color": ["--no-color"]}.get(how, [])
            env = {**web.tty_env, "NO_COLOR": "1"} if how == "NO_COLOR" else web.tty_env
            code, raw = run_on_tty([*args, *extra], cwd=web.cwd, env=env)
        assert code == (4 if args[0] == "show" else 0), raw
        assert ESC not in raw, f"{how}: release {' '.join(args)} wrote escape codes: {raw[:300]!r}"
        assert "==> local.web:" in raw or args[0] != "build" or how == "json"


def test_status_on_a_terminal_does_not_load_rich(web):
    """rich is imported only to colour or draw progress: a plain read command on a terminal
    starts as fast as before."""
    probe = ("import sys; from releasemgr.cli import main; code = main(['status']); "
             "print('RICH', 'rich' in sys.modules, code)")
    master, slave = pty.openpty()
    proc = subprocess.run([sys.executable, "-c", probe], cwd=web.cwd, env=web.tty_env, stdin=slave, stdout=slave,
                          stderr=slave, timeout=60)
    os.close(slave)
    out = os.read(master, 65536).decode()
    os.close(master)
    assert proc.returncode == 0 and "RICH False 0" in out, out


def test_did_you_mean_for_commands_environments_and_images(web):
    r = web("promte", "web@v1", "--to", "dev")
    assert r.code == 2 and "No such command 'promte'. Did you mean 'promote'?" in r.err
    r = web("frobnicate")
    assert r.code == 2 and "No such command 'frobnicate'." in r.err and "Did you mean" not in r.err
    r = web("show", "web@prdo")
    assert r.code == 4 and "did you mean 'prod'?" in r.err
    r = web("deploy", "web", "--env", "prdo")
    assert r.code == 4 and "did you mean 'prod'?" in r.err
    r = web("versions", "wbe")
    assert r.code == 4 and "did you mean 'web'?" in r.err


def test_a_live_row_escapes_control_characters():
    """A row of the live display shows what a path or a step's text holds, escaped: an escape
    sequence or a newline in a file name cannot clear the screen or break the row."""
    import io

    from releasemgr.ui import Ui

    class Tty(io.StringIO):
        def isatty(self):
            return True

    err = Tty()
    ui = Ui(stdout=Tty(), stderr=err)
    ui.info(task="local.web", done=1, total=2, unit="bytes", detail="Uploading evil\x1b[2J\nname => /x")
    ui.close()
    shown = err.getvalue()
    assert "\x1b[2J" not in shown and "evil\\x1b[2J\\nname" in shown, repr(shown)


def test_a_wait_keeps_its_step_and_clock_on_the_row():
    """An AWS wait says `Still waiting for … (20s)...` every few polls (providers/aws/client.py
    `wait_for`): the line is printed, and the source's row keeps the step it waits in -- its
    number, its text and the clock started when the step began -- instead of starting over."""
    import io
    import time

    from releasemgr.ui import Ui

    class Tty(io.StringIO):
        def isatty(self):
            return True

    out, err = Tty(), Tty()
    ui = Ui(stdout=out, stderr=err)
    src = "amazon-ebs.ubuntu"
    ui.log_line(f"==> {src}: Launching a source AWS instance...", src)
    ui.log_line(f"==> {src}: Waiting for AMI to become ready...", src)
    term = ui._term
    began = term.since[src]
    time.sleep(0.01)
    ui.log_line(f"==> {src}: Still waiting for AMI ami-0abc to become available (20s)...", src)
    task = term.progress._tasks[term.tasks[src]]
    assert term.since[src] == began and task.fields["count"] == "step 2", task.fields
    assert task.description == "Waiting for AMI to become ready..."
    ui.close()
    # both streams are the terminal: lines go above the display, through its console
    assert "Still waiting for AMI ami-0abc to become available (20s)..." in out.getvalue() + err.getvalue()
