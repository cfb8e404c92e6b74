"""What every provider's fleet offers: launch servers from an artifact, describe them, check
their health, terminate them, and list the servers it manages (for drift).

A fleet never touches the ledger: the deploy service records what the fleet reports.

What is *not* guaranteed: `launch` returns when the server was started, not when it is
healthy (call `check_health` until it is); `terminate` is best effort per server and reports
what it could not stop instead of raising; `list_managed` may include servers the ledger
never recorded (a `release` process killed between launch and record) -- that is the point.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any


@dataclass
class HealthCheck:
    """How to tell that a server serves. `type`: http | tcp | command | process."""

    type: str = "tcp"
    path: str = "/"
    expected_status: int = 200
    body_contains: str | None = None
    command: list[str] | None = None
    timeout: float = 30.0  # how long a new server may take to become healthy
    interval: float = 1.0  # the longest pause between two checks

    def to_json(self) -> dict:
        doc: dict[str, Any] = {"type": self.type, "timeout": self.timeout, "interval": self.interval}
        if self.type == "http":
            doc.update(path=self.path, expected_status=self.expected_status)
            if self.body_contains:
                doc["body_contains"] = self.body_contains
        if self.type == "command":
            doc["command"] = list(self.command or [])
        return doc


@dataclass
class LaunchedServer:
    """A server as the provider knows it. `extra` is provider specific (pid, start time, ...)
    and is what the ledger stores so that later calls can find the server again."""

    id: str
    provider: str
    provider_id: str
    address: str | None  # host:port or IP
    extra: dict = field(default_factory=dict)


@dataclass
class ServerState:
    id: str
    alive: bool
    detail: str = ""


@dataclass
class ManagedServer:
    """A server found by asking the provider (not the ledger)."""

    id: str
    image: str
    env: str
    version: str | None
    alive: bool
    address: str | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class TerminateResult:
    stopped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # id -> what went wrong (delete by hand)


class Fleet(abc.ABC):
    provider: str = "?"
    #: The longest pause between health rounds while new servers start (None: the check's
    #: interval). Cheap checks (loopback) can afford to look often; API-backed ones cannot.
    poll_cap: float | None = None
    #: How many servers `launch` starts at once (threads), when the fleet has no `launch_many`.
    launch_workers: int = 8

    @abc.abstractmethod
    def launch(self, artifact: dict, *, server_id: str, image: str, version: str, env: str,
               port: int | None = None) -> LaunchedServer:
        """Start one server from `artifact` ({"provider", "region", "id"}). Raises
        `FleetError` when it cannot be started at all."""

    @abc.abstractmethod
    def describe(self, servers: list[LaunchedServer]) -> dict[str, ServerState]:
        """Is each server still there? Keyed by server id."""

    @abc.abstractmethod
    def check_health(self, server: LaunchedServer, check: HealthCheck, timeout: float) -> bool:
        """One check, at most `timeout` seconds; never raises."""

    @abc.abstractmethod
    def terminate(self, servers: list[LaunchedServer], *, grace: float | None = None) -> TerminateResult:
        """Stop the servers (all at once) and remove what they used."""

    @abc.abstractmethod
    def list_managed(self, image: str | None = None, env: str | None = None) -> list[ManagedServer]:
        """Every live server this provider runs for releasemgr (optionally of one image/env)."""


class FleetError(Exception):
    pass


def fleet_for(provider: str, state_dir, settings: dict | None = None) -> Fleet:
    """The fleet of a provider name. `settings`: the provider's options (for `aws`: region,
    instance_type, subnet_id, security_group_ids, tags, port, ... from release.toml)."""
    if provider == "local":
        from releasemgr.providers.local.fleet import LocalFleet

        return LocalFleet(state_dir)
    if provider == "aws":
        from releasemgr.providers.aws.fleet import EC2Fleet

        return EC2Fleet(settings)
    raise FleetError(f"provider {provider!r} has no fleet (known: local, aws)")
