"""One exit-status enum and one exception tree that carries it.

Library code raises these; only `releasemgr.cli.main` turns them into output and an
exit code (the pattern of HTTPie's `ExitStatus`).
"""

from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    OK = 0
    FAILED = 1  # the operation ran and failed (build failed, deploy unhealthy, chain broken)
    USAGE = 2  # bad usage, template or config
    REFUSED = 3  # refused by policy (order, ticket, approvals, freeze, revoked)
    NOT_FOUND = 4


class ReleaseError(Exception):
    """An error meant for the user: one message, an optional hint, an exit status."""

    status: ExitStatus = ExitStatus.FAILED
    kind: str = "failed"

    def __init__(self, message: str, hint: str | None = None, **details):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details

    def to_json(self) -> dict:
        doc = {"error": self.kind, "message": self.message, "exit_code": int(self.status)}
        if self.hint:
            doc["hint"] = self.hint
        if self.details:
            doc.update(self.details)
        return doc


class OperationFailed(ReleaseError):
    status = ExitStatus.FAILED
    kind = "failed"


class UsageError(ReleaseError):
    status = ExitStatus.USAGE
    kind = "usage"


class ConfigError(UsageError):
    kind = "config"


class TemplateError(UsageError):
    """Carries a list of diagnostics (releasemgr.template.diagnostics.Diagnostic)."""

    kind = "template"

    def __init__(self, message: str, diagnostics=(), hint: str | None = None):
        super().__init__(message, hint)
        self.diagnostics = list(diagnostics)

    def to_json(self) -> dict:
        doc = super().to_json()
        doc["diagnostics"] = [d.to_json() for d in self.diagnostics]
        return doc


class PolicyRefused(ReleaseError):
    status = ExitStatus.REFUSED
    kind = "policy"

    def __init__(self, message: str, rule: str, hint: str | None = None, **details):
        super().__init__(message, hint, rule=rule, **details)
        self.rule = rule


class NotFound(ReleaseError):
    status = ExitStatus.NOT_FOUND
    kind = "not_found"


class Conflict(ReleaseError):
    """The ledger is not in a state that allows the change (e.g. semver already used)."""

    status = ExitStatus.USAGE
    kind = "conflict"
