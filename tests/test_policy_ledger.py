"""The policy in force is ledger state (real CLI calls, SQLite and PostgreSQL): a new ledger
records release.toml's; a changed release.toml only warns until `release policy apply`
(audited as `policy.applied`, `--dry-run` changes nothing); `release policy show`."""

from __future__ import annotations

WARNING = ("warning: release.toml differs from the policy in force; "
           "see release policy show / release policy apply")

ONE_APPROVAL = """
[[environments]]
name = "dev"

[[environments]]
name = "prod"
requires = "dev"
approvals = 1
"""


def test_a_local_release_toml_cannot_lower_the_ledgers_policy(cli, tmp_path):
    (tmp_path / "release.toml").write_text(ONE_APPROVAL)
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-1")
    r = cli.ok("promote", "web@v1", "--to", "dev")
    assert WARNING not in r.err
    # someone's own release.toml says approvals = 0: still held to the ledger's 1
    (tmp_path / "release.toml").write_text(ONE_APPROVAL.replace("approvals = 1", "approvals = 0"))
    r = cli("promote", "web@v1", "--to", "prod")
    assert r.code == 3 and "refused by policy 'approvals'" in r.err, r
    assert r.err.count(WARNING) == 1
    # a new environment in release.toml is not one until applied
    (tmp_path / "release.toml").write_text(ONE_APPROVAL + '\n[[environments]]\nname = "qa"\n')
    r = cli("promote", "web@v1", "--to", "qa")
    assert r.code == 4 and "policy apply" in r.err and WARNING in r.err, r


def test_policy_apply_dry_run_shows_the_diff_and_changes_nothing(cli, tmp_path):
    (tmp_path / "release.toml").write_text(ONE_APPROVAL)
    cli.ok("ledger", "init")
    before = cli.json("policy", "show")
    (tmp_path / "release.toml").write_text(ONE_APPROVAL.replace("approvals = 1", "approvals = 2")
                                           + '\n[[environments]]\nname = "qa"\n')
    r = cli.ok("policy", "apply", "--dry-run")
    assert "would apply (dry run):" in r.out and "~ prod.approvals: 1 -> 2" in r.out and "+ qa:" in r.out
    d = cli.json("policy", "apply", "--dry-run")
    assert d["dry_run"] is True and d["changed"] is False
    assert {"env": "prod", "change": "changed", "key": "approvals", "from": 1, "to": 2} in d["diff"]
    assert cli.json("policy", "show") == before
    # only the first recording of release.toml's policy (by `ledger init`): the dry run added none
    events = cli.json("audit", "--action", "policy.applied")["events"]
    assert [e["details"].get("initial") for e in events] == [True]


def test_policy_apply_changes_it_and_is_audited(cli, tmp_path):
    (tmp_path / "release.toml").write_text(ONE_APPROVAL)
    cli.ok("register", "web", "--artifact", "aws:us-east-1:ami-1")
    cli.ok("promote", "web@v1", "--to", "dev")
    (tmp_path / "release.toml").write_text(ONE_APPROVAL.replace("approvals = 1", "approvals = 0"))
    r = cli.ok("policy", "apply", actor="carol")
    assert "applied:" in r.out and "~ prod.approvals: 1 -> 0" in r.out
    first, *events = cli.json("audit", "--action", "policy.applied")["events"]
    assert first["details"]["initial"] is True and first["seq"] == 1
    assert len(events) == 1 and events[0]["actor"] == "carol" and "initial" not in events[0]["details"]
    assert events[0]["details"]["diff"] == [{"env": "prod", "change": "changed", "key": "approvals",
                                             "from": 1, "to": 0}]
    r = cli.ok("promote", "web@v1", "--to", "prod")
    assert WARNING not in r.err
    assert "nothing to apply" in cli.ok("policy", "apply").out
    assert cli.json("audit", "verify")["ok"]
    # removing an environment retires it from the policy in force
    (tmp_path / "release.toml").write_text('[[environments]]\nname = "dev"\n')
    d = cli.json("policy", "apply")
    assert {"env": "prod", "change": "removed"} == {k: d["diff"][-1][k] for k in ("env", "change")}
    assert [e["name"] for e in cli.json("policy", "show")["environments"]] == ["dev"]
    assert cli("promote", "web@v1", "--to", "prod").code == 4


def test_policy_show_json(cli, tmp_path):
    rules = 'approvals = 1\nrequire_ticket = true\napproval_ttl = "2d"\nfreeze = ["Fri 18:00 - Mon 06:00 UTC"]'
    (tmp_path / "release.toml").write_text(ONE_APPROVAL.replace("approvals = 1", rules))
    cli.ok("ledger", "init")
    d = cli.json("policy", "show")
    assert d == {"environments": [
        {"name": "dev", "requires": None, "require_ticket": False, "approvals": 0, "approval_ttl": "7d",
         "freeze": [], "auto_deploy": False, "description": ""},
        {"name": "prod", "requires": "dev", "require_ticket": True, "approvals": 1, "approval_ttl": "2d",
         "freeze": ["Fri 18:00 - Mon 06:00 UTC"], "auto_deploy": False, "description": ""}]}
    text = cli.ok("policy", "show").out
    assert "prod\n  requires = \"dev\"\n  require_ticket = true\n  approvals = 1" in text


def test_deploy_freeze_check_reads_the_ledgers_policy(cli, tmp_path):
    """The freeze rule of deploy comes from the ledger too (release.toml without the window)."""
    (tmp_path / "release.toml").write_text('[[environments]]\nname = "dev"\n'
                                           'freeze = ["2020-01-01 00:00 - 2099-01-01 00:00 UTC"]\n')
    cli.ok("register", "web", "--artifact", "local::sha256:" + "ab" * 32)
    cli.ok("promote", "web@v1", "--to", "dev", "--override", "--reason", "setup")
    (tmp_path / "release.toml").write_text('[[environments]]\nname = "dev"\n')
    r = cli("deploy", "web", "--env", "dev")
    assert r.code == 3 and "frozen" in r.err and WARNING in r.err, r
