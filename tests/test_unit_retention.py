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
    with pytest.raises(UsageError, match="unknown environment"):  # release.toml is refused when read (exit 2)
        web.configure(ENVS + "\n[retention.qa]\nkeep = 1\n")


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


def test_a_shared_artifact_goes_only_with_its_last_reference_across_images(web, monkeypatch):
    """Artifacts are referenced, not owned: web@v1 and api@v1 share one stored image; pruning
    web drops web's reference and keeps the image for api; pruning api then deletes it."""
    from releasemgr.ledger.repo import artifacts
    from releasemgr.providers import registry
    from releasemgr.providers.base import ImageStore
    from releasemgr.release.lifecycle import ArtifactSpec, register

    deleted = []

    class Store(ImageStore):
        def delete(self, region, artifact_id):
            deleted.append(artifact_id)

    monkeypatch.setattr(type(registry.provider("fake")), "image_store", lambda self, state_dir: Store(),
                        raising=False)
    for image, art in (("web", "img-shared"), ("api", "img-shared"), ("web", "img-own"), ("web", "img-new")):
        register(web.ledger, image, [ArtifactSpec("fake", "", art)], actor="alice")
    doc = web.prune(keep=1, dry_run=True)
    assert pruned(doc) == ["v2"]  # only its own image goes; v1's is shared
    assert [(s["version"], s["artifact"], s["why"]) for s in doc["shared"]] == [
        ("v1", "fake::img-shared", "shared with api@v1")]
    doc = web.prune(keep=1)
    assert deleted == ["img-own"] and pruned(doc) == ["v2"]
    with web.ledger.connect() as conn:  # web@v1's reference is dropped; api@v1's stays
        refs = artifacts.references(conn, "fake", "", "img-shared")
    assert [r.label for r in refs] == ["api@v1"]
    assert web.prune("api", keep=1, dry_run=True)["pruned"] == []
    doc = web.prune("api", keep=0)
    assert deleted == ["img-own", "img-shared"] and pruned(doc) == ["v1"] and doc["shared"] == []


def test_identical_versions_are_any_standing_version_with_the_digest(web):
    from releasemgr.ledger.repo import artifacts, images, versions
    from releasemgr.release.lifecycle import ArtifactSpec, register

    for digest in ("d1", "d2", "d1"):
        register(web.ledger, "web", [ArtifactSpec("fake", "", f"img-{digest}")], actor="alice",
                 template_digest=digest)
    with web.ledger.connect() as conn:
        img = images.get(conn, "web")
        assert versions.identical(conn, img.id, "d1").number == 3  # the newest of them
        assert versions.identical(conn, img.id, "d2").number == 2  # not the image's newest
        assert versions.identical(conn, img.id, "d3") is None
        v3 = versions.identical(conn, img.id, "d1")
    web.revoke("web@v3")
    with web.ledger.transaction() as conn:
        artifacts.mark_deleted(conn, [a.id for a in artifacts.of_version(conn, versions.identical(
            conn, img.id, "d1").id)], at="2030-01-01T00:00:00Z")
    with web.ledger.connect() as conn:
        assert versions.identical(conn, img.id, "d1") is None  # v3 revoked, v1 pruned
        assert v3.number == 3
