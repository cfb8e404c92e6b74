"""Change-management policy (release/policy.py) through `promote`/`rollback` on a temporary
ledger: order, ticket, approvals, freeze windows, revoked versions, override. No process.

Real-process counterparts: tests/test_lifecycle.py (test_promotion_order_and_status,
test_ticket_and_approvals_policy, test_override_needs_reason_and_is_audited,
test_freeze_window_refuses_now, test_revoke_never_moves_silently_and_rollback_option)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from releasemgr.errors import PolicyRefused, UsageError
from releasemgr.release import approvals
from releasemgr.release.policy import Violation, enforce, normalise_identity

PROD_RULES = """
[[environments]]
name = "dev"

[[environments]]
name = "prod"
requires = "dev"
require_ticket = true
approvals = 2
freeze = ["Fri 18:00 - Mon 06:00 UTC"]
"""

SATURDAY = datetime(2026, 3, 7, 12, 0, tzinfo=timezone.utc)
TUESDAY = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)


def approve(domain, ref: str, *who: str, env: str = "prod") -> None:
    """`release approve REF --env ENV` by each of `who`."""
    for name in who:
        approvals.record(domain.ledger, domain.config, ref, env, actor=name)


def refusal(call) -> PolicyRefused:
    with pytest.raises(PolicyRefused) as info:
        call()
    return info.value


@pytest.fixture
def prod(domain):
    domain.configure(PROD_RULES)
    domain.register("web", 2)
    return domain


def test_an_environment_that_requires_another_refuses_what_was_never_there(domain):
    domain.register("web", 1)
    exc = refusal(lambda: domain.promote("web@v1", "staging"))
    assert exc.rule == "requires" and "staging requires dev first: web@v1 has never been in dev" in exc.message
    domain.promote("web@v1", "dev")
    assert domain.promote("web@v1", "staging")["changed"] is True
    assert domain.current("web", "staging") == "v1"


def test_every_violated_rule_is_named_and_the_first_refuses(prod):
    exc = refusal(lambda: prod.promote("web@v1", "prod", now=SATURDAY))
    assert exc.rule == "requires" and exc.details["rules"] == ["requires", "ticket", "approvals", "freeze"]
    assert "(also: ticket, approvals, freeze)" in exc.message
    assert prod.current("web", "prod") is None


def test_ticket_and_two_approvals_by_others_let_a_promotion_through(prod):
    prod.promote("web@v1", "dev")
    approve(prod, "web@v1", "bob")
    exc = refusal(lambda: prod.promote("web@v1", "prod", now=TUESDAY))
    assert "policy 'ticket'" in exc.message
    exc = refusal(lambda: prod.promote("web@v1", "prod", ticket="CHG-1", now=TUESDAY))
    assert "policy 'approvals'" in exc.message and "got 1" in exc.message
    approve(prod, "web@v1", "carol")
    moved = prod.promote("web@v1", "prod", ticket="CHG-1", now=TUESDAY)
    assert moved["version"] == "v1" and moved["override"] == [] and moved["approved_by"] == ["bob", "carol"]
    assert prod.current("web", "prod") == "v1"


def test_the_promoters_own_approval_and_spelling_variants_do_not_count(prod):
    prod.promote("web@v1", "dev")
    approve(prod, "web@v1", "alice", "bob")
    exc = refusal(lambda: prod.promote("web@v1", "prod", ticket="CHG-1", now=TUESDAY))
    assert "got 1 (the promoter's own approval does not count)" in exc.message
    approve(prod, "web@v1", " BOB ", "Bob", "b o b ".replace(" ", "") + " ")
    exc = refusal(lambda: prod.promote("web@v1", "prod", ticket="CHG-1", now=TUESDAY))
    assert "got 1" in exc.message
    assert normalise_identity("  Carol   Smith ") == normalise_identity("carol smith")


def test_a_freeze_window_refuses_inside_and_not_outside(prod):
    prod.promote("web@v1", "dev")
    approve(prod, "web@v1", "bob", "carol")
    exc = refusal(lambda: prod.promote("web@v1", "prod", now=SATURDAY, ticket="CHG-1"))
    assert "policy 'freeze'" in exc.message and "Fri 18:00 - Mon 06:00 UTC" in exc.message
    assert prod.promote("web@v1", "prod", now=TUESDAY, ticket="CHG-1")["changed"] is True


def test_an_override_needs_a_reason_and_is_audited(prod):
    prod.promote("web@v1", "dev")
    approve(prod, "web@v1", "bob", "carol")
    ok = dict(ticket="CHG-1", now=SATURDAY)
    with pytest.raises(UsageError, match="--override needs --reason"):
        prod.promote("web@v1", "prod", override=True, **ok)
    moved = prod.promote("web@v1", "prod", override=True, reason="INC-7 outage", **ok)
    assert moved["override"] == ["freeze"] and prod.current("web", "prod") == "v1"
    overrides = [d for action, d in prod.audit() if action == "policy.override"]
    assert overrides == [{"action": "promote", "rules": ["freeze"], "messages": [overrides[0]["messages"][0]]}]
    assert "frozen" in overrides[0]["messages"][0]


def test_an_override_never_lifts_approvals(prod):
    prod.promote("web@v1", "dev")
    approve(prod, "web@v1", "bob")
    exc = refusal(lambda: prod.promote("web@v1", "prod", ticket="CHG-1", override=True, reason="INC-1",
                                       now=SATURDAY))
    assert exc.rule == "approvals" and "--override does not lift approvals" in exc.message
    assert prod.current("web", "prod") is None


def test_a_revoked_version_is_refused_even_with_an_override(prod):
    prod.revoke("web@v2", reason="CVE-1")
    exc = refusal(lambda: prod.promote("web@v2", "dev"))
    assert exc.rule == "revoked" and "revoked (CVE-1)" in exc.message and "release unrevoke web@v2" in exc.hint
    exc = refusal(lambda: prod.promote("web@v2", "prod", override=True, reason="urgent", ticket="CHG-1",
                                       now=TUESDAY))
    assert exc.rule == "revoked" and exc.details["rules"] == ["revoked", "requires", "approvals"]
    with pytest.raises(PolicyRefused, match="cannot be approved"):
        approve(prod, "web@v2", "bob")
    assert prod.current("web", "dev") is None and prod.current("web", "prod") is None


def test_a_rollback_skips_the_order_rule_and_approvals_to_a_version_good_there_before(prod):
    approve(prod, "web@v1", "bob", "carol")
    ok = dict(ticket="CHG-1", now=TUESDAY)
    prod.promote("web@v1", "prod", override=True, reason="hotfix straight to prod", **ok)  # never in dev
    prod.promote("web@v2", "dev")
    approve(prod, "web@v2", "bob", "carol")
    prod.promote("web@v2", "prod", **ok)
    exc = refusal(lambda: prod.rollback("web", "prod", now=TUESDAY))
    assert exc.details["rules"] == ["ticket"]  # no approvals: v1 was good in prod
    back = prod.rollback("web", "prod", **ok)
    assert back["version"] == "v1" and back["override"] == []  # v1 was never in dev: not asked
    # v2 was rolled back from: going back to it needs approvals again
    exc = refusal(lambda: prod.rollback("web", "prod", to="web@v2", **ok))
    assert exc.rule == "approvals"


def test_enforce_on_plain_violations():
    soft = [Violation("ticket", "needs a ticket"), Violation("freeze", "frozen")]
    assert enforce([], override=False, reason=None) == []
    with pytest.raises(PolicyRefused, match=r"policy 'ticket': needs a ticket \(also: freeze\)"):
        enforce(soft, override=False, reason=None)
    assert enforce(soft, override=True, reason="INC-1") == soft
    with pytest.raises(UsageError):
        enforce(soft, override=True, reason="  ")
    hard = soft + [Violation("revoked", "v2 is revoked", overridable=False)]
    with pytest.raises(PolicyRefused, match="v2 is revoked"):
        enforce(hard, override=True, reason="INC-1")
