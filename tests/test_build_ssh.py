"""The `null` builder: provisioners over SSH against a real OpenSSH sshd on loopback."""

from __future__ import annotations

import os
import time
from pathlib import Path

from test_output_contract import _validator


def null_template(tmp_path: Path, sshd, provisioners: str, host_check: str | None = None) -> Path:
    host_check = host_check if host_check is not None else f'ssh_known_hosts_file = "{sshd.known_hosts}"'
    t = tmp_path / "null.pkr.hcl"
    t.write_text(f"""
source "null" "box" {{
  ssh_host             = "127.0.0.1"
  ssh_port             = {sshd.port}
  ssh_username         = "{sshd.username}"
  ssh_private_key_file = "{sshd.client_key}"
  {host_check}
}}

build {{
  name    = "box"
  sources = ["source.null.box"]
{provisioners}
}}
""")
    return t


def test_null_build_runs_shell_and_file_over_ssh(sqlite_cli, tmp_path, sshd):
    remote = tmp_path / "remote"
    remote.mkdir()
    (tmp_path / "payload").mkdir()
    (tmp_path / "payload" / "a.txt").write_text("A")
    (tmp_path / "payload" / "sub").mkdir()
    (tmp_path / "payload" / "sub" / "b.txt").write_text("B")
    t = null_template(tmp_path, sshd, f"""
  provisioner "file" {{
    source      = "{tmp_path / 'payload'}/"
    destination = "{remote}/payload"
  }}
  provisioner "shell" {{
    inline           = ["cat {remote}/payload/sub/b.txt > {remote}/copied.txt", "echo via-$GREETING"]
    environment_vars = ["GREETING=ssh"]
    execute_command  = "chmod +x {{{{.Path}}}}; {{{{.Vars}}}} sh {{{{.Path}}}}"
    remote_path      = "{remote}/script.sh"
    skip_clean       = true
  }}
  provisioner "file" {{
    direction   = "download"
    source      = "{remote}/copied.txt"
    destination = "{tmp_path}/downloaded.txt"
  }}
""")
    r = sqlite_cli.ok("build", str(t))
    assert "via-ssh" in r.out
    assert (remote / "payload" / "a.txt").read_text() == "A"
    assert (tmp_path / "downloaded.txt").read_text() == "B"
    assert (remote / "script.sh").exists()  # skip_clean kept it
    assert "no version" in r.out  # a null build makes no artifact


def test_null_build_refuses_an_unknown_host_key(sqlite_cli, tmp_path, sshd):
    other = tmp_path / "other_known_hosts"
    other.write_text(f"[127.0.0.1]:{sshd.port} ssh-ed25519 "
                     "AAAAC3NzaC1lZDI1NTE5AAAAIBbXnBVgXbM0kqGiJHk6H0x4b9vXkS3rC7mz1xK1Y0bQ\n")
    t = null_template(tmp_path, sshd, '  provisioner "shell" {\n    inline = ["true"]\n  }\n',
                      host_check=f'ssh_known_hosts_file = "{other}"')
    t0 = time.time()
    r = sqlite_cli("build", str(t))
    assert r.code == 1 and "host key" in (r.out + r.err).lower() and "Traceback" not in r.err
    assert time.time() - t0 < 60


def test_expect_disconnect_tolerates_a_dropped_connection(sqlite_cli, tmp_path, sshd):
    t = null_template(tmp_path, sshd, """
  provisioner "shell" {
    inline            = ["kill -9 $PPID"]
    expect_disconnect = true
  }
  provisioner "shell" {
    inline = ["echo still-here"]
  }
""")
    r = sqlite_cli("build", str(t))
    assert r.code == 0, r
    assert "still-here" in r.out


def test_a_file_upload_reports_its_bytes_in_the_json_stream(sqlite_cli, tmp_path, sshd):
    """`build --json`: the file provisioner's upload over SSH (a folder, as one tar stream)
    streams `progress` events in bytes of file content, for its source, ending at the total;
    each event keeps the schema of docs/schemas/event.json."""
    payload = tmp_path / "payload"
    (payload / "sub").mkdir(parents=True)
    (payload / "big.bin").write_bytes(os.urandom(6 << 20))
    (payload / "sub" / "small.txt").write_text("x" * 100)
    remote = tmp_path / "remote"
    t = null_template(tmp_path, sshd, f"""
  provisioner "file" {{
    source      = "{payload}/"
    destination = "{remote}"
  }}
""")
    r = sqlite_cli("build", str(t), "--json")
    assert r.code == 0, r
    events = r.events
    validator = _validator("event.json")
    for e in events:
        validator.validate(e)
    says = [e["line"] for e in events if e["type"] == "log" and e["kind"] == "say"]
    uploading = f"Uploading {payload}/ => {remote}"
    assert uploading in says
    moves = [e for e in events if e["type"] == "progress"]
    assert moves, "the upload streamed no progress"
    total = (6 << 20) + 100
    assert {(e["task"], e["unit"], e["total"], e["detail"], e["message"]) for e in moves} == {
        ("null.box", "bytes", total, uploading, uploading)}
    dones = [e["done"] for e in moves]
    assert dones == sorted(dones) and dones[-1] == total and dones[0] < total
    # between the upload's log line and the next one
    first, last = events.index(moves[0]), events.index(moves[-1])
    assert events[first - 1].get("line") == uploading and all(e["type"] == "progress" for e in events[first:last + 1])
    assert (remote / "big.bin").stat().st_size == 6 << 20
