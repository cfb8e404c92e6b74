"""The component schema behind `release validate`: every check, on real evaluated bodies."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from releasemgr.template.diagnostics import Severity
from releasemgr.template.schema import (
    Body,
    check_component,
    check_local_paths,
    check_provisioner_sequence,
    duration_seconds,
    is_duration,
    is_sensitive_option,
    known_types,
    option_names,
    render_markdown,
    schema_for,
)
from releasemgr.common.hcl_values import UNKNOWN

ROOT = Path(__file__).resolve().parent.parent
NO_ENV: dict[str, str] = {}


def errors(findings):
    return [f for f in findings if f.severity == "error"]


def warnings(findings):
    return [f for f in findings if f.severity == "warning"]


def only(findings, severity="error"):
    chosen = [f for f in findings if f.severity == severity]
    assert len(chosen) == 1, chosen
    return chosen[0]


def ebs(**over):
    attrs = {
        "region": "us-east-1",
        "instance_type": "t3.micro",
        "ami_name": "web-{{timestamp}}".replace("{{timestamp}}", "1700000000"),
        "ssh_username": "ubuntu",
        "source_ami": "ami-0123456789abcdef0",
    }
    attrs.update(over)
    return Body(attrs={k: v for k, v in attrs.items() if v is not None}, blocks={})


def check(kind, type_name, body, environ=NO_ENV):
    return check_component(kind, type_name, body, environ=environ)


# --- valid bodies pass -------------------------------------------------------------------------

VALID = [
    (
        "source",
        "amazon-ebs",
        Body(
            attrs={
                "region": "eu-west-1",
                "instance_type": "t3.small",
                "ami_name": "web app (v1) [x86_64] 2026.11.25/build-7 'rc'@team_a",
                "ami_description": "web",
                "ami_regions": ["eu-central-1", "us-east-1"],
                "tags": {"Name": "web", "Version": 3},
                "run_tags": {"Build": "b-1"},
                "snapshot_tags": {"Name": "web"},
                "ssh_username": "ubuntu",
                "ssh_port": "2222",
                "ssh_interface": "private_ip",
                "ssh_timeout": "10m",
                "pause_before_connecting": "1h30m",
                "temporary_key_pair_type": "ed25519",
                "subnet_id": "subnet-1",
                "associate_public_ip_address": "true",
                "security_group_ids": ["sg-1", "sg-2"],
                "encrypt_boot": True,
                "kms_key_id": "alias/ami",
                "custom_endpoint_ec2": "http://127.0.0.1:5000",
                "skip_credential_validation": True,
            },
            blocks={
                "source_ami_filter": [
                    Body(attrs={"filters": {"name": "ubuntu/images/*", "root-device-type": "ebs"}, "owners": ["099720109477"], "most_recent": True})
                ],
                "launch_block_device_mappings": [
                    Body(attrs={"device_name": "/dev/sda1", "volume_size": 20, "volume_type": "gp3", "throughput": 250, "delete_on_termination": True})
                ],
                "ami_block_device_mappings": [Body(attrs={"device_name": "/dev/sdb", "virtual_name": "ephemeral0"})],
                "metadata_options": [Body(attrs={"http_tokens": "required", "http_endpoint": "enabled"})],
                "run_tag": [Body(attrs={"key": "Owner", "value": "team"})],
            },
        ),
    ),
    ("source", "null", Body(attrs={"ssh_host": "127.0.0.1", "ssh_port": 2222, "ssh_username": "root", "ssh_private_key_file": "id_ed25519"})),
    ("source", "null", Body(attrs={"communicator": "none"})),
    ("source", "null", Body(attrs={"communicator": "winrm", "winrm_host": "h", "winrm_username": "Administrator", "winrm_password": UNKNOWN})),
    (
        "source",
        "local",
        Body(
            attrs={
                "base": "./app",
                "command": ["python3", "-m", "http.server", "--bind", "127.0.0.1"],
                "port_arg": True,
                "env": {"GREETING": "hello"},
                "workdir": "srv",
                "stop_signal": "TERM",
                "stop_timeout": "15s",
            },
            blocks={"health_check": [Body(attrs={"type": "http", "path": "/", "expected_status": 200, "timeout": "30s", "interval": "500ms"})]},
        ),
    ),
    ("source", "local", Body(attrs={"command": ["./run"], "port_env": "PORT", "port_arg": False, "base": "app.tar.gz"})),
    ("source", "local", Body(attrs={"command": ["./run"]}, blocks={"health_check": [Body(attrs={"type": "command", "command": ["./check"]})]})),
    ("provisioner", "shell", Body(attrs={"inline": ["apt-get update", "apt-get install -y nginx"], "environment_vars": ["A=1", "B="], "expect_disconnect": True, "valid_exit_codes": [0, "2300218"], "pause_before": "10s", "max_retries": "3", "only": ["amazon-ebs.web"]})),
    ("provisioner", "shell", Body(attrs={"scripts": ["a.sh", "b.sh"], "env": {"APP_ENV": "prod"}, "execute_command": "sudo -E sh '{{.Path}}'", "start_retry_timeout": "5m"})),
    ("provisioner", "file", Body(attrs={"source": "app/", "destination": "/opt/app"})),
    ("provisioner", "file", Body(attrs={"content": "hello", "destination": "/etc/motd", "direction": "upload"})),
    ("provisioner", "file", Body(attrs={"sources": ["/var/log/app.log"], "destination": "logs/", "direction": "download"})),
    ("provisioner", "shell-local", Body(attrs={"command": "echo hi", "only_on": ["linux", "darwin"]})),
    ("provisioner", "shell-local", Body(attrs={"inline": ["echo hi"], "execute_command": ["bash", "-c", "{{.Vars}} {{.Script}}"]})),
    ("provisioner", "breakpoint", Body(attrs={"note": "look around", "disable": False})),
    ("post-processor", "manifest", Body(attrs={"output": "manifest.json", "strip_path": True, "custom_data": {"commit": "abc"}})),
    ("post-processor", "checksum", Body(attrs={"checksum_types": ["sha256", "sha512"], "output": "{{.BuildName}}.sum"})),
    ("post-processor", "compress", Body(attrs={"output": "out.tar.gz", "compression_level": 9, "keep_input_artifact": True})),
    ("post-processor", "shell-local", Body(attrs={"inline": ["echo done"], "keep_input_artifact": True})),
    ("post-processor", "vagrant", Body(attrs={"output": "web.box", "compression_level": 6, "include": ["README"], "provider_override": "virtualbox", "architecture": "amd64"})),
]


@pytest.mark.parametrize("kind,type_name,body", VALID, ids=[f"{k}-{t}-{i}" for i, (k, t, _) in enumerate(VALID)])
def test_valid_bodies_have_no_findings(kind, type_name, body):
    assert check(kind, type_name, body) == []


def test_every_native_type_has_a_valid_example():
    covered = {(k, t) for k, t, _ in VALID}
    for kind in ("source", "provisioner", "post-processor"):
        for type_name in known_types(kind):
            assert (kind, type_name) in covered


# --- unknown arguments and blocks --------------------------------------------------------------


def test_unknown_argument_names_it_and_suggests_the_right_one():
    f = only(check("source", "amazon-ebs", ebs(ssh_usernme="ubuntu")))
    assert f.summary == 'Unsupported argument "ssh_usernme" in source amazon-ebs'
    assert f.detail == 'Did you mean "ssh_username"?'
    assert f.path == ("ssh_usernme",)


@pytest.mark.parametrize(
    "kind,type_name,attrs,typo,meant",
    [
        ("provisioner", "shell", {"inline": ["x"], "enviroment_vars": ["A=1"]}, "enviroment_vars", "environment_vars"),
        ("provisioner", "file", {"source": "a", "destination": "b", "destinaton": "c"}, "destinaton", "destination"),
        ("post-processor", "checksum", {"checksum_type": ["md5"]}, "checksum_type", "checksum_types"),
        ("source", "local", {"command": ["x"], "port_evn": "PORT"}, "port_evn", "port_env"),
        ("source", "null", {"communicator": "none", "comunicator": "none"}, "comunicator", "communicator"),
    ],
)
def test_did_you_mean_everywhere(kind, type_name, attrs, typo, meant):
    f = only(check(kind, type_name, Body(attrs=attrs)))
    assert f.summary == f'Unsupported argument "{typo}" in {kind} {type_name}'
    assert f.detail == f'Did you mean "{meant}"?'
    assert f.path == (typo,)


def test_unknown_argument_without_a_close_name():
    f = only(check("provisioner", "breakpoint", Body(attrs={"zzzqqq": 1})))
    assert f.detail == 'An argument named "zzzqqq" is not expected here.'


def test_unknown_argument_inside_a_nested_block_has_the_nested_path():
    body = ebs(source_ami=None)
    body.blocks["source_ami_filter"] = [Body(attrs={"filters": {"name": "x"}, "owners": ["self"], "most_recnt": True})]
    f = only(check("source", "amazon-ebs", body))
    assert f.path == ("source_ami_filter", 0, "most_recnt")
    assert f.summary == 'Unsupported argument "most_recnt" in source_ami_filter block in source amazon-ebs'
    assert f.detail == 'Did you mean "most_recent"?'


def test_unknown_nested_block_suggests_the_block():
    body = ebs()
    body.blocks["launch_block_device_mapping"] = [Body(attrs={"device_name": "/dev/sda1"})]
    f = only(check("source", "amazon-ebs", body))
    assert f.summary == 'Unsupported block type "launch_block_device_mapping" in source amazon-ebs'
    assert f.detail == 'Did you mean "launch_block_device_mappings"?'
    assert f.path == ("launch_block_device_mapping", 0)


def test_attribute_written_as_block_and_block_written_as_attribute():
    body = ebs(source_ami=None, source_ami_filter={"owners": ["self"]})
    findings = check("source", "amazon-ebs", body)
    f = [f for f in findings if f.path == ("source_ami_filter",)][0]
    assert "Did you mean to define a block of type \"source_ami_filter\"?" in f.detail
    body = ebs()
    body.blocks["tags"] = [Body(attrs={"Name": "web"})]
    f = only(check("source", "amazon-ebs", body))
    assert f.summary == 'Unsupported block type "tags" in source amazon-ebs'
    assert "use the equals sign" in f.detail


def test_second_copy_of_a_single_block_is_an_error():
    body = ebs()
    body.blocks["metadata_options"] = [Body(attrs={}), Body(attrs={})]
    f = only(check("source", "amazon-ebs", body))
    assert f.summary == 'Duplicate "metadata_options" block in source amazon-ebs'
    assert f.path == ("metadata_options", 1)


def test_nested_block_inside_nested_block_is_checked():
    body = ebs()
    body.blocks["subnet_filter"] = [Body(attrs={"most_free": True}, blocks={"filter": [Body(attrs={"name": "tag:Env", "valeu": "prod"})]})]
    f = only(check("source", "amazon-ebs", body))
    assert f.path == ("subnet_filter", 0, "filter", 0, "valeu")
    assert f.detail == 'Did you mean "value"?'


# --- missing required --------------------------------------------------------------------------


def test_missing_required_argument():
    f = only(check("provisioner", "file", Body(attrs={"source": "a"})))
    assert f.summary == 'Missing required argument "destination" in provisioner file'
    assert f.path == ()
    f = only(check("source", "local", Body(attrs={})))
    assert f.summary == 'Missing required argument "command" in source local'


def test_empty_string_counts_as_missing_like_in_packer():
    f = only(check("source", "amazon-ebs", ebs(ami_name="")))
    assert f.summary == 'Missing required argument "ami_name" in source amazon-ebs'


def test_amazon_required_set():
    findings = check("source", "amazon-ebs", Body(attrs={}))
    summaries = {f.summary for f in errors(findings)}
    assert summaries == {
        'Missing required argument "ami_name" in source amazon-ebs',
        'Missing required argument "region" in source amazon-ebs',
        'Missing required argument "ssh_username" in source amazon-ebs',
        'Missing one of "source_ami", "source_ami_filter" in source amazon-ebs',
        'Missing one of "instance_type", "spot_instance_types" in source amazon-ebs',
    }


@pytest.mark.parametrize("var", ["AWS_REGION", "AWS_DEFAULT_REGION"])
def test_region_may_come_from_the_environment(var):
    assert check("source", "amazon-ebs", ebs(region=None), environ={var: "eu-west-1"}) == []
    f = only(check("source", "amazon-ebs", ebs(region=None), environ={"AWS_PROFILE": "x"}))
    assert f.summary == 'Missing required argument "region" in source amazon-ebs'


def test_ssh_username_only_for_the_ssh_communicator():
    assert only(check("source", "amazon-ebs", ebs(ssh_username=None))).summary == 'Missing required argument "ssh_username" in source amazon-ebs'
    assert check("source", "amazon-ebs", ebs(ssh_username=None, communicator="none")) == []
    f = only(check("source", "amazon-ebs", ebs(ssh_username=None, communicator="winrm")))
    assert f.summary == 'Missing required argument "winrm_username" in source amazon-ebs'


def test_null_builder_needs_host_user_and_one_auth_method():
    findings = check("source", "null", Body(attrs={}))
    assert {f.summary for f in findings} == {
        'Missing required argument "ssh_username" in source null',
        'Missing required argument "ssh_host" in source null',
        "No SSH authentication method in source null",
    }
    body = Body(attrs={"ssh_host": "h", "ssh_username": "u", "ssh_password": "p", "ssh_private_key_file": "k"})
    f = only(check("source", "null", body))
    assert f.summary == "Conflicting SSH authentication methods in source null"
    assert f.path == ("ssh_private_key_file",)


# --- types ---------------------------------------------------------------------------------


def test_string_where_a_list_is_expected():
    f = only(check("source", "amazon-ebs", ebs(ami_regions="eu-west-1")))
    assert f.summary == 'Inappropriate value for "ami_regions" in source amazon-ebs'
    assert f.detail == 'A list of strings is required; got a string ("eu-west-1").'
    assert f.path == ("ami_regions",)


def test_list_where_a_string_is_expected_and_map_where_a_list_is():
    f = only(check("source", "amazon-ebs", ebs(instance_type=["t3.micro"])))
    assert f.detail == "A string is required; got a list."
    f = only(check("provisioner", "shell", Body(attrs={"inline": {"a": "b"}})))
    assert f.detail == "A list of strings is required; got an object."


def test_bad_element_of_a_list_points_at_the_element():
    f = only(check("provisioner", "shell", Body(attrs={"inline": ["ok", ["nested"]]})))
    assert f.path == ("inline", 1)
    f = only(check("provisioner", "shell", Body(attrs={"inline": ["x"], "valid_exit_codes": [0, "two"]})))
    assert f.path == ("valid_exit_codes", 1)
    assert 'a number is required; got a string ("two")' in f.detail


def test_map_values_must_be_strings():
    f = only(check("source", "amazon-ebs", ebs(tags={"Name": "web", "Extra": {"a": 1}})))
    assert f.path == ("tags", "Extra")


def test_numbers_and_bools_as_strings_are_converted_like_packer_does():
    assert check("source", "amazon-ebs", ebs(ssh_port="22", encrypt_boot="true", ssh_pty="false", max_retries="5")) == []
    assert check("source", "amazon-ebs", ebs(ami_description=42)) == []
    f = only(check("source", "amazon-ebs", ebs(ssh_port="twenty-two")))
    assert f.detail == 'A number is required; got a string ("twenty-two").'
    f = only(check("source", "amazon-ebs", ebs(encrypt_boot="yes")))
    assert f.detail == 'A bool is required; got a string ("yes").'
    f = only(check("source", "amazon-ebs", ebs(ssh_port=True)))
    assert f.detail == "A number is required; got a bool (true)."


@pytest.mark.parametrize("text", ["5m", "1h30m", "30s", "1.5h", "300ms", "0", "2h45m10s", "+5s", ".5s", "10us", "1µs"])
def test_durations_accepted(text):
    assert is_duration(text)
    assert check("source", "amazon-ebs", ebs(ssh_timeout=text)) == []


def test_negative_durations_only_where_packer_gives_them_a_meaning():
    assert is_duration("-1s")  # Go's grammar
    f = only(check("source", "amazon-ebs", ebs(ssh_timeout="-1s")))
    assert f.path == ("ssh_timeout",) and f.detail == '"-1s" is negative: it must be 0 or more.'
    assert check("source", "amazon-ebs", ebs(ssh_keep_alive_interval="-1s")) == []  # disables keep-alives


@pytest.mark.parametrize("text", ["5 minutes", "5", "m5", "", "1d", "1h 30m", "h"])
def test_durations_rejected(text):
    assert not is_duration(text)
    if text:  # "" is "not set", like in Packer
        f = only(check("source", "amazon-ebs", ebs(ssh_timeout=text)))
        assert f.path == ("ssh_timeout",)
        assert "is not a duration" in f.detail


def test_duration_seconds():
    assert duration_seconds("1h30m") == 5400
    assert duration_seconds("300ms") == pytest.approx(0.3)
    assert duration_seconds("nope") is None


def test_duration_given_as_number():
    f = only(check("provisioner", "shell", Body(attrs={"inline": ["x"], "pause_before": 30})))
    assert "duration string" in f.detail


# --- groups ------------------------------------------------------------------------------------


def test_shell_needs_exactly_one_of_inline_script_scripts():
    f = only(check("provisioner", "shell", Body(attrs={})))
    assert f.summary == 'Missing one of "inline", "script", "scripts" in provisioner shell'
    f = only(check("provisioner", "shell", Body(attrs={"inline": ["a"], "script": "b.sh"})))
    assert f.summary == 'Conflicting arguments "inline" and "script" in provisioner shell'
    assert f.path == ("script",)


def test_file_needs_a_source_or_content_not_both():
    f = only(check("provisioner", "file", Body(attrs={"source": "a", "content": "b", "destination": "c"})))
    assert f.summary == 'Conflicting arguments "source" and "content" in provisioner file'
    assert f.path == ("content",)
    f = only(check("provisioner", "file", Body(attrs={"destination": "c"})))
    assert f.summary == 'Missing one of "source", "sources", "content" in provisioner file'
    # Packer merges source into sources
    assert check("provisioner", "file", Body(attrs={"source": "a", "sources": ["b"], "destination": "c"})) == []


def test_shell_local_needs_exactly_one():
    for kind in ("provisioner", "post-processor"):
        f = only(check(kind, "shell-local", Body(attrs={"command": "a", "inline": ["b"]})))
        assert f.summary == f'Conflicting arguments "command" and "inline" in {kind} shell-local'


def test_local_port_env_and_port_arg_exclude_each_other():
    f = only(check("source", "local", Body(attrs={"command": ["x"], "port_env": "PORT", "port_arg": True})))
    assert f.summary == 'Conflicting arguments "port_env" and "port_arg" in source local'
    assert f.path == ("port_arg",)


def test_amazon_instance_type_or_spot_types_not_both():
    f = only(check("source", "amazon-ebs", ebs(spot_instance_types=["t3.micro", "t3a.micro"])))
    assert f.summary == 'Conflicting arguments "instance_type" and "spot_instance_types" in source amazon-ebs'
    assert check("source", "amazon-ebs", ebs(instance_type=None, spot_instance_types=["t3.micro"], spot_price="auto")) == []


def test_empty_source_ami_filter_is_like_no_filter():
    body = ebs(source_ami=None)
    body.blocks["source_ami_filter"] = [Body(attrs={"most_recent": True})]
    f = only(check("source", "amazon-ebs", body))
    assert f.summary == "Empty source_ami_filter in source amazon-ebs"
    assert f.path == ("source_ami_filter", 0)


def test_source_ami_filter_block_satisfies_the_source_group():
    body = ebs(source_ami=None)
    body.blocks["source_ami_filter"] = [Body(attrs={"filters": {"name": "x"}, "owners": ["self"]})]
    assert check("source", "amazon-ebs", body) == []


# --- enumerations ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind,type_name,body,name,bad",
    [
        ("source", "amazon-ebs", ebs(ssh_interface="public-ip"), "ssh_interface", "public-ip"),
        ("source", "amazon-ebs", ebs(temporary_key_pair_type="dsa"), "temporary_key_pair_type", "dsa"),
        ("source", "amazon-ebs", ebs(communicator="telnet"), "communicator", "telnet"),
        ("provisioner", "file", Body(attrs={"source": "a", "destination": "b", "direction": "up"}), "direction", "up"),
        ("source", "null", Body(attrs={"communicator": "none", "ssh_file_transfer_method": "rsync"}), "ssh_file_transfer_method", "rsync"),
    ],
)
def test_enumerated_values(kind, type_name, body, name, bad):
    f = only(check(kind, type_name, body))
    assert f.summary == f'Invalid value for "{name}" in {kind} {type_name}'
    assert f.detail.startswith(f'"{bad}" is not one of ')
    assert f.path == (name,)


def test_enum_suggests_the_close_value():
    f = only(check("source", "amazon-ebs", ebs(ssh_interface="private_dsn")))
    assert f.detail.endswith('Did you mean "private_dns"?')
    assert "session_manager" in f.detail


def test_enum_inside_a_list_points_at_the_element():
    f = only(check("post-processor", "checksum", Body(attrs={"checksum_types": ["sha256", "sha-1"]})))
    assert f.path == ("checksum_types", 1)
    assert f.detail == '"sha-1" is not one of "md5", "sha1", "sha224", "sha256", "sha384", "sha512". Did you mean "sha1"?'


def test_session_manager_interface_needs_an_instance_profile():
    f = only(check("source", "amazon-ebs", ebs(ssh_interface="session_manager")))
    assert "instance profile" in f.summary
    assert check("source", "amazon-ebs", ebs(ssh_interface="session_manager", iam_instance_profile="ssm")) == []


# --- amazon-ebs specifics ----------------------------------------------------------------------


def test_ami_name_length():
    f = only(check("source", "amazon-ebs", ebs(ami_name="ab")))
    assert f.detail == "ami_name must be between 3 and 128 characters long; it has 2."
    f = only(check("source", "amazon-ebs", ebs(ami_name="a" * 129)))
    assert "it has 129" in f.detail
    assert check("source", "amazon-ebs", ebs(ami_name="a" * 128)) == []


def test_ami_name_characters():
    f = only(check("source", "amazon-ebs", ebs(ami_name="web:v1,{x}")))
    assert f.path == ("ami_name",)
    assert "found ',' ':' '{' '}'" in f.detail


def test_ami_name_with_legacy_go_template_actions():
    # Packer renders {{timestamp}} before checking the name
    assert check("source", "amazon-ebs", ebs(ami_name="web-{{timestamp}}")) == []
    assert check("source", "amazon-ebs", ebs(ami_name='web {{isotime "2006-01-02"}}')) == []
    f = only(check("source", "amazon-ebs", ebs(ami_name="web:{{timestamp}}")))
    assert "found ':'" in f.detail


def test_kms_key_needs_encrypt_boot():
    f = only(check("source", "amazon-ebs", ebs(kms_key_id="alias/x")))
    assert f.summary == '"kms_key_id" needs "encrypt_boot = true" in source amazon-ebs'
    f = only(check("source", "amazon-ebs", ebs(region_kms_key_ids={"eu-west-1": "alias/x"}, ami_regions=["eu-west-1"])))
    assert f.path == ("region_kms_key_ids",)
    # "" = the region's default key: encrypt_boot is not needed for it
    assert check("source", "amazon-ebs", ebs(region_kms_key_ids={"eu-west-1": ""}, ami_regions=["eu-west-1"])) == []
    f = only(check("source", "amazon-ebs", ebs(encrypt_boot=True, ami_regions=["eu-west-1"], region_kms_key_ids={"us-west-2": "alias/x"})))
    assert f.path == ("region_kms_key_ids", "us-west-2")


def test_block_device_rules():
    body = ebs()
    body.blocks["launch_block_device_mappings"] = [
        Body(attrs={"device_name": "/dev/sda1", "volume_type": "gp2", "throughput": 300}),
        Body(attrs={"volume_size": 10, "volume_type": "gp4"}),
    ]
    findings = errors(check("source", "amazon-ebs", body))
    paths = sorted(f.path for f in findings)
    assert paths == [
        ("launch_block_device_mappings", 0, "throughput"),
        ("launch_block_device_mappings", 1),
        ("launch_block_device_mappings", 1, "volume_type"),
    ]


def test_access_key_and_secret_key_go_together():
    f = only(check("source", "amazon-ebs", ebs(access_key=UNKNOWN)))
    assert f.summary == '"access_key" and "secret_key" go together in source amazon-ebs'
    assert f.detail.endswith("secret_key is missing.")
    assert f.path == ("access_key",)


def test_t2_unlimited_needs_a_t2_on_demand_instance():
    f = only(check("source", "amazon-ebs", ebs(enable_t2_unlimited=True)))
    assert "t2 instance type" in f.summary
    assert check("source", "amazon-ebs", ebs(enable_t2_unlimited=True, instance_type="t2.micro")) == []
    f = only(check("source", "amazon-ebs", ebs(enable_t2_unlimited=True, instance_type="t2.micro", spot_price="auto")))
    assert "spot" in f.summary


@pytest.mark.parametrize(
    "key,ok",
    [
        ("alias/ami-key", True),
        ("1234abcd-12ab-34cd-56ef-1234567890ab", True),
        ("mrk-1234abcd12ab34cd56ef1234567890ab", True),
        ("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", True),
        ("arn:aws:kms:us-east-1:123456789012:alias/ami", True),
        ("my key", False),
        ("arn:aws:kms:us-east-1:1234:key/abc", False),
    ],
)
def test_kms_key_format(key, ok):
    findings = check("source", "amazon-ebs", ebs(encrypt_boot=True, kms_key_id=key))
    assert (findings == []) is ok
    if not ok:
        assert only(findings).path == ("kms_key_id",)


def test_spot_tags_need_a_spot_price():
    f = only(check("source", "amazon-ebs", ebs(spot_tags={"a": "b"})))
    assert f.path == ("spot_tags",)
    assert check("source", "amazon-ebs", ebs(spot_tags={"a": "b"}, spot_price="0.05")) == []


def test_cidrs_and_tunnels():
    f = only(check("source", "amazon-ebs", ebs(temporary_security_group_source_cidrs=["10.0.0.0/8", "10.0.0.1"])))
    assert f.path == ("temporary_security_group_source_cidrs", 1)
    f = only(check("source", "amazon-ebs", ebs(ssh_local_tunnels=["8080:localhost:80", "8080"])))
    assert f.path == ("ssh_local_tunnels", 1)


def test_block_device_iops_and_throughput_ranges():
    def device(**attrs):
        body = ebs()
        body.blocks["launch_block_device_mappings"] = [Body(attrs=dict(device_name="/dev/sda1", **attrs))]
        return check("source", "amazon-ebs", body)

    assert device(volume_type="io1", volume_size=10, iops=500) == []
    assert "50:1" in only(device(volume_type="io1", volume_size=10, iops=501)).detail
    assert "between 100 and 64000" in only(device(volume_type="io2", volume_size=100, iops=50)).detail
    assert "between 125 and 1000" in only(device(volume_type="gp3", throughput=100)).detail
    assert "between 3000 and 16000" in only(device(volume_type="gp3", iops=20000)).detail
    assert only(device(kms_key_id="alias/x", encrypted=False)).path == ("launch_block_device_mappings", 0, "kms_key_id")
    assert device(volume_type="gp3", throughput=UNKNOWN, iops=UNKNOWN) == []


def test_ssh_keypair_name_needs_a_private_key():
    f = only(check("source", "amazon-ebs", ebs(ssh_keypair_name="ci")))
    assert f.path == ("ssh_keypair_name",)
    assert check("source", "amazon-ebs", ebs(ssh_keypair_name="ci", ssh_private_key_file="ci.pem")) == []


def test_bastion_and_proxy_exclude_each_other():
    f = only(check("source", "amazon-ebs", ebs(ssh_bastion_host="b", ssh_bastion_agent_auth=True, ssh_proxy_host="p")))
    assert f.summary == 'Conflicting arguments "ssh_bastion_host" and "ssh_proxy_host" in source amazon-ebs'


# --- warnings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind,type_name,body,name",
    [
        ("source", "amazon-ebs", ebs(access_key="AKIAIOSFODNN7EXAMPLE", secret_key=UNKNOWN), "access_key"),
        ("source", "amazon-ebs", ebs(access_key=UNKNOWN, secret_key="wJalrXUtnFEMI/K7MDENG"), "secret_key"),
        ("source", "amazon-ebs", ebs(token="FQoGZXIvYXdzE"), "token"),
        ("source", "amazon-ebs", ebs(ssh_password="hunter2"), "ssh_password"),
        ("source", "null", Body(attrs={"communicator": "winrm", "winrm_host": "h", "winrm_username": "a", "winrm_password": "pw"}), "winrm_password"),
        ("source", "amazon-ebs", ebs(ssh_bastion_host="b", ssh_bastion_password="pw"), "ssh_bastion_password"),
    ],
)
def test_credentials_in_the_template_warn(kind, type_name, body, name):
    findings = check(kind, type_name, body)
    assert errors(findings) == []
    f = only(findings, "warning")
    assert f.summary == f'Credential "{name}" written in the template ({kind} {type_name})'
    assert f.path == (name,)


def test_credentials_from_variables_do_not_warn_when_the_loader_says_so():
    body = ebs(access_key="AKIAIOSFODNN7EXAMPLE", secret_key="x")
    body.literal = frozenset({"region", "ami_name", "secret_key"})  # access_key = var.key
    f = only(check("source", "amazon-ebs", body), "warning")
    assert f.path == ("secret_key",)
    assert check("source", "amazon-ebs", ebs(access_key=UNKNOWN, secret_key=UNKNOWN)) == []


def test_filter_with_most_recent_and_no_owners_warns_but_is_not_an_error():
    body = ebs(source_ami=None)
    body.blocks["source_ami_filter"] = [Body(attrs={"filters": {"name": "ubuntu/*"}, "most_recent": True})]
    findings = check("source", "amazon-ebs", body)
    assert errors(findings) == []
    f = only(findings, "warning")
    assert f.summary == "source_ami_filter with most_recent but no owners in source amazon-ebs"
    assert f.path == ("source_ami_filter", 0)


def test_associate_public_ip_without_subnet_warns():
    f = only(check("source", "amazon-ebs", ebs(associate_public_ip_address=True)), "warning")
    assert f.path == ("associate_public_ip_address",)
    assert check("source", "amazon-ebs", ebs(associate_public_ip_address=True, subnet_id="subnet-1")) == []


def test_force_deregister_notes():
    f = only(check("source", "amazon-ebs", ebs(force_deregister=True, force_delete_snapshot=True)), "warning")
    assert f.path == ("force_deregister",)
    assert "snapshots deleted" in f.detail
    f = only(check("source", "amazon-ebs", ebs(force_delete_snapshot=True)), "warning")
    assert f.path == ("force_delete_snapshot",)
    assert "no effect" in f.detail


def test_compression_level_out_of_range_warns_as_packer_clamps_it():
    findings = check("post-processor", "compress", Body(attrs={"compression_level": 12}))
    assert errors(findings) == []
    assert only(findings, "warning").detail == "compression_level goes from -1 to 9; 12 is treated as 9, as Packer does."


def test_local_health_check_rules():
    body = Body(attrs={"command": ["x"]}, blocks={"health_check": [Body(attrs={"type": "command"})]})
    f = only(check("source", "local", body))
    assert f.path == ("health_check", 0)
    body = Body(attrs={"command": ["x"]}, blocks={"health_check": [Body(attrs={"type": "tcp", "path": "/health"})]})
    f = only(check("source", "local", body), "warning")
    assert f.path == ("health_check", 0, "path")
    body = Body(attrs={"command": ["x"]}, blocks={"health_check": [Body(attrs={"type": "udp", "expected_status": 700, "timeout": "soon"})]})
    paths = sorted(map(str, (f.path for f in errors(check("source", "local", body)))))
    assert paths == sorted(map(str, [("health_check", 0, "type"), ("health_check", 0, "expected_status"), ("health_check", 0, "timeout")]))


def test_local_health_check_default_type_is_tcp_like_the_fleet():
    body = Body(attrs={"command": ["x"]}, blocks={"health_check": [Body(attrs={"path": "/healthz"})]})
    f = only(check("source", "local", body), "warning")
    assert f.summary == 'Argument "path" does not apply to a tcp health check'
    body = Body(attrs={"command": ["x"]}, blocks={"health_check": [Body(attrs={"type": "process", "timeout": "5s"})]})
    assert check("source", "local", body) == []


def test_local_other_rules():
    findings = errors(check("source", "local", Body(attrs={"command": [], "stop_signal": "SIGSTOPP", "port_env": "MY-PORT", "base": "a.zip"})))
    assert sorted(f.path for f in findings) == [(), ("base",), ("port_env",), ("stop_signal",)]
    assert 'Missing required argument "command" in source local' in [f.summary for f in findings]


def test_environment_vars_format():
    findings = errors(check("provisioner", "shell", Body(attrs={"inline": ["x"], "environment_vars": ["A=1", "B", "=c"]})))
    assert [f.path for f in findings] == [("environment_vars", 1), ("environment_vars", 2)]
    assert findings[0].detail == "Environment variable not in format 'key=value': \"B\"."
    f = only(check("provisioner", "shell", Body(attrs={"inline": ["x"], "env": {"OK": "1", "NOT OK": "2"}})))
    assert f.path == ("env", "NOT OK")


def test_file_download_rules():
    findings = errors(check("provisioner", "file", Body(attrs={"content": "x", "destination": "d", "direction": "download"})))
    assert [f.path for f in findings] == [("content",)]


def test_override_typos_warn():
    body = Body(attrs={"inline": ["x"], "override": {"amazon-ebs.web": {"inlin": ["y"], "valid_exit_codes": "0"}, "null.a": "nope"}})
    findings = check("provisioner", "shell", body)
    assert errors(findings) == []
    got = {(f.path, f.summary) for f in findings}
    assert got == {
        (("override", "amazon-ebs.web", "inlin"), 'Unsupported argument "inlin" in override "amazon-ebs.web" of provisioner shell'),
        (("override", "amazon-ebs.web", "valid_exit_codes"), 'Inappropriate value for "valid_exit_codes" in override "amazon-ebs.web" of provisioner shell'),
        (("override", "null.a"), 'Override for "null.a" is not an object in provisioner shell'),
    }
    assert 'Did you mean "inline"?' in [f for f in findings if f.path[-1] == "inlin"][0].detail
    assert check("provisioner", "shell", Body(attrs={"inline": ["x"], "override": {"amazon-ebs.web": {"inline": ["y"]}}})) == []


def test_expect_disconnect_then_no_pause_before():
    seq = [
        ("shell", Body(attrs={"inline": ["reboot"], "expect_disconnect": True})),
        ("shell", Body(attrs={"inline": ["uptime"]})),
        ("shell", Body(attrs={"inline": ["reboot"], "expect_disconnect": True})),
        ("file", Body(attrs={"source": "a", "destination": "b", "pause_before": "30s"})),
    ]
    out = check_provisioner_sequence(seq)
    assert [(i, f.severity) for i, f in out] == [(1, "warning")]
    assert "pause_before" in out[0][1].detail


# --- local files ---------------------------------------------------------------------------------


def test_missing_local_files(tmp_path):
    (tmp_path / "setup.sh").write_text("true\n")
    (tmp_path / "app").mkdir()
    f = only(check_local_paths("provisioner", "shell", Body(attrs={"scripts": ["setup.sh", "gone.sh"]}), tmp_path))
    assert f.summary == 'File not found for "scripts" in provisioner shell'
    assert f.path == ("scripts", 1)
    assert f.detail == f'"gone.sh" does not exist (looked for {tmp_path / "gone.sh"}).'
    assert check_local_paths("provisioner", "file", Body(attrs={"source": "app/", "destination": "/opt"}), tmp_path) == []
    assert check_local_paths("source", "local", Body(attrs={"command": ["x"], "base": str(tmp_path / "app")}), "/") == []
    f = only(check_local_paths("source", "null", Body(attrs={"ssh_private_key_file": "id_rsa"}), tmp_path))
    assert f.path == ("ssh_private_key_file",)


def test_local_files_that_need_not_exist(tmp_path):
    # downloads name remote paths; generated sources appear during the build; UNKNOWN is unknown
    assert check_local_paths("provisioner", "file", Body(attrs={"source": "/remote/log", "destination": "x", "direction": "download"}), tmp_path) == []
    assert check_local_paths("provisioner", "file", Body(attrs={"source": "later", "destination": "x", "generated": True}), tmp_path) == []
    assert check_local_paths("provisioner", "file", Body(attrs={"source": "later", "destination": "x", "direction": UNKNOWN}), tmp_path) == []
    assert check_local_paths("provisioner", "shell", Body(attrs={"scripts": [UNKNOWN]}), tmp_path) == []
    assert check_local_paths("post-processor", "vagrant", Body(attrs={"vagrantfile_template": "V", "vagrantfile_template_generated": True}), tmp_path) == []
    assert check_local_paths("source", "docker", Body(attrs={"anything": "x"}), tmp_path) == []


def test_impossible_paths_are_reported_not_raised(tmp_path):
    findings = check_local_paths("provisioner", "shell", Body(attrs={"scripts": ["a" * 5000, "nul\x00byte"]}), tmp_path)
    assert [f.path for f in findings] == [("scripts", 0), ("scripts", 1)]


def test_local_files_relative_to_the_current_directory_by_default(tmp_path, monkeypatch):
    (tmp_path / "run.sh").write_text("true\n")
    monkeypatch.chdir(tmp_path)
    assert check_local_paths("provisioner", "shell-local", Body(attrs={"script": "run.sh"})) == []
    assert len(check_local_paths("provisioner", "shell-local", Body(attrs={"script": "walk.sh"}))) == 1


# --- UNKNOWN ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["source", "provisioner", "post-processor"])
def test_unknown_is_accepted_for_every_option(kind):
    for type_name in known_types(kind):
        schema = schema_for(kind, type_name)
        body = Body(attrs={o.name: UNKNOWN for o in schema.options})
        findings = check(kind, type_name, body)
        type_errors = [f for f in findings if "Inappropriate" in f.summary or "Invalid value" in f.summary or "Missing" in f.summary]
        assert type_errors == [], (type_name, type_errors)


def test_unknown_inside_lists_and_maps():
    assert check("source", "amazon-ebs", ebs(ami_regions=["eu-west-1", UNKNOWN], tags={"Build": UNKNOWN})) == []
    assert check("post-processor", "checksum", Body(attrs={"checksum_types": [UNKNOWN, "md5"]})) == []


def test_unknown_satisfies_required_and_groups():
    body = Body(attrs={"region": UNKNOWN, "ami_name": UNKNOWN, "instance_type": UNKNOWN, "source_ami": UNKNOWN, "ssh_username": UNKNOWN})
    assert check("source", "amazon-ebs", body) == []
    assert check("source", "amazon-ebs", ebs(communicator=UNKNOWN, ssh_username=None)) == []


# --- non-native types and the helpers ---------------------------------------------------------


def test_non_native_type_is_a_warning_without_option_checks():
    f = only(check("source", "docker", Body(attrs={"imagee": "ubuntu", "commit": True})), "warning")
    assert f.summary == 'Source type "docker" can only be built with --engine packer'
    assert f.path == ()
    f = only(check("provisioner", "ansible", Body(attrs={"playbook_file": "x.yml"})), "warning")
    assert f.summary == 'Provisioner type "ansible" can only be built with --engine packer'


def test_non_native_type_close_to_a_native_one_suggests_it():
    f = only(check("source", "amazon-eb", Body()), "warning")
    assert f.detail.startswith('Did you mean "amazon-ebs"?')


def test_known_types_and_option_names():
    assert known_types("source") == ["amazon-ebs", "local", "null"]
    assert known_types("builder") == ["amazon-ebs", "local", "null"]
    assert known_types("provisioner") == ["breakpoint", "file", "shell", "shell-local"]
    assert known_types("post-processor") == ["checksum", "compress", "manifest", "shell-local", "vagrant"]
    names = option_names("source", "amazon-ebs")
    assert names == sorted(names)
    for expected in ("source_ami_filter", "launch_block_device_mappings", "ssh_username", "winrm_password", "pause_before_connecting", "tags", "run_tags", "snapshot_tags"):
        assert expected in names
    assert option_names("source", "local") == ["base", "command", "env", "health_check", "port_arg", "port_env", "stop_signal", "stop_timeout", "workdir"]
    for common in ("only", "except", "pause_before", "max_retries", "timeout", "override", "name"):
        assert common in option_names("provisioner", "shell")
    for common in ("only", "except", "name", "keep_input_artifact"):
        assert common in option_names("post-processor", "manifest")
    assert option_names("source", "docker") == []
    with pytest.raises(ValueError):
        known_types("resource")


@pytest.mark.parametrize(
    "name,sensitive",
    [
        ("access_key", True), ("secret_key", True), ("token", True), ("ssh_password", True),
        ("winrm_password", True), ("ssh_bastion_password", True), ("client_secret", True),
        ("vault_token", True), ("db_password_hash", True), ("ssh_private_key", True),
        ("http_tokens", False), ("ssh_username", False), ("ssh_private_key_file", False),
        ("kms_key_id", False), ("region", False), ("skip_credential_validation", False),
    ],
)  # fmt: skip
def test_is_sensitive_option(name, sensitive):
    assert is_sensitive_option(name) is sensitive


def test_finding_to_diagnostic():
    f = only(check("source", "amazon-ebs", ebs(ssh_usernme="ubuntu")))
    d = f.to_diagnostic(file="web.pkr.hcl")
    assert d.severity is Severity.ERROR
    assert d.render().startswith('error: Unsupported argument "ssh_usernme" in source amazon-ebs\n  on web.pkr.hcl')


# --- robustness ----------------------------------------------------------------------------------

hcl_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12) | st.just(UNKNOWN),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    target=st.sampled_from([(k, t) for k in ("source", "provisioner", "post-processor") for t in known_types(k)]),
    data=st.data(),
)
def test_never_raises_on_any_value(target, data):
    kind, type_name = target
    schema = schema_for(kind, type_name)
    names = st.sampled_from(schema.names()) | st.text(min_size=1, max_size=10)
    attrs = data.draw(st.dictionaries(names, hcl_values, max_size=6))
    blocks = {}
    for b in data.draw(st.lists(st.sampled_from([b.name for b in schema.blocks] or ["x"]), max_size=2)):
        blocks[b] = [Body(attrs=data.draw(st.dictionaries(st.text(min_size=1, max_size=8), hcl_values, max_size=3)))]
    body = Body(attrs=attrs, blocks=blocks)
    findings = check_component(kind, type_name, body, environ={})
    findings += check_local_paths(kind, type_name, body, "/nonexistent-base")
    if kind == "provisioner":
        findings += [f for _, f in check_provisioner_sequence([(type_name, body), (type_name, body)])]
    for f in findings:
        assert f.severity in ("error", "warning")
        assert f.summary


# --- docs and start-up -------------------------------------------------------------------------


def test_committed_doc_equals_the_generated_one():
    committed = (ROOT / "docs" / "template-options.md").read_text()
    assert committed == render_markdown(), "run: python -m releasemgr.template.schema > docs/template-options.md"


def test_doc_lists_every_option():
    doc = render_markdown()
    for kind in ("source", "provisioner", "post-processor"):
        for type_name in known_types(kind):
            assert f'### {kind} "{type_name}"' in doc
            for name in option_names(kind, type_name):
                assert f"| `{name}` |" in doc


def test_import_stays_light():
    code = (
        "import sys, releasemgr.template.schema as s; "
        "s.check_component('source', 'amazon-ebs', s.Body(attrs={}), environ={}); "
        "heavy = [m for m in ('boto3', 'paramiko', 'sqlmodel', 'sqlalchemy', 'rich') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- through `release validate` ------------------------------------------------------------------

TEMPLATE_WITH_TYPO = """\
source "amazon-ebs" "web" {
  region        = "us-east-1"
  instance_type = "t3.micro"
  ami_name      = "web-1"
  source_ami    = "ami-12345678"
  ssh_usernme   = "ubuntu"
}

build {
  sources = ["source.amazon-ebs.web"]
  provisioner "shell" {
    inline = ["echo hi"]
  }
}
"""


def test_release_validate_shows_the_finding_at_its_line(tmp_path, capsys):
    from releasemgr.cli import main

    path = tmp_path / "web.pkr.hcl"
    path.write_text(TEMPLATE_WITH_TYPO)
    status = main(["validate", str(path)])
    out = capsys.readouterr()
    text = out.out + out.err
    assert status == 2, text
    assert 'Unsupported argument "ssh_usernme" in source amazon-ebs' in text
    assert 'Did you mean "ssh_username"?' in text
    assert f"{path}:6:3" in text
    assert "Traceback" not in text


def test_release_validate_warnings_keep_exit_status_zero(tmp_path, capsys):
    from releasemgr.cli import main

    path = tmp_path / "web.pkr.hcl"
    text = TEMPLATE_WITH_TYPO.replace("ssh_usernme", "ssh_username")
    text = text.replace('"ami-12345678"', '"ami-12345678"\n  secret_key    = "abc"\n  access_key    = var.key')
    path.write_text('variable "key" {\n  type      = string\n  default   = "AKIAEXAMPLE"\n  sensitive = true\n}\n\n' + text)
    status = main(["validate", str(path)])
    out = capsys.readouterr()
    text = out.out + out.err
    assert status == 0, text
    assert 'Credential "secret_key" written in the template (source amazon-ebs)' in text
    assert 'Credential "access_key"' not in text  # it comes from a variable


def test_use_linux_pathing_only_on_windows():
    for kind in ("provisioner", "post-processor"):
        findings = check(kind, "shell-local", Body(attrs={"script": "a.sh", "use_linux_pathing": True}))
        if sys.platform == "win32":
            assert findings == []
        else:
            f = only(findings)
            assert f.summary == '"use_linux_pathing" only works on Windows'
            assert f.path == ("use_linux_pathing",)
