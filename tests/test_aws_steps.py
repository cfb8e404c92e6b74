"""The amazon-ebs steps one at a time, on moto: what each records, and that its cleanup
removes exactly that -- or, when AWS refuses, reports the id to delete by hand and does not
raise (the runner's cleanup contract, as Packer's step_key_pair.go Cleanup)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from aws_fixture import aws  # noqa: F401
from releasemgr.pipeline.context import BuildContext
from releasemgr.pipeline.runner import Outcome, Runner, Step
from releasemgr.providers.aws import client as C
from releasemgr.providers.aws.builder import StepAwsSession, steps
from releasemgr.providers.aws.config import AwsConfig
from releasemgr.providers.aws.steps.instance import StepRunInstance
from releasemgr.providers.aws.steps.key_pair import StepKeyPair
from releasemgr.providers.aws.steps.security_group import StepSecurityGroup
from releasemgr.providers.aws.steps.source_ami import StepSourceAMI



@pytest.fixture
def cloud(aws):  # noqa: F811 - moto (aws_fixture), under a name that does not shadow the import
    return aws


SOURCE = {"region": "us-east-1", "source_ami": "ami-0jammy0001", "instance_type": "t3.micro",
          "ami_name": "web-test", "ssh_username": "ubuntu"}


def context(tmp_path: Path, **options) -> BuildContext:
    said: list[str] = []
    ctx = BuildContext(build_id="0123456789abcdef", build_name="web", source_type="amazon-ebs", source_name="web",
                       source_config={**SOURCE, **options}, state_dir=tmp_path, work_dir=tmp_path,
                       template_dir=tmp_path, say_fn=said.append, output_fn=lambda stream, line: None,
                       cancel_event=threading.Event(), image="web")
    ctx.said = said  # type: ignore[attr-defined]
    steps(ctx)  # prepares ctx.state from the options
    return ctx


def started(ctx: BuildContext, *more: Step) -> None:
    StepAwsSession().run(ctx)
    StepSourceAMI(ctx.state.config.run).run(ctx)
    for step in more:
        step.run(ctx)


def unreachable_ec2():
    """An EC2 client whose every call fails (nothing listens on port 9)."""
    from botocore.config import Config

    return C.session({}).client("ec2", region_name="us-east-1", endpoint_url="http://127.0.0.1:9",
                                config=Config(retries={"max_attempts": 1}, connect_timeout=1))


def test_prepare_decodes_options_with_schema_defaults(tmp_path):
    cfg = AwsConfig.prepare({**SOURCE, "security_group_id": "sg-1", "ami_regions": ["eu-west-1"],
                             "launch_block_device_mappings": [{"device_name": "/dev/sda1", "volume_size": 20}]})
    assert cfg.comm.ssh_port == 22 and cfg.comm.type == "ssh" and cfg.comm.temporary_key_pair_type == "rsa"
    assert cfg.run.security_group_ids == ["sg-1"] and cfg.ami.regions == ["eu-west-1"]
    assert cfg.run.temporary_security_group_source_cidrs == ["0.0.0.0/0"]
    # unset EBS fields stay unset: AWS's defaults apply, not the schema's
    assert cfg.run.block_devices[0].mapping() == {"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": 20}}
    assert cfg.access.client_options() == {"region": "us-east-1"}


def test_state_is_typed_and_filled_by_the_steps(cloud, tmp_path):
    ctx = context(tmp_path)
    key, group = StepKeyPair(ctx.state.config.comm), StepSecurityGroup(ctx.state.config)
    started(ctx, key, group)
    st = ctx.state
    assert st.region == "us-east-1" and st.source_ami == "ami-0jammy0001" and ctx.parent == "ami-0jammy0001"
    assert st.key_name == "release_01234567_web" and Path(st.private_key_file).exists()
    assert st.security_group_ids == [group.created]
    assert key.cleanup(ctx) == [] and group.cleanup(ctx) == []
    assert cloud.managed() == {"key_pairs": [], "security_groups": [], "images": [], "snapshots": []}


def test_key_pair_cleanup_reports_what_it_could_not_delete(cloud, tmp_path):
    ctx = context(tmp_path)
    step = StepKeyPair(ctx.state.config.comm)
    started(ctx, step)
    ctx.state.ec2 = unreachable_ec2()
    left = step.cleanup(ctx)  # does not raise
    assert len(left) == 1 and left[0].startswith("key pair release_01234567_web in us-east-1 (")
    assert cloud.managed()["key_pairs"] == ["release_01234567_web"]


def test_security_group_cleanup_reports_what_it_could_not_delete(cloud, tmp_path):
    ctx = context(tmp_path)
    step = StepSecurityGroup(ctx.state.config)
    started(ctx, step)
    ctx.state.ec2 = unreachable_ec2()
    left = step.cleanup(ctx)
    assert len(left) == 1 and left[0].startswith(f"security group {step.created} in us-east-1 (")


def test_instance_cleanup_reports_what_it_could_not_terminate(cloud, tmp_path):
    ctx = context(tmp_path)
    step = StepRunInstance(ctx.state.config.run)
    started(ctx, step)
    assert ctx.state.instance_id == step.instance_id and ctx.state.instance["State"]["Name"] == "running"
    ctx.state.ec2 = unreachable_ec2()
    left = step.cleanup(ctx)
    assert len(left) == 1 and left[0].startswith(f"instance {step.instance_id} in us-east-1 (")
    assert cloud.running_instances() == [step.instance_id]


def test_steps_that_made_nothing_have_nothing_to_clean(cloud, tmp_path):
    ctx = context(tmp_path, ssh_keypair_name="mine", ssh_private_key_file="/k", security_group_ids=["sg-9"])
    key, group = StepKeyPair(ctx.state.config.comm), StepSecurityGroup(ctx.state.config)
    started(ctx, key, group)
    assert (ctx.state.key_name, ctx.state.private_key_file, ctx.state.security_group_ids) == ("mine", "/k", ["sg-9"])
    assert key.cleanup(ctx) == [] and group.cleanup(ctx) == [] and key.leftovers(ctx) == []


class Fail(Step):
    name = "fail"

    def run(self, ctx):
        from releasemgr.pipeline.runner import StepFailed

        ctx.state.ec2 = unreachable_ec2()  # AWS stops answering: nothing can be deleted
        raise StepFailed("provisioning failed")


def test_runner_collects_the_reports_and_says_them(cloud, tmp_path):
    ctx = context(tmp_path)
    run = ctx.state.config.run
    key, group = StepKeyPair(ctx.state.config.comm), StepSecurityGroup(ctx.state.config)
    group.attempts = 1
    result = Runner([StepAwsSession(), StepSourceAMI(run), key, group, Fail()]).run(ctx)
    assert result.outcome is Outcome.FAILED and ctx.outcome is Outcome.FAILED
    assert [r.split(" (")[0] for r in result.cleanup_failures] == [f"security group {group.created} in us-east-1",
                                                                   "key pair release_01234567_web in us-east-1"]
    assert result.cleaned == ["fail", "source-ami", "aws-session"]
    assert any(s.startswith("Could not remove key pair release_01234567_web") for s in ctx.said)


@pytest.mark.parametrize("options", [{"ssh_port": "not a port"}])
def test_options_that_do_not_decode_fail_the_build_not_the_process(tmp_path, options):
    ctx = BuildContext(build_id="0123456789abcdef", build_name="web", source_type="amazon-ebs", source_name="web",
                       source_config={**SOURCE, **options}, state_dir=tmp_path, work_dir=tmp_path,
                       template_dir=tmp_path, say_fn=lambda s: None, output_fn=lambda stream, line: None)
    result = Runner(steps(ctx)).run(ctx)
    assert result.outcome is Outcome.FAILED and result.error.startswith("amazon-ebs options: ")
