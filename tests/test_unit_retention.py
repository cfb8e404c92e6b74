"""Retention: what `prune` may delete and what `retire` stops (release/retire.py), on a
temporary ledger and a FakeFleet. Ages are checked with `now=` instead of waiting.

Real-process counterparts: tests/test_retire_prune.py
(test_retire_keeps_current_and_previous_and_refuses_to_empty_an_environment,
test_prune_deletes_only_unused_artifacts_and_keeps_the_rows,
test_prune_applies_retention_from_release_toml)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from releasemgr.errors import NotFound, UsageError
from releasemgr.release.retire import parse_age

ENVS = """
[[environments]]
name = "dev"

[[environments]]
name = "prod"

[deploy.prod]
provider = "fake"
count = 1
strategy = "blue-green"
"""
NOW = datetime.now(timezone.utc)


def pruned(doc: dict) -> list[str]:
    return sorted(p["version"] for p in doc["pruned"])


def kept(doc: dict) -> dict[str, str]:
    return {k["version"]: k["why"] for k in doc["kept"]}


@pytest.fixture
def web(domain, fake_fleet):
    domain.configure(ENVS)
    domain.fleet = fake_fleet
    return domain


def test_parse_age():
    assert parse_age("1d12h") == timedelta(hours=36)
    assert (parse_age("2w"), parse_age("1y"), parse_age(90)) == (timedelta(days=14), timedelta(days=365),
                                                                 timedelta(seconds=90))
    for bad in ("5x", "", "1d 2"):
        with pytest.raises(UsageError):
            parse_age(bad)


def test_keep_n_newest(web):
    web.register("web", 5)
    doc = web.prune(keep=2, dry_run=True)
    assert pruned(doc) == ["v1", "v2", "v3"]
    assert kept(doc) == {"v5": "among the 2 newest", "v4": "among the 2 newest"}


def test_older_than_counts_from_creation(web):
    web.register("web", 2)
    assert pruned(web.prune(older_than="30d", dry_run=True, now=NOW + timedelta(days=10))) == []
    assert pruned(web.prune(older_than="30d", dry_run=True, now=NOW + timedelta(days=40))) == ["v1", "v2"]


def test_current_rollback_target_and_running_versions_are_never_pruned(web):
    web.register("web", 4)
    for v in ("v1", "v2"):
        web.promote(f"web@{v}", "prod")
        web.deploy()          # blue-green: v1's server stands by
    web.promote("web@v3", "prod")  # not deployed: v2 serves, v1 stands by
    doc = web.prune(keep=0, dry_run=True)
    assert pruned(doc) == ["v4"]
    assert kept(doc) == {"v3": "current in prod", "v2": "rollback target of prod", "v1": "runs servers in prod"}
    web.promote("web@v4", "dev")
    assert kept(web.prune(keep=0, dry_run=True))["v4"] == "current in dev"


def test_retention_counts_time_since_a_version_left_the_environment(web):
    web.configure(ENVS + '\n[retention]\nkeep = 1\n\n[retention.prod]\nkeep = 1\nmax_age = "7d"\n')
    web.register("web", 4)
    for v in ("v1", "v2", "v3"):
        web.promote(f"web@{v}", "prod")
    soon = web.prune(dry_run=True, now=NOW + timedelta(days=3))
    assert pruned(soon) == []
    assert kept(soon)["v1"] == "retention prod: younger than max_age"
    assert kept(soon)["v4"] == "retention never promoted: among the 1 newest"
    later = web.prune(dry_run=True, now=NOW + timedelta(days=8))
    assert pruned(later) == ["v1"]  # v2 is the rollback target, v3 current


def test_prune_refuses_without_rules_and_with_an_unknown_environment(web):
    web.register("web", 1)
    with pytest.raises(UsageError, match="prune needs --keep N"):
        web.prune(dry_run=True)
    web.configure(ENVS + "\n[retention.qa]\nkeep = 1\n")
    with pytest.raises(UsageError, match="unknown environment"):
        web.prune(dry_run=True)


def test_artifacts_without_an_image_store_are_reported_not_marked_deleted(web):
    web.register("web", 2)
    doc = web.prune(keep=1)
    assert doc["pruned"] == [] and doc["skipped"][0]["version"] == "v1"
    assert "delete by hand" in doc["skipped"][0]["why"]
    assert pruned(web.prune(keep=1, dry_run=True)) == ["v1"]  # still live in the ledger


def test_retire_stops_older_sets_but_keep_previous_and_the_current_one(web):
    web.register("web", 3)
    for v in ("v1", "v2", "v3"):
        web.promote(f"web@{v}", "prod")
        web.deploy()
    assert len(web.fleet.running()) == 3  # v3 serving, v1 and v2 standing by
    doc = web.retire(keep_previous=1, dry_run=True)
    assert [s["version"] for s in doc["retire"]] == ["v1"] and web.fleet.running("v1")
    doc = web.retire(keep_previous=1)
    assert [s["version"] for s in doc["retire"]] == ["v1"] and web.fleet.running("v1") == []
    web.retire()
    assert web.fleet.running() == web.fleet.running("v3") and len(web.fleet.running()) == 1


def test_retire_needs_a_current_version(web):
    web.register("web", 1)
    with pytest.raises(NotFound, match="no current version in prod"):
        web.retire()
