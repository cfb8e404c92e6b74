"""Typed rows of the ledger's tables: what every repository function returns.

One immutable row type per table (a `typing.NamedTuple`: typed fields, attribute access, and
cheap enough to define that `release status` does not pay for it at start-up; frozen
dataclasses cost ~10 ms here). `COLUMNS` names the table's columns in field order (the schema
test checks them against the migrated database and the SQLModel declaration);
`select_list()` spells them for a SELECT, and `from_row()` makes a row from what such a
SELECT returned. `from_row()` is the one place where SQLite's 0/1 becomes a boolean and JSON
text becomes Python values.
"""

from __future__ import annotations

import json
from typing import NamedTuple


def _bool(value) -> bool | None:
    return None if value is None else bool(value)


def _dict(value) -> dict:
    return json.loads(value) if value else {}


def _list(value) -> list:
    return json.loads(value) if value else []


def _table(name: str, **decoders):
    """Class decorator: TABLE, COLUMNS, `select_list(alias=None)` and `from_row(row)`."""
    def wrap(cls):
        cls.TABLE = name
        cls.COLUMNS = cls._fields
        make = cls._make
        if decoders:
            plan = tuple(decoders.get(c) for c in cls._fields)

            def from_row(row):
                if row is None:
                    return None
                return make([v if dec is None else dec(v) for dec, v in zip(plan, row)])
        else:
            def from_row(row):
                return None if row is None else make(row)

        def select_list(alias: str | None = None) -> str:
            if alias:
                return ", ".join(f"{alias}.{c}" for c in cls._fields)
            return ", ".join(cls._fields)

        cls.from_row = staticmethod(from_row)
        cls.select_list = staticmethod(select_list)
        return cls
    return wrap


@_table("image")
class Image(NamedTuple):
    id: int
    name: str
    created_at: str
    created_by: str


@_table("build", inputs=_dict)
class Build(NamedTuple):
    id: str
    image_id: int
    status: str
    actor: str
    host: str
    pid: int | None
    started_at: str
    heartbeat_at: str | None
    finished_at: str | None
    template_path: str | None
    template_digest: str | None
    inputs: dict
    log_path: str | None
    error: str | None


@_table("version", git_dirty=_bool, revoked=_bool, variables=_dict)
class Version(NamedTuple):
    id: int
    image_id: int
    number: int
    semver: str | None
    build_id: str | None
    origin: str
    template_digest: str | None
    git_commit: str | None
    git_dirty: bool | None
    variables: dict
    parent: str | None
    created_at: str
    created_by: str
    revoked: bool
    revoked_at: str | None
    revoked_by: str | None
    revoked_reason: str | None

    @property
    def label(self) -> str:
        return f"v{self.number}"


@_table("artifact", files=_list, extra=_dict)
class Artifact(NamedTuple):
    id: int
    version_id: int
    provider: str
    region: str
    external_id: str
    builder_type: str | None
    files: list
    extra: dict
    deleted_at: str | None


def _policy(value) -> dict | None:
    return None if value is None else json.loads(value)


@_table("environment", policy=_policy)
class Environment(NamedTuple):
    id: int
    name: str
    position: int
    created_at: str
    policy: dict | None  # the rules in force; None: not recorded yet
    retired_at: str | None


@_table("approval")
class Approval(NamedTuple):
    id: int
    version_id: int
    environment_id: int
    approver: str
    approver_key: str
    ticket: str | None
    reason: str | None
    at: str
    expires_at: str
    used_at: str | None
    used_by: str | None


@_table("channel")
class Channel(NamedTuple):
    id: int
    environment_id: int
    image_id: int
    version_id: int
    updated_at: str
    updated_by: str


@_table("channel_history", approved_by=_list, override=_bool)
class ChannelMove(NamedTuple):
    id: int
    environment_id: int
    image_id: int
    from_version_id: int | None
    to_version_id: int
    action: str
    actor: str
    ticket: str | None
    reason: str | None
    approved_by: list
    override: bool
    at: str


@_table("deployment", rolled_back=_bool, detail=_dict)
class Deployment(NamedTuple):
    id: str
    image_id: int
    version_id: int
    environment_id: int
    strategy: str
    count: int
    batch_size: int
    status: str
    rolled_back: bool
    actor: str
    started_at: str
    finished_at: str | None
    detail: dict
    host: str
    pid: int | None
    heartbeat_at: str | None


@_table("server", extra=_dict)
class Server(NamedTuple):
    id: str
    image_id: int
    version_id: int
    environment_id: int
    deployment_id: str | None
    provider: str
    provider_id: str
    address: str | None
    state: str
    extra: dict
    launched_at: str
    retired_at: str | None


@_table("audit_event")
class AuditEvent(NamedTuple):
    seq: int
    at: str
    actor: str
    action: str
    image: str | None
    version: str | None
    env: str | None
    ticket: str | None
    reason: str | None
    details: str  # canonical JSON text: it is what the hash covers
    prev_hash: str
    hash: str


@_table("ledger_meta")
class LedgerMeta(NamedTuple):
    key: str
    value: str


# -- joined views (not tables) ------------------------------------------------------------------

class ImageSummary(NamedTuple):
    """An image with its newest version (`number`/`semver` None when it has none)."""
    name: str
    created_at: str
    number: int | None
    semver: str | None


class StatusEntry(NamedTuple):
    """What is current in one environment for one image."""
    image: str
    env: str
    number: int
    semver: str | None
    revoked: bool
    since: str
    by: str


class HistoryEntry(NamedTuple):
    """One move of a channel, with names and version numbers."""
    at: str
    env: str
    action: str
    from_number: int | None
    to_number: int
    actor: str
    ticket: str | None
    reason: str | None
    approved_by: list
    override: bool


TABLES = (Image, Build, Version, Artifact, Environment, Channel, ChannelMove, Deployment, Server, AuditEvent,
          LedgerMeta, Approval)
