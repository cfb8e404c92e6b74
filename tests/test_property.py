"""A property test of the invariants (docs/deploy.md "Invariants and where they are enforced"):
random sequences of build / promote / approve / deploy / rollback / revoke / prune / retire
on the local provider, in-process through the CLI (as a user types them), with real server
processes and real HTTP, checking after every step:

- every current version's servers serve it (HTTP GET answers that version's text), and every
  server in a route serves the version the ledger says it runs;
- no referenced artifact is missing (every non-pruned artifact of a version that is current
  somewhere or runs servers exists on disk);
- nothing is `running` (builds, deployments) or `pending` (servers) once a command returned,
  and every live server's process is alive;
- `release audit verify` passes;
- no command crashes or exits with a code outside the documented ones.

CI runs it derandomised (the conftest "ci" profile): 10 examples of up to 25 steps, over 200
steps in all (a promotion to prod with its approval counts as one).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from conftest import Cli
from local_images import SERVER, alive, get, kill_all_under

TEMPLATE = """
variable "text" {
  type = string
}

variable "mode" {
  type    = string
  default = "ok"
}

source "local" "web" {
  base     = "./app"
  command  = ["python3", "server.py"]
  port_env = "PORT"
  health_check {
    type          = "http"
    path          = "/"
    timeout       = "2s"
    interval      = "0.1s"
    body_contains = var.text
  }
}

build {
  name    = "web"
  sources = ["source.local.web"]

  provisioner "shell" {
    inline = ["printf '%s' '${var.text}' > version.txt", "printf '%s' '${var.mode}' > mode.txt"]
  }
}
"""

TOML = """
[[environments]]
name = "dev"
auto_deploy = true

[[environments]]
name = "prod"
requires = "dev"
approvals = 1

[deploy.dev]
count = 1
health_timeout = 2

[deploy.prod]
count = 2
strategy = "blue-green"
batch_size = 2
health_timeout = 2
"""

ENVS = ("dev", "prod")
# exit codes a step may end with: 0 ok, 1 failed (a deploy that did not become healthy), 3
# refused by policy, 4 not found (nothing current, a pruned version)
ALLOWED = {0, 1, 3, 4}


class Releases(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="release-prop-"))
        state = self.dir / "state"
        (self.dir / "app").mkdir()
        (self.dir / "app" / "server.py").write_text(SERVER)
        (self.dir / "web.pkr.hcl").write_text(TEMPLATE)
        (self.dir / "release.toml").write_text(TOML)
        self.cli = Cli(self.dir, {"RELEASE_STATE": str(state), "RELEASE_LEDGER": f"sqlite:///{state / 'ledger.db'}",
                                  "RELEASE_ACTOR": "alice", "NO_COLOR": "1"})
        self.state = state
        self.texts: dict[str, str] = {}  # version label -> what its servers answer
        self.builds = 0
        self.log: list[str] = []

    def teardown(self):
        kill_all_under(self.dir)
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- running a step ----------------------------------------------------------------------
    def run(self, *args, actor: str | None = None):
        r = self.cli(*args, "--json", actor=actor)
        self.log.append(f"release {' '.join(map(str, args))} -> {r.code}")
        # exit 2 (a conflict) only for revoking what is already revoked
        assert r.code in ALLOWED or (r.code == 2 and "is already revoked" in r.out + r.err), (self.log, r)
        assert "Traceback" not in r.err, (self.log, r)
        return r

    def version(self, back: int) -> str:
        """The newest version but `back` (the oldest when there are fewer)."""
        return f"v{max(1, len(self.texts) - back)}"

    # -- rules ---------------------------------------------------------------------------------
    @initialize()
    def first_build(self):
        self.build(good=True)

    @rule(good=st.booleans())
    def build(self, good):
        self.builds += 1
        text = f"build {self.builds}"
        r = self.run("build", "web.pkr.hcl", "-var", f"text={text}", "-var", f"mode={'ok' if good else 'exit'}")
        assert r.code == 0, (self.log, r)
        self.texts[f"v{len(self.texts) + 1}"] = text

    @rule(back=st.integers(0, 3), deploy=st.booleans())
    def promote_to_dev(self, back, deploy):  # dev deploys automatically
        self.run("promote", f"web@{self.version(back)}", "--to", "dev", *(["--deploy"] if deploy else []))

    @rule(back=st.integers(0, 3), deploy=st.booleans(), approved=st.booleans())
    def promote_to_prod(self, back, deploy, approved):
        if approved:
            self.run("approve", f"web@{self.version(back)}", "--env", "prod", actor="bob")
        self.run("promote", f"web@{self.version(back)}", "--to", "prod", *(["--deploy"] if deploy else []))

    @rule(env=st.sampled_from(ENVS))
    def deploy(self, env):
        self.run("deploy", "web", "--env", env)

    @rule(env=st.sampled_from(ENVS), deploy=st.booleans())
    def rollback(self, env, deploy):
        self.run("rollback", "web", "--env", env, *(["--deploy"] if deploy else []))

    @precondition(lambda self: len(self.texts) > 1)
    @rule(back=st.integers(0, 3), roll=st.booleans())
    def revoke(self, back, roll):
        self.run("revoke", f"web@{self.version(back)}", "--reason", "property test", *(["--rollback"] if roll else []))

    @precondition(lambda self: len(self.texts) > 2)
    @rule(keep=st.integers(0, 2))
    def prune(self, keep):
        self.run("prune", "web", "--keep", str(keep))

    @rule(env=st.sampled_from(ENVS))
    def retire(self, env):
        self.run("retire", "web", "--env", env)

    # -- invariants ----------------------------------------------------------------------------
    def ledger_rows(self, sql: str) -> list[tuple]:
        with sqlite3.connect(self.state / "ledger.db") as db:
            return db.execute(sql).fetchall()

    @invariant()
    def current_versions_are_served(self):
        channels = self.cli.json("status", "web")["channels"]
        for ch in channels:
            servers = self.cli.json("servers", "web", "--env", ch["env"])["servers"]
            for s in servers:
                if s["state"] == "healthy":
                    assert s["version"] == ch["version"], (self.log, ch, servers)
                    assert get(s["address"])[1] == self.texts[s["version"]], (self.log, s)
        for env in ENVS:
            route = self.state / "routes" / f"web@{env}.json"
            if route.exists():
                for s in json.loads(route.read_text())["servers"]:
                    assert get(s["address"])[1] == self.texts[s["version"]], (self.log, env, s)

    @invariant()
    def referenced_artifacts_exist(self):
        from releasemgr.providers.local.image import image_path

        versions = self.cli.json("versions", "web")["versions"] if self.texts else []
        live = {s["version"] for env in ENVS for s in self.cli.json("servers", "web", "--env", env)["servers"]}
        for v in versions:
            if not (v.get("environments") or v["version"] in live):
                continue
            for a in v["artifacts"]:
                if not a.get("deleted_at"):
                    assert image_path(self.state, a["id"]).exists(), (self.log, v)

    @invariant()
    def nothing_runs_without_a_process(self):
        assert self.ledger_rows("SELECT id FROM build WHERE status = 'running'") == [], self.log
        assert self.ledger_rows("SELECT id FROM deployment WHERE status = 'running'") == [], self.log
        assert self.ledger_rows("SELECT id FROM server WHERE state IN ('pending', 'draining')") == [], self.log
        for env in ENVS:
            for s in self.cli.json("servers", "web", "--env", env)["servers"]:
                assert s["pid"] and alive(s["pid"]), (self.log, s)

    @invariant()
    def audit_chain_verifies(self):
        assert self.cli.json("audit", "verify")["ok"] is True, self.log


TestReleases = Releases.TestCase
# no shrinking: each step runs real servers, so shrinking takes minutes; a failure's message
# carries the whole sequence of commands (`self.log`) instead
TestReleases.settings = settings(max_examples=10, stateful_step_count=25, deadline=None,
                                 suppress_health_check=list(HealthCheck),
                                 phases=[Phase.explicit, Phase.reuse, Phase.generate])
