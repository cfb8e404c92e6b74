"""Retire servers of older versions; prune artifacts of versions nothing needs any more.

`retire` stops the servers of every version but the environment's current one (older ones,
and a newer set a rollback left standing by), or only of versions older than `--older-than`.
It never touches the current version's servers and never leaves the environment without
healthy servers in its route.

`prune` deletes artifacts (local tarballs, AMIs) of versions that are current nowhere, are no
environment's rollback target, run no server, and are outside the retention rules. The version
rows stay, with `deleted_at` on their artifacts.

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
from datetime import datetime, timedelta, timezone

from releasemgr.common.durations import DurationError, age_seconds
from releasemgr.config import Config
from releasemgr.errors import NotFound, PolicyRefused, UsageError
from releasemgr.ledger import audit
from releasemgr.ledger.clock import now_iso, parse_iso
from releasemgr.ledger.db import Ledger
from releasemgr.providers.base import FleetError
from releasemgr.providers.registry import fleet_for, provider as provider_named
from releasemgr.ledger.repo import artifacts as artifact_repo, channels, environments, images, servers, versions
from releasemgr.release.deploy import (DeploySettings, LIVE_STATES, Progress, Rollout, _Target, live_rows,
                                       server_json)
from releasemgr.providers.base import HealthCheck
from releasemgr.release.lifecycle import previous_good
from releasemgr.ledger.refs import check_image_name, parse_ref

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

def retire(ledger: Ledger, config: Config, image: str, env: str, *, actor: str, older_than: str | None = None,
           keep_previous: int = 0, dry_run: bool = False, lock_timeout: float = 0.0,
           progress: Progress | None = None) -> dict:
    check_image_name(image)
    config.environment(env)
    if keep_previous < 0:
        raise UsageError("--keep-previous must be 0 or more")

    def plan():
        with ledger.connect() as conn:
            img = images.get(conn, image)
            env_row = environments.get(conn, env)
            ch = channels.get(conn, img.id, env_row.id)
            if ch is None:
                raise NotFound(f"{image} has no current version in {env}: nothing decides what is older")
            current = versions.get(conn, ch.version_id)
            labels = versions.labels(conn, img.id)
            numbers = {vid: int(label[1:]) for vid, label in labels.items()}
            limit = None  # default: every version but the current one (a set rolled back from too)
            if older_than:
                ref = parse_ref(older_than if "@" in older_than else f"{image}@{older_than}")
                if ref.image != image:
                    raise UsageError(f"--older-than {older_than} names another image than {image}")
                _, lim = versions.resolve(conn, ref)
                if lim.number > current.number:
                    raise PolicyRefused(f"--older-than {image}@v{lim.number} would include the current version "
                                        f"v{current.number} of {env}: retire never stops the current version's "
                                        f"servers", rule="retire-current")
                limit = lim.number
            rows = live_rows(conn, img.id, env_row.id)

        def other(r):
            n = numbers[r.version_id]
            return r.version_id != current.id and (limit is None or n < limit)

        previous = sorted({numbers[r.version_id] for r in rows if other(r)}, reverse=True)
        kept_versions = set(previous[:keep_previous])
        victims = [r for r in rows if other(r) and numbers[r.version_id] not in kept_versions]
        remaining = [r for r in rows if r not in victims and r.state == "healthy"]
        return img, env_row, current, rows, victims, remaining, labels

    img, env_row, current, rows, victims, remaining, labels = plan()
    doc = {"image": image, "env": env, "current": f"v{current.number}", "dry_run": dry_run,
           "retire": [server_json(r, image, labels[r.version_id], env) for r in victims]}
    if victims and not remaining:
        raise PolicyRefused(f"retiring {len(victims)} server(s) would leave {image} in {env} without healthy "
                            f"servers", rule="last-healthy-servers",
                            hint=f"deploy first: `release deploy {image} --env {env}`")
    if dry_run or not victims:
        doc["retired"] = []
        return doc
    from releasemgr.ledger.locks import env_lock

    with env_lock(ledger, config.state_dir, image, env, actor=actor, operation="retire", timeout=lock_timeout,
                  on_wait=progress):
        img, env_row, current, rows, victims, remaining, labels = plan()  # again, under the lock
        if victims and not remaining:
            raise PolicyRefused(f"retiring would leave {image} in {env} without healthy servers",
                                rule="last-healthy-servers")
        provider = (config.deploy.get(env) or {}).get("provider", "local")
        try:
            from releasemgr.release.deploy import provider_settings

            fleet = fleet_for(provider, config.state_dir, provider_settings(config, env))
        except FleetError as exc:
            raise UsageError(str(exc)) from None
        t = _Target(img, current, env_row, {}, current.id)
        ro = Rollout(ledger, config, fleet, t, DeploySettings(1, "rolling", 1, 0, HealthCheck(), 0.0),
                     actor=actor, progress=progress, cause="retire")
        ro.dep_id = None
        if progress:
            progress(f"retiring {len(victims)} server(s) of {image} in {env}")
        ro.retire(victims, reason="retire")
        ro.publish(version=f"v{current.number}")
    doc["retired"] = ro.out.retired
    doc["warnings"] = ro.out.warnings
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


def prune(ledger: Ledger, config: Config, image: str, *, actor: str, keep: int | None = None,
          older_than: str | None = None, dry_run: bool = False, now: datetime | None = None,
          lock_timeout: float = 0.0, progress: Progress | None = None) -> dict:
    check_image_name(image)
    now = now or datetime.now(timezone.utc)
    if keep is not None and keep < 0:
        raise UsageError("--keep must be 0 or more")
    explicit = keep is not None or older_than is not None
    max_age = parse_age(older_than) if older_than is not None else None
    retention = config.retention or {}
    if not explicit and not retention:
        raise UsageError("prune needs --keep N and/or --older-than AGE, or a [retention] table in release.toml")
    env_names = set(config.environment_names)

    def plan():
        with ledger.connect() as conn:
            img = images.get(conn, image)
            all_versions = versions.of_image(conn, img.id)
            arts = artifact_repo.of_image(conn, img.id)
            protected: dict[int, str] = {}
            envs = {e.id: e.name for e in environments.all_(conn)}
            for ch in channels.of_image(conn, img.id):
                protected.setdefault(ch.version_id, f"current in {envs[ch.environment_id]}")
                prev = previous_good(conn, ch.environment_id, img.id, ch.version_id)
                if prev is not None:
                    protected.setdefault(prev.id, f"rollback target of {envs[ch.environment_id]}")
            for r in servers.in_states(conn, LIVE_STATES, image_id=img.id):
                protected.setdefault(r.version_id, f"runs servers in {envs[r.environment_id]}")
            history = channels.moves_of_image(conn, img.id)

        candidates = [v for v in all_versions if any(not a.deleted_at for a in arts.get(v.id, []))]
        kept: dict[int, str] = {}
        if explicit:
            for i, v in enumerate(all_versions):
                if keep is not None and i < keep:
                    kept[v.id] = f"among the {keep} newest"
                elif max_age is not None and now - parse_iso(v.created_at) < max_age:
                    kept[v.id] = f"younger than {older_than}"
        else:
            # when each version was in each environment: [entered, left or None]
            stays: dict[tuple[str, int], datetime | None] = {}
            for h in history:
                e = envs[h.environment_id]
                stays[(e, h.to_version_id)] = None  # there now (until a later move says otherwise)
                if h.from_version_id is not None:
                    stays[(e, h.from_version_id)] = parse_iso(h.at)
            been = {}
            for (e, vid) in stays:
                been.setdefault(e, set()).add(vid)
            default = {k: v for k, v in retention.items() if not isinstance(v, dict)}
            scopes: list[tuple[str, list, tuple]] = []
            if default:
                never = [v for v in all_versions if not any(v.id in ids for ids in been.values())]
                scopes.append(("never promoted", never, _rule(default, "retention")))
            for e, raw in retention.items():
                if isinstance(raw, dict) and e not in env_names:
                    raise UsageError(f"[retention.{e}] names an unknown environment")
            for e in config.environment_names:
                raw = retention.get(e)
                if not isinstance(raw, dict):
                    if not default:
                        continue
                    raw = default  # an environment without its own table follows [retention]
                in_env = [v for v in all_versions if v.id in been.get(e, set())]
                scopes.append((e, in_env, _rule(raw, f"retention.{e}")))
            covered = set()
            for scope, vs, (k, age) in scopes:
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

        doomed = [v for v in candidates if v.id not in protected and v.id not in kept]
        doc = {"image": image, "dry_run": dry_run, "pruned": [], "kept": [], "skipped": []}
        for v in candidates:
            if v.id in protected or v.id in kept:
                doc["kept"].append({"version": f"v{v.number}", "why": protected.get(v.id) or kept[v.id]})
        return doc, doomed, arts

    if dry_run:
        doc, doomed, arts = plan()
        doc["pruned"] = [{"version": f"v{v.number}", "artifacts": [_art(a) for a in arts[v.id] if not a.deleted_at]}
                         for v in doomed]
        return doc
    with _image_locks(ledger, config, image, actor=actor, timeout=lock_timeout, progress=progress):
        doc, doomed, arts = plan()  # under the locks: no deploy is starting servers of what goes
        _delete(ledger, config, image, doomed, arts, doc, actor=actor, explicit=explicit)
    return doc


@contextlib.contextmanager
def _image_locks(ledger: Ledger, config: Config, image: str, *, actor: str, timeout: float,
                 progress: Progress | None):
    """Every environment's lock of `image`, in release.toml's order: while prune holds them
    no deploy, rollback or retire of the image runs (a deploy could otherwise be starting
    servers from an image prune is deleting)."""
    from releasemgr.ledger.locks import env_lock

    with contextlib.ExitStack() as stack:
        for env in config.environment_names:
            stack.enter_context(env_lock(ledger, config.state_dir, image, env, actor=actor, operation="prune",
                                         timeout=timeout, on_wait=progress))
        yield


def _delete(ledger: Ledger, config: Config, image: str, doomed: list, arts: dict, doc: dict, *, actor: str,
            explicit: bool) -> None:
    for v in doomed:
        done, skipped = [], []
        for a in arts[v.id]:
            if a.deleted_at:
                continue
            p = provider_named(a.provider)
            store = p.image_store(config.state_dir) if p is not None else None
            if store is None:
                skipped.append(_art(a))
                continue
            try:
                store.delete(a.region, a.external_id)
                done.append(a)
            except Exception as exc:  # noqa: BLE001 - report, keep the artifact live in the ledger
                skipped.append(f"{_art(a)} ({exc})")
        if skipped:
            doc["skipped"].append({"version": f"v{v.number}", "artifacts": skipped,
                                   "why": "could not be deleted (no image store for the provider, or the cloud refused); delete by hand"})
        if not done:
            continue
        at = now_iso()
        with ledger.transaction() as conn:
            artifact_repo.mark_deleted(conn, [a.id for a in done], at=at)
            audit.append(conn, "artifact.pruned", actor=actor, image=image, version=f"v{v.number}", at=at,
                         details={"artifacts": [_art(a) for a in done],
                                  "rule": "explicit" if explicit else "retention"})
        doc["pruned"].append({"version": f"v{v.number}", "artifacts": [_art(a) for a in done]})


def _art(a) -> str:
    return f"{a.provider}:{a.region}:{a.external_id}"
