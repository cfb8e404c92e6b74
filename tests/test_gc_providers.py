"""`release gc` reaches every provider through its garbage collector (`Provider.garbage_collector`):
the use case decides from the ledger which builds are dead and asks each collector in use where to
look, what is there, what stays and to remove the rest. A fake provider with a collector in the
registry shows that gc names no provider; the aws collector is covered with moto in
tests/test_aws_build.py and without AWS use in tests/test_docs_run.py."""

from __future__ import annotations

import os
import socket
import sys
import types

import pytest

from releasemgr.errors import OperationFailed
from releasemgr.ledger import audit
from releasemgr.ledger.clock import now_iso
from releasemgr.ledger.repo import builds, images
from releasemgr.providers import registry
from releasemgr.providers.base import GarbageCollector, Leftover, LeftoversUnreadable, Provider
from releasemgr.release.gc import gc


class FakeCollector(GarbageCollector):
    def __init__(self, found, *, used=True, unreadable=False):
        self.found, self.used, self.unreadable = found, used, unreadable
        self.told: dict = {}
        self.asked: list[str] = []
        self.removed: list[list[Leftover]] = []

    def in_use(self) -> bool:
        return self.used

    def regions(self) -> list[str]:
        return self.told["regions"] or ["r1"]

    def find(self, region: str) -> list[Leftover]:
        self.asked.append(region)
        if self.unreadable:
            raise LeftoversUnreadable("fake: no way in", hint="log in")
        return [f for f in self.found if f.region == region]

    def remove(self, items, say=lambda s: None):
        self.removed.append(list(items))
        return [i for i in items if i.id != "stuck"], {i.id: "refused" for i in items if i.id == "stuck"}


@pytest.fixture
def fake_gc(monkeypatch):
    """A provider "fake" whose collector the test sets (`holder["collector"]`)."""
    holder: dict = {}

    class FakeProvider(Provider):
        name = "fake"
        packer_builders = ("fakecloud",)

        def garbage_collector(self, settings, deploy_settings, facts, regions):
            c = holder["collector"]
            c.told = {"settings": settings, "deploy": deploy_settings, "facts": facts, "regions": regions}
            return c

    module = types.ModuleType("releasemgr_tests_fake_gc_provider")
    module.Provider = FakeProvider
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(registry.PROVIDERS, "fake", module.__name__)
    registry.provider.cache_clear()
    yield holder
    registry.provider.cache_clear()


def _builds(ledger):
    """b-dead (failed), b-live (running here, this process), b-done (succeeded)."""
    with ledger.transaction() as conn:
        img = images.create(conn, "web", at=now_iso(), by="alice")
        for bid in ("b-dead", "b-live", "b-done"):
            builds.start(conn, bid, img.id, actor="alice", host=socket.gethostname(), pid=os.getpid(), at=now_iso(),
                         template_path="t.pkr.hcl", template_digest="d", inputs={}, log_path="log")
        builds.finish(conn, "b-dead", status="failed", at=now_iso(), error="boom")
        builds.finish(conn, "b-done", status="succeeded", at=now_iso(), error=None)


def test_gc_asks_each_collector_and_keeps_what_the_ledger_says(domain, fake_gc):
    _builds(domain.ledger)
    kept = domain.register("web", provider="fake")  # artifact img-1: a version's image
    assert kept == ["v1"]
    found = [Leftover("r1", "instance", "i-dead", "b-dead", "web"),
             Leftover("r1", "image", "img-1", "b-dead", "web"),
             Leftover("r1", "instance", "stuck", "b-done", "web"),
             Leftover("r1", "instance", "i-live", "b-live", "web"),
             Leftover("r1", "instance", "i-other", "b-unknown", None)]
    collector = fake_gc["collector"] = FakeCollector(found)
    said: list[str] = []

    dry = gc(domain.ledger, domain.config, actor="alice", dry_run=True, say=said.append)
    assert dry["fake"] is True and dry["aws"] is False  # one key per provider with a collector
    assert [(x["id"], x["reason"]) for x in dry["leftovers"]] == [("i-dead", "build failed"),
                                                                  ("stuck", "build succeeded")]
    assert sorted((x["id"], x["reason"]) for x in dry["skipped"]) == [
        ("i-live", "build still running"), ("i-other", "unknown build (not in this ledger)")]
    assert said == ["Looking for leftovers in r1..."] and collector.removed == []
    assert collector.told["regions"] == [] and collector.told["settings"] is None and collector.told["deploy"] == []
    assert collector.told["facts"].artifact_regions == [] and collector.told["facts"].built is False

    done = gc(domain.ledger, domain.config, actor="alice")
    assert [[i.id for i in batch] for batch in collector.removed] == [["i-dead", "stuck"]]
    assert [x["id"] for x in done["removed"]] == ["i-dead"] and done["failed"] == {"stuck": "refused"}
    with domain.ledger.connect() as conn:
        assert audit.has_action(conn, "gc")  # the removal is an audit event
        assert builds.get(conn, "b-live").status == "running"  # alive: never marked failed
    with_unknown = gc(domain.ledger, domain.config, actor="alice", dry_run=True, include_unknown=True)
    assert "i-other" in [x["id"] for x in with_unknown["leftovers"]]


def test_no_collector_in_use_asks_no_platform(domain, fake_gc):
    collector = fake_gc["collector"] = FakeCollector([Leftover("r1", "instance", "i-1", "b", None)], used=False)
    doc = gc(domain.ledger, domain.config, actor="alice", dry_run=True)
    assert doc == {"dry_run": True, "aws": False, "fake": False, "leftovers": [], "skipped": [], "removed": [],
                   "failed": {}}
    assert collector.asked == []


def test_an_unreadable_platform_is_one_failure_with_its_hint(domain, fake_gc):
    fake_gc["collector"] = FakeCollector([], unreadable=True)
    with pytest.raises(OperationFailed) as err:
        gc(domain.ledger, domain.config, actor="alice", dry_run=True)
    assert err.value.message == "fake: no way in" and err.value.hint == "log in"
