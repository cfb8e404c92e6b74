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


class ImageMissing(Exception):
    """The image is not where the provider starts servers from (pruned, built elsewhere)."""


class ImageUnreadable(Exception):
    """The image is there but is not one of the provider's images."""


class InputsUnresolved(Exception):
    """A source names an input the provider cannot resolve now (a filter that matches no image,
    or several without `most_recent`); the message says why."""


class ImageStore(abc.ABC):
    """Where a provider keeps the images it built: `prune` deletes through it."""

    @abc.abstractmethod
    def delete(self, region: str, artifact_id: str) -> None:
        """Delete one image and what only it used (snapshots, an unpacked copy). An image that
        is already gone is not an error; raises when the provider refuses (the message says why)."""


@dataclass
class Leftover:
    """One resource a build created and tagged with its id, found on the provider's platform."""

    region: str
    kind: str  # aws: instance | key-pair | security-group | image | snapshot | volume
    id: str
    build_id: str
    image: str | None = None

    def to_json(self) -> dict:
        return {"region": self.region, "kind": self.kind, "id": self.id, "build_id": self.build_id,
                "image": self.image}


@dataclass
class LedgerFacts:
    """What the ledger knows of one provider, for its garbage collector (the collector never
    reads the ledger itself)."""

    artifact_regions: list[str]  # regions of the provider's recorded artifacts
    built: bool  # whether any build of this ledger ran one of the provider's builders


class LeftoversUnreadable(Exception):
    """The platform could not be asked what builds left there (credentials, endpoint ...)."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


class GarbageCollector(abc.ABC):
    """What dead builds left on one provider's platform: where to look, what is there, what may
    go, and removing it. The ledger (`release/gc.py`) decides which builds are dead; the
    collector only lists, judges a resource of a dead build, and deletes.

    Not guaranteed: `find` lists everything tagged by any build, running or not, of this ledger
    or another; `remove` is best effort and reports what it could not delete instead of raising.
    """

    @abc.abstractmethod
    def in_use(self) -> bool:
        """Whether there is anything on the platform to look at (regions asked for, the provider
        configured, or its builds/artifacts in the ledger). False: gc says so without asking
        the platform, so it needs no credentials."""

    @abc.abstractmethod
    def regions(self) -> list[str]:
        """Where to look, each once."""

    @abc.abstractmethod
    def find(self, region: str) -> list[Leftover]:
        """Everything tagged by a build in `region`. Raises `LeftoversUnreadable`."""

    def keeps(self, item: Leftover, build_status: str, artifact_ids: set[str]) -> bool:
        """Whether `item`, made by a dead build whose row says `build_status`, stays even so.
        `artifact_ids`: the provider's artifacts that belong to versions. Default: those."""
        return item.id in artifact_ids

    @abc.abstractmethod
    def remove(self, items: list[Leftover], say=lambda s: None) -> tuple[list[Leftover], dict[str, str]]:
        """Delete `items`; returns (removed, what went wrong by id)."""


class Provider(abc.ABC):
    """One platform releasemgr builds for and deploys to: its builders, its fleet, its image
    store. `providers/registry.py` lists every provider; nothing outside a provider's folder
    asks which provider it is talking to.

    Not guaranteed: a provider need not build (no `builder_types`), deploy (`fleet` raises
    `FleetError`) or store images (`image_store` is None); importing a provider does not
    import its SDK (boto3 ...), which loads on first use.
    """

    name: str = "?"
    #: Template source types this provider builds ("amazon-ebs").
    builder_types: tuple[str, ...] = ()
    #: Packer builder families whose manifest artifacts are this provider's ("amazon" for
    #: amazon-ebs, amazon-instance ...: a manifest's `builder_type` up to its first "-").
    packer_builders: tuple[str, ...] = ()
    #: Whether a successful build of this provider's sources has an artifact (a build that
    #: makes none failed); False for builders that only provision an existing host (null).
    makes_artifacts: bool = True
    #: Whether an installed `packer` can build this provider's sources (`--engine packer`);
    #: False for releasemgr's own builders (local).
    packer_can_build: bool = True

    def steps(self, ctx) -> list:
        """The builder's steps for `ctx.source_type` (one of `builder_types`); the builder may
        set its typed state on `ctx.state` here."""
        raise NotImplementedError(f"provider {self.name!r} has no builder")

    def credentials_problem(self, source_config: dict) -> tuple[str, str] | None:
        """(why, what to do) when a build of this provider's source (its evaluated config) could
        not reach its platform, else None: checked before the ledger hears of the build, so a
        build never runs to be refused at the end. Default: no credentials needed."""
        return None

    def resolve_inputs(self, source_configs: dict[str, dict]) -> dict[str, dict]:
        """What this provider's sources ({display name: evaluated config}) name only indirectly,
        resolved now, before the build decides whether it is identical to an earlier one:
        {display name: {option: value}}, each value what the build will use for that option (for
        amazon-ebs a `source_ami_filter` gives `{"source_ami": "ami-..."}`). The template digest
        covers the result, so a build on a newer base is not "identical". A source with nothing
        to resolve is left out. Raises `InputsUnresolved`. Default: nothing to resolve."""
        return {}

    def fleet(self, state_dir, settings: dict | None = None) -> Fleet:
        """The fleet that runs servers of this provider's images. `settings`: the provider's
        options from release.toml (for aws: region, instance_type, subnet_id, tags, port ...)."""
        raise FleetError(f"provider {self.name!r} has no fleet")

    def image_store(self, state_dir) -> ImageStore | None:
        return None

    def tag_version(self, artifacts: list, version: str) -> None:
        """Label this provider's `artifacts` (pipeline `Artifact`s) with the version the ledger
        gave them ("v3"), once it exists. Default: nothing to label. Raises when the platform
        refuses; the build reports it and the version stands."""

    def image_metadata(self, state_dir, artifact_id: str) -> dict:
        """What an image says about serving (command, port, health check), read from the image
        itself; {} when the provider's images say nothing (an AMI). Raises ValueError for an id
        not in the provider's form, ImageMissing or ImageUnreadable."""
        return {}

    def server_group(self, settings: dict) -> str | None:
        """The group named by the deploy settings that replaces its own servers (an Auto Scaling
        group), or None: deploy starts and stops each server itself."""
        return None

    def roll_group(self, settings: dict, artifact_id: str, *, image: str, version: str, env: str,
                   batch_size: int, timeout: float, say=lambda s: None) -> dict:
        """Bring `server_group(settings)` to `artifact_id`, replacing its servers in batches;
        returns what changed (instances, replaced ...). Raises when the group did not get there."""
        raise FleetError(f"provider {self.name!r} has no server groups")

    def garbage_collector(self, settings: dict | None, deploy_settings: list[dict], facts: LedgerFacts,
                          regions: list[str]) -> GarbageCollector | None:
        """What `release gc` asks about this provider's platform, or None when builds leave
        nothing there. `settings`: the provider's section of release.toml (`[aws]`, None when
        absent); `deploy_settings`: each `[deploy.<env>]` that deploys with this provider;
        `facts`: what the ledger knows of the provider; `regions`: the regions asked for
        (`--region`, may be empty). Default: None."""
        return None

    def manifest_artifacts(self, artifact_id: str) -> list[tuple[str, str]]:
        """(region, id) of each artifact in a Packer manifest's `artifact_id`. Raises
        ValueError when the id is not in the provider's form."""
        return [("", artifact_id)]
