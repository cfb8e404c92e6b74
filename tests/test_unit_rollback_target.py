"""Which version a rollback goes back to (`previous_good` in release/lifecycle.py), through
`rollback`/`revoke` on a temporary ledger. No process.

Real-process counterparts: tests/test_lifecycle.py (test_rollback_walks_back_and_refuses_at_the_start,
test_rollback_skips_revoked_versions, test_revoke_never_moves_silently_and_rollback_option);
tests/test_retire_prune.py (prune keeps the rollback target)."""

from __future__ import annotations

import pytest

from releasemgr.errors import PolicyRefused

DEV = '[[environments]]\nname = "dev"\n'


@pytest.fixture
def dev(domain):
    domain.configure(DEV)
    for v in domain.register("web", 4):
        domain.promote(f"web@{v}", "dev")
    assert domain.current("web", "dev") == "v4"
    return domain


def test_repeated_rollbacks_keep_walking_back_then_refuse(dev):
    assert dev.rollback("web", "dev")["version"] == "v3"
    assert dev.rollback("web", "dev")["version"] == "v2"  # not v4: it was rolled back from
    assert dev.rollback("web", "dev")["version"] == "v1"
    with pytest.raises(PolicyRefused) as info:
        dev.rollback("web", "dev")
    assert info.value.rule == "no-previous-version" and dev.current("web", "dev") == "v1"


def test_revoked_versions_are_skipped(dev):
    dev.revoke("web@v3", reason="bad")
    assert dev.rollback("web", "dev")["version"] == "v2"


def test_a_version_promoted_again_after_a_rollback_is_a_target_again(dev):
    dev.rollback("web", "dev")                 # v4 -> v3
    dev.promote("web@v4", "dev")               # fixed forward: v3 -> v4
    assert dev.rollback("web", "dev")["version"] == "v3"


def test_rollback_to_names_a_version_that_was_there(dev):
    dev.configure(DEV + '\n[[environments]]\nname = "prod"\n')
    dev.promote("web@v1", "prod")
    dev.promote("web@v3", "prod")
    with pytest.raises(PolicyRefused) as info:
        dev.rollback("web", "prod", to="web@v2")
    assert info.value.rule == "rollback-target"
    with pytest.raises(PolicyRefused) as info:
        dev.rollback("web", "prod", to="web@v3")
    assert info.value.rule == "no-change"
    assert dev.rollback("web", "prod", to="web@v1")["version"] == "v1"


def test_revoke_with_rollback_moves_each_environment_to_its_own_target(dev):
    dev.configure(DEV + '\n[[environments]]\nname = "prod"\n')
    dev.promote("web@v2", "prod")
    dev.promote("web@v4", "prod")
    doc = dev.revoke("web@v4", reason="CVE-2", do_rollback=True)
    assert sorted((m["env"], m["version"]) for m in doc["rolled_back"]) == [("dev", "v3"), ("prod", "v2")]
    assert doc["still_current_in"] == []
    assert (dev.current("web", "dev"), dev.current("web", "prod")) == ("v3", "v2")


SERVERS = '''
[[environments]]
name = "prod"

[deploy.prod]
provider = "fake"
count = 1
health_timeout = 0.3
'''


@pytest.fixture
def prod(domain, fake_fleet):
    domain.configure(SERVERS)
    domain.register("web", 4)
    domain.fleet = fake_fleet
    return domain


def test_with_servers_a_version_whose_deploy_failed_is_skipped_and_said_so(prod):
    from releasemgr.errors import OperationFailed

    prod.promote("web@v1", "prod")
    prod.deploy()
    prod.promote("web@v2", "prod")
    prod.fleet.unhealthy.add("v2")
    with pytest.raises(OperationFailed):
        prod.deploy()  # v2 never reached healthy in prod
    prod.promote("web@v3", "prod")
    prod.deploy()
    doc = prod.rollback("web", "prod")
    assert doc["version"] == "v1" and doc["skipped"] == [{"version": "v2", "why": "its deploy failed in prod"}]


def test_with_servers_a_version_never_deployed_is_not_a_target(prod):
    prod.promote("web@v1", "prod")
    prod.deploy()
    prod.promote("web@v2", "prod")  # never deployed
    prod.promote("web@v3", "prod")
    prod.deploy()
    doc = prod.rollback("web", "prod")
    assert doc["version"] == "v1"
    assert doc["skipped"] == [{"version": "v2", "why": "it never reached healthy in prod"}]


def test_the_approvals_exception_uses_the_same_rule(prod):
    """`healthy_before` (no approvals needed) and the rollback target agree on each version."""
    from releasemgr.ledger.repo import environments, images, versions
    from releasemgr.ledger.refs import parse_ref
    from releasemgr.release import approvals

    prod.promote("web@v1", "prod")
    prod.deploy()
    prod.promote("web@v2", "prod")
    prod.fleet.unhealthy.add("v2")
    with pytest.raises(Exception):
        prod.deploy()
    with prod.ledger.connect() as conn:
        img, env = images.get(conn, "web"), environments.get(conn, "prod")
        good = {n: approvals.healthy_before(conn, img, versions.resolve(conn, parse_ref(f"web@v{n}"))[1], env.id)
                for n in (1, 2, 3)}
    assert good == {1: True, 2: False, 3: False}


def test_deploying_another_version_than_the_pointer_is_refused(prod):
    prod.promote("web@v1", "prod")
    prod.deploy()
    with pytest.raises(PolicyRefused) as info:
        prod.deploy(version="v2")
    assert info.value.rule == "follows-pointer" and "release promote web@v2 --to prod --deploy" in info.value.hint
    assert prod.fleet.running("v2") == []
