"""Change-management rules of an environment: order, ticket, approvals, freeze, revoked --
and the policy in force, which is ledger state.

The environments and their rules live in the ledger (`environment.policy`): a new ledger
records those of release.toml; afterwards a changed release.toml takes effect only through
`release policy apply` (audited as `policy.applied`, the difference in its details). Every
check here reads the ledger's policy, never the local file: one rule, `_recorded()`, which
every loader below goes through. A ledger that recorded a policy (its audit log shows it)
and whose rows hold none now is damaged: commands that enforce the policy refuse
(`PolicyMissing`, exit 1) instead of falling back to release.toml.

`check()` collects every violated rule; the caller refuses with the first (exit 3) unless the
user overrides with `--override --reason`, which is itself audited. Approvals and revoked
versions cannot be overridden.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from releasemgr.config import DEFAULT_APPROVAL_TTL, Config, Environment, FreezeWindow
from releasemgr.common.identity import default_actor
from releasemgr.errors import NotFound, OperationFailed, PolicyRefused, UsageError
from releasemgr.ledger.clock import now_iso
from releasemgr.ledger.repo import channels, environments
from releasemgr.ledger.rows import Approval, Environment as EnvRow, Image, Version
from releasemgr.ledger import audit
from releasemgr.common.suggest import closest

# what an environment's policy is made of, in the order `policy show` prints it
POLICY_KEYS = ("requires", "require_ticket", "approvals", "approval_ttl", "freeze", "auto_deploy", "description")
DIFFERS_WARNING = ("warning: release.toml differs from the policy in force; "
                   "see release policy show / release policy apply")
MISSING_WARNING = ("warning: the ledger's policy is missing (its rows were removed); every command that enforces "
                   "it refuses until `release policy apply`")


# -- the policy in force ------------------------------------------------------------------

def policy_of(env: Environment) -> dict:
    """An environment of release.toml as the ledger records its policy."""
    return {"requires": env.requires, "require_ticket": env.require_ticket, "approvals": env.approvals,
            "approval_ttl": env.approval_ttl, "freeze": [w.text for w in env.freeze],
            "auto_deploy": env.auto_deploy, "description": env.description}


def wanted(config: Config) -> dict[str, dict]:
    """{name: policy} of release.toml, in release order (what `Ledger.sync_environments` takes)."""
    return {e.name: policy_of(e) for e in (config.declared_environments or config.environments)}


def env_of(name: str, policy: dict) -> Environment:
    """A recorded policy as the `Environment` the rules read."""
    return Environment(name=name, requires=policy.get("requires"), require_ticket=bool(policy.get("require_ticket")),
                       approvals=int(policy.get("approvals") or 0),
                       approval_ttl=policy.get("approval_ttl") or DEFAULT_APPROVAL_TTL,
                       freeze=[FreezeWindow.parse(t) for t in policy.get("freeze") or []],
                       auto_deploy=bool(policy.get("auto_deploy")), description=policy.get("description") or "")


class PolicyMissing(OperationFailed):
    """The ledger recorded its policy (the audit log shows it) but no environment row holds one
    now: they were removed behind the tool's back. Exit 1, like a broken chain: the ledger is
    damaged; nothing falls back to release.toml."""

    def __init__(self):
        super().__init__("the ledger's policy is missing: its audit log records a policy, but no environment "
                         "row holds one now (removed behind the tool's back); refusing to fall back to "
                         "release.toml",
                         hint="`release audit verify` names the changed rows; `release policy apply` records "
                              "release.toml's policy again, deliberately (an audited policy.applied event)")


def _recorded(conn, rows: list[EnvRow]) -> list[EnvRow] | None:
    """Where the policy in force comes from, the one rule: the rows that hold a policy and are
    not retired, in order; None when the ledger never recorded one (release.toml's is recorded
    first: `in_force_rows`, `Ledger.sync_environments`); PolicyMissing when it did -- the audit
    log shows a recording -- but none is there now."""
    if any(r.policy is not None for r in rows):
        return [r for r in rows if r.policy is not None and r.retired_at is None]
    if environments.policy_was_recorded(conn):
        raise PolicyMissing()
    return None


def in_force_rows(conn, config: Config | None = None, *, actor: str | None = None) -> list[EnvRow]:
    """The environments in force. A ledger without a recorded policy records `config`'s first
    (only inside `Ledger.transaction()`; what `Ledger.open` does for the CLI already), audited
    as `policy.applied` with `initial: true`. PolicyMissing when the recorded policy is gone."""
    rows = environments.all_(conn)
    force = _recorded(conn, rows)
    if force is not None:
        return force
    if config is None:
        return []
    environments.record_initial(conn, wanted(config), actor=actor or default_actor(),
                                config=str(config.path) if config.path else None)
    return _recorded(conn, environments.all_(conn)) or []


def environment(conn, name: str, config: Config | None = None) -> tuple[Environment, EnvRow]:
    """The environment `name` under the policy in force, or NotFound with a did-you-mean."""
    force = in_force_rows(conn, config)
    for row in force:
        if row.name == name:
            return env_of(row.name, row.policy), row
    known = [r.name for r in force]
    close = closest(name, known)
    extra = ""
    if config is not None and name in config.environment_names:
        extra = " (release.toml has it, the policy in force does not: release policy apply)"
    raise NotFound(f"unknown environment {name!r}{extra}",
                   hint=(f"did you mean {close!r}? " if close else "") + f"environments: {', '.join(known)}")


def adopt(ledger, config: Config) -> str | None:
    """Make `config`'s environments the ones in force in the ledger (so every command that
    reads `config.environment(...)` -- status, retire -- sees the ledger's policy); returns a
    warning to show: release.toml differs from them, or the ledger's policy is missing (then
    `config` stays as it is, and every command that enforces the policy refuses: it loads it
    through `effective()` / `environment()`)."""
    with ledger.connect() as conn:
        try:
            force = _recorded(conn, environments.all_(conn))
        except PolicyMissing:
            return MISSING_WARNING
    if force is None:
        return None
    mine = wanted(config)
    if config.declared_environments is None:
        config.declared_environments = config.environments
    config.environments = [env_of(r.name, r.policy) for r in force]
    if mine != {r.name: _normal(r.policy) for r in force} or list(mine) != [r.name for r in force]:
        return DIFFERS_WARNING
    return None


def effective(ledger, config: Config) -> Config:
    """A copy of `config` whose environments are the ones in force in the ledger (`config`
    itself when the ledger has no policy recorded yet); PolicyMissing when the recorded
    policy is gone. What deploy, promote-and-deploy and drift read their rules from."""
    import dataclasses

    with ledger.connect() as conn:
        force = _recorded(conn, environments.all_(conn))
    if force is None:
        return config
    return dataclasses.replace(config, environments=[env_of(r.name, r.policy) for r in force],
                               declared_environments=config.declared_environments or config.environments)


def _normal(policy: dict) -> dict:
    return {k: policy.get(k) for k in POLICY_KEYS} | {"freeze": list(policy.get("freeze") or [])}


def diff(current: dict[str, dict], new: dict[str, dict]) -> list[dict]:
    """What changes from `current` to `new` ({name: policy}, in order): one entry per change."""
    out: list[dict] = []
    for name, pol in new.items():
        if name not in current:
            out.append({"env": name, "change": "added", "key": None, "from": None, "to": pol})
            continue
        old = _normal(current[name])
        for key in POLICY_KEYS:
            if old.get(key) != pol.get(key):
                out.append({"env": name, "change": "changed", "key": key, "from": old.get(key), "to": pol.get(key)})
    for name, pol in current.items():
        if name not in new:
            out.append({"env": name, "change": "removed", "key": None, "from": _normal(pol), "to": None})
    if not out and list(current) != list(new):
        out.append({"env": None, "change": "reordered", "key": None, "from": list(current), "to": list(new)})
    return out


def show(ledger) -> dict:
    """`release policy show`: the environments and rules in force."""
    with ledger.connect() as conn:
        force = _recorded(conn, environments.all_(conn)) or []
    return {"environments": [{"name": r.name, **_normal(r.policy)} for r in force]}


def apply(ledger, config: Config, *, actor: str, dry_run: bool = False) -> dict:
    """`release policy apply`: make release.toml's environments and rules the ones in force.
    On a ledger whose recorded policy is missing this is the deliberate way to record it again:
    everything is added, and the event says `policy_was_missing: true`."""
    new = wanted(config)

    def current_of(conn) -> tuple[dict[str, dict], bool]:
        try:
            return {r.name: r.policy for r in (_recorded(conn, environments.all_(conn)) or [])}, False
        except PolicyMissing:
            return {}, True

    if dry_run:
        with ledger.connect() as conn:
            current, missing = current_of(conn)
        return {"dry_run": True, "changed": False, "diff": diff(current, new), "policy_was_missing": missing}
    with ledger.transaction() as conn:
        rows = environments.all_(conn)
        current, missing = current_of(conn)
        changes = diff(current, new)
        if not changes:
            return {"dry_run": False, "changed": False, "diff": [], "policy_was_missing": missing}
        by_name = {r.name: r for r in rows}
        at = now_iso()
        for pos, (name, pol) in enumerate(new.items()):
            if name in by_name:
                environments.set_policy(conn, by_name[name].id, pol, position=pos)
            else:
                environments.create(conn, name, position=pos, at=at, policy=pol)
        for r in rows:
            if r.name not in new and r.policy is not None and r.retired_at is None:
                environments.retire(conn, r.id, at=at)
        details = {"diff": changes, "config": str(config.path) if config.path else None}
        if missing:
            details["policy_was_missing"] = True
        audit.append(conn, "policy.applied", actor=actor, at=at, details=details)
        return {"dry_run": False, "changed": True, "diff": changes, "policy_was_missing": missing}


def diff_text(changes: list[dict]) -> str:
    def val(x):
        import json

        return json.dumps(x, sort_keys=True)

    lines = []
    for c in changes:
        if c["change"] == "added":
            lines.append(f"+ {c['env']}: " + ", ".join(f"{k} = {val(v)}" for k, v in c["to"].items()))
        elif c["change"] == "removed":
            lines.append(f"- {c['env']}")
        elif c["change"] == "reordered":
            lines.append(f"~ order: {' -> '.join(c['from'])}  =>  {' -> '.join(c['to'])}")
        else:
            lines.append(f"~ {c['env']}.{c['key']}: {val(c['from'])} -> {val(c['to'])}")
    return "\n".join(lines)


# -- the rules ----------------------------------------------------------------------------

@dataclass
class Violation:
    rule: str  # requires | ticket | approvals | freeze | revoked
    message: str
    hint: str = ""
    overridable: bool = True


def normalise_identity(name: str) -> str:
    """Who an approver is, for comparison: case and whitespace do not make another person."""
    return " ".join(name.split()).casefold()


def check(conn, env: Environment, img: Image, v: Version, *, action: str, actor: str,
          ticket: str | None, approvals: list[Approval] | None = None, now: datetime | None = None,
          check_order: bool = True) -> list[Violation]:
    """`conn`: a ledger connection (`Ledger.connect()` / `transaction()`); `env`: the policy in
    force (`environment()`); `approvals`: the valid (unused, not lapsed) approvals of (v, env),
    None where the action needs none (a rollback to a version healthy there before)."""
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
    if env.approvals and approvals is not None:
        me = normalise_identity(actor)
        distinct = {a.approver_key for a in approvals} - {me}
        if len(distinct) < env.approvals:
            own = " (the promoter's own approval does not count)" if me in {a.approver_key for a in approvals} else ""
            out.append(Violation("approvals", f"{env.name} requires {env.approvals} approval(s) of {label} by "
                                 f"someone other than {actor}, got {len(distinct)}{own}",
                                 f"each approver runs `release approve {label} --env {env.name}`",
                                 overridable=False))
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
    if hard and (override or hard[0] is violations[0]):
        v = hard[0]
        message = v.message if v.rule == "revoked" else f"refused by policy '{v.rule}': {v.message}"
        if override and v.rule == "approvals":
            message += " (--override does not lift approvals)"
        raise PolicyRefused(message, rule=v.rule, hint=v.hint, rules=[x.rule for x in violations])
    if not override:
        v = violations[0]
        more = f" (also: {', '.join(x.rule for x in violations[1:])})" if len(violations) > 1 else ""
        raise PolicyRefused(f"refused by policy '{v.rule}': {v.message}{more}", rule=v.rule,
                            hint=v.hint or "or --override --reason '...'", rules=[x.rule for x in violations])
    if not (reason and reason.strip()):
        raise UsageError("--override needs --reason '...' (it is recorded in the audit log)")
    return violations
