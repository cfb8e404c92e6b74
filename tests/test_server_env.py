"""What a deployed server sees (issue 15): a declared environment only, and none of the
image's metadata in the folder it serves. Real builds, real deploys, real HTTP."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import pytest

from conftest import Cli
from local_images import get
from releasemgr.config import load_config
from releasemgr.errors import ReleaseError

TOML = """
[[environments]]
name = "dev"

[[environments]]
name = "prod"

[deploy.prod]
count = 1
pass_env = ["APP_TOKEN", "NOT_SET_ANYWHERE"]
route_hook = "env > hook-env.txt"

[deploy.prod.health_check]
type = "command"
command = ["sh", "-c", "test -f \\"$HOME/env.json\\" && env > \\"$HOME/health-env.txt\\""]
timeout = "20s"
"""

# dumps its environment into $HOME (the server's own folder), then serves its root over HTTP
APP = """
import json, os
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
with open(os.path.join(os.environ["HOME"], "env.json"), "w") as fh:
    json.dump(dict(os.environ), fh)

class H(SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass

ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"""

TEMPLATE = """
source "local" "web" {
  base     = "./app"
  command  = ["python3", "app.py"]
  port_env = "PORT"
  env = {
    DB_PASS  = "image-db-pass"
    GREETING = "hi"
  }
}

build {
  name    = "web"
  sources = ["source.local.web"]
  provisioner "shell" {
    inline = ["echo hello > index.html"]
  }
}
"""

SECRETS = {"AWS_SECRET_ACCESS_KEY": "aws-secret", "PGPASSWORD": "pg-secret", "GITHUB_TOKEN": "gh-secret"}


@pytest.fixture
def fleet_toml():
    return TOML


def deployed(fleet: Cli) -> dict:
    """Build the app, deploy it to prod with secrets planted in the operator's environment;
    returns the one server (from `release servers --json`)."""
    (fleet.cwd / "app").mkdir()
    (fleet.cwd / "app" / "app.py").write_text(APP)
    (fleet.cwd / "web.pkr.hcl").write_text(TEMPLATE)
    fleet.env.update({**SECRETS, "APP_TOKEN": "passed-on"})
    assert fleet.env["RELEASE_LEDGER"].startswith("sqlite:")  # planted by the fixture: must not leak either
    fleet.ok("build", "web.pkr.hcl")
    fleet.ok("promote", "web@v1", "--to", "prod")
    fleet.ok("deploy", "web", "--env", "prod")
    [srv] = fleet.json("servers", "web", "--env", "prod")["servers"]
    return srv


def env_file(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def test_a_server_its_health_check_and_the_route_hook_get_only_a_declared_environment(fleet):
    srv = deployed(fleet)
    home = fleet.state / "servers" / srv["id"]
    env = json.loads((home / "env.json").read_text())
    leaked = set(env) & {*SECRETS, "RELEASE_LEDGER", "NOT_SET_ANYWHERE"}
    assert not leaked, leaked
    assert env["PATH"] == "/usr/local/bin:/usr/bin:/bin" and env["LANG"] == "C.UTF-8"
    assert env["HOME"] == str(home)
    assert env["PORT"] == srv["address"].rsplit(":", 1)[1]
    assert (env["DB_PASS"], env["GREETING"]) == ("image-db-pass", "hi")  # the image's env
    assert env["APP_TOKEN"] == "passed-on"  # named by pass_env
    assert (env["RELEASE_IMAGE"], env["RELEASE_ENV"], env["RELEASE_VERSION"]) == ("web", "prod", "v1")
    allowed = {"PATH", "HOME", "LANG", "PORT", "DB_PASS", "GREETING", "APP_TOKEN", "IMAGE_ROOT",
               "RELEASE_SERVER_ID", "RELEASE_IMAGE", "RELEASE_VERSION", "RELEASE_ENV"}
    assert set(env) - allowed <= {"PWD", "SHLVL", "_", "LC_CTYPE"}, set(env) - allowed  # what python adds

    health = env_file(home / "health-env.txt")  # the `command` health check's environment
    assert not set(health) & {*SECRETS, "RELEASE_LEDGER"}
    assert health["HOME"] == str(home) and health["APP_TOKEN"] == "passed-on" and health["PORT"] == env["PORT"]

    hook = env_file(fleet.cwd / "hook-env.txt")  # the route hook's environment
    assert not set(hook) & {*SECRETS, "RELEASE_LEDGER"}
    assert hook["RELEASE_ADDRESSES"] == srv["address"] and hook["RELEASE_VERSION"] == "v1"
    assert hook["APP_TOKEN"] == "passed-on" and "PATH" in hook


def test_the_served_root_holds_the_image_files_and_not_its_metadata(fleet):
    srv = deployed(fleet)
    assert get(srv["address"])[0] == 200
    for path in ("/.release/image.json", "/.release/"):
        status, body = _get(srv["address"], path)
        assert status == 404 and "image-db-pass" not in body, (path, status, body)
    assert _get(srv["address"], "/index.html") == (200, "hello\n")
    [root] = [p for p in (fleet.state / "images" / "unpacked").iterdir() if not p.name.startswith(".")]
    assert sorted(p.name for p in root.iterdir()) == ["app.py", "index.html"]
    meta = json.loads((fleet.state / "images" / "meta" / f"{root.name}.json").read_text())
    assert meta["env"]["DB_PASS"] == "image-db-pass" and meta["command"] == ["python3", "app.py"]
    env = json.loads((fleet.state / "servers" / srv["id"] / "env.json").read_text())
    assert env["DB_PASS"] == "image-db-pass"  # the server still gets the image's env


def _get(address: str, path: str) -> tuple[int, str]:
    host, _, port = address.rpartition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        conn.close()


@pytest.mark.parametrize("value, ok", [('["A", "B_2"]', True), ("[]", True), ('"A"', False), ('["A B"]', False),
                                       ("[1]", False)])
def test_pass_env_is_a_list_of_variable_names(tmp_path, value, ok):
    (tmp_path / "release.toml").write_text(f'[[environments]]\nname = "prod"\n\n[deploy.prod]\npass_env = {value}\n')
    if ok:
        assert load_config(str(tmp_path / "release.toml")).deploy["prod"]["pass_env"] == json.loads(value)
    else:
        with pytest.raises(ReleaseError, match=r"deploy\.prod\.pass_env (has|must)"):
            load_config(str(tmp_path / "release.toml"))
