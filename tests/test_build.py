"""`release build` end to end with the local builder: real processes, real files."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from conftest import need_binary

ROOT = Path(__file__).resolve().parent.parent


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def template(tmp_path: Path, provisioners: str = "", post: str = "", extra: str = "", source_extra: str = "") -> Path:
    write(tmp_path / "app" / "index.html", "<p>hi</p>\n")
    return write(tmp_path / "web.pkr.hcl", f"""
variable "greeting" {{
  type    = string
  default = "hello"
}}

variable "db_password" {{
  type      = string
  default   = "s3cr3t-pa55w0rd"
  sensitive = true
}}
{extra}
source "local" "web" {{
  base     = "./app"
  command  = ["python3", "-m", "http.server", "--bind", "127.0.0.1"]
  port_arg = true
  health_check {{
    type = "http"
    path = "/"
  }}
  {source_extra}
}}

build {{
  name    = "web"
  sources = ["source.local.web"]
{provisioners}
{post}
}}
""")


def members(tar_path: str) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(tar_path) as tar:
        return {m.name: m for m in tar.getmembers()}


def read_member(tar_path: str, name: str) -> str:
    with tarfile.open(tar_path) as tar:
        return tar.extractfile(name).read().decode()


def test_build_records_a_version_with_its_image_and_provenance(sqlite_cli, tmp_path):
    t = template(tmp_path, provisioners="""
  provisioner "shell" {
    inline = ["echo \\"${var.greeting}\\" > greeting.txt", "echo root=$IMAGE_ROOT name=$PACKER_BUILD_NAME"]
  }
""")
    r = sqlite_cli.ok("build", str(t))
    assert "==> local.web: Provisioning with shell script" in r.out
    assert f"    local.web: root={tmp_path}" in r.out and "name=web" in r.out
    v = sqlite_cli.json("show", "web@latest")
    assert (v["version"], v["origin"], v["status"]) == ("v1", "build", "available")
    art = v["artifacts"][0]
    assert art["provider"] == "local" and art["id"].startswith("sha256:")
    tar_path = art["files"][0]
    assert Path(tar_path).is_file()
    m = members(tar_path)
    assert "greeting.txt" in m and "index.html" in m and ".release/image.json" in m
    assert read_member(tar_path, "greeting.txt") == "hello\n"
    meta = json.loads(read_member(tar_path, ".release/image.json"))
    assert meta["command"][:3] == ["python3", "-m", "http.server"] and meta["port_arg"] is True
    assert meta["health_check"]["type"] == "http"
    assert all(x.mtime == 0 and x.uid == 0 and x.uname == "" for x in m.values())
    assert v["template_digest"].startswith("sha256:") and v["build_id"]
    assert v["variables"]["greeting"] == "hello" and v["variables"]["db_password"] == "<sensitive>"
    assert v["parent"] == f"dir:{tmp_path / 'app'}"
    # the audit trail has the build
    actions = [e["action"] for e in sqlite_cli.json("audit")["events"]]
    assert actions == ["policy.applied", "image.created", "build.started", "version.created", "build.succeeded"]
    assert not list((tmp_path / "state" / "tmp").iterdir())  # no temporary folder left


def test_same_inputs_same_digest_and_bytes(sqlite_cli, tmp_path):
    t = template(tmp_path, provisioners='  provisioner "shell" {\n'
                 '    inline = ["date > built_at.txt || true", "echo x > x.txt"]\n  }\n')
    first = sqlite_cli.ok("build", str(t), "--json").out.strip().splitlines()[-1]
    d1 = json.loads(first)["version"]
    r = sqlite_cli.ok("build", str(t))
    assert "identical to web@v1" in r.out and "--force" in r.out
    assert sqlite_cli.json("versions", "web")["versions"][0]["version"] == "v1"
    d2 = json.loads(sqlite_cli.ok("build", str(t), "--force", "--json").out.strip().splitlines()[-1])["version"]
    assert d2["version"] == "v2"
    assert d1["template_digest"].startswith("sha256:") and d2["template_digest"] == d1["template_digest"]
    # `date` output differs between runs, so compare a build without it for byte identity
    t2 = template(tmp_path / "b", provisioners='  provisioner "shell" {\n'
                  '    inline = ["echo x > x.txt", "mkdir -p a/b && echo y > a/b/y"]\n  }\n')
    a = json.loads(sqlite_cli.ok("build", str(t2), "--image", "repro", "--json").out.strip().splitlines()[-1])
    b = json.loads(sqlite_cli.ok("build", str(t2), "--image", "repro", "--force", "--json").out.strip()
                   .splitlines()[-1])
    assert a["version"]["artifacts"][0]["id"] == b["version"]["artifacts"][0]["id"]
    assert a["template_digest"] == b["template_digest"]
    # changing an input changes the digest
    c = json.loads(sqlite_cli.ok("build", str(t2), "--image", "repro", "--var", "greeting=hey", "--json").out
                   .strip().splitlines()[-1])
    assert c["template_digest"] != a["template_digest"]


def test_file_and_shell_local_provisioners_and_scripts(sqlite_cli, tmp_path):
    write(tmp_path / "files" / "conf" / "app.conf", "port=80\n")
    write(tmp_path / "setup.sh", "#!/bin/sh\necho from-script $FOO > script.txt\n")
    t = template(tmp_path, provisioners=f"""
  provisioner "file" {{
    source      = "{tmp_path / 'files' / 'conf'}/"
    destination = "etc/app"
  }}
  provisioner "file" {{
    content     = "v=${{var.greeting}}"
    destination = "etc/version"
  }}
  provisioner "shell" {{
    script           = "{tmp_path / 'setup.sh'}"
    environment_vars = ["FOO=bar"]
  }}
  provisioner "shell" {{
    inline           = ["exit 3"]
    valid_exit_codes = [0, 3]
  }}
  provisioner "shell-local" {{
    inline = ["echo local-side > \\"$IMAGE_ROOT/local.txt\\""]
  }}
""")
    sqlite_cli.ok("build", str(t))
    tar_path = sqlite_cli.json("show", "web@v1")["artifacts"][0]["files"][0]
    assert read_member(tar_path, "etc/app/app.conf") == "port=80\n"
    assert read_member(tar_path, "etc/version") == "v=hello"
    assert read_member(tar_path, "script.txt") == "from-script bar\n"
    assert read_member(tar_path, "local.txt") == "local-side\n"


def test_failing_provisioner_fails_the_build_cleans_up_and_makes_no_version(sqlite_cli, tmp_path):
    t = template(tmp_path, provisioners="""
  provisioner "shell" {
    inline = ["echo about to fail", "exit 7"]
  }
  error-cleanup-provisioner "shell-local" {
    inline = ["echo cleanup-ran > cleanup-marker.txt"]
  }
""")
    r = sqlite_cli("build", str(t))
    assert r.code == 1, r
    assert "exited with status 7" in r.out + r.err and "Traceback" not in r.err
    assert (tmp_path / "cleanup-marker.txt").read_text() == "cleanup-ran\n"
    assert sqlite_cli("versions", "web").code == 0
    assert sqlite_cli.json("versions", "web")["versions"] == []
    events = sqlite_cli.json("audit")["events"]
    assert events[-1]["action"] == "build.failed"
    assert not list((tmp_path / "state" / "tmp").iterdir())
    assert not (tmp_path / "state" / "images" / "local").exists() or \
        not list((tmp_path / "state" / "images" / "local").iterdir())


def test_post_processors_manifest_checksum_compress(sqlite_cli, tmp_path):
    out = tmp_path / "out"
    t = template(tmp_path, post=f"""
  post-processor "manifest" {{
    output      = "{out}/manifest.json"
    strip_path  = true
    custom_data = {{ team = "web" }}
  }}
  post-processors {{
    post-processor "compress" {{
      output = "{out}/image.tar.gz"
    }}
    post-processor "checksum" {{
      checksum_types = ["sha256", "md5"]
      output         = "{out}/{{{{.BuildName}}}}.{{{{.ChecksumType}}}}"
    }}
  }}
  post-processor "compress" {{
    output = "{out}/image.zip"
  }}
""")
    sqlite_cli.ok("build", str(t))
    v = sqlite_cli.json("show", "web@v1")
    doc = json.loads((out / "manifest.json").read_text())
    entry = doc["builds"][0]
    assert set(entry) == {"name", "builder_type", "build_time", "files", "artifact_id", "packer_run_uuid",
                          "custom_data"}
    assert entry["name"] == "web" and entry["builder_type"] == "local"
    assert entry["artifact_id"] == v["artifacts"][0]["id"]
    assert entry["custom_data"] == {"team": "web"}
    assert doc["last_run_uuid"] == entry["packer_run_uuid"]
    assert entry["files"][0]["name"] == v["artifacts"][0]["id"].split(":")[1] + ".tar"  # strip_path
    assert isinstance(entry["build_time"], int)
    with tarfile.open(out / "image.tar.gz") as tar:
        assert tar.getnames() == [entry["files"][0]["name"]]
    import hashlib
    import zipfile

    assert zipfile.ZipFile(out / "image.zip").namelist() == [entry["files"][0]["name"]]
    sha = (out / "web.sha256").read_text().split()[0]
    assert sha == hashlib.sha256((out / "image.tar.gz").read_bytes()).hexdigest()  # chained: the compressed file
    # a second build appends to the manifest
    sqlite_cli.ok("build", str(t), "--force")
    doc2 = json.loads((out / "manifest.json").read_text())
    assert len(doc2["builds"]) == 2 and doc2["last_run_uuid"] == doc2["builds"][1]["packer_run_uuid"]


def test_sensitive_values_reach_no_file(sqlite_cli, tmp_path):
    t = template(tmp_path, provisioners="""
  provisioner "shell" {
    inline = ["echo password is ${var.db_password}"]
  }
""", post=f'  post-processor "manifest" {{\n    output = "{tmp_path}/m.json"\n  }}\n')
    r = sqlite_cli.ok("build", str(t))
    secret = "s3cr3t-pa55w0rd"
    assert secret not in r.out + r.err and "password is <sensitive>" in r.out
    sqlite_cli.ok("audit", "--format", "csv")
    for p in (tmp_path / "state").rglob("*"):
        if p.is_file() and not p.suffix == ".tar":
            assert secret.encode() not in p.read_bytes(), p
    # the ledger's rows, read through SQLite (the WAL included), not only the file's bytes
    with contextlib.closing(sqlite3.connect(tmp_path / "state" / "ledger.db")) as db:
        dumped = "\n".join(db.iterdump())
    assert 'INSERT INTO "audit_event"' in dumped and "build.succeeded" in dumped
    assert secret not in dumped


def test_bad_template_is_exit_2_and_no_build_row(sqlite_cli, tmp_path):
    t = write(tmp_path / "bad.pkr.hcl", 'source "local" "web" {\n  command = ["a" "b"]\n}\n')
    r = sqlite_cli("build", str(t))
    assert r.code == 2 and "bad.pkr.hcl:2" in r.err and "Traceback" not in r.err
    assert sqlite_cli("build", str(tmp_path / "missing.pkr.hcl")).code == 4  # not found (docs/json.md)
    t2 = template(tmp_path / "x", source_extra='ssh_usernme = "x"')
    r = sqlite_cli("build", str(t2))
    assert r.code == 2 and "ssh_usernme" in r.err


def test_sigint_cancels_cleanly(sqlite_cli, tmp_path):
    marker = f"release-sleep-marker-{os.getpid()}"
    t = template(tmp_path, provisioners=f"""
  provisioner "shell" {{
    inline = ["echo started", "python3 -c 'import time; time.sleep(60)' {marker}"]
  }}
""")
    p = sqlite_cli.proc("build", str(t))
    deadline = time.time() + 30
    while time.time() < deadline:
        if subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode == 0:
            break
        time.sleep(0.1)
    else:
        p.kill()
        pytest.fail("the provisioner never started")
    t0 = time.time()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert time.time() - t0 < 10
    assert p.returncode == 1, (out, err)
    assert "cancelled" in (out + err).lower() and "Traceback" not in err
    assert subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode == 1  # no child left
    assert not list((tmp_path / "state" / "tmp").iterdir())
    assert sqlite_cli.json("versions", "web")["versions"] == []
    assert sqlite_cli.json("audit")["events"][-1]["action"] == "build.cancelled"


@pytest.mark.packer
def test_packer_engine_records_the_manifest(sqlite_cli, tmp_path):
    need_binary("packer", "packer")
    t = write(tmp_path / "f.pkr.hcl", f"""
source "file" "out" {{
  content = "hello"
  target  = "{tmp_path}/out.txt"
}}

build {{
  name    = "filey"
  sources = ["source.file.out"]
  provisioner "shell-local" {{
    inline = ["echo from-packer"]
  }}
}}
""")
    r = sqlite_cli.ok("build", str(t), "--engine", "packer")
    assert "from-packer" in r.out and (tmp_path / "out.txt").read_text() == "hello"
    v = sqlite_cli.json("show", "filey@v1")
    assert v["origin"] == "build" and v["artifacts"][0]["builder_type"] == "file"
    r = sqlite_cli("build", str(t), "--engine", "native")
    assert r.code == 2 and "--engine packer" in r.err


def two_sources(tmp_path: Path, provisioners: str = "") -> Path:
    return write(tmp_path / "multi.pkr.hcl", f"""
source "local" "a" {{
  command  = ["sleep", "1"]
  port_arg = true
}}

source "local" "b" {{
  command  = ["sleep", "1"]
  port_arg = true
}}

build {{
  name    = "multi"
  sources = ["source.local.a", "source.local.b"]
{provisioners}
}}
""")


def test_parallel_sources_only_except_and_provisioner_filters(sqlite_cli, tmp_path):
    t = two_sources(tmp_path, provisioners="""
  provisioner "shell" {
    inline = ["echo $PACKER_BUILD_NAME > who.txt", "sleep 1"]
  }
  provisioner "shell" {
    only   = ["local.b"]
    inline = ["echo only-b > only.txt"]
  }
  provisioner "shell" {
    except = ["local.b"]
    inline = ["echo not-b > except.txt"]
  }
""")
    t0 = time.time()
    sqlite_cli.ok("build", str(t))
    assert time.time() - t0 < 2 * 1.0 + 6  # the two sources ran side by side
    v = sqlite_cli.json("show", "multi@v1")
    by_source = {a["extra"]["source"]: a["files"][0] for a in v["artifacts"]}
    assert set(by_source) == {"local.a", "local.b"}
    assert read_member(by_source["local.a"], "who.txt") == "a\n"
    assert "only.txt" in members(by_source["local.b"]) and "only.txt" not in members(by_source["local.a"])
    assert "except.txt" in members(by_source["local.a"]) and "except.txt" not in members(by_source["local.b"])
    v2 = json.loads(sqlite_cli.ok("build", str(t), "--only", "local.a", "--force", "--json").out.strip()
                    .splitlines()[-1])["version"]
    assert [a["extra"]["source"] for a in v2["artifacts"]] == ["local.a"]
    v3 = json.loads(sqlite_cli.ok("build", str(t), "--except", "local.a", "--force", "--json").out.strip()
                    .splitlines()[-1])["version"]
    assert [a["extra"]["source"] for a in v3["artifacts"]] == ["local.b"]
    r = sqlite_cli("build", str(t), "--only", "local.zzz")
    assert r.code == 2 and "no source left" in r.err


def test_retries_pause_and_timeout(sqlite_cli, tmp_path):
    counter = tmp_path / "count"
    t = template(tmp_path, provisioners=f"""
  provisioner "shell-local" {{
    max_retries  = 2
    pause_before = "100ms"
    inline       = ["echo x >> {counter}", "test $(wc -l < {counter}) -ge 2"]
  }}
""")
    sqlite_cli.ok("build", str(t))
    assert counter.read_text().count("x") == 2  # failed once, succeeded on the retry
    t2 = template(tmp_path / "t", provisioners="""
  provisioner "shell" {
    timeout = "1s"
    inline  = ["sleep 30"]
  }
""")
    t0 = time.time()
    r = sqlite_cli("build", str(t2))
    assert r.code == 1 and time.time() - t0 < 20 and "Traceback" not in r.err


def test_on_error_abort_keeps_the_work_folder_and_says_so(sqlite_cli, tmp_path):
    t = template(tmp_path, provisioners='  provisioner "shell" {\n    inline = ["exit 1"]\n  }\n')
    r = sqlite_cli("build", str(t), "--on-error", "abort")
    assert r.code == 1
    kept = [p for p in (tmp_path / "state" / "tmp").iterdir()]
    assert len(kept) == 1 and "remove it by hand" in r.out
    assert str(kept[0]) in r.out


def test_shell_local_post_processor_sees_the_artifact(sqlite_cli, tmp_path):
    t = template(tmp_path, post=f"""
  post-processor "shell-local" {{
    inline = ["echo $RELEASE_ARTIFACT_ID $PACKER_BUILDER_TYPE > {tmp_path}/pp.txt"]
  }}
""")
    sqlite_cli.ok("build", str(t))
    v = sqlite_cli.json("show", "web@v1")
    assert (tmp_path / "pp.txt").read_text() == f"{v['artifacts'][0]['id']} local\n"
    t2 = write(tmp_path / "null.pkr.hcl", """
source "null" "web" {
  communicator = "none"
}

build {
  name    = "nothing"
  sources = ["source.null.web"]
  provisioner "shell-local" {
    inline = ["echo ran"]
  }
  post-processor "checksum" {
    checksum_types = ["sha256"]
  }
}
""")
    r = sqlite_cli("build", str(t2))
    assert r.code == 0, r  # a null build with no artifact makes no version and runs no post-processor
    assert "no version" in r.out


def test_source_name_and_build_id_reach_each_source(sqlite_cli, tmp_path):
    t = two_sources(tmp_path, provisioners="""
  provisioner "shell" {
    inline = ["echo ${source.name} > name.txt", "echo ${build.ID} > id.txt"]
  }
""")
    sqlite_cli.ok("build", str(t))
    v = sqlite_cli.json("show", "multi@v1")
    by_source = {a["extra"]["source"]: a["files"][0] for a in v["artifacts"]}
    assert read_member(by_source["local.a"], "name.txt") == "a\n"
    assert read_member(by_source["local.b"], "name.txt") == "b\n"
    assert read_member(by_source["local.b"], "id.txt") == v["build_id"] + "\n"
