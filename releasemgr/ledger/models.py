"""The ledger's tables, declared: the source of Alembic's autogenerate and the reference of
the schema tests. No command imports this module at run time (the ledger reads and writes
through `releasemgr.ledger.repo`, whose rows are `releasemgr.ledger.rows`); sqlmodel is a
test dependency.

Rows are only ever added or moved forward: versions are never deleted (prune marks their
artifacts deleted), channel history and audit events are append-only. Times are stored as
UTC ISO-8601 strings (`2026-11-25T18:00:00.123456Z`) so that they hash and compare the same
on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Optional

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel


class Image(SQLModel, table=True):
    __tablename__ = "image"
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True, max_length=128)
    created_at: str
    created_by: str


class Build(SQLModel, table=True):
    """Every attempt to make a version, successful or not."""

    __tablename__ = "build"
    id: str = Field(primary_key=True, max_length=36)  # uuid4
    image_id: int = Field(foreign_key="image.id", index=True)
    status: str = Field(max_length=16, index=True)  # running | succeeded | failed | cancelled | abandoned
    actor: str
    host: str = ""
    pid: Optional[int] = None
    started_at: str
    heartbeat_at: Optional[str] = None
    finished_at: Optional[str] = None
    template_path: Optional[str] = None
    template_digest: Optional[str] = None
    inputs: str = "{}"  # JSON, redacted
    log_path: Optional[str] = None
    error: Optional[str] = None


class Version(SQLModel, table=True):
    __tablename__ = "version"
    __table_args__ = (
        UniqueConstraint("image_id", "number", name="uq_version_number"),
        UniqueConstraint("image_id", "semver", name="uq_version_semver"),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    image_id: int = Field(foreign_key="image.id", index=True)
    number: int
    semver: Optional[str] = Field(default=None, max_length=64)
    build_id: Optional[str] = Field(default=None, foreign_key="build.id")
    origin: str = Field(default="register", max_length=16)  # register | manifest | build
    template_digest: Optional[str] = None
    git_commit: Optional[str] = None
    git_dirty: Optional[bool] = None
    variables: str = "{}"  # JSON, redacted
    parent: Optional[str] = None  # source image / base artifact the build started from
    created_at: str
    created_by: str
    revoked: bool = False
    revoked_at: Optional[str] = None
    revoked_by: Optional[str] = None
    revoked_reason: Optional[str] = None


class Artifact(SQLModel, table=True):
    __tablename__ = "artifact"
    id: Optional[int] = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="version.id", index=True)
    provider: str = Field(max_length=32)
    region: str = Field(default="", max_length=64)
    external_id: str
    builder_type: Optional[str] = None
    files: str = "[]"  # JSON
    extra: str = "{}"  # JSON
    deleted_at: Optional[str] = None


class EnvironmentRow(SQLModel, table=True):
    """The environments and their policy in force: recorded from release.toml when the ledger
    is new, changed only by `release policy apply` (0002)."""

    __tablename__ = "environment"
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=64)
    position: int = 0
    created_at: str
    policy: Optional[str] = None  # JSON of the rules in force; NULL: not recorded yet (a ledger before 0002)
    retired_at: Optional[str] = None  # removed from the policy by `release policy apply`


class Approval(SQLModel, table=True):
    """`release approve`: one approver's agreement to (version, environment); used up by the
    promotion it allowed, lapses at `expires_at` (0002)."""

    __tablename__ = "approval"
    __table_args__ = (Index("ix_approval_version_env", "version_id", "environment_id"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="version.id")
    environment_id: int = Field(foreign_key="environment.id")
    approver: str  # the identity as given (--actor / RELEASE_ACTOR / the OS account)
    approver_key: str  # normalised: case-folded, whitespace collapsed; what distinct approvers compare
    ticket: Optional[str] = None
    reason: Optional[str] = None
    at: str
    expires_at: str
    used_at: Optional[str] = None
    used_by: Optional[str] = None  # the promoter whose move used it


class Channel(SQLModel, table=True):
    """The current version of one image in one environment."""

    __tablename__ = "channel"
    __table_args__ = (UniqueConstraint("environment_id", "image_id", name="uq_channel"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    environment_id: int = Field(foreign_key="environment.id")
    image_id: int = Field(foreign_key="image.id", index=True)
    version_id: int = Field(foreign_key="version.id")
    updated_at: str
    updated_by: str


class ChannelHistory(SQLModel, table=True):
    __tablename__ = "channel_history"
    __table_args__ = (Index("ix_channel_history_env_image", "environment_id", "image_id", "id"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    environment_id: int = Field(foreign_key="environment.id")
    image_id: int = Field(foreign_key="image.id")
    from_version_id: Optional[int] = Field(default=None, foreign_key="version.id")
    to_version_id: int = Field(foreign_key="version.id")
    action: str = Field(max_length=16)  # promote | rollback
    actor: str
    ticket: Optional[str] = None
    reason: Optional[str] = None
    approved_by: str = "[]"  # JSON list
    override: bool = False
    at: str


class Deployment(SQLModel, table=True):
    __tablename__ = "deployment"
    id: str = Field(primary_key=True, max_length=36)
    image_id: int = Field(foreign_key="image.id", index=True)
    version_id: int = Field(foreign_key="version.id")
    environment_id: int = Field(foreign_key="environment.id")
    strategy: str = Field(max_length=16)
    count: int
    batch_size: int = 1
    status: str = Field(max_length=16, index=True)  # running | succeeded | failed | rolled_back | abandoned
    rolled_back: bool = False
    actor: str
    started_at: str
    finished_at: Optional[str] = None
    detail: str = "{}"
    # where it runs, so a deployment whose process died is recognisable (0003)
    host: str = Field(default="", sa_column_kwargs={"server_default": ""})
    pid: Optional[int] = None
    heartbeat_at: Optional[str] = None


class Server(SQLModel, table=True):
    __tablename__ = "server"
    __table_args__ = (Index("ix_server_env_image_state", "environment_id", "image_id", "state"),)
    id: str = Field(primary_key=True, max_length=64)
    image_id: int = Field(foreign_key="image.id")
    version_id: int = Field(foreign_key="version.id")
    environment_id: int = Field(foreign_key="environment.id")
    deployment_id: Optional[str] = Field(default=None, foreign_key="deployment.id")
    provider: str = Field(max_length=32)
    provider_id: str
    address: Optional[str] = None
    state: str = Field(max_length=16)  # pending | healthy | unhealthy | standby | draining | retired | failed
    extra: str = "{}"
    launched_at: str
    retired_at: Optional[str] = None


class AuditEvent(SQLModel, table=True):
    """Append-only and hash-chained: `hash` = sha256(canonical(event) + prev_hash)."""

    __tablename__ = "audit_event"
    seq: int = Field(primary_key=True)  # 1, 2, 3 ... assigned under the write lock
    at: str
    actor: str
    action: str = Field(max_length=48, index=True)
    image: Optional[str] = Field(default=None, index=True)
    version: Optional[str] = None
    env: Optional[str] = None
    ticket: Optional[str] = None
    reason: Optional[str] = None
    details: str = "{}"  # canonical JSON (sorted keys, no spaces)
    prev_hash: str
    hash: str = Field(unique=True)


class LedgerMeta(SQLModel, table=True):
    """Small key/value facts about the ledger; `audit_head` = "<seq>:<hash>" of the newest
    event, so that removing events from the end of the chain is detected too."""

    __tablename__ = "ledger_meta"
    key: str = Field(primary_key=True, max_length=64)
    value: str
