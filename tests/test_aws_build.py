"""amazon-ebs against moto's server, provisioning over a real OpenSSH sshd on loopback."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path



def seed_template(tmp_path: Path, sshd, *, provisioner: str = 'inline = ["echo provisioned-on-$(hostname)"]',
                  keypair: bool = True, extra: str = "", post: str = "") -> Path:
    key = f'''
  ssh_keypair_name     = "release-test"
  ssh_private_key_file = "{sshd.folder / 'id_rsa'}"''' if keypair else ""
    t = tmp_path / "web.pkr.hcl"
    t.write_text(f"""
variable "region" {{
  type    = string
  default = "us-east-1"
}}

source "amazon-ebs" "ubuntu" {{
  ami_name      = "web-${{uuidv4()}}"
  instance_type = "t3.micro"
  region        = var.region
  ami_regions   = ["us-east-1", "us-west-2"]

  source_ami_filter {{
    filters = {{
      name                = "ubuntu/images/*ubuntu-jammy-22.04-amd64-server-*"
      root-device-type    = "ebs"
      virtualization-type = "hvm"
    }}
    most_recent = true
    owners      = ["099720109477"]
  }}

  ssh_username = "{sshd.username}"
  ssh_host     = "127.0.0.1"
  ssh_port     = {sshd.port}
  ssh_timeout  = "20s"{key}
  {extra}

  tags = {{
    Name = "web"
    Team = "platform"
  }}
  snapshot_tags = {{
    Kind = "root"
  }}
}}

build {{
  name    = "web"
  sources = ["source.amazon-ebs.ubuntu"]

  provisioner "shell" {{
    {provisioner}
  }}
{post}
}}
""")
    return t


def import_key(aws, sshd):
    """An RSA key (moto imports RSA public keys) authorised on the sshd and imported as a key pair."""
    key = sshd.folder / "id_rsa"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-f", str(key)],
                       check=True)
        with open(sshd.authorized_keys, "a") as fh:
            fh.write(Path(str(key) + ".pub").read_text())
    for region in ("us-east-1", "us-west-2"):
        aws.ec2(region).import_key_pair(KeyName="release-test", PublicKeyMaterial=Path(str(key) + ".pub").read_bytes())
    return key


def assert_nothing_left(aws, *, images_too: bool):
    assert aws.running_instances() == []
    managed = aws.managed()
    assert managed["key_pairs"] == [] and managed["security_groups"] == []
    if images_too:
        for region in ("us-east-1", "us-west-2"):
            m = aws.managed(region)
            assert m["images"] == [] and m["snapshots"] == [], (region, m)


def test_seed_template_builds_amis_in_two_regions(sqlite_cli, tmp_path, aws, sshd):
    import_key(aws, sshd)
    box = tmp_path / "web.box"
    t = seed_template(tmp_path, sshd, post=f'  post-processor "vagrant" {{\n    output = "{box}"\n  }}\n'
                                           f'  post-processor "manifest" {{\n    output = "{tmp_path}/m.json"\n  }}\n')
    r = sqlite_cli.ok("build", str(t))
    assert "provisioned-on-" in r.out  # the shell provisioner really ran over SSH
    v = sqlite_cli.json("show", "web@v1")
    arts = {a["region"]: a["id"] for a in v["artifacts"]}
    assert set(arts) == {"us-east-1", "us-west-2"} and all(x.startswith("ami-") for x in arts.values())
    assert v["parent"] == "ami-0jammy0002"  # most_recent among Canonical's, not the newer look-alike
    for region, ami in arts.items():
        img = aws.ec2(region).describe_images(ImageIds=[ami])["Images"][0]
        tags = {t["Key"]: t["Value"] for t in img.get("Tags", [])}
        assert tags["Name"] == "web" and tags["Team"] == "platform"
        assert tags["release:managed"] == "true" and tags["release:build-id"] == v["build_id"]
        assert tags["release:version"] == "v1"
    snaps = aws.ec2().describe_snapshots(OwnerIds=["self"])["Snapshots"]
    assert snaps and all({t["Key"]: t["Value"] for t in s.get("Tags", [])}.get("Kind") == "root" for s in snaps
                         if any(t["Key"] == "release:managed" for t in s.get("Tags", [])))
    import json
    import tarfile

    with tarfile.open(box) as tar:
        vf = tar.extractfile("Vagrantfile").read().decode()
        assert json.loads(tar.extractfile("metadata.json").read()) == {"provider": "aws"}
    for region, ami in arts.items():
        assert f'aws.region_config "{region}", ami: "{ami}"' in vf
    entry = json.loads((tmp_path / "m.json").read_text())["builds"][0]
    assert entry["artifact_id"] == ",".join(f"{r}:{a}" for r, a in sorted(arts.items()))
    assert entry["builder_type"] == "amazon-ebs" and entry["name"] == "ubuntu"
    assert_nothing_left(aws, images_too=False)


def test_failing_provisioner_leaves_nothing(sqlite_cli, tmp_path, aws, sshd):
    import_key(aws, sshd)
    t = seed_template(tmp_path, sshd, provisioner='inline = ["exit 5"]')
    r = sqlite_cli("build", str(t))
    assert r.code == 1 and "status 5" in r.out + r.err
    assert_nothing_left(aws, images_too=True)


def test_temporary_key_pair_is_removed_when_ssh_fails(sqlite_cli, tmp_path, aws, sshd):
    t = seed_template(tmp_path, sshd, keypair=False, extra='ssh_handshake_attempts = 1')
    r = sqlite_cli("build", str(t))
    assert r.code == 1 and "Traceback" not in r.err
    assert "Creating temporary keypair" in r.out and "Deleting temporary keypair" in r.out
    assert_nothing_left(aws, images_too=True)


def test_sigint_during_provisioning_cleans_up(sqlite_cli, tmp_path, aws, sshd):
    import_key(aws, sshd)
    marker = f"aws-sigint-{time.time_ns()}"
    t = seed_template(tmp_path, sshd,
                      provisioner=f'inline = ["python3 -c \'import time; time.sleep(60)\' {marker}"]')
    p = sqlite_cli.proc("build", str(t))
    deadline = time.time() + 60
    while time.time() < deadline and subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode:
        time.sleep(0.2)
    assert time.time() < deadline, "the provisioner never started"
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 1 and "cancelled" in (out + err).lower(), (out, err)
    assert subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode == 1
    assert_nothing_left(aws, images_too=True)
    assert sqlite_cli.json("audit")["events"][-1]["action"] == "build.cancelled"


def test_filter_without_match_or_ambiguous(sqlite_cli, tmp_path, aws, sshd):
    t = seed_template(tmp_path, sshd)
    t.write_text(t.read_text().replace("ubuntu-jammy-22.04", "ubuntu-noble-24.04"))
    r = sqlite_cli("build", str(t))
    assert r.code == 1 and "matched no image" in r.out + r.err
    t.write_text(t.read_text().replace("ubuntu-noble-24.04", "ubuntu-jammy-22.04").replace("most_recent = true",
                                                                                            "most_recent = false"))
    r = sqlite_cli("build", str(t))
    assert r.code == 1 and "most_recent" in r.out + r.err
    assert_nothing_left(aws, images_too=True)


def test_a_newer_base_ami_makes_the_next_build_not_identical(sqlite_cli, tmp_path, aws, sshd):
    """The digest covers the AMI the filter resolves to (issue 12, item 1): the same template
    on the same base is identical; after a newer matching AMI is published it is not, and the
    new version records (and is built from) the new base."""
    import json

    def build() -> dict:  # --json: the build's JSON lines end with its result (or one document)
        out = sqlite_cli.ok("build", str(t), "--json").out.strip()
        try:
            return json.loads(out)
        except json.JSONDecodeError:
            return json.loads(out.splitlines()[-1])

    import_key(aws, sshd)
    t = seed_template(tmp_path, sshd)
    # the newer base is published by this account (moto's own images have root-device-type "standard")
    t.write_text(t.read_text().replace('owners      = ["099720109477"]', 'owners      = ["099720109477", "self"]')
                 .replace('root-device-type    = "ebs"\n', ''))
    first = build()
    v1 = sqlite_cli.json("show", "web@v1")
    assert v1["parent"] == "ami-0jammy0002"
    created = sqlite_cli.json("audit", "--action", "version.created")["events"]
    assert created[-1]["details"]["resolved_inputs"] == {"amazon-ebs.ubuntu": {"source_ami": "ami-0jammy0002"}}
    same = build()
    assert same["skipped"] is True and same["identical_to"] == "v1"
    assert same["template_digest"] == first["template_digest"]
    # a newer base is published: an AMI matching the filter, created now
    ec2 = aws.ec2()
    inst = ec2.run_instances(ImageId="ami-0jammy0002", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    newer = ec2.create_image(InstanceId=inst, Name="ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20261201")
    ec2.terminate_instances(InstanceIds=[inst])
    second = build()
    assert not second.get("skipped") and second["version"]["version"] == "v2", second
    assert second["template_digest"] != first["template_digest"]
    assert sqlite_cli.json("show", "web@v2")["parent"] == newer["ImageId"]
    again = build()  # the same newer base again: identical to v2
    assert again["skipped"] is True and again["identical_to"] == "v2"
    started = sqlite_cli.json("audit", "--action", "build.started")["events"][-1]
    assert started["details"]["resolved_inputs"] == {"amazon-ebs.ubuntu": {"source_ami": newer["ImageId"]}}


def test_resolving_inputs_needs_no_aws_for_other_providers():
    from releasemgr.providers.registry import provider

    assert provider("local").resolve_inputs({"docker.x": {"image": "ubuntu"}}) == {}
    assert provider("null").resolve_inputs({"null.x": {}}) == {}
    # a literal source_ami is in the template already: nothing to resolve, no AWS call
    assert provider("aws").resolve_inputs({"amazon-ebs.x": {"source_ami": "ami-1", "instance_type": "t3.micro",
                                                            "ami_name": "x"}}) == {}


def test_sigkill_leftovers_found_and_removed_by_gc(sqlite_cli, tmp_path, aws, sshd):
    import_key(aws, sshd)
    marker = f"aws-sigkill-{time.time_ns()}"
    t = seed_template(tmp_path, sshd,
                      provisioner=f'inline = ["python3 -c \'import time; time.sleep(60)\' {marker}"]')
    p = sqlite_cli.proc("build", str(t))
    deadline = time.time() + 60
    while time.time() < deadline and subprocess.run(["pgrep", "-f", marker], capture_output=True).returncode:
        time.sleep(0.2)
    assert time.time() < deadline, "the provisioner never started"
    p.kill()
    p.communicate(timeout=30)
    subprocess.run(["pkill", "-f", marker])
    assert aws.running_instances(), "the killed build should have left its instance"
    dry = sqlite_cli.json("gc", "--dry-run")
    kinds = sorted(x["kind"] for x in dry["leftovers"])
    assert kinds == ["instance", "security-group"], dry
    assert all(x["reason"] == "build process died" for x in dry["leftovers"])
    assert aws.running_instances()  # dry run removed nothing
    done = sqlite_cli.json("gc")
    assert sorted(x["kind"] for x in done["removed"]) == ["instance", "security-group"]
    assert_nothing_left(aws, images_too=True)
    assert sqlite_cli.json("gc", "--dry-run")["leftovers"] == []
    assert sqlite_cli.json("audit", "--action", "gc")["events"][0]["details"]["removed"]
