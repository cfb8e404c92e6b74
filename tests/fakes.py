"""Fakes for fast unit tests of the use cases (release/*) without processes.

- `FakeFleet`: a `releasemgr.providers.base.Fleet` in memory. Servers "start" at once; a
  script says which launches fail, which versions never become healthy, which servers die
  and which refuse to stop. `events` records every launch and terminate in order.
- `ledger` fixture: a fresh SQLite ledger in tmp_path opened through `Ledger.open`.
- `domain` fixture: that ledger plus a `Config` (from a release.toml text) and one-line
  helpers that call the library functions (`register`, `promote`, `rollback`, `revoke`,
  `deploy`, `prune`) the way the CLI does.
- `fake_fleet` fixture: a `FakeFleet` that `deploy`, `retire` and drift get instead of the
  real provider's fleet: a fake provider registered in the provider registry under every
  provider's name.

Every helper that knows how the library is laid out (module paths, signatures) is here, so
a refactoring of release/* or ledger/* changes this file, not the tests.
"""

from __future__ import annotations

import itertools
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from releasemgr.providers import registry
from releasemgr.providers.base import (Fleet, FleetError, HealthCheck, LaunchedServer, ManagedServer, Provider,
                                       ServerState, TerminateResult)


@dataclass
class FakeServer:
    handle: LaunchedServer
    version: str
    image: str
    env: str
    alive: bool = True


@dataclass
class FakeFleet(Fleet):
    """In-memory servers. Script it with:

    - `fail_launch`: versions ("v2") whose launch raises FleetError;
    - `unhealthy`: versions whose servers never pass a health check;
    - `refuse_stop`: server ids `terminate` reports as failed (and leaves running);
    - `kill(server_id)`: the server dies (describe says not alive; health fails).
    """

    provider: str = "fake"
    poll_cap: float | None = 0.01
    launch_workers: int = 1  # launches happen in order, so `events` is deterministic
    fail_launch: set[str] = field(default_factory=set)
    unhealthy: set[str] = field(default_factory=set)
    refuse_stop: set[str] = field(default_factory=set)
    servers: dict[str, FakeServer] = field(default_factory=dict)
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (launch|terminate, server id, version)
    _ports: itertools.count = field(default_factory=lambda: itertools.count(20000))
    _fewest: int | None = None

    def launch(self, artifact: dict, *, server_id: str, image: str, version: str, env: str,
               port: int | None = None) -> LaunchedServer:
        if version in self.fail_launch:
            raise FleetError(f"cannot start {version}: scripted failure")
        handle = LaunchedServer(id=server_id, provider=self.provider, provider_id=f"fake-{server_id}",
                                address=f"127.0.0.1:{next(self._ports)}", extra={"artifact": artifact["id"]})
        self.servers[server_id] = FakeServer(handle, version, image, env)
        self.events.append(("launch", server_id, version))
        return handle

    def describe(self, servers: list[LaunchedServer]) -> dict[str, ServerState]:
        out = {}
        for s in servers:
            fake = self.servers.get(s.id)
            out[s.id] = ServerState(s.id, bool(fake and fake.alive), "" if fake and fake.alive else "gone")
        return out

    def check_health(self, server: LaunchedServer, check: HealthCheck, timeout: float) -> bool:
        fake = self.servers.get(server.id)
        return bool(fake and fake.alive and fake.version not in self.unhealthy)

    def terminate(self, servers: list[LaunchedServer], *, grace: float | None = None) -> TerminateResult:
        result = TerminateResult()
        for s in servers:
            if s.id in self.refuse_stop:
                result.failed[s.id] = "scripted: refuses to stop"
                continue
            fake = self.servers.get(s.id)
            if fake is not None and fake.alive:
                fake.alive = False
                self.events.append(("terminate", s.id, fake.version))
            result.stopped.append(s.id)
            alive = len(self.running())
            self._fewest = alive if self._fewest is None else min(self._fewest, alive)
        return result

    def list_managed(self, image: str | None = None, env: str | None = None) -> list[ManagedServer]:
        return [ManagedServer(id=sid, image=f.image, env=f.env, version=f.version, alive=f.alive,
                              address=f.handle.address)
                for sid, f in self.servers.items()
                if f.alive and image in (None, f.image) and env in (None, f.env)]

    # -- what tests assert on ---------------------------------------------------------------
    def kill(self, server_id: str) -> None:
        self.servers[server_id].alive = False

    def running(self, version: str | None = None) -> list[str]:
        """Ids of the live servers (of one version), in launch order."""
        return [sid for sid, f in self.servers.items() if f.alive and version in (None, f.version)]

    def actions(self) -> list[str]:
        """The events as "launch v2" / "terminate v1", in order."""
        return [f"{kind} {version}" for kind, _sid, version in self.events]

    def fewest_running(self) -> int:
        """The fewest live servers right after any terminate since the last `forget()`."""
        return len(self.running()) if self._fewest is None else self._fewest

    def forget(self) -> None:
        """Start a new record: clear `events` and `fewest_running`."""
        self.events.clear()
        self._fewest = None


# -- a ledger and a configuration on tmp_path -----------------------------------------------------

DEFAULT_TOML = """
[[environments]]
name = "dev"

[[environments]]
name = "staging"
requires = "dev"

[[environments]]
name = "prod"
requires = "staging"
"""


def ledger_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state' / 'ledger.db'}"


@pytest.fixture
def ledger(tmp_path):
    """A fresh SQLite ledger in tmp_path (migrated by `Ledger.open`), closed afterwards."""
    from releasemgr.ledger.db import Ledger

    led = Ledger.open(ledger_url(tmp_path), create=True)
    yield led
    led.close()


class Domain:
    """A ledger and a release.toml, and the use cases called the way the CLI calls them."""

    def __init__(self, tmp_path: Path, ledger, toml: str = DEFAULT_TOML, actor: str = "alice"):
        self.tmp_path, self.ledger, self.actor = tmp_path, ledger, actor
        self._artifacts = itertools.count(1)
        self.configure(toml)

    def configure(self, toml: str) -> None:
        """(Re)load release.toml from `toml` and make its environments and policy the ones in
        force in the ledger (as `release policy apply` does)."""
        from releasemgr.config import load_config

        (self.tmp_path / "release.toml").write_text(toml)
        self.config = load_config(None, state_dir=str(self.tmp_path / "state"), ledger_url=ledger_url(self.tmp_path),
                                  cwd=str(self.tmp_path))
        # the ledger's policy in force follows each release.toml the test writes
        from releasemgr.release import policy

        policy.apply(self.ledger, self.config, actor=self.actor)

    # -- versions and channels --
    def register(self, image: str = "web", n: int = 1, *, provider: str = "fake") -> list[str]:
        """`n` new versions of `image`, one artifact each; returns their labels ("v1", ...)."""
        from releasemgr.release.lifecycle import ArtifactSpec, register

        out = []
        for _ in range(n):
            art = ArtifactSpec(provider=provider, region="", id=f"img-{next(self._artifacts)}")
            out.append(register(self.ledger, image, [art], actor=self.actor)["version"])
        return out

    def promote(self, ref: str, to: str, **kw) -> dict:
        from releasemgr.release.lifecycle import promote

        return promote(self.ledger, self.config, ref, to, actor=kw.pop("actor", self.actor), **kw)

    def rollback(self, image: str, env: str, **kw) -> dict:
        from releasemgr.release.lifecycle import rollback

        return rollback(self.ledger, self.config, image, env, actor=kw.pop("actor", self.actor), **kw)

    def revoke(self, ref: str, reason: str = "broken", **kw) -> dict:
        from releasemgr.release.lifecycle import revoke

        return revoke(self.ledger, self.config, ref, reason=reason, actor=self.actor, **kw)

    def current(self, image: str, env: str) -> str | None:
        from releasemgr.release.queries import status

        channels = status(self.ledger, self.config, image, env)["channels"]
        return next((c["version"] for c in channels if c["env"] == env), None)

    def audit(self) -> list[tuple[str, dict]]:
        from releasemgr.release.audit_report import query

        return [(e["action"], e["details"]) for e in query(self.ledger)]

    # -- servers and artifacts --
    def deploy(self, image: str = "web", env: str = "prod", **kw) -> dict:
        from releasemgr.release.deploy.run import deploy

        return deploy(self.ledger, self.config, image, env, actor=self.actor, **kw)

    def retire(self, image: str = "web", env: str = "prod", **kw) -> dict:
        from releasemgr.release.retire import retire

        return retire(self.ledger, self.config, image, env, actor=self.actor, **kw)

    def prune(self, image: str = "web", **kw) -> dict:
        from releasemgr.release.retire import prune

        return prune(self.ledger, self.config, image, actor=self.actor, **kw)


@pytest.fixture
def domain(tmp_path, ledger) -> Domain:
    return Domain(tmp_path, ledger)


@pytest.fixture
def fake_fleet(monkeypatch):
    """A FakeFleet that deploy, retire and drift use whatever provider release.toml names:
    every name in the provider registry (`providers/registry.py` PROVIDERS) and "fake" map to a fake
    provider whose fleet it is, until the test ends."""
    fleet = FakeFleet()

    class FakeProvider(Provider):
        name = "fake"

        def fleet(self, state_dir, settings: dict | None = None) -> Fleet:
            return fleet

    module = types.ModuleType("releasemgr_tests_fake_provider")
    module.Provider = FakeProvider
    monkeypatch.setitem(sys.modules, module.__name__, module)
    for name in [*registry.PROVIDERS, "fake"]:
        monkeypatch.setitem(registry.PROVIDERS, name, module.__name__)
    registry.provider.cache_clear()
    yield fleet
    registry.provider.cache_clear()  # monkeypatch puts the real providers back next
