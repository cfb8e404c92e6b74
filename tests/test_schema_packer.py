"""Differential test: our schema against Debian's `packer validate` 1.6.6.

Each case is one template, written from the same Python values that we hand to
``check_component``; packer decides accept/reject on the file, we decide on the bodies,
and the two decisions must agree. The cases stay within what 1.6.6 knows (no `env` map,
no file `content`, none of the newer amazon options). Where we are deliberately stricter
or more lenient than 1.6.6, the case is listed in DIFFERENT with the reason, and the test
checks that the difference is exactly the documented one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from releasemgr.template.schema import Body, check_component, check_local_paths

pytestmark = pytest.mark.packer

PACKER = shutil.which("packer") or ("/usr/bin/packer" if Path("/usr/bin/packer").exists() else None)

NONE = {"communicator": "none"}
SSH = {"ssh_host": "127.0.0.1", "ssh_username": "root", "ssh_password": "pw"}
EBS = {
    "region": "us-east-1",
    "instance_type": "t3.micro",
    "ami_name": "web-1",
    "source_ami": "ami-12345678",
    "ssh_username": "ubuntu",
    # keep `packer validate` offline
    "custom_endpoint_ec2": "http://127.0.0.1:9",
    "skip_credential_validation": True,
    "skip_region_validation": True,
    "skip_metadata_api_check": True,
}


@dataclass
class Case:
    name: str
    source: tuple[str, dict, dict] = ("null", NONE, {})  # type, attrs, blocks
    provisioners: list[tuple[str, dict]] = field(default_factory=list)
    post_processors: list[tuple[str, dict]] = field(default_factory=list)


def ebs(**over):
    attrs = dict(EBS)
    attrs.update(over)
    return ("amazon-ebs", {k: v for k, v in attrs.items() if v is not None}, {})


CASES = [
    # accepted
    Case(
        "everything-valid",
        provisioners=[
            ("shell", {"inline": ["echo hi"], "environment_vars": ["A=1"], "valid_exit_codes": [0, 2], "pause_before": "1s"}),
            ("file", {"source": "app.txt", "destination": "/tmp/app.txt"}),
            ("shell-local", {"command": "true", "only_on": ["linux"]}),
            ("breakpoint", {"disable": True, "note": "x"}),
        ],
        post_processors=[
            ("manifest", {"output": "m.json", "strip_path": True, "custom_data": {"k": "v"}}),
            ("checksum", {"checksum_types": ["sha256", "md5"]}),
            ("compress", {"output": "out.tar.gz", "compression_level": 6}),
            ("shell-local", {"inline": ["true"], "keep_input_artifact": True}),
        ],
    ),
    Case("null-ssh-password", source=("null", SSH, {})),
    Case("override-typo-only-warns", provisioners=[("shell-local", {"inline": ["true"], "override": {"null.t": {"inlin": ["x"]}}})]),
    Case("shell-scripts", provisioners=[("shell", {"scripts": ["a.sh", "b.sh"], "execute_command": "sh {{.Path}}", "expect_disconnect": True})]),
    Case("shell-script-string-number", provisioners=[("shell", {"script": "a.sh", "max_retries": "3", "skip_clean": "true"})]),
    Case("file-sources", provisioners=[("file", {"sources": ["a.sh", "b.sh"], "destination": "/tmp/"})]),
    Case("file-source-and-sources", provisioners=[("file", {"source": "app.txt", "sources": ["a.sh"], "destination": "/tmp/"})]),
    Case("file-download-two", provisioners=[("file", {"sources": ["/a", "/b"], "destination": "out/", "direction": "download"})]),
    Case("shell-local-linux-pathing-inline", post_processors=[("shell-local", {"inline": ["true"], "use_linux_pathing": True})]),
    Case("shell-local-linux-pathing-script", provisioners=[("shell-local", {"script": "a.sh", "use_linux_pathing": True})]),
    Case("vagrant-bad-provider", post_processors=[("vagrant", {"provider_override": "qemu"})]),
    Case("file-download", provisioners=[("file", {"source": "/etc/hostname", "destination": "out.txt", "direction": "download"})]),
    Case("ebs-valid", source=ebs(ami_regions=["eu-west-1"], tags={"Name": "web"}, ssh_timeout="10m")),
    Case("ebs-filter", source=("amazon-ebs", dict(EBS, source_ami=""), {"source_ami_filter": [{"filters": {"name": "u/*"}, "owners": ["self"], "most_recent": True}]})),
    Case("ebs-empty-tag-blocks", source=("amazon-ebs", EBS, {"tag": [{}], "run_volume_tag": [{"value": "x"}]})),
    Case("ebs-block-device-without-name", source=("amazon-ebs", EBS, {"ami_block_device_mappings": [{"volume_size": 8}]})),
    Case("ebs-two-filters", source=("amazon-ebs", dict(EBS, source_ami=""), {"source_ami_filter": [{"owners": ["self"]}, {"owners": ["amazon"]}]})),
    Case("ebs-block-devices", source=("amazon-ebs", EBS, {"launch_block_device_mappings": [{"device_name": "/dev/sda1", "volume_size": 20, "volume_type": "gp2"}]})),
    Case("ebs-communicator-none", source=ebs(ssh_username=None, communicator="none")),
    # rejected: unknown options and blocks
    Case("shell-unknown-option", provisioners=[("shell", {"inline": ["x"], "inlin": ["y"]})]),
    Case("null-unknown-option", source=("null", dict(NONE, ssh_hots="h"), {})),
    Case("manifest-unknown-option", post_processors=[("manifest", {"outptu": "m.json"})]),
    Case("ebs-unknown-option", source=ebs(ssh_usernme="ubuntu")),
    Case("ebs-unknown-block", source=("amazon-ebs", EBS, {"source_ami_filtr": [{"owners": ["self"]}]})),
    Case("ebs-tags-as-block", source=("amazon-ebs", EBS, {"tags": [{"Name": "web"}]})),
    # rejected: missing required / groups
    Case("shell-nothing-to-run", provisioners=[("shell", {"remote_folder": "/tmp"})]),
    Case("shell-inline-and-script", provisioners=[("shell", {"inline": ["x"], "script": "a.sh"})]),
    Case("file-no-destination", provisioners=[("file", {"source": "app.txt"})]),
    Case("shell-local-two", provisioners=[("shell-local", {"command": "true", "inline": ["true"]})]),
    Case("shell-local-none", post_processors=[("shell-local", {"keep_input_artifact": True})]),
    Case("null-ssh-no-host", source=("null", {"ssh_username": "root", "ssh_password": "pw"}, {})),
    Case("null-ssh-no-auth", source=("null", {"ssh_host": "h", "ssh_username": "root"}, {})),
    Case("null-ssh-two-auth", source=("null", dict(SSH, ssh_agent_auth=True), {})),
    Case("ebs-no-ami-name", source=ebs(ami_name=None)),
    Case("ebs-no-instance-type", source=ebs(instance_type=None)),
    Case("ebs-no-source-ami", source=ebs(source_ami=None)),
    Case("ebs-empty-filter", source=("amazon-ebs", dict(EBS, source_ami=""), {"source_ami_filter": [{"most_recent": True}]})),
    Case("ebs-no-ssh-username", source=ebs(ssh_username=None)),
    # rejected: values
    Case("shell-inline-string", provisioners=[("shell", {"inline": "echo hi"})]),
    Case("shell-bad-env", provisioners=[("shell", {"inline": ["x"], "environment_vars": ["NOEQUALS"]})]),
    Case("file-bad-direction", provisioners=[("file", {"source": "app.txt", "destination": "d", "direction": "sideways"})]),
    Case("checksum-bad-type", post_processors=[("checksum", {"checksum_types": ["md7"]})]),
    Case("shell-local-bad-os", provisioners=[("shell-local", {"command": "true", "only_on": ["linuxx"]})]),
    Case("bad-communicator", source=("null", {"communicator": "telnet"}, {})),
    Case("bad-transfer-method", source=("null", dict(SSH, ssh_file_transfer_method="rsync"), {})),
    Case("bad-duration", source=("null", dict(SSH, ssh_timeout="5 minutes"), {})),
    Case("ebs-short-ami-name", source=ebs(ami_name="we")),
    Case("ebs-ami-name-chars", source=ebs(ami_name="web:1")),
    Case("ebs-ami-name-go-template", source=ebs(ami_name="web-{{timestamp}}")),
    Case("ebs-ami-name-go-template-bad-char", source=ebs(ami_name="web:{{timestamp}}")),
    Case("ebs-ami-name-only-template", source=ebs(ami_name="{{timestamp}}")),
    Case("ebs-bad-interface", source=ebs(ssh_interface="public-ip")),
    Case("ebs-session-manager-no-profile", source=ebs(ssh_interface="session_manager")),
    Case("ebs-kms-no-encrypt", source=ebs(kms_key_id="alias/x")),
    Case("ebs-region-default-key", source=ebs(ami_regions=["eu-west-1"], region_kms_key_ids={"eu-west-1": ""})),
    Case("ebs-region-key-no-encrypt", source=ebs(ami_regions=["eu-west-1"], region_kms_key_ids={"eu-west-1": "alias/x"})),
    Case("ebs-regions-string", source=ebs(ami_regions="eu-west-1")),
    Case("ebs-port-not-a-number", source=ebs(ssh_port="twenty")),
    # local files (check_local_paths)
    Case("shell-missing-script", provisioners=[("shell", {"script": "missing.sh"})]),
    Case("shell-missing-one-of-scripts", provisioners=[("shell", {"scripts": ["a.sh", "missing.sh"]})]),
    Case("file-missing-source", provisioners=[("file", {"source": "missing.txt", "destination": "/tmp/x"})]),
    Case("file-generated-source", provisioners=[("file", {"source": "later.txt", "destination": "/tmp/x", "generated": True})]),
    Case("shell-local-missing-script", provisioners=[("shell-local", {"script": "missing.sh"})]),
    Case("null-missing-key", source=("null", {"ssh_host": "h", "ssh_username": "u", "ssh_private_key_file": "missing_key"}, {})),
    Case("ebs-missing-user-data-file", source=ebs(user_data_file="missing.yml")),
]

# case name -> (packer 1.6.6 accepts?, we accept?, why they differ)
DIFFERENT = {
    "ebs-filter-no-owners": (False, True, "the issue asks for a warning; Packer errors"),
    "ebs-bad-key-type": (True, False, "1.6.6 accepts any temporary_key_pair_type; newer Packer allows only rsa|ed25519"),
    "ebs-certificate-without-key": (True, False, "newer Packer (SDK) requires ssh_private_key_file with ssh_certificate_file; 1.6.6 does not"),
    "ebs-bastion-certificate-without-key": (
        True,
        False,
        "newer Packer (SDK) requires ssh_bastion_private_key_file with ssh_bastion_certificate_file; 1.6.6 does not",
    ),
    "ebs-bad-virtualization-type": (True, False, "Packer leaves ami_virtualization_type to AWS, which accepts only hvm|paravirtual"),
    "ebs-gp3-default-throughput": (False, True, "1.6.6 wants an explicit throughput for gp3 volumes; later Packer (and AWS) default it"),
    "ebs-io2-default-iops": (False, True, "1.6.6 wants explicit iops for sized io1/io2 volumes; later Packer leaves it to AWS"),
}
# Options whose checks differ on purpose (above): random bodies do not use them.
RANDOM_DIFFERENT = {"temporary_key_pair_type", "ssh_certificate_file", "ssh_bastion_certificate_file", "ami_virtualization_type"}
CASES += [
    Case("ebs-filter-no-owners", source=("amazon-ebs", dict(EBS, source_ami=""), {"source_ami_filter": [{"filters": {"name": "u/*"}, "most_recent": True}]})),
    Case("ebs-bad-key-type", source=ebs(temporary_key_pair_type="dsa")),
    Case("ebs-certificate-without-key", source=ebs(ssh_certificate_file="cert.pub")),
    Case("ebs-bastion-certificate-without-key", source=ebs(ssh_bastion_certificate_file="cert.pub")),
    Case("ebs-bad-virtualization-type", source=ebs(ami_virtualization_type="pv")),
    Case("ebs-io2-default-iops", source=("amazon-ebs", EBS, {"launch_block_device_mappings": [{"device_name": "/dev/sda1", "volume_type": "io2", "volume_size": 8}]})),
    Case("ebs-io1-iops-ratio", source=("amazon-ebs", EBS, {"launch_block_device_mappings": [{"device_name": "/dev/sda1", "volume_type": "io1", "volume_size": 10, "iops": 1000}]})),
    Case("ebs-gp3-throughput-range", source=("amazon-ebs", EBS, {"launch_block_device_mappings": [{"device_name": "/dev/sda1", "volume_type": "gp3", "throughput": 2000}]})),
    Case("ebs-kms-unencrypted-device", source=("amazon-ebs", EBS, {"launch_block_device_mappings": [{"device_name": "/dev/sda1", "kms_key_id": "alias/x", "encrypted": False}]})),
    Case("ebs-gp3-default-throughput", source=("amazon-ebs", EBS, {"launch_block_device_mappings": [{"device_name": "/dev/sda1", "volume_type": "gp3"}]})),
]


# releasemgr's own communicator options (host-key checking, which Packer does not do).
OURS = {"ssh_known_hosts_file", "ssh_host_key", "ssh_trust_on_first_use"}

# Options newer than Packer 1.6.6 (accepted by current Packer; 1.6.6 calls them unsupported),
# and releasemgr's own.
NEWER_THAN_1_6_6 = {
    ("source", "null"): OURS,
    ("provisioner", "shell"): {"env"},
    ("provisioner", "file"): {"content"},
    ("provisioner", "shell-local"): {"env"},
    ("post-processor", "shell-local"): {"env"},
    ("source", "amazon-ebs"): OURS | {
        "ami_org_arns", "ami_ou_arns", "snapshot_copy_duration_minutes", "imds_support", "deprecate_at",
        "elastic_ip_allocation_id", "capacity_reservation_preference", "capacity_reservation_id",
        "capacity_reservation_group_arn", "enable_nitro_enclave", "enable_unlimited_credits", "fleet_tags",
        "spot_allocation_strategy", "temporary_security_group_source_public_ip", "skip_create_ami",
        "skip_ami_run_tags",
        # blocks
        "deregistration_protection", "fast_launch", "fleet_tag", "license_specifications", "metadata_options",
        "placement",
    },
    ("post-processor", "vagrant"): {"architecture"},
}  # fmt: skip


# --- random bodies (fixed seed): each native component, a random subset of its options, each
# with a valid or an invalid value; packer and we must still agree. ------------------------------

RANDOM_TARGETS = [
    ("source", "null"), ("provisioner", "shell"), ("provisioner", "file"), ("provisioner", "shell-local"),
    ("provisioner", "breakpoint"), ("post-processor", "manifest"), ("post-processor", "checksum"),
    ("post-processor", "compress"), ("post-processor", "shell-local"), ("post-processor", "vagrant"),
    ("source", "amazon-ebs"),
]  # fmt: skip
RANDOM_POOL = {
    "string": ["x"],
    "number": [1, "2", "x"],
    "bool": [True, "false", "maybe"],
    "duration": ["1s", "1h30m", "5 min", "5"],
    "list(string)": [["a=b"], "a=b"],
    "list(number)": [[0], ["x"]],
    "map(string)": [{"A": "b"}, ["a"]],
}
RANDOM_SPECIAL = {
    "script": ["a.sh", "missing.sh"],
    "scripts": [["a.sh"], ["missing.sh"]],
    "source": ["app.txt"],
    "sources": [["app.txt"]],
    "only_on": [["linux"], ["beos"]],
    "checksum_types": [["sha256"], ["crc"]],
}
# only/except select sources, override is keyed by source; ssh_public/private_key are internal.
RANDOM_SKIP = {"only", "except", "override", "ssh_public_key", "ssh_private_key"} | RANDOM_DIFFERENT


def random_cases(seed: int, count: int) -> list[Case]:
    import random

    from releasemgr.template.schema import schema_for

    rng = random.Random(seed)
    out = []
    for n in range(count):
        kind, type_name = RANDOM_TARGETS[n % len(RANDOM_TARGETS)]
        newer = NEWER_THAN_1_6_6.get((kind, type_name), set())
        base = EBS if type_name == "amazon-ebs" else {}
        options = [o for o in schema_for(kind, type_name).options if o.name not in RANDOM_SKIP | newer | set(base)]
        attrs = {}
        for o in rng.sample(options, rng.randint(1, min(5, len(options)))):
            if o.name in RANDOM_SPECIAL:
                attrs[o.name] = rng.choice(RANDOM_SPECIAL[o.name])
            elif o.choices:
                attrs[o.name] = rng.choice(list(o.choices) + ["bogus"]) if o.type == "string" else [rng.choice(list(o.choices))]
            else:
                attrs[o.name] = rng.choice(RANDOM_POOL[o.type])
        name = f"random-{seed}-{n}-{type_name}"
        if type_name == "amazon-ebs":
            case = Case(name, source=("amazon-ebs", dict(EBS, **attrs), {}))
        elif kind == "source":
            case = Case(name, source=("null", dict(NONE, **attrs) if rng.random() < 0.5 else attrs, {}))
        elif kind == "provisioner":
            case = Case(name, provisioners=[(type_name, attrs)])
        else:
            case = Case(name, post_processors=[(type_name, attrs)])
        out.append(case)
    return out


# --- writing a case as HCL ---------------------------------------------------------------------


def hcl(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(hcl(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {hcl(v)}" for k, v in value.items()) + " }"
    raise TypeError(value)


def block(header: str, attrs: dict, blocks: dict, indent: str = "") -> str:
    lines = [f"{indent}{header} {{"]
    for k, v in attrs.items():
        lines.append(f"{indent}  {k} = {hcl(v)}")
    for name, bodies in blocks.items():
        for b in bodies:
            lines.append(block(name, b, {}, indent + "  "))
    lines.append(f"{indent}}}")
    return "\n".join(lines)


def template(case: Case) -> str:
    type_name, attrs, blocks = case.source
    parts = [block(f'source "{type_name}" "t"', attrs, blocks)]
    inner = [f'  sources = ["source.{type_name}.t"]']
    inner += [block(f'provisioner "{t}"', a, {}, "  ") for t, a in case.provisioners]
    inner += [block(f'post-processor "{t}"', a, {}, "  ") for t, a in case.post_processors]
    parts.append("build {\n" + "\n".join(inner) + "\n}")
    return "\n\n".join(parts) + "\n"


def we_accept(case: Case, folder: Path) -> tuple[bool, list]:
    type_name, attrs, blocks = case.source
    bodies = {k: [Body(attrs=dict(b)) for b in v] for k, v in blocks.items()}
    components = [("source", type_name, Body(attrs=dict(attrs), blocks=bodies))]
    components += [("provisioner", t, Body(attrs=dict(a))) for t, a in case.provisioners]
    components += [("post-processor", t, Body(attrs=dict(a))) for t, a in case.post_processors]
    findings = []
    for kind, t, body in components:
        findings += check_component(kind, t, body, environ={})
        findings += check_local_paths(kind, t, body, folder)
    errs = [f for f in findings if f.severity == "error"]
    return not errs, errs


def random_block_cases(seed: int, count: int) -> list[Case]:
    """amazon-ebs with one nested block holding a random subset of its options."""
    import random

    from releasemgr.template.schema import schema_for

    rng = random.Random(seed)
    newer = NEWER_THAN_1_6_6[("source", "amazon-ebs")]
    # assume_role/vault_aws_engine would make packer fetch credentials
    specs = [b for b in schema_for("source", "amazon-ebs").blocks if b.name not in newer | {"assume_role", "vault_aws_engine"}]
    out = []
    for n in range(count):
        spec = specs[n % len(specs)]
        attrs = {}
        for o in rng.sample(list(spec.schema.options), rng.randint(0, min(4, len(spec.schema.options)))):
            if o.choices:
                attrs[o.name] = rng.choice(list(o.choices) + ["bogus"]) if o.type == "string" else [rng.choice(list(o.choices))]
            else:
                attrs[o.name] = rng.choice(RANDOM_POOL[o.type])
        base = dict(EBS)
        if spec.name == "source_ami_filter":
            base["source_ami"] = ""
            attrs["owners"] = ["self"]  # without owners: a documented difference (warning here)
        if spec.name in ("launch_block_device_mappings", "ami_block_device_mappings"):
            # 1.6.6 wants gp3 throughput and io1/io2 iops to be written (documented difference)
            if attrs.get("volume_type") == "gp3":
                attrs.setdefault("throughput", 125)
            if attrs.get("volume_type") in ("io1", "io2") and "volume_size" in attrs:
                attrs.setdefault("iops", 100)
        out.append(Case(f"random-block-{seed}-{n}-{spec.name}", source=("amazon-ebs", base, {spec.name: [attrs]})))
    return out


CASES += random_cases(2026, 88)  # 8 of each native type
CASES += random_block_cases(2026, 26)


@pytest.fixture(scope="module")
def packer_verdicts(tmp_path_factory):
    if PACKER is None:
        pytest.fail("packer is not installed: apt-get install packer (Debian's packer 1.6.6)")
    root = tmp_path_factory.mktemp("packer-diff")

    def run(case: Case):
        folder = root / case.name
        folder.mkdir()
        for name in ("app.txt", "a.sh", "b.sh"):  # packer stats local sources and scripts
            (folder / name).write_text("#!/bin/sh\ntrue\n")
        (folder / "t.pkr.hcl").write_text(template(case))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PKR_VAR_"))}
        env.update(CHECKPOINT_DISABLE="1", PACKER_CACHE_DIR=str(folder / "cache"), HOME=str(folder))
        proc = subprocess.run([PACKER, "validate", "t.pkr.hcl"], cwd=folder, env=env, capture_output=True, text=True, timeout=60)
        return case.name, (proc.returncode == 0, proc.stdout + proc.stderr, folder)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(run, CASES))


@pytest.mark.parametrize("case", [c for c in CASES if c.name not in DIFFERENT], ids=lambda c: c.name)
def test_same_decision_as_packer(case, packer_verdicts):
    packer_ok, packer_out, folder = packer_verdicts[case.name]
    ours, errs = we_accept(case, folder)
    assert ours == packer_ok, (
        f"packer {'accepts' if packer_ok else 'rejects'} and we {'accept' if ours else 'reject'}\n"
        f"--- template\n{template(case)}--- packer\n{packer_out}--- ours\n{errs}"
    )


@pytest.mark.parametrize("name", sorted(DIFFERENT))
def test_documented_differences_are_exactly_these(name, packer_verdicts):
    case = next(c for c in CASES if c.name == name)
    packer_expected, ours_expected, why = DIFFERENT[name]
    assert packer_verdicts[name][0] is packer_expected, why
    assert we_accept(case, packer_verdicts[name][2])[0] is ours_expected, why


def test_unknown_option_message_names_the_same_argument_as_packer(packer_verdicts):
    _, out, folder = packer_verdicts["shell-unknown-option"]
    assert 'An argument named "inlin" is not expected here' in " ".join(out.split())  # packer wraps lines
    _, errs = we_accept(next(c for c in CASES if c.name == "shell-unknown-option"), folder)
    assert [e.summary for e in errs] == ['Unsupported argument "inlin" in provisioner shell']
    assert errs[0].detail == 'Did you mean "inline"?'


# --- every option name we accept exists in Packer ------------------------------------------

SAMPLE = {
    "string": "x",
    "number": 1,
    "bool": True,
    "duration": "1s",
    "list(string)": ["a=b"],
    "list(number)": [0],
    "map(string)": {"A": "b"},
    "any": {},
}



def _unsupported(out: str) -> set[str]:
    import re

    flat = " ".join(out.split())
    return set(re.findall(r'An argument named "([^"]+)" is not expected here', flat)) | set(
        re.findall(r'Blocks of type "([^"]+)" are not expected here', flat)
    )


@pytest.mark.parametrize(
    "kind,type_name",
    [("source", "null"), ("source", "amazon-ebs")]
    + [("provisioner", t) for t in ("shell", "file", "shell-local", "breakpoint")]
    + [("post-processor", t) for t in ("manifest", "checksum", "compress", "shell-local", "vagrant")],
)
def test_every_top_level_option_name_is_one_packer_knows(kind, type_name, tmp_path):
    if PACKER is None:
        pytest.fail("packer is not installed: apt-get install packer (Debian's packer 1.6.6)")
    from releasemgr.template.schema import schema_for

    schema = schema_for(kind, type_name)
    # only/except are checked by Packer's core before the plugin sees the body; they would
    # also filter the component out of the (one-source) build.
    attrs = {o.name: SAMPLE[o.type] for o in schema.options if o.name not in ("only", "except")}
    blocks = {b.name: [{o.name: SAMPLE[o.type] for o in b.schema.options}] for b in schema.blocks}
    if kind == "source":
        case = Case("all", source=(type_name, attrs, blocks))
    elif kind == "provisioner":
        case = Case("all", provisioners=[(type_name, attrs)])
    else:
        case = Case("all", post_processors=[(type_name, attrs)])
    (tmp_path / "t.pkr.hcl").write_text(template(case))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PKR_VAR_"))}
    env.update(CHECKPOINT_DISABLE="1", HOME=str(tmp_path))
    proc = subprocess.run([PACKER, "validate", "t.pkr.hcl"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    unsupported = _unsupported(proc.stdout + proc.stderr)
    assert unsupported == NEWER_THAN_1_6_6.get((kind, type_name), set()), proc.stdout + proc.stderr


def test_unsupported_names_are_the_ones_packer_names(packer_verdicts):
    """Where packer calls arguments or blocks unsupported, we name exactly the same ones."""
    import re

    compared = 0
    for case in CASES:
        ok, out, folder = packer_verdicts[case.name]
        theirs = _unsupported(out)
        if not theirs:
            continue
        _, errs = we_accept(case, folder)
        ours = set()
        for e in errs:
            m = re.match(r'Unsupported (argument|block type) "([^"]+)"', e.summary)
            if m:
                ours.add(m.group(2))
        assert ours == theirs, (case.name, out)
        compared += 1
    assert compared >= 5
