"""Retire servers of older versions; prune artifacts of versions nothing needs any more.

`retire` stops the servers of every version but the environment's current one (older ones,
and a newer set a rollback left standing by), or only of versions older than `--older-than`.
It never touches the current version's servers and never leaves the environment without
healthy servers in its route.

`prune` deletes artifacts (local tarballs, AMIs) of versions that are current nowhere, are no
environment's rollback target, run no server, and are outside the retention rules. The version
rows stay, with `deleted_at` on their artifacts.

Artifacts are referenced, not owned: images are stored by content (a local tarball is named by
its digest; an AMI id), so several versions -- of this image or another -- may reference one
(an identical rebuild with `--force`, a comment-only template change). Pruning a version drops
its references (its rows get `deleted_at`: that version no longer has the image, and deploying
it says it was pruned); the image itself is deleted from its store only when no remaining
version references it -- no row of any image without `deleted_at`. A shared image that stays
is listed under `shared`, with the versions that keep it and why ("shared with web@v5
(current in prod)"), in the dry run too. References are counted again under the ledger's
write lock just before an image is deleted.

Retention (release.toml):

    [retention]              # versions that were never promoted anywhere
    keep = 10
    max_age = "30d"
    [retention.prod]         # versions that were ever current in prod
    keep = 5
    max_age = "1y"

A version is kept when any rule that applies to it keeps it: it is among the `keep` newest
versions of that rule's scope, or younger than `max_age` (for an environment: it left the
environment less than `max_age` ago). Ages are Go durations that may also use d, w and y
("14d", "2w", "1y", "1d12h"; `releasemgr.common.durations`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from releasemgr.common.durations import DurationError, age_seconds
from releasemgr.config import Config
from releasemgr.errors import NotFound, PolicyRefused, UsageError
from releasemgr.ledger import audit
from releasemgr.ledger.clock import now_iso, parse_iso
from releasemgr.ledger.db import Ledger
from releasemgr.ledger.locks import env_lock
from releasemgr.ledger.refs import check_image_name, parse_ref
from releasemgr.ledger.repo import artifacts as artifact_repo, channels, environments, images, servers, versions
from releasemgr.ledger.rows import Artifact, Environment, Image, Server, Version
from releasemgr.providers.registry import provider as provider_named
from releasemgr.release.lifecycle import previous_good
from releasemgr.release.servers import EnvironmentServers
from releasemgr.release.server_rows import LIVE_STATES, Progress, live_rows, open_fleet, server_json


def parse_age(text) -> timedelta:
    """'14d', '2w', '1y', '36h', '1d12h', any Go duration, or a number of seconds."""
    try:
        secs = age_seconds(text)
    except DurationError as exc:
        raise UsageError(str(exc)) from None
    if secs is None:
        raise UsageError("an age is required, such as \"14d\", \"2w\" or \"1y\"")
    return timedelta(seconds=secs)


# -- retire -------------------------------------------------------------------------------------

@dataclass
class _RetirePlan:
    img: Image
    env_row: Environment
    current: Version
    victims: list[Server]
    remaining: list[Server]  # healthy servers that stay
    labels: dict[int, str]
    kept: list[tuple[Server, str]]  # servers of other versions that stay, and why


def _older_than_limit(conn, image: str, env: str, older_than: str | None, current: Version) -> int | None:
    """The version number `--older-than` names (None: every version but the current one)."""
    if not older_than:
        return None
    ref = parse_ref(older_than if "@" in older_than else f"{image}@{older_than}")
    if ref.image != image:
        raise UsageError(f"--older-than {older_than} names another image than {image}")
    _, lim = versions.resolve(conn, ref)
    if lim.number > current.number:
        raise PolicyRefused(f"--older-than {image}@v{lim.number} would include the current version "
                            f"v{current.number} of {env}: retire never stops the current version's "
                            f"servers", rule="retire-current")
    return lim.number


def _retire_plan(ledger: Ledger, image: str, env: str, older_than: str | None, keep_previous: int) -> _RetirePlan:
    with ledger.connect() as conn:
        img = images.get(conn, image)
        env_row = environments.get(conn, env)
        ch = channels.get(conn, img.id, env_row.id)
        if ch is None:
            raise NotFound(f"{image} has no current version in {env}: nothing decides what is older")
        current = versions.get(conn, ch.version_id)
        labels = versions.labels(conn, img.id)
        limit = _older_than_limit(conn, image, env, older_than, current)
        rows = live_rows(conn, img.id, env_row.id)
    numbers = {vid: int(label[1:]) for vid, label in labels.items()}

    def other(r):
        return r.version_id != current.id and (limit is None or numbers[r.version_id] < limit)

    previous = sorted({numbers[r.version_id] for r in rows if other(r)}, reverse=True)
    kept_versions = set(previous[:keep_previous])
    victims = [r for r in rows if other(r) and numbers[r.version_id] not in kept_versions]
    remaining = [r for r in rows if r not in victims and r.state == "healthy"]
    kept = [(r, _why_kept(r, numbers[r.version_id], kept_versions, keep_previous, limit))
            for r in rows if r.version_id != current.id and r not in victims]
    return _RetirePlan(img, env_row, current, victims, remaining, labels, kept)


def _why_kept(r: Server, number: int, kept_versions: set[int], keep_previous: int, limit: int | None) -> str:
    """Why a server of another version than the current one stays."""
    if number in kept_versions:
        which = "the newest" if keep_previous == 1 else f"one of the {keep_previous} newest"
        why = f"--keep-previous {keep_previous}: v{number} is {which} other version(s)"
    else:
        why = f"not older than --older-than v{limit}"
    if r.state == "standby":
        why = f"standing by for rollback ({why})"
    return why


def retire(ledger: Ledger, config: Config, image: str, env: str, *, actor: str, older_than: str | None = None,
           keep_previous: int = 0, dry_run: bool = False, lock_timeout: float = 0.0,
           progress: Progress | None = None) -> dict:
    check_image_name(image)
    config.environment(env)
    if keep_previous < 0:
        raise UsageError("--keep-previous must be 0 or more")
    p = _retire_plan(ledger, image, env, older_than, keep_previous)
    doc = {"image": image, "env": env, "current": f"v{p.current.number}", "dry_run": dry_run,
           "retire": [server_json(r, image, p.labels[r.version_id], env) for r in p.victims],
           "kept": [{**server_json(r, image, p.labels[r.version_id], env), "why": why} for r, why in p.kept]}
    if p.victims and not p.remaining:
        raise PolicyRefused(f"retiring {len(p.victims)} server(s) would leave {image} in {env} without healthy "
                            f"servers", rule="last-healthy-servers",
                            hint=f"deploy first: `release deploy {image} --env {env}`")
    if dry_run or not p.victims:
        doc["retired"] = []
        return doc
    with env_lock(ledger, config.state_dir, image, env, actor=actor, operation="retire", timeout=lock_timeout,
                  on_wait=progress):
        p = _retire_plan(ledger, image, env, older_than, keep_previous)  # again, under the lock
        if p.victims and not p.remaining:
            raise PolicyRefused(f"retiring would leave {image} in {env} without healthy servers",
                                rule="last-healthy-servers")
        env_servers = EnvironmentServers(ledger, config, open_fleet(config, env), p.img, p.env_row,
                                         version=f"v{p.current.number}", actor=actor, progress=progress)
        if progress:
            progress(f"retiring {len(p.victims)} server(s) of {image} in {env}")
        env_servers.retire(p.victims, reason="retire")
        env_servers.publish()
    doc["retired"] = env_servers.changes.retired
    doc["warnings"] = env_servers.changes.warnings
    return doc


# -- prune --------------------------------------------------------------------------------------

def _rule(raw, where: str) -> tuple[int | None, timedelta | None]:
    if not isinstance(raw, dict):
        raise UsageError(f"[{where}] must be a table with keep and/or max_age")
    keep = raw.get("keep")
    if keep is not None and (not isinstance(keep, int) or isinstance(keep, bool) or keep < 0):
        raise UsageError(f"{where}.keep must be a whole number >= 0")
    age = parse_age(raw["max_age"]) if raw.get("max_age") is not None else None
    return keep, age


@dataclass
class _PruneAsk:
    """What `prune` was asked: explicit `keep`/`older_than`, else the `[retention]` rules."""

    keep: int | None
    older_than: str | None
    max_age: timedelta | None
    now: datetime

    @property
    def explicit(self) -> bool:
        return self.keep is not None or self.older_than is not None


def prune(ledger: Ledger, config: Config, image: str, *, actor: str, keep: int | None = None,
          older_than: str | None = None, dry_run: bool = False, now: datetime | None = None,
          lock_timeout: float = 0.0, progress: Progress | None = None) -> dict:
    check_image_name(image)
    if keep is not None and keep < 0:
        raise UsageError("--keep must be 0 or more")
    ask = _PruneAsk(keep, older_than, parse_age(older_than) if older_than is not None else None,
                    now or datetime.now(timezone.utc))
    if not ask.explicit and not (config.retention or {}):
        raise UsageError("prune needs --keep N and/or --older-than AGE, or a [retention] table in release.toml")
    if dry_run:
        plan = _prune_plan(ledger, config, image, ask, dry_run=True)
        plan.doc["pruned"] = [{"version": f"v{v.number}", "artifacts": [_art(a) for a in plan.going[v.id]]}
                              for v in plan.doomed if plan.going[v.id]]
        plan.doc["shared"] = [s for v in plan.doomed for s in plan.shared[v.id]]
        return plan.doc
    with _image_locks(ledger, config, image, actor=actor, timeout=lock_timeout, progress=progress):
        # under the locks: no deploy is starting servers of what goes
        plan = _prune_plan(ledger, config, image, ask, dry_run=False)
        _delete(ledger, config, image, plan, actor=actor, explicit=ask.explicit, progress=progress)
    return plan.doc


@dataclass
class _PrunePlan:
    doc: dict  # the report, without `pruned`
    doomed: list[Version]  # versions whose references go, newest first
    going: dict[int, list[Artifact]]  # version id -> its artifacts to delete (no other reference)
    shared: dict[int, list[dict]]  # version id -> its artifacts that stay (`_shared`)
    refs: dict[int, list[Artifact]]  # version id -> every live artifact of it (references to drop)
    why: dict[int, str]  # version id (any image) -> why it is kept, where known


def _prune_plan(ledger: Ledger, config: Config, image: str, ask: _PruneAsk, *, dry_run: bool) -> _PrunePlan:
    """Which versions prune, and of their artifacts which go: an artifact is stored by content
    and referenced by versions (of any image); it goes only when every version that
    references it is pruned now. The others are reported under `shared`, with who keeps them."""
    with ledger.connect() as conn:
        img = images.get(conn, image)
        all_versions = versions.of_image(conn, img.id)
        arts = artifact_repo.of_image(conn, img.id)
        envs = {e.id: e.name for e in environments.all_(conn)}
        protected = _protected(conn, img.id, envs)
        history = channels.moves_of_image(conn, img.id)
        refs = artifact_repo.references_to_image(conn, img.id)
        for other in {r.image_id for rs in refs.values() for r in rs} - {img.id}:
            for vid, why in _protected(conn, other, envs).items():
                protected.setdefault(vid, why)
    if ask.explicit:
        kept = _kept_explicit(all_versions, ask)
    else:
        kept = _kept_by_retention(config, all_versions, _stays(history, envs), ask.now)
    candidates = [v for v in all_versions if any(not a.deleted_at for a in arts.get(v.id, []))]
    doomed = [v for v in candidates if v.id not in protected and v.id not in kept]
    why = {**kept, **protected}  # protection is the stronger reason
    doc = {"image": image, "dry_run": dry_run, "pruned": [], "kept": [], "shared": [], "skipped": []}
    for v in candidates:
        if v.id in protected or v.id in kept:
            doc["kept"].append({"version": f"v{v.number}", "why": why[v.id]})
    doomed_ids = {v.id for v in doomed}
    going: dict[int, list[Artifact]] = {}
    shared: dict[int, list[dict]] = {}
    live: dict[int, list[Artifact]] = {}
    for v in doomed:
        going[v.id], shared[v.id] = [], []
        live[v.id] = [a for a in arts.get(v.id, []) if not a.deleted_at]
        for a in live[v.id]:
            others = [r for r in refs.get(artifact_repo.key(a), []) if r.version_id not in doomed_ids]
            if others:
                shared[v.id].append(_shared(v, a, others, why))
            else:
                going[v.id].append(a)
    return _PrunePlan(doc, doomed, going, shared, live, why)


def _shared(v: Version, a: Artifact, others: list, why: dict[int, str]) -> dict:
    """A doomed version's artifact that stays, because versions that stay reference it
    (named newest first)."""
    others = sorted(others, key=lambda r: (r.image, -r.number))
    labels = list(dict.fromkeys(r.label for r in others))
    reasons = list(dict.fromkeys(f"{r.label} ({why[r.version_id]})" if r.version_id in why else r.label
                                 for r in others))
    return {"version": f"v{v.number}", "artifact": _art(a), "shared_with": labels,
            "why": "shared with " + ", ".join(reasons)}


def _protected(conn, image_id: int, envs: dict[int, str]) -> dict[int, str]:
    """Versions nothing may prune, with why: current somewhere, a rollback target, running servers."""
    protected: dict[int, str] = {}
    for ch in channels.of_image(conn, image_id):
        protected.setdefault(ch.version_id, f"current in {envs[ch.environment_id]}")
        prev = previous_good(conn, ch.environment_id, image_id, ch.version_id)
        if prev is not None:
            protected.setdefault(prev.id, f"rollback target of {envs[ch.environment_id]}")
    for r in servers.in_states(conn, LIVE_STATES, image_id=image_id):
        protected.setdefault(r.version_id, f"runs servers in {envs[r.environment_id]}")
    return protected


def _kept_explicit(all_versions: list, ask: _PruneAsk) -> dict[int, str]:
    """`--keep N` (the N newest) and `--older-than AGE` (younger ones stay)."""
    kept: dict[int, str] = {}
    for i, v in enumerate(all_versions):
        if ask.keep is not None and i < ask.keep:
            kept[v.id] = f"among the {ask.keep} newest"
        elif ask.max_age is not None and ask.now - parse_iso(v.created_at) < ask.max_age:
            kept[v.id] = f"younger than {ask.older_than}"
    return kept


def _stays(history: list, envs: dict[int, str]) -> dict[tuple[str, int], datetime | None]:
    """When each version left each environment it was in: {(env, version id): left, or None (still there)}."""
    stays: dict[tuple[str, int], datetime | None] = {}
    for h in history:
        e = envs[h.environment_id]
        stays[(e, h.to_version_id)] = None  # there now (until a later move says otherwise)
        if h.from_version_id is not None:
            stays[(e, h.from_version_id)] = parse_iso(h.at)
    return stays


def _retention_scopes(config: Config, all_versions: list, been: dict[str, set]) -> list[tuple[str, list, tuple]]:
    """(scope, its versions newest first, (keep, max_age)): "never promoted" under
    `[retention]`, and each environment under `[retention.<env>]` (else `[retention]`)."""
    retention = config.retention or {}
    default = {k: v for k, v in retention.items() if not isinstance(v, dict)}
    scopes: list[tuple[str, list, tuple]] = []
    if default:
        never = [v for v in all_versions if not any(v.id in ids for ids in been.values())]
        scopes.append(("never promoted", never, _rule(default, "retention")))
    for e, raw in retention.items():
        if isinstance(raw, dict) and e not in set(config.environment_names):
            raise UsageError(f"[retention.{e}] names an unknown environment")
    for e in config.environment_names:
        raw = retention.get(e)
        if not isinstance(raw, dict):
            if not default:
                continue
            raw = default  # an environment without its own table follows [retention]
        in_env = [v for v in all_versions if v.id in been.get(e, set())]
        scopes.append((e, in_env, _rule(raw, f"retention.{e}")))
    return scopes


def _kept_by_retention(config: Config, all_versions: list, stays: dict, now: datetime) -> dict[int, str]:
    """The versions a retention rule keeps, with why."""
    been: dict[str, set] = {}
    for (e, vid) in stays:
        been.setdefault(e, set()).add(vid)
    kept: dict[int, str] = {}
    covered = set()
    for scope, vs, (k, age) in _retention_scopes(config, all_versions, been):
        for i, v in enumerate(vs):
            covered.add(v.id)
            if k is not None and i < k:
                kept.setdefault(v.id, f"retention {scope}: among the {k} newest")
                continue
            if age is not None:
                since = parse_iso(v.created_at) if scope == "never promoted" else stays.get((scope, v.id))
                if since is None or now - since < age:
                    kept.setdefault(v.id, f"retention {scope}: younger than max_age")
    for v in all_versions:  # no rule speaks about it (an environment without [retention.<env>])
        if v.id not in covered:
            kept.setdefault(v.id, "no retention rule applies")
    return kept


@contextlib.contextmanager
def _image_locks(ledger: Ledger, config: Config, image: str, *, actor: str, timeout: float,
                 progress: Progress | None):
    """Every environment's lock of `image`, in release.toml's order: while prune holds them
    no deploy, rollback or retire of the image runs (a deploy could otherwise be starting
    servers from an image prune is deleting)."""
    with contextlib.ExitStack() as stack:
        for env in config.environment_names:
            stack.enter_context(env_lock(ledger, config.state_dir, image, env, actor=actor, operation="prune",
                                         timeout=timeout, on_wait=progress))
        yield


def _delete(ledger: Ledger, config: Config, image: str, plan: _PrunePlan, *, actor: str, explicit: bool,
            progress: Progress | None = None) -> None:
    """Drop the doomed versions' references and delete the images nobody else references.
    Each version is one transaction: under the ledger's write lock the references are counted
    again (a version registered meanwhile may reference the image now: then it stays), an image
    no remaining version references is deleted from its store, and the version's rows get
    `deleted_at` (an image the store could not delete keeps its row live, reported as skipped)."""
    doc = plan.doc
    doomed_ids = {v.id for v in plan.doomed}
    gone: set[tuple[str, str, str]] = set()  # deleted from the store in this run
    for i, v in enumerate(plan.doomed):
        if progress:
            progress("", task=f"prune {image}", done=i, total=len(plan.doomed), detail=f"v{v.number}", unit="versions")
        done, kept, dropped, skipped = [], [], [], []
        at = now_iso()
        with ledger.transaction() as conn:
            for a in plan.refs[v.id]:
                key = artifact_repo.key(a)
                others = [r for r in artifact_repo.references(conn, *key) if r.version_id not in doomed_ids]
                if others:
                    kept.append(_shared(v, a, others, plan.why))
                    dropped.append(a)
                    continue
                if key not in gone:
                    p = provider_named(a.provider)
                    store = p.image_store(config.state_dir) if p is not None else None
                    if store is None:
                        skipped.append(_art(a))
                        continue
                    try:
                        store.delete(a.region, a.external_id)
                    except Exception as exc:  # noqa: BLE001 - report, keep the artifact live in the ledger
                        skipped.append(f"{_art(a)} ({exc})")
                        continue
                    gone.add(key)
                done.append(a)
            if done or dropped:
                artifact_repo.mark_deleted(conn, [a.id for a in done + dropped], at=at)
                audit.append(conn, "artifact.pruned", actor=actor, image=image, version=f"v{v.number}", at=at,
                             details={"artifacts": [_art(a) for a in done],
                                      "shared": [{"artifact": k["artifact"], "kept_by": k["shared_with"]}
                                                 for k in kept],
                                      "rule": "explicit" if explicit else "retention"})
        if skipped:
            doc["skipped"].append({"version": f"v{v.number}", "artifacts": skipped,
                                   "why": "could not be deleted (no image store for the provider, or the cloud "
                                          "refused); delete by hand"})
        if done:
            doc["pruned"].append({"version": f"v{v.number}", "artifacts": [_art(a) for a in done]})
        doc["shared"] += kept


def _art(a) -> str:
    return f"{a.provider}:{a.region}:{a.external_id}"
