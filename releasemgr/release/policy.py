"""Change-management rules of an environment: order, ticket, approvals, freeze, revoked.

`check()` collects every violated rule; the caller refuses with the first (exit 3) unless
the user overrides with `--override --reason`, which is itself audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from releasemgr.config import Environment
from releasemgr.errors import PolicyRefused, UsageError
from releasemgr.ledger.repo import channels, environments
from releasemgr.ledger.rows import Image, Version


@dataclass
class Violation:
    rule: str  # requires | ticket | approvals | freeze | revoked
    message: str
    hint: str = ""
    overridable: bool = True


def check(conn, env: Environment, img: Image, v: Version, *, action: str, actor: str,
          ticket: str | None, approved_by: list[str], now: datetime | None = None,
          check_order: bool = True) -> list[Violation]:
    """`conn`: a ledger connection (`Ledger.connect()` / `transaction()`)."""
    out: list[Violation] = []
    label = f"{img.name}@v{v.number}"
    if v.revoked:
        out.append(Violation("revoked", f"{label} is revoked ({v.revoked_reason}) and cannot be "
                             f"{'rolled back to' if action == 'rollback' else action + 'd'}",
                             f"lift it first with `release unrevoke {label} --reason ...`", overridable=False))
    if check_order and env.requires:
        req = environments.get(conn, env.requires)
        if not channels.was_ever_current(conn, req.id, img.id, v.id):
            out.append(Violation("requires", f"{env.name} requires {env.requires} first: {label} has never "
                                 f"been in {env.requires}", f"release promote {label} --to {env.requires}"))
    if env.require_ticket and not (ticket and ticket.strip()):
        out.append(Violation("ticket", f"{env.name} requires a change ticket", "add --ticket CHG-1234"))
    if env.approvals:
        distinct = {a.strip() for a in approved_by if a.strip()} - {actor}
        if len(distinct) < env.approvals:
            self_note = " (the actor cannot approve their own change)" if actor in approved_by else ""
            out.append(Violation("approvals", f"{env.name} requires {env.approvals} approval(s) by someone other "
                                 f"than {actor}, got {len(distinct)}{self_note}",
                                 "add --approved-by NAME for each approver"))
    window = env.frozen_by(now or datetime.now(timezone.utc))
    if window is not None:
        out.append(Violation("freeze", f"{env.name} is frozen ({window.text})",
                             "wait for the window to end, or --override --reason '...' for an emergency"))
    return out


def enforce(violations: list[Violation], *, override: bool, reason: str | None) -> list[Violation]:
    """Raise for what may not pass; return the violations an override lets through."""
    if not violations:
        return []
    hard = [v for v in violations if not v.overridable]
    if hard:
        v = hard[0]
        raise PolicyRefused(v.message, rule=v.rule, hint=v.hint, rules=[x.rule for x in violations])
    if not override:
        v = violations[0]
        more = f" (also: {', '.join(x.rule for x in violations[1:])})" if len(violations) > 1 else ""
        raise PolicyRefused(f"refused by policy '{v.rule}': {v.message}{more}", rule=v.rule,
                            hint=v.hint or "or --override --reason '...'", rules=[x.rule for x in violations])
    if not (reason and reason.strip()):
        raise UsageError("--override needs --reason '...' (it is recorded in the audit log)")
    return violations
