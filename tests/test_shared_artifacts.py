"""Artifacts are referenced, not owned (issue 12, item 1): several versions may share one
content-addressed image; prune deletes it only when no remaining version references it, and
identical builds make one version. Real `release` processes, real builds with the local
builder, real HTTP servers started by `release deploy`.

Unit-level counterparts: tests/test_unit_retention.py (shared artifacts on a fake provider).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import Cli, audit_events
from local_images import get, make_image

TOML = """
[[environments]]
name = "dev"

[[environments]]
name = "prod"

[deploy.prod]
count = 1
strategy = "rolling"
"""

TEMPLATE = """# the shared-artifact template{comment}
variable "greeting" {{
  type    = string
  default = "hello"
}}

source "local" "web" {{
  base     = "./app"
  command  = ["python3", "-m", "http.server", "--bind", "127.0.0.1"]
  port_arg = true
  health_check {{
    type          = "http"
    path          = "/"
    body_contains = "served"
    timeout       = "20s"
    interval      = "1s"
  }}
}}

build {{
  name    = "web"
  sources = ["source.local.web"]

  provisioner "shell" {{
    inline = ["echo \\"served ${{var.greeting}}\\" > index.html"]
  }}{extra}
}}
"""


@pytest.fixture
def fleet_toml():
    return TOML


def template(tmp_path: Path, comment: str = "", extra: str = "") -> Path:
    (tmp_path / "app").mkdir(exist_ok=True)
    (tmp_path / "app" / "readme.txt").write_text("app\n")
    t = tmp_path / "web.pkr.hcl"
    t.write_text(TEMPLATE.format(comment=comment, extra=extra))
    return t


def barrier(folder: Path, n: int) -> str:
    """A provisioner that waits (60 s at most) until `n` builds reached it: every one of them
    has passed the identical-build check before any registers its version. It writes nothing
    into the image."""
    folder.mkdir()
    return f"""
  provisioner "shell" {{
    inline = ["touch {folder}/$$",
              "i=0; while [ $(ls {folder} | wc -l) -lt {n} ] && [ $i -lt 300 ]; do sleep 0.2; i=$((i+1)); done"]
  }}"""


def built(r) -> dict:
    """The result line of `release build --json`."""
    return json.loads(r.out.strip().splitlines()[-1])


def serving(fleet, env: str = "prod") -> list[tuple[str, int, str]]:
    return [(s["version"], *get(s["address"])) for s in fleet.json("servers", "web", "--env", env)["servers"]
            if s["state"] == "healthy"]


def test_prune_keeps_the_image_the_current_version_shares_with_older_ones(fleet, tmp_path):
    from releasemgr.providers.local.fleet import image_root
    from releasemgr.providers.local.image import image_path

    t = template(tmp_path)
    v1 = built(fleet.ok("build", t, "--json"))["version"]
    r = fleet.ok("build", t)
    assert "identical to web@v1" in r.out
    v2 = built(fleet.ok("build", t, "--force", "--json"))["version"]
    template(tmp_path, comment="\n# a comment-only change: another template digest, the same image")
    v3 = built(fleet.ok("build", t, "--json"))["version"]
    assert (v1["version"], v2["version"], v3["version"]) == ("v1", "v2", "v3")
    assert v1["template_digest"] == v2["template_digest"] != v3["template_digest"]
    art = v1["artifacts"][0]["id"]
    assert v2["artifacts"][0]["id"] == art == v3["artifacts"][0]["id"]  # one image, three references

    fleet.ok("promote", "web@v3", "--to", "prod", "--deploy")
    assert serving(fleet) == [("v3", 200, "served hello\n")]
    tarball = image_path(fleet.state, art)
    unpacked = image_root(fleet.state, tarball)
    assert unpacked.is_dir()

    # the dry run says what it keeps and why, per artifact
    d = fleet.json("prune", "web", "--keep", "0", "--dry-run")
    assert d["pruned"] == []
    assert [(s["version"], s["artifact"], s["why"], s["shared_with"]) for s in d["shared"]] == [
        ("v2", f"local::{art}", "shared with web@v3 (current in prod)", ["web@v3"]),
        ("v1", f"local::{art}", "shared with web@v3 (current in prod)", ["web@v3"])]
    assert {k["version"]: k["why"] for k in d["kept"]} == {"v3": "current in prod"}
    text = fleet.ok("prune", "web", "--keep", "0", "--dry-run").out
    assert f"kept local::{art} (pruned from v1 only): shared with web@v3 (current in prod)" in text
    assert "nothing to prune" in text

    d = fleet.json("prune", "web", "--keep", "0")
    assert d["pruned"] == [] and [s["version"] for s in d["shared"]] == ["v2", "v1"]
    assert tarball.is_file() and unpacked.is_dir()
    assert serving(fleet) == [("v3", 200, "served hello\n")]  # the servers still serve it
    # the ledger tells the truth: v1 and v2 no longer have the image, v3 does
    assert all(fleet.json("show", f"web@{v}")["artifacts"][0]["deleted_at"] for v in ("v1", "v2"))
    assert "deleted_at" not in fleet.json("show", "web@v3")["artifacts"][0]
    events = [d for a, d in audit_events(fleet) if a == "artifact.pruned"]
    assert [(e["artifacts"], e["shared"]) for e in events] == \
        [([], [{"artifact": f"local::{art}", "kept_by": ["web@v3"]}])] * 2
    r = fleet("deploy", "web", "--env", "dev", "--version", "v1")
    assert r.code == 4 and "pruned" in r.err
    fleet.ok("deploy", "web", "--env", "prod", "--count", "2")  # deploying what shares it still works
    assert sorted(serving(fleet)) == [("v3", 200, "served hello\n")] * 2
    assert fleet.json("prune", "web", "--keep", "0", "--dry-run")["shared"] == []  # nothing twice

    # once no remaining version references it, it goes
    art4 = make_image(fleet.state, "v4 text")
    art5 = make_image(fleet.state, "v5 text")
    fleet.ok("register", "web", "--artifact", f"local::{art4}")
    fleet.ok("register", "web", "--artifact", f"local::{art5}")
    fleet.ok("promote", "web@v4", "--to", "prod", "--deploy")  # rolling: v3's servers go
    d = fleet.json("prune", "web", "--keep", "0", "--dry-run")
    assert {k["version"]: k["why"] for k in d["kept"]}["v3"] == "rollback target of prod"
    fleet.ok("promote", "web@v5", "--to", "prod", "--deploy")  # v4 is the rollback target now
    d = fleet.json("prune", "web", "--keep", "0")
    assert d["pruned"] == [{"version": "v3", "artifacts": [f"local::{art}"]}] and d["shared"] == []
    assert not tarball.exists() and not unpacked.exists()
    assert fleet.json("show", "web@v3")["artifacts"][0]["deleted_at"]
    assert [v for v, code, _ in serving(fleet)] == ["v5"]


def test_three_identical_builds_at_once_make_one_version(fleet, tmp_path):
    t = template(tmp_path, extra=barrier(tmp_path / "barrier", 3))
    procs = [fleet.proc("build", t) for _ in range(3)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, (out, err)
        outs.append(out)
    versions = fleet.json("versions", "web")["versions"]
    assert [v["version"] for v in versions] == ["v1"]
    assert sum("Build finished: web@v1" in o for o in outs) == 1, outs
    assert sum("identical to web@v1" in o for o in outs) == 2, outs
    events = audit_events(fleet)
    assert sum(1 for a, _ in events if a == "build.started") == 3  # all three built...
    builds = [d for a, d in events if a == "build.succeeded"]  # ...and two found v1 when registering
    assert len(builds) == 3 and sum(1 for d in builds if d.get("identical_to") == "v1") == 2
    # the image of the one version is there; nothing else is left in the store
    art = versions[0]["artifacts"][0]["id"]
    from releasemgr.providers.local.image import image_path

    assert image_path(fleet.state, art).is_file()
    assert len(list(image_path(fleet.state, art).parent.glob("*.tar"))) == 1


def test_identical_inputs_are_found_in_older_versions_not_only_the_newest(fleet, tmp_path):
    t = template(tmp_path)
    fleet.ok("build", t)  # v1: hello
    fleet.ok("build", t, "--var", "greeting=bye")  # v2: bye
    r = fleet.ok("build", t)  # hello again: v1 has these inputs
    assert "identical to web@v1" in r.out
    r = fleet.json("build", t)
    assert r["skipped"] and r["identical_to"] == "v1"
    assert [v["version"] for v in fleet.json("versions", "web")["versions"]] == ["v2", "v1"]
    fleet.ok("revoke", "web@v1", "--reason", "bad")  # a revoked version does not count
    assert built(fleet.ok("build", t, "--json"))["version"]["version"] == "v3"
    assert "identical to web@v3" in fleet.ok("build", t).out


def test_prune_does_not_deregister_an_ami_another_version_references(aws, tmp_path):
    """moto: web@v1 and web@v3 reference one AMI; pruning v1 (and v2, its own AMI) deregisters
    only v2's; pruning v3 later deregisters the shared one with its snapshot."""
    (tmp_path / "release.toml").write_text(TOML)
    cli = Cli(tmp_path, {"RELEASE_STATE": str(tmp_path / "state"),
                         "RELEASE_LEDGER": f"sqlite:///{tmp_path / 'state' / 'ledger.db'}",
                         "RELEASE_ACTOR": "alice", "NO_COLOR": "1", **aws.env()})
    ec2 = aws.ec2()
    base = ec2.describe_images(Owners=["099720109477"])["Images"][0]["ImageId"]
    amis = []
    for n in range(3):
        inst = ec2.run_instances(ImageId=base, InstanceType="t3.micro", MinCount=1, MaxCount=1)["Instances"][0]
        amis.append(ec2.create_image(InstanceId=inst["InstanceId"], Name=f"web-{n}")["ImageId"])
        ec2.terminate_instances(InstanceIds=[inst["InstanceId"]])
    for ami in (amis[0], amis[1], amis[0]):  # v1 and v3 share an AMI
        cli.ok("register", "web", "--artifact", f"aws:us-east-1:{ami}")
    cli.ok("promote", "web@v3", "--to", "prod")
    d = cli.json("prune", "web", "--keep", "0")
    assert d["pruned"] == [{"version": "v2", "artifacts": [f"aws:us-east-1:{amis[1]}"]}]
    assert [(s["version"], s["why"]) for s in d["shared"]] == [("v1", "shared with web@v3 (current in prod)")]

    owned = {i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]}
    assert amis[0] in owned and amis[1] not in owned
    for _ in range(2):  # v4, v5
        cli.ok("register", "web", "--artifact", f"aws:us-east-1:{amis[2]}")
    cli.ok("promote", "web@v4", "--to", "prod")
    cli.ok("promote", "web@v5", "--to", "prod")  # v3 is free now (v4 the rollback target)
    d = cli.json("prune", "web", "--keep", "0")
    assert d["pruned"] == [{"version": "v3", "artifacts": [f"aws:us-east-1:{amis[0]}"]}]
    owned = {i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]}
    assert amis[0] not in owned
