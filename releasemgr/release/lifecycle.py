"""Registering versions, promoting, rolling back, revoking: each one transaction + audit event.

Each runs on one `Ledger.transaction()` through the ledger's repositories
(`releasemgr.ledger.repo`); `register_in` also inside a build's finishing transaction.
`promote_and_deploy` / `rollback_and_deploy` move the pointer and then the servers under the
environment's lock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from releasemgr.config import Config
from releasemgr.errors import Conflict, NotFound, OperationFailed, PolicyRefused, ReleaseError, UsageError
from releasemgr.ledger import audit
from releasemgr.ledger.clock import now_iso
from releasemgr.ledger.db import Ledger
from releasemgr.ledger.locks import env_lock
from releasemgr.ledger.refs import check_image_name, parse_ref
from releasemgr.ledger.repo import artifacts as artifact_repo, channels, environments, images, versions
from releasemgr.ledger.rows import Approval, Environment, Image, Version
from releasemgr.providers.registry import provider_of_packer_builder
from releasemgr.release import approvals, policy
from releasemgr.release.deploy import run as deploy_mod
from releasemgr.release.server_rows import live_rows
from releasemgr.release.versions import version_json


BUMPS = ("major", "minor", "patch")


# -- register ------------------------------------------------------------------------------

@dataclass
class ArtifactSpec:
    provider: str
    region: str
    id: str
    builder_type: str | None = None
    files: list | None = None
    extra: dict | None = None


def parse_artifact(text: str) -> ArtifactSpec:
    """PROVIDER:REGION:ID; the id may contain colons (`local::sha256:ab12…`)."""
    parts = text.split(":", 2)
    if len(parts) != 3 or not parts[0] or not parts[2]:
        raise UsageError(f"bad --artifact {text!r}",
                         hint="use PROVIDER:REGION:ID, e.g. aws:us-east-1:ami-0abc123 or local::sha256:ab12…")
    return ArtifactSpec(parts[0], parts[1], parts[2])


def artifacts_from_manifest(path: str) -> tuple[list[ArtifactSpec], dict]:
    """Read a Packer manifest (its last run); returns artifacts and what to record about it."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFound(f"manifest {path} not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path} is not a Packer manifest: {exc}") from None
    builds = doc.get("builds") if isinstance(doc, dict) else None
    if not isinstance(builds, list) or not builds:
        raise UsageError(f"{path} is not a Packer manifest: no \"builds\" list",
                         hint="the manifest post-processor writes {\"builds\": [...], \"last_run_uuid\": ...}")
    last = doc.get("last_run_uuid")
    if last:
        builds = [b for b in builds if isinstance(b, dict) and b.get("packer_run_uuid") == last] or builds
    specs: list[ArtifactSpec] = []
    for i, b in enumerate(builds):
        if not isinstance(b, dict) or not isinstance(b.get("artifact_id"), str) or not b.get("artifact_id"):
            raise UsageError(f"{path}: builds[{i}] has no artifact_id")
        specs += manifest_build_artifacts(b, f"{path}: builds[{i}]")
    return specs, {"manifest": str(p), "packer_run_uuid": last}


def manifest_build_artifacts(b: dict, where: str) -> list[ArtifactSpec]:
    """The artifacts of one `builds[]` entry of a Packer manifest: amazon's
    `region:ami,region:ami` becomes one per region; a `null` build has none."""
    btype = str(b.get("builder_type") or "")
    name, provider = provider_of_packer_builder(btype)
    extra = {k: b[k] for k in ("name", "build_time", "packer_run_uuid", "custom_data") if b.get(k) is not None}
    files = b.get("files") or []
    aid = str(b.get("artifact_id") or "")
    if aid in ("", "Null"):
        return []
    try:
        parts = provider.manifest_artifacts(aid) if provider is not None else [("", aid)]
    except ValueError as exc:
        raise UsageError(f"{where}.artifact_id {aid!r} is {exc}") from None
    return [ArtifactSpec(name, region, art, btype, files, extra) for region, art in parts]


def _next_semver(conn, img: Image | None, explicit: str | None, bump: str | None) -> str | None:
    if explicit and bump:
        raise UsageError("give either --version or --bump, not both")
    if not (explicit or bump):
        return None
    import semver as semver_lib

    if explicit:
        try:
            return str(semver_lib.Version.parse(explicit.lstrip("v")))
        except ValueError:
            raise UsageError(f"{explicit!r} is not a semantic version", hint="e.g. 1.4.0 or 2.0.0-rc.1") from None
    if bump not in BUMPS:
        raise UsageError(f"--bump takes major, minor or patch, not {bump!r}")
    newest = semver_lib.Version(0, 0, 0)
    if img is not None:
        for sv in versions.semvers(conn, img.id):
            newest = max(newest, semver_lib.Version.parse(sv))
    return str(getattr(newest, f"bump_{bump}")())


def register(ledger: Ledger, image: str, artifacts: list[ArtifactSpec], *, actor: str, **kw) -> dict:
    with ledger.transaction() as conn:
        return register_in(conn, image, artifacts, actor=actor, **kw)


def register_in(conn, image: str, artifacts: list[ArtifactSpec], *, actor: str,
                semver: str | None = None, bump: str | None = None, origin: str = "register",
                details: dict | None = None, parent: str | None = None, build_id: str | None = None,
                template_digest: str | None = None, git_commit: str | None = None, git_dirty: bool | None = None,
                variables: dict | None = None) -> dict:
    """Create the next version of `image` inside an open `Ledger.transaction()`."""
    check_image_name(image)
    if not artifacts:
        raise UsageError("a version needs at least one artifact",
                         hint="--artifact PROVIDER:REGION:ID or --from-manifest")
    img = images.find(conn, image)
    sv = _next_semver(conn, img, semver, bump)
    now = now_iso()
    if img is None:
        img = images.create(conn, image, at=now, by=actor)
        audit.append(conn, "image.created", actor=actor, image=image, at=now)
    if sv and versions.by_semver(conn, img.id, sv) is not None:
        raise Conflict(f"{image} already has a version {sv}", hint="semantic versions are unique per image")
    number = versions.next_number(conn, img.id)
    vid = versions.create(conn, img.id, number, semver=sv, build_id=build_id, origin=origin,
                          template_digest=template_digest, git_commit=git_commit, git_dirty=git_dirty,
                          variables=variables or {}, parent=parent, at=now, by=actor)
    artifact_repo.add(conn, vid, [{"provider": a.provider, "region": a.region, "id": a.id,
                                   "builder_type": a.builder_type, "files": a.files, "extra": a.extra}
                                  for a in artifacts])
    audit.append(conn, "version.created", actor=actor, image=image, version=f"v{number}", at=now,
                 details={"semver": sv, "origin": origin, "build_id": build_id, "template_digest": template_digest,
                          "artifacts": [f"{a.provider}:{a.region}:{a.id}" for a in artifacts],
                          **(details or {})})
    return version_json(conn, img, versions.get(conn, vid))


# -- promote and rollback -----------------------------------------------------------------

def _move(conn, *, env_row: Environment, img: Image, v: Version, action: str, actor: str, ticket: str | None,
          reason: str | None, overridden: list[policy.Violation], used: list[Approval] = (),
          extra: dict | None = None, now: str | None = None) -> dict:
    """Point (img, env_row) at version `v`, record the history row and the audit event(s);
    `used`: the approvals that allowed the move (already marked used)."""
    ch = channels.get(conn, img.id, env_row.id)
    prev_v = versions.get(conn, ch.version_id) if ch else None
    now = now or now_iso()
    channels.point(conn, ch, env_id=env_row.id, image_id=img.id, version_id=v.id, at=now, by=actor)
    approvers = approvals.distinct_names(used)
    channels.record_move(conn, env_id=env_row.id, image_id=img.id, from_id=prev_v.id if prev_v else None, to_id=v.id,
                         action=action, actor=actor, ticket=ticket, reason=reason, approved_by=approvers,
                         override=bool(overridden), at=now)
    label = f"v{v.number}"
    if overridden:
        audit.append(conn, "policy.override", actor=actor, image=img.name, version=label, env=env_row.name,
                     ticket=ticket, reason=reason, at=now,
                     details={"action": action, "rules": [o.rule for o in overridden],
                              "messages": [o.message for o in overridden]})
    details = {"from": f"v{prev_v.number}" if prev_v else None, "to": label, "approved_by": approvers,
               "override": bool(overridden), **(extra or {})}
    if used:
        details["approvals"] = [{"id": a.id, "approver": a.approver, "at": a.at} for a in used]
    audit.append(conn, action, actor=actor, image=img.name, version=label, env=env_row.name, ticket=ticket,
                 reason=reason, at=now, details=details)
    return {"action": action, "env": env_row.name, "image": img.name, "version": label, "number": v.number,
            "semver": v.semver, "from": f"v{prev_v.number}" if prev_v else None, "changed": True,
            "override": [o.rule for o in overridden], "approved_by": approvers, "at": now}


def refuse_pruned(conn, img: Image, v: Version) -> None:
    """A version whose artifacts were all pruned cannot become current anywhere (nothing
    could start servers from it): NotFound before anything moves."""
    arts = artifact_repo.of_version(conn, v.id)
    if arts and all(a.deleted_at for a in arts):
        raise NotFound(f"{img.name}@v{v.number} was pruned: its artifacts are deleted, so it cannot become current",
                       hint="build the image again (`release build`) and promote the new version")


def _approved_by_gone() -> UsageError:
    return UsageError("--approved-by is gone: approvals are recorded acts",
                      hint="each approver runs `release approve REF --env ENV` under their own identity")


def promote(ledger: Ledger, config: Config, ref: str, to: str, *, actor: str, ticket: str | None = None,
            reason: str | None = None, override: bool = False, now: datetime | None = None,
            approved_by: list[str] | None = None, check_only: bool = False) -> dict:
    """Make `ref` current in `to` under the ledger's policy for `to`; the approvals that
    allowed it are used up in the same transaction. `check_only`: raise what the policy
    refuses, change nothing (returns {"override": rules an --override would pass})."""
    if approved_by:
        raise _approved_by_gone()
    parsed = parse_ref(ref)
    with ledger.transaction() as conn:
        img, v = versions.resolve(conn, parsed)
        env, env_row = policy.environment(conn, to, config)
        ch = channels.get(conn, img.id, env_row.id)
        if ch is None or ch.version_id != v.id:
            refuse_pruned(conn, img, v)
        if ch is not None and ch.version_id == v.id:
            return {"action": "promote", "env": env.name, "image": img.name, "version": f"v{v.number}",
                    "number": v.number, "semver": v.semver, "from": f"v{v.number}", "changed": False,
                    "override": [], "approved_by": [], "at": ch.updated_at}
        at = approvals.iso(now)
        usable = approvals.valid_for(conn, v.id, env_row.id, at) if env.approvals else None
        violations = policy.check(conn, env, img, v, action="promote", actor=actor, ticket=ticket,
                                  approvals=usable, now=now)
        passed = policy.enforce(violations, override=override, reason=reason)
        if check_only:
            return {"override": [o.rule for o in passed]}
        used = approvals.use(conn, usable, actor=actor, at=at) if usable else []
        return _move(conn, env_row=env_row, img=img, v=v, action="promote", actor=actor, ticket=ticket,
                     reason=reason, overridden=passed, used=used)


def rollback_target(conn, img: Image, env_row: Environment, current_id: int, *,
                    to: Version | None = None) -> tuple[Version | None, list[dict]]:
    """Where a rollback of (img, env_row) goes: the newest earlier version that was good
    there (`approvals.why_not_good`: reached healthy there; without servers, was current and
    not rolled back from), walking the history back and skipping versions rolled back from
    (so repeated rollbacks keep walking back). With `to`, the walk stops at it. Returns the
    target (None: none) and what was skipped: [{"version", "why"}], newest first."""
    abandoned = {current_id}
    skipped: list[dict] = []
    noted: set[int] = set()

    def skip(version_id: int, why: str) -> None:
        if version_id not in noted:
            noted.add(version_id)
            skipped.append({"version": f"v{versions.get(conn, version_id).number}", "why": why})

    for move in channels.moves(conn, env_row.id, img.id):
        cand = move.from_version_id
        if cand is None:
            continue
        if to is not None and cand == to.id:
            return to, skipped
        if cand in abandoned or cand in noted:
            continue
        if move.action == "rollback":
            abandoned.add(cand)
            skip(cand, f"it was rolled back from in {env_row.name}")
            continue
        if to is not None:
            skip(cand, f"passed over: --to names {img.name}@v{to.number}")
            continue
        v = versions.get(conn, cand)
        why = approvals.why_not_good(conn, img.id, v, env_row.id, env_row.name)
        if why is None:
            return v, skipped
        skip(cand, why)
    return to, skipped


def previous_good(conn, env_id: int, image_id: int, current_id: int) -> Version | None:
    """The version a rollback of (image, environment) goes back to (`rollback_target`)."""
    env_row = next(e for e in environments.all_(conn) if e.id == env_id)
    img = next(i for i in images.all_(conn) if i.id == image_id)
    return rollback_target(conn, img, env_row, current_id)[0]


def skipped_text(image: str, skipped: list[dict]) -> list[str]:
    return [f"skipped {image}@{s['version']}: {s['why']}" for s in skipped]


def rollback(ledger: Ledger, config: Config, image: str, env_name: str, *, actor: str, to: str | None = None,
             ticket: str | None = None, reason: str | None = None, override: bool = False,
             now: datetime | None = None, approved_by: list[str] | None = None) -> dict:
    """Move `image` in `env_name` back (to `to`, or the previous good version) under the
    ledger's policy. The order rule does not apply; approvals are not needed when the target
    reached healthy there before (`approvals.healthy_before`: the incident path)."""
    if approved_by:
        raise _approved_by_gone()
    check_image_name(image)
    with ledger.transaction() as conn:
        img = images.get(conn, image)
        env, env_row = policy.environment(conn, env_name, config)
        ch = channels.get(conn, img.id, env_row.id)
        if ch is None:
            raise NotFound(f"{image} has no current version in {env.name}: nothing to roll back")
        if to:
            ref = parse_ref(to)
            if ref.image != image:
                raise UsageError(f"--to {to} names another image than {image}")
            _, target = versions.resolve(conn, ref)
            if target.id == ch.version_id:
                raise PolicyRefused(f"{image}@v{target.number} is already current in {env.name}", rule="no-change")
            if not channels.was_ever_current(conn, env_row.id, img.id, target.id):
                raise PolicyRefused(f"{image}@v{target.number} has never been in {env.name}; a rollback goes back "
                                    f"to a version that was there", rule="rollback-target",
                                    hint=f"use `release promote {image}@v{target.number} --to {env.name}`")
            _, skipped = rollback_target(conn, img, env_row, ch.version_id, to=target)
        else:
            target, skipped = rollback_target(conn, img, env_row, ch.version_id)
            if target is None:
                cur = versions.get(conn, ch.version_id)
                raise PolicyRefused(f"nothing to roll back to: {image}@v{cur.number} is the only good version "
                                    f"{env.name} has had"
                                    + "".join(f"; {line}" for line in skipped_text(image, skipped)),
                                    rule="no-previous-version", hint="promote another version instead",
                                    skipped=skipped)
        refuse_pruned(conn, img, target)
        at = approvals.iso(now)
        healthy = approvals.healthy_before(conn, img, target, env_row.id)
        usable = approvals.valid_for(conn, target.id, env_row.id, at) if env.approvals and not healthy else None
        violations = policy.check(conn, env, img, target, action="rollback", actor=actor, ticket=ticket,
                                  approvals=usable, now=now, check_order=False)
        passed = policy.enforce(violations, override=override, reason=reason)
        used = approvals.use(conn, usable, actor=actor, at=at, action="rollback") if usable else []
        extra = {"healthy_before": True} if healthy and env.approvals else {}
        if skipped:
            extra["skipped"] = skipped
        doc = _move(conn, env_row=env_row, img=img, v=target, action="rollback", actor=actor, ticket=ticket,
                    reason=reason, overridden=passed, used=used, extra=extra or None)
        doc["skipped"] = skipped
        return doc


# -- moves that also deploy ---------------------------------------------------------------

def promote_and_deploy(ledger: Ledger, config: Config, ref: str, to: str, *, actor: str, deploy: bool = False,
                       lock_timeout: float = 0.0, progress=None, override: bool = False, **policy_kw) -> dict:
    """`promote`, then (with `deploy` or the environment's auto_deploy) the servers, both under
    the environment's lock; the deployment's result is the document's `deployment`. Ends with
    the pointer and the healthy servers on the version, or with the pointer back where it was
    (an audited rollback, reason "deploy failed: ...") and OperationFailed (exit 1)."""
    image = parse_ref(ref).image
    return _with_deploy(ledger, config, image, to, actor=actor, deploy=deploy,
                        lock_timeout=lock_timeout, progress=progress, cause="promote", override=override,
                        ticket=policy_kw.get("ticket"), ref=ref,
                        move=lambda: promote(ledger, config, ref, to, actor=actor, override=override, **policy_kw),
                        check=lambda: promote(ledger, config, ref, to, actor=actor, override=override,
                                              check_only=True, **policy_kw))


def rollback_and_deploy(ledger: Ledger, config: Config, image: str, env: str, *, actor: str, deploy: bool = False,
                        lock_timeout: float = 0.0, progress=None, override: bool = False, **policy_kw) -> dict:
    """`rollback`, then the servers (as `promote_and_deploy`)."""
    return _with_deploy(ledger, config, image, env, actor=actor, deploy=deploy, lock_timeout=lock_timeout,
                        progress=progress, cause="rollback", override=override, ticket=policy_kw.get("ticket"),
                        move=lambda: rollback(ledger, config, image, env, actor=actor, override=override, **policy_kw))


def _with_deploy(ledger: Ledger, config: Config, image: str, env: str, *, actor: str, deploy: bool,
                 lock_timeout: float, progress, cause: str, override: bool, move, ticket: str | None = None,
                 ref: str | None = None, check=None) -> dict:
    """Move the pointer (`move()`), then the servers, under the environment's lock, so a
    rollback never races a deploy or a retire. An audited `--override` of the move covers
    the freeze window for its deploy too (the decision was made, and recorded, on the move).

    When the deploy fails (or is interrupted) the pointer goes back where it was, as its own
    audited move. Where the environment had no pointer yet (nothing to go back to), the
    move's policy is checked first, the servers are deployed, and only then does the pointer
    move: a failed deploy moved nothing."""
    config = policy.effective(ledger, config)  # deploy's freeze rule and auto_deploy: the ledger's policy
    if not (deploy or config.environment(env).auto_deploy):
        return move()
    with env_lock(ledger, config.state_dir, image, env, actor=actor, operation=cause, timeout=lock_timeout,
                  on_wait=progress):
        if ref is not None and check is not None and _no_pointer(ledger, image, env):
            return _first_move(ledger, config, image, env, ref, actor=actor, progress=progress, cause=cause,
                               override=override, move=move, check=check)
        doc = move()
        try:
            doc["deployment"] = deploy_mod.deploy(ledger, config, image, env, actor=actor, progress=progress,
                                                  cause=cause, hold_lock=False,
                                                  override_freeze=override and bool(doc.get("override")))
        except BaseException as exc:
            why = exc.message if isinstance(exc, ReleaseError) else (f"interrupted ({exc})" if isinstance(
                exc, KeyboardInterrupt) else f"{type(exc).__name__}: {exc}")
            reverted = _revert(ledger, image, env, doc, why, actor=actor, ticket=ticket) if doc["changed"] else None
            if not isinstance(exc, ReleaseError):
                raise
            deployment = exc.details.get("deployment")
            back = (f"; {env} points at {reverted['version']} again (audited rollback)" if reverted
                    else "" if not doc["changed"] else "; the pointer was moved meanwhile, left as it is")
            verb = "promoted" if doc["action"] == "promote" else "rolled back to"
            raise OperationFailed(f"{verb} {image}@{doc['version']} in {env}, but its deploy failed: {why}{back}",
                                  hint=exc.hint, move=doc, reverted=reverted, deployment=deployment) from None
    return doc


def _no_pointer(ledger: Ledger, image: str, env: str) -> bool:
    with ledger.connect() as conn:
        img = images.find(conn, image)
        if img is None:
            return False  # promote says what is missing
        env_row = environments.get(conn, env)
        return channels.get(conn, img.id, env_row.id) is None


def _first_move(ledger: Ledger, config: Config, image: str, env: str, ref: str, *, actor: str, progress,
                cause: str, override: bool, move, check) -> dict:
    """The first promotion of `image` to `env` with its deploy: policy first, then the
    servers, then the pointer; a move refused after the deploy (an approval lapsed
    meanwhile) stops the servers it started."""
    checked = check()
    dep = deploy_mod.deploy(ledger, config, image, env, actor=actor, progress=progress, cause=cause,
                            hold_lock=False, version=ref, first_of_env=True,
                            override_freeze=override and bool(checked.get("override")))
    try:
        doc = move()
    except BaseException:
        deploy_mod.stop_all(ledger, config, image, env, actor=actor, progress=progress,
                            reason="its promotion was refused after the deploy")
        raise
    doc["deployment"] = dep
    return doc


def _revert(ledger: Ledger, image: str, env: str, doc: dict, why: str, *, actor: str,
            ticket: str | None) -> dict | None:
    """Put the pointer back where `doc`'s move found it: an audited rollback whose reason
    says the deploy failed. None when the pointer was moved by someone else meanwhile."""
    with ledger.transaction() as conn:
        img = images.get(conn, image)
        env_row = environments.get(conn, env)
        ch = channels.get(conn, img.id, env_row.id)
        moved_to = versions.get(conn, ch.version_id) if ch else None
        if moved_to is None or moved_to.number != doc["number"] or not doc["from"]:
            return None
        _, prev = versions.resolve(conn, parse_ref(f"{image}@{doc['from']}"))
        return _move(conn, env_row=env_row, img=img, v=prev, action="rollback", actor=actor, ticket=ticket,
                     reason=f"deploy failed: {why}", overridden=[],
                     extra={"cause": "deploy_failed", "reverts": doc["action"], "failed": doc["version"]})


# -- revoke -------------------------------------------------------------------------------

def revoke(ledger: Ledger, config: Config, ref: str, *, reason: str, actor: str, do_rollback: bool = False,
           ticket: str | None = None) -> dict:
    if not (reason and reason.strip()):
        raise UsageError("revoke needs --reason '...'")
    with ledger.transaction() as conn:
        if do_rollback:  # moves pointers and their servers under the policy: refused if it is missing
            policy.in_force_rows(conn)
        img, v = versions.resolve(conn, parse_ref(ref, default="latest"))
        label = f"{img.name}@v{v.number}"
        if v.revoked:
            raise Conflict(f"{label} is already revoked ({v.revoked_reason})")
        now = now_iso()
        versions.set_revoked(conn, v.id, at=now, by=actor, reason=reason)
        v = versions.get(conn, v.id)
        audit.append(conn, "version.revoked", actor=actor, image=img.name, version=f"v{v.number}", reason=reason,
                     ticket=ticket, at=now)
        still, rolled = [], []
        envs = {e.id: e for e in environments.all_(conn)}
        envs_by_name = {e.name: e for e in envs.values()}
        for ch in sorted(channels.of_version(conn, v.id), key=lambda c: envs[c.environment_id].position):
            env_row = envs[ch.environment_id]
            if not do_rollback:
                still.append(env_row.name)
                continue
            target = previous_good(conn, env_row.id, img.id, v.id)
            if target is None:
                still.append(env_row.name)
                continue
            rolled.append(_move(conn, env_row=env_row, img=img, v=target, action="rollback", actor=actor,
                                ticket=ticket, reason=f"revoked {label}: {reason}", overridden=[],
                                extra={"cause": "revoke"}))
        doc = version_json(conn, img, v)
        doc["rolled_back"] = rolled
        doc["still_current_in"] = still
        serving = {m["env"] for m in rolled if live_rows(conn, img.id, envs_by_name[m["env"]].id)}
    doc["deployments"] = _redeploy_after_revoke(ledger, config, img.name, rolled, serving, actor=actor)
    failed = [d for d in doc["deployments"] if d.get("error")]
    if failed:
        raise OperationFailed(f"revoked {label} and moved the pointers back, but the servers of "
                              + ", ".join(f"{d['env']} ({d['error']})" for d in failed) + " did not follow",
                              hint=f"see `release status {img.name} --check`; `release deploy {img.name} --env ENV` "
                                   "tries again", version=doc)
    return doc


def _redeploy_after_revoke(ledger: Ledger, config: Config, image: str, rolled: list[dict], serving: set[str], *,
                           actor: str) -> list[dict]:
    """Servers follow the pointers a `revoke --rollback` moved: each environment that runs
    servers of the image, or deploys automatically, is deployed (under its lock)."""
    if not rolled:
        return []
    config = policy.effective(ledger, config)
    out = []
    for move in rolled:
        env = move["env"]
        if env not in serving and not config.environment(env).auto_deploy:
            continue
        try:
            out.append(deploy_mod.deploy(ledger, config, image, env, actor=actor, cause="revoke",
                                         override_freeze=True))
        except ReleaseError as exc:
            out.append({"env": env, "image": image, "version": move["version"], "status": "failed",
                        "error": exc.message})
    return out


def unrevoke(ledger: Ledger, ref: str, *, reason: str, actor: str) -> dict:
    if not (reason and reason.strip()):
        raise UsageError("unrevoke needs --reason '...'")
    with ledger.transaction() as conn:
        img, v = versions.resolve(conn, parse_ref(ref, default="latest"))
        if not v.revoked:
            raise Conflict(f"{img.name}@v{v.number} is not revoked")
        versions.set_revoked(conn, v.id, at=None, by=None, reason=None)
        audit.append(conn, "version.unrevoked", actor=actor, image=img.name, version=f"v{v.number}", reason=reason)
        return version_json(conn, img, versions.get(conn, v.id))
